"""Griffe extensions for the API reference: pyproject.toml's package-dir mapping, and Sphinx roles in docstrings.

circuits/ and solvers/ install as qkan.circuits and qkan.solvers, but griffe reads the source tree, where
qkan/ has no such subfolders. When griffe has loaded ``qkan``, this loads each mapped folder as that
subpackage (its relative imports resolve under ``qkan``), so the reference documents, and cross-links,
``qkan.circuits.Circuit`` whether or not (and however) the package is installed. The docstrings name
objects with Sphinx roles (``:class:`~qkan.settings.LayerSettings` ``), which Markdown would show as typed;
they become code spans of the name.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import griffe

if sys.version_info >= (3, 11):
    import tomllib
else:  # the docs extra installs tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
SPHINX_ROLE = re.compile(r":(?:class|func|meth|attr|data|mod|exc|obj):`(~?)([^`]+)`")


def mapped_subpackages(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, Path]:
    """``[tool.setuptools.package-dir]`` entries below ``qkan``: dotted name -> folder."""
    mapping = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-dir"]
    return {name: ROOT / folder for name, folder in mapping.items() if name.startswith("qkan.")}


class PackageDir(griffe.Extension):
    """Grafts circuits/ and solvers/ into the loaded ``qkan`` package as ``qkan.circuits`` and ``qkan.solvers``."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != "qkan":
            return
        for dotted, folder in mapped_subpackages().items():
            name = dotted.split(".", 1)[1]
            if name in pkg.members:
                continue
            # griffe has no public call that loads a folder under a given parent; this is its own loader's step
            module = loader._load_module(name, folder / "__init__.py", parent=pkg)
            pkg.set_member(name, module)
            loader.expand_exports(module)
            loader.expand_wildcards(module, external=False)


class SphinxRoles(griffe.Extension):
    """Turns ``:role:`~name` `` in docstrings into a code span of the name, as Sphinx would display it."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = SPHINX_ROLE.sub(_code_span, obj.docstring.value)


def _code_span(role: re.Match) -> str:
    """A role's target as code; ``~`` keeps its last component, as in Sphinx."""
    short, name = role.groups()
    return f"`{name.rsplit('.', 1)[-1] if short else name}`"
