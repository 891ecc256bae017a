"""Every notebook runs top to bottom on CPU (they are written at small sizes), and the committed copies hold
their outputs (figures included) so they read well on GitHub without running.

Regenerate the committed outputs after editing a notebook (cwd notebooks/, timings left out):

    python tests/test_notebooks.py [notebooks/NAME.ipynb ...]
"""

import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
MAX_BYTES = 1_500_000
# what a committed output must not hold: this machine's paths, tracebacks
LEAKS = re.compile(r"/work/|/tmp/|/home/|/root/|/Users/|[A-Z]:\\[A-Za-z]|Traceback")
# tqdm.auto's import-time note where ipywidgets is missing (text bars are used instead); it names a local path
IPROGRESS = re.compile(r"^\S*: TqdmWarning: IProgress not found.*\n(  from .*\n)?", re.MULTILINE)


def execute(path: Path, cwd: Path):
    """Run ``path`` top to bottom with the python3 kernel in ``cwd``, figures inline (the kernel's default
    backend: MPLBACKEND unset). Returns the executed notebook."""
    notebook = nbformat.read(path, as_version=4)
    env = os.environ.pop("MPLBACKEND", None)
    try:
        resources = {"metadata": {"path": str(cwd)}}
        nbclient.NotebookClient(
            notebook, timeout=600, kernel_name="python3", record_timing=False, resources=resources
        ).execute()
    finally:
        if env is not None:
            os.environ["MPLBACKEND"] = env
    return notebook


def code_cells(notebook):
    return [c for c in notebook.cells if c.cell_type == "code"]


def draws(cell) -> bool:
    """Whether a cell shows a figure (every plotting cell of these notebooks ends with plt.show())."""
    return "plt.show()" in cell.source


def has_image(cell) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def errors(notebook):
    return [o for c in code_cells(notebook) for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    notebook = execute(path, tmp_path)
    assert not errors(notebook)
    blank = [c.source.splitlines()[0] for c in code_cells(notebook) if draws(c) and not has_image(c)]
    assert not blank, f"cells that draw a figure but showed no image: {blank}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_has_outputs(path):
    """The committed file was executed and saved with its outputs (regenerate: see the module docstring)."""
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size} bytes; lower the figures' dpi"
    notebook = nbformat.read(path, as_version=4)
    cells = code_cells(notebook)
    assert all(c.get("execution_count") for c in cells), "every code cell must have been executed"
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1)), "run top to bottom once"
    assert any(c.get("outputs") for c in cells), "the notebook was saved without outputs"
    assert not errors(notebook)
    drawing = [c for c in cells if draws(c)]
    assert all(has_image(c) for c in drawing), "a cell that draws a figure has no image output"
    for c in cells:
        assert "execution" not in c.metadata, "volatile timing metadata left in a cell"
        for o in c.get("outputs", []):
            text = o.get("text", "") + "".join(v for k, v in o.get("data", {}).items() if k.startswith("text/"))
            assert not LEAKS.search(text), f"an output holds a local path or traceback: {text[:200]!r}"


def write(path: Path) -> None:
    """Execute ``path`` in notebooks/ and save it with its outputs (IPROGRESS notes dropped)."""
    notebook = execute(path, path.resolve().parent)
    assert not errors(notebook), f"{path.name} raised"
    for cell in code_cells(notebook):
        cell.metadata.pop("execution", None)
        for o in cell.outputs:
            if o.get("name") == "stderr":
                o.text = IPROGRESS.sub("", o.text).lstrip("\n")
        cell.outputs = [o for o in cell.outputs if not (o.get("name") == "stderr" and not o.text.strip())]
    nbformat.write(notebook, path)
    print(f"{path.name}: {path.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    for target in [Path(p) for p in sys.argv[1:]] or NOTEBOOKS:
        write(target)
