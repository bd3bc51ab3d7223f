"""The import rules of docs/architecture.md, checked on the source: no import cycle among the
modules of the packages, `persona/` and `avatar/` import nothing from `channels/`, `ingest/` or
`bench/` (and `persona/` nothing from `avatar/`), and `channels/` never imports `bench/`.

The graph is read with `ast`, nothing is imported. An edge is any import statement, at the
top of a module or inside a function (a lazy import runs too, and hides a cycle rather than
removing it), except under `if TYPE_CHECKING:`. Importing `a.b.c` also runs `a/__init__.py`
and `a/b/__init__.py`, so it is an edge to those packages as well, unless they are packages
of the importing module itself (they are already being imported when it runs). `from a import
b` is an edge to the module `a.b` when there is one, else to the package `a`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("channels", "persona", "avatar", "ingest", "bench")


def module_files(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of `packages` under `root`."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The dotted names an import statement anywhere in `tree` loads (not under
    `if TYPE_CHECKING:`), relative imports resolved."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit_one(other)
            else:
                visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            names = [f"{target}.{alias.name}" for alias in node.names]
            submodules = [name for name in names if name in known]
            found.update(submodules)
            if len(submodules) < len(names):  # a name defined in (or re-exported by) target
                found.add(target)
        else:
            visit(node)

    visit(tree)
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of `modules` it imports (see the module docstring)."""
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets: set[str] = set()
        for name in _imported_names(tree, module, is_package, known):
            parts = name.split(".")
            while parts and ".".join(parts) not in known:
                parts.pop()  # a name inside a module: the module
            if parts:
                targets.add(".".join(parts))
        parts = module.split(".")
        own = {".".join(parts[:i]) for i in range(1, len(parts))}
        if is_package:
            own.add(module)
        for target in list(targets):
            pieces = target.split(".")
            for i in range(1, len(pieces)):
                package = ".".join(pieces[:i])
                if package in known and package not in own:
                    targets.add(package)
        targets.discard(module)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
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


def _describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    return "; ".join(f"{m} -> {', '.join(sorted(graph[m] & members))}" for m in component)


def forbidden(graph: dict[str, set[str]], importer: str, imported: Iterable[str]) -> list[str]:
    """`module -> target` for every import from package `importer` into the `imported` ones."""
    banned = tuple(imported)
    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module.split(".")[0] == importer
        for target in targets
        if target.split(".")[0] in banned
    )


GRAPH = import_graph(module_files(REPO))


def test_the_graph_sees_the_packages() -> None:
    assert "channels.inbox.worker" in GRAPH and "persona.engine" in GRAPH
    assert "persona.registry" in GRAPH["avatar.backends"]
    assert "channels.live.paid" in GRAPH["channels.inbox.worker"]


def test_no_import_cycle() -> None:
    found = cycles(GRAPH)
    assert found == [], "import cycles: " + " | ".join(_describe(c, GRAPH) for c in found)


def test_the_libraries_import_nothing_from_the_platform() -> None:
    assert forbidden(GRAPH, "persona", ("channels", "ingest", "bench", "avatar")) == []
    assert forbidden(GRAPH, "avatar", ("channels", "ingest", "bench")) == []


def test_the_platform_never_imports_the_benchmarks() -> None:
    assert forbidden(GRAPH, "channels", ("bench",)) == []


# -- the checker itself, on a small tree: it must see what the rules are about ------------------


def _tree(root: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return import_graph(module_files(root, ("pkg", "lib")))


def test_lazy_imports_are_edges_and_type_checking_ones_are_not(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import thing\n",
            "pkg/b.py": "def thing():\n    from pkg import a\n",
            "pkg/c.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.a import x\nelse:\n    import pkg.b\n"
            ),
            "lib/__init__.py": "",
            "lib/d.py": "from . import e\nfrom .e import name\n",
            "lib/e.py": "",
        },
    )
    assert graph["pkg.a"] == {"pkg.b"}
    assert graph["pkg.b"] == {"pkg.a"}
    assert graph["pkg.c"] == {"pkg.b"}
    assert graph["lib.d"] == {"lib.e"}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]


def test_a_package_that_imports_its_modules_is_an_edge_from_outside(tmp_path: Path) -> None:
    """`lib.x` uses `pkg.low`, which runs pkg/__init__.py, which imports `pkg.high`, which
    uses `lib.x`: a cycle, though no module names the other's module directly."""
    graph = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.high import run\n",
            "pkg/low.py": "",
            "pkg/high.py": "import lib.x\n",
            "lib/__init__.py": "",
            "lib/x.py": "from pkg.low import y\n",
        },
    )
    assert graph["lib.x"] == {"pkg.low", "pkg"}
    assert graph["pkg.high"] == {"lib.x", "lib"}
    assert cycles(graph) == [["lib.x", "pkg", "pkg.high"]]
    assert forbidden(graph, "lib", ("pkg",)) == ["lib.x -> pkg", "lib.x -> pkg.low"]
