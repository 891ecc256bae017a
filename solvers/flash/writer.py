"""A writer of indented C lines (the IndentedBuffer pattern): emitters nest with ``indent()`` and
``block()`` instead of passing indentation strings around."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

INDENT = "  "


class CudaWriter:
    """Lines of C source, each written at the current level (two spaces a level)."""

    def __init__(self, level: int = 0):
        self.level = level
        self.lines: list[str] = []

    def line(self, *lines: str) -> None:
        """Write each of ``lines`` at the current level."""
        self.lines += [INDENT * self.level + text for text in lines]

    def directive(self, text: str) -> None:
        """A preprocessor line (``#pragma``), at column 0 whatever the level."""
        self.lines.append(text)

    @contextmanager
    def indent(self, levels: int = 1) -> Iterator[None]:
        self.level += levels
        try:
            yield
        finally:
            self.level -= levels

    @contextmanager
    def block(self, opening: str, closing: str = "}") -> Iterator[None]:
        """``opening``, the body one level deeper, then ``closing``."""
        self.line(opening)
        with self.indent():
            yield
        self.line(closing)

    def text(self) -> str:
        return "\n".join(self.lines)
