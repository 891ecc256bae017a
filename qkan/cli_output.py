"""What a ``qkan`` subcommand prints about the files it wrote: only those that exist."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable


def print_written(paths: Iterable[str]) -> None:
    """Print ``wrote A, B`` for the paths that exist, and which expected files were not written."""
    paths = list(paths)
    written = [p for p in paths if Path(p).is_file()]
    missing = [p for p in paths if p not in written]
    if written:
        print(f"wrote {', '.join(written)}")
    if missing:
        print(f"not written: {', '.join(missing)}")
