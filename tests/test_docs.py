"""The documentation site stays true and builds clean:

- every ``python`` block of every page in docs/ runs as written, a page's blocks in order as one script in an
  empty folder (the fence convention, with its one way to mark a block that cannot run here, is in
  tests/test_readme.py, whose helpers these are);
- ``mkdocs build --strict`` (warnings are errors: broken links, pages left out of the nav, docstrings the API
  reference cannot render) succeeds, where the ``docs`` extra is installed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_readme import python_blocks, run_blocks

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# docs/notebooks links the notebooks into the site; tests/test_notebooks.py runs them
PAGES = sorted(p for p in DOCS.rglob("*.md") if "notebooks" not in p.relative_to(DOCS).parts)
EXAMPLES = {page: python_blocks(page.read_text(encoding="utf-8")) for page in PAGES}
PAGES_WITH_EXAMPLES = [page for page, blocks in EXAMPLES.items() if blocks]
SITE_PACKAGES = ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_jupyter")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def test_guides_have_examples():
    guides = {p.relative_to(DOCS).as_posix() for p in PAGES_WITH_EXAMPLES}
    assert {"getting-started.md", "guide/ansatz.md", "guide/solvers.md", "guide/hardware.md"} <= guides


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=[str(p.relative_to(DOCS)) for p in PAGES_WITH_EXAMPLES])
def test_page_python_blocks_run(page, tmp_path):
    proc = run_blocks(EXAMPLES[page], tmp_path, page.stem)
    assert proc.returncode == 0, f"{page.relative_to(ROOT)}:\n{proc.stderr[-4000:]}"


@pytest.mark.skipif(
    not all(_installed(m) for m in SITE_PACKAGES), reason='the docs extra is not installed: pip install -e ".[docs]"'
)
def test_site_builds_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    site = tmp_path / "site"
    for page in ("index.html", "guide/solvers/index.html", "api/circuits/index.html"):
        assert (site / page).is_file(), f"{page} was not built"
    # the API reference resolves circuits/ as qkan.circuits (pyproject.toml's package-dir)
    assert 'id="qkan.circuits.Circuit"' in (site / "api/circuits/index.html").read_text(encoding="utf-8")
    # the notebooks are rendered with their committed figures
    assert "data:image/png;base64" in (site / "notebooks/01_design_an_ansatz/index.html").read_text(encoding="utf-8")
