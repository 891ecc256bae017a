"""The README's Python examples run as written (keeps the README true). The helpers here extract and run the
``python`` blocks of any Markdown page; tests/test_docs.py runs the documentation site's pages with them.

Fence convention: a block fenced ```` ```python ```` runs; one fenced ```` ```python title="not run: REASON" ````
(it needs a GPU, say) is shown, with its reason as its title, and not run. A ``python`` fence with any other
options is an error, so that no block is skipped by accident.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^(?P<indent>[ \t]*)```python(?P<options>[^\n`]*)\n(?P<code>.*?)^(?P=indent)```", re.S | re.M)
NOT_RUN = re.compile(r'\s+title="not run: [^"]+"\s*')


def python_blocks(text: str) -> list[str]:
    """The code of every ``python`` block of a Markdown text that runs, in order (see the fence convention)."""
    blocks = []
    for match in FENCE.finditer(text):
        options = match["options"]
        if NOT_RUN.fullmatch(options):
            continue
        if options.strip():
            raise ValueError(f'a python fence takes no options but title="not run: REASON", got {options.strip()!r}')
        blocks.append(textwrap.dedent(match["code"]))
    return blocks


def run_blocks(blocks: list[str], folder: Path, name: str) -> subprocess.CompletedProcess:
    """Run the blocks in order as one script in ``folder``, in a fresh Python process that imports this checkout's
    qkan (later blocks see earlier blocks' names, as a reader going down the page does)."""
    script = folder / f"{name}_examples.py"
    script.write_text("\n".join(blocks))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, str(script)], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )


def test_readme_python_blocks_run(tmp_path):
    blocks = python_blocks(README.read_text())
    assert blocks, "README has no python examples"
    proc = run_blocks(blocks, tmp_path, "readme")
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_fence_convention():
    shown = '```python title="not run: needs a GPU"\ny = 2\n```\n'
    text = "a\n```python\nx = 1\n```\n\n" + shown + "  ```python\n  z = 3\n  ```\n"
    assert python_blocks(text) == ["x = 1\n", "z = 3\n"]
    with pytest.raises(ValueError, match="hl_lines"):
        python_blocks('```python hl_lines="1"\nx = 1\n```\n')
