"""Griffe extension for the API reference: applies pyproject.toml's package-dir mapping to the source tree.

circuits/ and solvers/ install as qkan.circuits and qkan.solvers, but griffe reads the source tree, where
qkan/ has no such subfolders. When griffe has loaded ``qkan``, this loads each mapped folder as that
subpackage (its relative imports resolve under ``qkan``), so the reference documents, and cross-links,
``qkan.circuits.Circuit`` whether or not (and however) the package is installed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import griffe

if sys.version_info >= (3, 11):
    import tomllib
else:  # the docs extra installs tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


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
