"""CUDA plumbing shared by every generated kernel (flash, the classical baselines' kernels):
compile once with CuPy ``RawModule`` (NVRTC, CuPy's on-disk cache), launch on torch's current
stream with torch-allocated tensors, and a ptxas report for CI (registers, spills)."""
from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

CUDA_OPTIONS = ("--std=c++17", "-default-device")


def cupy_available() -> bool:
    """True when CuPy imports and a CUDA device is present."""
    if not torch.cuda.is_available():
        return False
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=None)
def load_module(source: str, name_expressions: tuple[str, ...], options: tuple[str, ...] = CUDA_OPTIONS):
    """Compile ``source`` once per process (CuPy also caches the binary on disk)."""
    import cupy

    module = cupy.RawModule(code=source, options=options, name_expressions=name_expressions)
    module.compile()
    return module


@functools.lru_cache(maxsize=None)
def _external_stream(pointer: int, device: int):
    """CuPy's wrapper of one torch stream, made once (creating it per launch costs host time)."""
    import cupy

    return cupy.cuda.ExternalStream(pointer, device)


@functools.lru_cache(maxsize=None)
def _function(module, name: str, device: int):
    """The driver-level kernel of ``name`` loaded on ``device``; calling it directly with a stream
    skips RawKernel's per-call device lookup and the stream context switch."""
    return module.get_function(name).kernel


def kernel_arg(value: Any) -> Any:
    """A torch tensor becomes its device pointer; ints and floats pass as sized numpy scalars."""
    if isinstance(value, torch.Tensor):
        return np.uint64(value.data_ptr())
    return value


def launch(module, name: str, grid: Sequence[int], block: Sequence[int], args: Sequence[Any],
           shared_mem: int = 0) -> None:
    """Launch kernel ``name`` (a name expression of ``module``) on torch's current stream."""
    stream = torch.cuda.current_stream()
    kernel = _function(module, name, stream.device_index)
    kernel(tuple(grid), tuple(block), tuple(kernel_arg(a) for a in args), shared_mem,
           _external_stream(stream.cuda_stream, stream.device_index))


def nvcc_available() -> bool:
    return shutil.which("nvcc") is not None


def ptxas_report(source: str, arch: str = "sm_90", extra: Sequence[str] = ()) -> dict[str, dict[str, int]]:
    """Compile ``source`` to a cubin with ``nvcc -Xptxas -v`` and return, per kernel, its
    registers and spill stores/loads (bytes). Raises ``RuntimeError`` with nvcc's output on failure."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "kernel.cu"
        src.write_text(source)
        cmd = ["nvcc", f"-arch={arch}", "-cubin", "-std=c++17", "-Xptxas", "-v", *extra, "-o",
               str(Path(tmp) / "kernel.cubin"), str(src)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"nvcc failed ({' '.join(cmd)}):\n{proc.stderr}")
    report: dict[str, dict[str, int]] = {}
    current = None
    for line in proc.stderr.splitlines():
        m = re.search(r"Compiling entry function '(\S+)'", line)
        if m:
            current = m.group(1)
            report[current] = {"registers": 0, "spill_stores": 0, "spill_loads": 0}
            continue
        if current is None:
            continue
        m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            report[current]["spill_stores"] = int(m.group(1))
            report[current]["spill_loads"] = int(m.group(2))
        m = re.search(r"Used (\d+) registers", line)
        if m:
            report[current]["registers"] = int(m.group(1))
    return report
