"""The published repository's units (skills/tests tests, README and docs python blocks, notebook cells) run
against a qkan on PYTHONPATH; writes one line per unit, PASS/FAIL name, to /tmp/units/LABEL.txt.

Usage: copy the published repository's README.md, docs/ and skills/tests/ (Jim137/qkan) under /tmp/units/src, then
``python docs/probes/published_units.py PYTHONPATH LABEL [FILTER...]``, once with the published package's
``--target`` folder and once with this checkout. A page's python blocks run in order in one interpreter, as a
notebook's cells do (IPython magics and shell lines dropped). Results: docs/migrating.md, "Measured"."""

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

SRC = pathlib.Path("/tmp/units/src")
pypath, label = sys.argv[1], sys.argv[2]
only = sys.argv[3:]
env = dict(os.environ, PYTHONPATH=pypath, MPLBACKEND="Agg", OMP_NUM_THREADS="1", QKAN_SKIP_CUDA_BUILD="TRUE")
out = open(f"/tmp/units/{label}.txt", "a")


def report(name, ok, why=""):
    out.write(f"{'PASS' if ok else 'FAIL'} {name} {why[-300:].replace(chr(10), ' | ') if not ok else ''}\n")
    out.flush()


def want(name):
    return not only or any(o in name for o in only)


def blocks(path):
    text = path.read_text()
    if path.suffix == ".md":
        return re.findall(r"```python\n(.*?)```", text, re.S)
    res = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if re.match(r"\s*\.\. code-block:: python", lines[i]):
            i += 1
            body = []
            while i < len(lines) and (
                lines[i].strip() == "" or lines[i].startswith("   ") or lines[i].startswith("\t")
            ):
                if lines[i].strip().startswith(":") and not body:
                    i += 1
                    continue
                body.append(lines[i])
                i += 1
            import textwrap

            res.append(textwrap.dedent("\n".join(body)))
        else:
            i += 1
    return res


DRIVER = r"""
import json, re, sys
import matplotlib; matplotlib.use("Agg")
g = {"__name__": "__main__"}
for k, src in enumerate(json.load(open(sys.argv[1]))):
    src = "\n".join(l for l in src.split("\n") if not (l.lstrip().startswith("!") or re.match(r"\s*%[a-zA-Z]", l)))
    try:
        exec(compile(src, f"unit{k}", "exec"), g); print(f"@@PASS {k}", flush=True)
    except BaseException as e:
        print(f"@@FAIL {k} {type(e).__name__}: {str(e)[:200]!r}", flush=True)
"""


def run_in_order(name, sources, work, timeout):
    """Run ``sources`` in order in one interpreter (a page's blocks, a notebook's cells) and report each."""
    listing = pathlib.Path(work) / "units.json"
    listing.write_text(json.dumps(sources))
    try:
        r = subprocess.run(
            [sys.executable, "-c", DRIVER, str(listing)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        stdout = r.stdout
    except subprocess.TimeoutExpired as e:
        stdout = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
    seen = {}
    for m in re.finditer(r"^@@(PASS|FAIL) (\d+)(.*)$", stdout, re.M):
        seen[int(m.group(2))] = (m.group(1) == "PASS", m.group(3))
    for k in range(len(sources)):
        ok, why = seen.get(k, (False, "not reached/timeout"))
        report(f"{name}[{k}]", ok, why)


with tempfile.TemporaryDirectory() as work:
    for f in [
        "README.md",
        "docs/intro.rst",
        "docs/solver_guide.rst",
        "docs/graph_guide.rst",
        "docs/optim_guide.rst",
        "docs/packing_guide.rst",
        "docs/examples.rst",
        "docs/applications.rst",
        "docs/index.rst",
    ]:
        if want(f):
            run_in_order(f, blocks(SRC / f), work, 900)
    for f in [
        "skills/tests/test_review_regressions.py",
        "skills/tests/test_packing.py",
        "skills/tests/test_packing_cudaq.py",
    ]:
        if not want(f):
            continue
        r = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(SRC / f)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        got = re.findall(r"^(PASSED|FAILED|ERROR|SKIPPED) \S*::(\w+)", r.stdout, re.M)
        if not got:
            report(f, False, r.stdout[-300:])
        for status, test in got:
            report(f"{f}::{test}", status == "PASSED", status)
    for n in [
        "intro/kan",
        "intro/qkan",
        "intro/qml",
        "examples/ansatz_comparison",
        "examples/layer_ext",
        "examples/qkan2kan",
        "examples/mnist",
        "examples/hqkan_cifar100",
        "examples/gqkan_gpt",
    ]:
        name = f"docs/{n}.ipynb"
        if want(name):
            cells = [c for c in json.load(open(SRC / name))["cells"] if c["cell_type"] == "code"]
            run_in_order(name, ["".join(c["source"]) for c in cells], work, 1500)
