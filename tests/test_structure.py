"""The repository's shape, read from the source files (nothing here imports the package):

- no import cycles among the modules of qkan/, circuits/ and solvers/ (installed as qkan, qkan.circuits
  and qkan.solvers); imports inside functions count, imports under ``if TYPE_CHECKING`` do not. A
  package's ``__init__`` importing its own submodules to re-export them is no cycle: a name imported
  from a package counts as an import of the module that defines it;
- no source file in those folders over MAX_LINES lines;
- no ``matplotlib.use`` outside functions (a module that picks the backend at import stops notebooks
  from showing figures);
- references in code and documents point at files in the repository (the old design and spec files
  are gone), and a reference that names a section of docs/design.md or docs/math.md names a heading
  that file has.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterator, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"qkan": "qkan", "circuits": "qkan.circuits", "solvers": "qkan.solvers"}  # folder -> import name
MAX_LINES = 400
DESIGN_SECTIONS = (
    "Package map",
    "Data flow",
    "Circuit IR",
    "Solver contract",
    "Auto",
    "Flash kernels",
    "Kernel ABI",
    "Cutn",
    "Layers and models",
    "Errors and validation",
    "Tests",
    "Benchmarks",
)
MATH_SECTIONS = ("One edge", "Data angle", "Built-in ansatzes", "A layer", "Hybrid models", "Readouts", "Fourier form")
# the retired design document and the numbered sections of the retired spec (spelled so this file does not match)
STALE = re.compile(r"\bDESIGN" r"\.md\b|\bspec\s*" "\u00a7|qkan-math" r"\.md")
SECTION_REF = re.compile(r"(docs/(?:design|math)\.md),\s*\"([^\"]+)\"")
DOC_PATH = re.compile(r"(?<![\w/.])((?:docs|solvers|circuits|qkan|tests|notebooks)/[\w./-]*\w\.md)\b")


def _modules() -> dict[str, Path]:
    """Import name -> file, for every module of the three package folders."""
    found = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if "__pycache__" in parts or any(p.startswith(".") for p in parts):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            children = node.orelse
        stack.extend(children)


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The absolute module name an ``ImportFrom`` names, relative levels resolved against ``module``."""
    if not node.level:
        return node.module or ""
    package = module if _is_package(module) else module.rpartition(".")[0]
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _nearest(name: str) -> Optional[str]:
    """``name`` or its longest prefix that is one of our modules (None outside the project)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


TREES = {module: ast.parse(path.read_text(encoding="utf-8"), str(path)) for module, path in MODULES.items()}


def _reexports(package: str) -> dict[str, str]:
    """Names a package's ``__init__`` imports from its own submodules -> the module they come from."""
    names = {}
    for node in TREES[package].body:
        if isinstance(node, ast.ImportFrom):
            source = _nearest(_absolute(package, node))
            if source and source.startswith(package + "."):
                for alias in node.names:
                    names[alias.asname or alias.name] = source
    return names


REEXPORTS = {m: _reexports(m) for m in MODULES if _is_package(m)}


