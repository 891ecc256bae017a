"""``qkan.circuits`` and ``qkan.solvers`` import however the package is installed and run.

The top-level circuits/ and solvers/ folders install as qkan.circuits and qkan.solvers. Each way a user
runs the code gets its own fresh interpreter here:

- the editable install this checkout uses (any working directory);
- a regular (non-editable) install, with Python started in the repository root, where ./qkan shadows
  the installed copy, and started in notebooks/, where the installed copy is used;
- no install at all, from the repository root;
- ``python -m qkan`` from the root.

The non-editable and no-install cases run Python with ``-S`` and the site-packages folders on
PYTHONPATH: the dependencies stay importable, but the editable install's import hook (set up by a .pth
file, which ``-S`` skips) is not there to hide a missing mapping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "import qkan, qkan.circuits, qkan.solvers; "
    "print(qkan.__file__); print(qkan.circuits.__file__); print(qkan.solvers.__file__)"
)
SITE_PACKAGES = list(dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib")))


def _python(
    args: list[str], cwd: Path, pythonpath: list[Path | str] | None = None, isolated: bool = False, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run ``python [-S] args`` in ``cwd``; with ``isolated``, only ``pythonpath`` and site-packages are seen."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH")}
    path = [str(p) for p in (pythonpath or [])] + (SITE_PACKAGES if isolated else [])
    if path:
        env["PYTHONPATH"] = os.pathsep.join(path)
    command = [sys.executable] + (["-S"] if isolated else []) + args
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} in {cwd} failed:\n{result.stderr[-3000:]}"
    return result


def _files(result: subprocess.CompletedProcess) -> list[Path]:
    return [Path(line).resolve() for line in result.stdout.split()[-3:]]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A non-editable install of a copy of the project (the build leaves nothing in the checkout)."""
    base = tmp_path_factory.mktemp("install")
    source, target = base / "source", base / "site"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    for folder in ("qkan", "circuits", "solvers"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=base,
    )
    assert result.returncode == 0, f"pip install failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return target


def test_editable_install_from_root_and_elsewhere(tmp_path):
    for cwd in (ROOT, tmp_path):
        qkan, circuits, solvers = _files(_python(["-c", PROBE], cwd))
        assert qkan == ROOT / "qkan" / "__init__.py"
        assert circuits == ROOT / "circuits" / "__init__.py" and solvers == ROOT / "solvers" / "__init__.py"


def test_installed_copy_has_every_package(installed):
    """Every package of the source tree is in the install (pyproject.toml lists packages one by one)."""
    missing = []
    for folder, package in (("qkan", "qkan"), ("circuits", "qkan.circuits"), ("solvers", "qkan.solvers")):
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            parts = init.parent.relative_to(ROOT / folder).parts
            if not (installed / Path(*package.split("."), *parts, "__init__.py")).is_file():
                missing.append(".".join((package, *parts)))
    assert not missing, f"packages the install left out (add them to pyproject.toml's packages): {missing}"


def test_installed_run_from_repository_root(installed):
    """./qkan shadows the installed copy: its circuits and solvers come from the checkout beside it."""
    qkan, circuits, solvers = _files(_python(["-c", PROBE], ROOT, [installed], isolated=True))
    assert qkan == ROOT / "qkan" / "__init__.py"
    assert circuits == ROOT / "circuits" / "__init__.py" and solvers == ROOT / "solvers" / "__init__.py"


def test_installed_run_from_notebooks(installed):
    """Away from the root (Jupyter started in notebooks/) the installed copy is used, all of it."""
    qkan, circuits, solvers = _files(_python(["-c", PROBE], ROOT / "notebooks", [installed], isolated=True))
    assert qkan == (installed / "qkan" / "__init__.py").resolve()
    assert circuits.is_relative_to(installed.resolve()) and solvers.is_relative_to(installed.resolve())


def test_no_install_from_repository_root():
    qkan, circuits, _ = _files(_python(["-c", PROBE], ROOT, isolated=True))
    assert qkan == ROOT / "qkan" / "__init__.py" and circuits == ROOT / "circuits" / "__init__.py"


def test_editable_install_from_notebooks():
    qkan, circuits, _ = _files(_python(["-c", PROBE], ROOT / "notebooks"))
    assert qkan == ROOT / "qkan" / "__init__.py" and circuits == ROOT / "circuits" / "__init__.py"


@pytest.mark.parametrize("isolated", [False, True], ids=["editable", "no-install"])
def test_python_dash_m_qkan(isolated):
    result = _python(["-m", "qkan", "--help"], ROOT, isolated=isolated)
    assert result.stdout.startswith("usage: qkan") and "fit" in result.stdout
