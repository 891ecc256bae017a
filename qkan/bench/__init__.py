"""``qkan bench``: named benchmark cases x solvers x ansatzes (and classical baselines), timed
properly (warm-up, synchronised clocks, median of repeats), as a Markdown table, JSON and a PNG;
and the GPT-2-small mode table (``run_gpt_modes``).

Cases follow the published solver benchmark: ``fit1d`` QKAN([1,1]) at batch 1000, ``wide``
QKAN([100,100]) at batch 1000, ``huge`` QKAN([256,256]) at batch 4096, ``hqkan`` the HQKAN digits
classifier, ``gpt`` an HQKANsformer train step. Modules: cases (what is measured), timing (clocks),
runner (the measurements), report (table, JSON, plot), sweep (batch x width), gpt_modes, cli.
"""

from .cases import CASE_NAMES, DEFAULT_CASES, Case, load_ansatz, make_cases
from .gpt_modes import gpt_modes_markdown, run_gpt_modes, write_gpt_modes
from .report import RECORD_COLUMNS, plot_records, to_markdown, write_outputs
from .runner import Record, run_bench, run_one
from .sweep import plot_sweep, sweep
from .timing import host_and_gpu_us, time_interleaved_ms, time_ms

__all__ = [
    "CASE_NAMES",
    "DEFAULT_CASES",
    "RECORD_COLUMNS",
    "Case",
    "Record",
    "gpt_modes_markdown",
    "host_and_gpu_us",
    "load_ansatz",
    "make_cases",
    "plot_records",
    "plot_sweep",
    "run_bench",
    "run_gpt_modes",
    "run_one",
    "sweep",
    "time_interleaved_ms",
    "time_ms",
    "to_markdown",
    "write_gpt_modes",
    "write_outputs",
]