def _defining_module(package: str, name: str, seen: frozenset = frozenset()) -> str:
    """Where ``from package import name`` really reads from: the submodule ``name``, the submodule a
    re-exported name comes from (followed through nested packages), or the package itself."""
    if f"{package}.{name}" in MODULES:
        return f"{package}.{name}"
    source = REEXPORTS.get(package, {}).get(name)
    if source is None or source in seen:
        return package
    return _defining_module(source, name, seen | {package}) if _is_package(source) else source


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        return {t for t in (_nearest(a.name) for a in node.names) if t}
    source = _nearest(_absolute(module, node))
    if source is None:
        return set()
    if not _is_package(source):
        return {source}
    return {_defining_module(source, alias.name) for alias in node.names}


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports. A package ``__init__``'s imports of its own submodules are
    left out: they only re-export, and importers are pointed at the defining modules instead."""
    graph = {}
    for module in MODULES:
        targets = set().union(*(_targets(module, node) for node in _imports(TREES[module])))
        if _is_package(module):
            targets = {t for t in targets if not t.startswith(module + ".")}
        graph[module] = targets - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _cycle_path(graph: dict[str, set[str]], component: list[str]) -> str:
    """One loop through a component, for the message: a -> b -> ... -> a."""
    members, path = set(component), [component[0]]
    while True:
        step = next(t for t in sorted(graph[path[-1]]) if t in members)
        if step in path:
            return " -> ".join(path[path.index(step) :] + [step])
        path.append(step)


def test_the_scan_sees_the_packages():
    assert {"qkan", "qkan.circuits", "qkan.solvers", "qkan.layer", "qkan.solvers.base"} <= set(MODULES)


def test_no_import_cycles():
    graph = import_graph()
    found = [_cycle_path(graph, c) for c in cycles(graph)]
    assert not found, "import cycles (function-level imports count):\n" + "\n".join(found)


def test_the_cycle_check_catches_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]] and _cycle_path(graph, ["a", "b", "c"]) == "a -> b -> c -> a"


def test_source_files_are_short():
    long = {
        str(p.relative_to(ROOT)): n
        for p in MODULES.values()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"files over {MAX_LINES} lines (split them): {long}"


def _outside_functions(tree: ast.AST) -> Iterator[ast.AST]:
    """Nodes that run at import: everything not inside a function body."""
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def test_no_matplotlib_backend_at_import():
    offenders = []
    for module, tree in TREES.items():
        for node in _outside_functions(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "use"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("matplotlib", "mpl")
            ):
                offenders.append(f"{MODULES[module].relative_to(ROOT)}:{node.lineno}")
    assert not offenders, (
        "matplotlib.use at import (notebooks then show no figures; command lines call "
        f"qkan.plotting.use_file_backend instead): {offenders}"
    )


def _scanned_files() -> list[Path]:
    """Code and documents whose references are checked (this file excluded: it spells the patterns)."""
    files = [ROOT / "README.md"] if (ROOT / "README.md").exists() else []
    for folder in (*PACKAGES, "tests", "docs"):
        for pattern in ("*.py", "*.md"):
            files += [p for p in (ROOT / folder).rglob(pattern) if "__pycache__" not in p.parts]
    return sorted(set(files) - {Path(__file__).resolve()})


def _headings(path: Path) -> set[str]:
    """The text of every Markdown heading of ``path`` (outside fenced code)."""
    headings, fenced = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)):
            headings.add(match.group(1))
    return headings


def test_no_references_to_retired_documents():
    stale = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in _scanned_files()
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if STALE.search(line)
    ]
    assert not stale, (
        'references to documents outside the repository; cite docs/design.md, "Section" or '
        'docs/math.md, "Section" instead:\n' + "\n".join(stale)
    )


def test_document_references_resolve():
    missing = []
    for path in _scanned_files():
        text = path.read_text(encoding="utf-8")
        for match in DOC_PATH.finditer(text):
            if not (ROOT / match.group(1)).is_file():
                missing.append(f"{path.relative_to(ROOT)}: {match.group(1)} does not exist")
        for match in SECTION_REF.finditer(text):
            document, section = ROOT / match.group(1), " ".join(match.group(2).split())
            if document.is_file() and section not in _headings(document):
                missing.append(f'{path.relative_to(ROOT)}: {match.group(1)} has no section "{section}"')
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("document, sections", [("docs/design.md", DESIGN_SECTIONS), ("docs/math.md", MATH_SECTIONS)])
def test_documents_have_their_sections(document, sections):
    path = ROOT / document
    assert path.is_file(), f"{document} is missing"
    absent = [s for s in sections if s not in _headings(path)]
    assert not absent, f"{document} lacks the sections {absent} (code cites them by name)"
