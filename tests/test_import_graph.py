"""The layout holds: no import cycle between carechart's modules, and no import hidden inside
a function to dodge one (issue 13).

The graph is read from the source (AST), not from ``sys.modules``: an import executed when a
module loads is an edge (``if TYPE_CHECKING:`` blocks are not: they never run); an import
inside a function is allowed only for the optional or slow third-party libraries listed in
:data:`LAZY`, each with its reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("simulation", "pathway")

#: Imports allowed inside a function: (importing module, imported module) -> why.
LAZY: dict[tuple[str, str], str] = {
    ("simulation.run.scale", "distributed"): "Dask is the optional 'dask' extra",
    ("simulation.results.columnar", "pyarrow"): "Parquet outputs: the optional 'arrow' extra",
    ("simulation.train.command", "simulation.train.app"): "FastAPI: the optional 'train' extra",
    ("simulation.train.command", "uvicorn"): "the optional 'train' extra",
    ("simulation.train.debrief", "jinja2"): "the optional 'train' extra (HTML pages only)",
    ("simulation.train.debrief", "markupsafe"): "the optional 'train' extra (with jinja2)",
    ("simulation.verify.conflicts", "hypothesis"): "0.4 s to import; only the search needs it",
}


def _modules(package: str) -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = {name: path for package in PACKAGES for name, path in _modules(package).items()}


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The absolute module names an import statement loads (a module or a package)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module.split(".")
        if MODULES[module].name != "__init__.py":
            package.pop()
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, *([base] if base else [])])
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        yield sub if sub in MODULES else base


@cache
def _imports(module: str) -> tuple[tuple[str, int, bool], ...]:
    """(imported module, line, inside a function) for each import of ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    yield from walk(other, in_function)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(module, child):
                    yield target, child.lineno, in_function
                continue
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            yield from walk(child, inner)

    return tuple(walk(tree, False))


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for module in MODULES:
        for target, _, in_function in _imports(module):
            if not in_function and target in MODULES and target != module:
                graph[module].add(target)
    return graph


def _cycle(graph: dict[str, set[str]], within: str) -> list[str] | None:
    """One import cycle among the modules of package ``within``, as a path, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start.split(".")[0] == within and start not in state:
            found = visit(start)
            if found is not None:
                return found
    return None


@pytest.mark.parametrize("package", PACKAGES)
def test_the_module_import_graph_has_no_cycle(package: str) -> None:
    cycle = _cycle(_graph(), package)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_hides_inside_a_function(package: str) -> None:
    """Imports run when the module loads, so that the graph above is the real one; only
    optional or slow third-party libraries wait for the function that needs them."""
    hidden = [
        f"{MODULES[module].relative_to(ROOT)}:{line}: imports {target}"
        for module in MODULES
        if module.split(".")[0] == package
        for target, line, in_function in _imports(module)
        if in_function and not any(module == m and (target + ".").startswith(t + ".")
                                   for m, t in LAZY)
    ]  # fmt: skip
    assert not hidden, "\n".join(hidden)


def test_every_lazy_import_allowed_is_still_there() -> None:
    """An allowance whose import is gone must go too (the list stays the truth)."""
    present = {
        (module, target)
        for module in MODULES
        for target, _, in_function in _imports(module)
        if in_function
    }
    stale = [
        key
        for key in LAZY
        if not any(m == key[0] and (t + ".").startswith(key[1] + ".") for m, t in present)
    ]
    assert not stale


def test_the_scan_sees_imports_and_cycles() -> None:
    """The scanner itself: relative imports resolve to modules, a function's import is seen
    as one, and a two-module cycle is found with its path."""
    edges = _graph()
    assert "simulation.run.cohort" in edges["simulation.cli.simulate"]  # from ..run.cohort
    assert "simulation.run.stopping" in edges["simulation.run.output_folder"]  # from . import
    assert ("hypothesis", True) in {
        (target.split(".")[0], inside)
        for target, _, inside in _imports("simulation.verify.conflicts")
    }
    graph = {"simulation.a": {"simulation.b"}, "simulation.b": {"simulation.a"}}
    assert _cycle(graph, "simulation") == ["simulation.a", "simulation.b", "simulation.a"]
    assert _cycle({"simulation.a": {"simulation.b"}, "simulation.b": set()}, "simulation") is None
