"""docs/migrating.md's example runs as written, and its name table covers the published __all__."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "migrating.md"


def test_migrating_example_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert blocks
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    code = "\n".join(blocks)
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert (tmp_path / "published_layout.pt").is_file()


def test_every_published_name_has_a_row():
    from .test_names import NOT_PROVIDED, PROVIDED

    text = DOC.read_text()
    names = {name for _, name in PROVIDED} | set(NOT_PROVIDED)
    missing = sorted(name for name in names if f"{name}" not in text)
    assert not missing, missing
