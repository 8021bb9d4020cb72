"""The house drawn from edge_sdk's imports has no circle, and the runtime package never imports tools/ or tests/.

The graph is read from the source with `ast` (nothing is imported). An edge A -> B is any import of B in A:
at module level, inside a function (a lazy import still makes A depend on B) or under `try`; imports under
`if TYPE_CHECKING:` are left out (they never run). Importing `a.b.c` also runs the package `a.b`'s __init__,
so that is an edge too where it is not one of A's own packages (already running when A runs): to the node
`a.b (init)`, which holds only the __init__'s module-level imports, since that is all an import runs (its
functions' lazy imports run when they are called, by importers that name the package). Imports by name, as
the registries do (`"edge_sdk.sources.file:FileReader"`, the engine backends and `cmd_*` modules found in
their folder), are edges as well: a string literal naming a module, and a `pkgutil.iter_modules` folder's
modules.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "edge_sdk"
#: Modules that import every module of a folder found at run time (pkgutil): the importer and the folder.
DISCOVERY = {"edge_sdk.engines.registry": "edge_sdk.engines.backends", "edge_sdk.cli.main": "edge_sdk.cli"}


@functools.lru_cache(maxsize=1)
def parsed() -> dict[str, ast.Module]:
    return {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in module_names().items()}


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(name: str, tree: ast.Module, is_package: bool, *, lazy: bool = True) -> set[str]:
    """Dotted names A imports (modules or names in modules), outside `if TYPE_CHECKING:` blocks; with
    `lazy=False` only those run when A is imported (not inside functions)."""
    found: set[str] = set()
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if not lazy and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parent = name.split(".") if is_package else name.split(".")[:-1]
                    parent = parent[:len(parent) - (child.level - 1)]
                    base = ".".join(parent + ([base] if base else []))
                found.update(f"{base}.{a.name}" for a in child.names)  # a module, or a name in module `base`
            elif lazy and isinstance(child, ast.Constant) and isinstance(child.value, str) \
                    and id(child) not in docstrings and child.value.startswith("edge_sdk."):  # imported when used
                found.add(child.value.partition(":")[0])
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    trees = parsed()
    graph: dict[str, set[str]] = {}

    def edges_of(name: str, *, lazy: bool) -> set[str]:
        edges = set()
        own_parents = {".".join(name.split(".")[:i]) for i in range(1, len(name.split(".")) + 1)}  # and itself
        for target in _imported(name, trees[name], modules[name].name == "__init__.py", lazy=lazy):
            while target and target not in modules:  # `from a.b import name`: the module a.b
                target = target.rpartition(".")[0]
            if not target:
                continue
            edges.add(target)
            parts = target.split(".")
            edges.update(f"{p} (init)" for p in (".".join(parts[:i]) for i in range(1, len(parts)))
                         if p in modules and p not in own_parents)
        if name in DISCOVERY and lazy:
            edges.update(m for m in modules if m.rpartition(".")[0] == DISCOVERY[name])
        edges.discard(name)
        return edges

    for name in modules:
        graph[name] = edges_of(name, lazy=True)
        if modules[name].name == "__init__.py":
            graph[f"{name} (init)"] = edges_of(name, lazy=False)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_the_import_graph_of_edge_sdk_has_no_circle() -> None:
    graph = import_graph()
    assert len(graph) > 100 and "edge_sdk.config.app" in graph["edge_sdk.config.loader"]
    assert "edge_sdk.config (init)" in graph["edge_sdk.engines.base"]  # via edge_sdk.config.base
    found = cycles(graph)
    assert not found, "import circles (break each by moving what both sides need into a third module):\n" + \
        "\n".join(" <-> ".join(c) for c in found)


def test_the_check_sees_a_circle_through_a_lazy_import_and_a_package() -> None:
    """What the graph above is built to catch: a function-level import and an __init__ that imports its modules."""
    graph = {"edge_sdk.a": {"edge_sdk.b"}, "edge_sdk.b": {"edge_sdk.c"}, "edge_sdk.c": {"edge_sdk.a"}, "edge_sdk.d": set()}
    assert cycles(graph) == [["edge_sdk.a", "edge_sdk.b", "edge_sdk.c"]]
    lazy = ast.parse("def f():\n    from edge_sdk.device import steps\n")
    assert "edge_sdk.device.steps" in _imported("edge_sdk.device.selftest", lazy, False)
    assert not _imported("edge_sdk.device.selftest", lazy, False, lazy=False)
    typing_only = ast.parse("if TYPE_CHECKING:\n    from edge_sdk.config.app import AppConfig\n")
    assert not _imported("edge_sdk.x", typing_only, False)


def test_the_runtime_package_never_imports_tools_or_tests() -> None:
    """tools/ and tests/ are not installed by `pip install .`: an import of them would fail on a device."""
    bad = []
    for name, path in module_names().items():
        for target in _imported(name, parsed()[name], path.name == "__init__.py"):
            if target.split(".")[0] in ("tools", "tests"):
                bad.append(f"{name} imports {target}")
    assert not bad, bad
