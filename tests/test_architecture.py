"""The import graph follows the data flow: no cycles, and lower stages never import
higher ones (`store` knows nothing of the pipeline side)."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from kameleoon_relay.errors import RelayError

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "kameleoon_relay"
ROOT = "kameleoon_relay"

# The stages, from the top of the flow's call graph down: a stage may import the
# stages below it, never one above it, and a stage sharing a row with another
# imports neither. `store` and `sandbox` stand apart: they know none of the stages.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli",),
    ("server",),  # assembles the ASGI app and runs it
    ("dashboard",),
    ("admin",),
    ("ingest",),  # the Segment HTTP Tracking API
    ("web",),  # what the HTTP surfaces share
    ("delivery",),
    ("pipeline",),
    ("config",),
    ("destinations",),  # one folder per destination type
    ("actions",),  # the actions framework
    ("filters",),
    ("mapping", "fql"),
    ("js",),  # JavaScript value semantics, the floor
)
STAGES = [stage for row in LAYERS for stage in row]
APART = ("store", "sandbox")


def _forbidden() -> dict[str, tuple[str, ...]]:
    forbidden: dict[str, tuple[str, ...]] = {}
    for depth, row in enumerate(LAYERS):
        above = [s for upper in LAYERS[:depth] for s in upper]
        for stage_name in row:
            peers = [s for s in row if s != stage_name]
            mounts_sandbox = stage_name in ("cli", "server")
            forbidden[stage_name] = (*above, *peers, *(() if mounts_sandbox else ("sandbox",)))
    for apart in APART:
        forbidden[apart] = tuple(s for s in (*STAGES, *APART) if s not in (apart, "js"))
    return forbidden


FORBIDDEN = _forbidden()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, known: dict[str, Path], typed: bool = False) -> set[str]:
    """Modules of the package that `name` imports at run time (any depth in the file);
    with `typed`, also those imported for type checking only."""
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node) and not typed:
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == ROOT:
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != ROOT:
                return
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(name)
    return {m for m in found if m in known}


def graph(typed: bool = False) -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known, typed) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return found


def stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_the_import_graph_has_no_cycle() -> None:
    assert cycles(graph()) == []


def test_no_cycle_even_through_type_only_imports() -> None:
    assert cycles(graph(typed=True)) == []


def test_every_module_is_tied_to_the_rest() -> None:
    """A module nothing imports and that imports nothing of the package is dead weight."""
    edges = graph(typed=True)
    packages = {name for name, path in modules().items() if path.name == "__init__.py"}
    imported = {target for targets in edges.values() for target in targets}
    loose = sorted(
        name
        for name, targets in edges.items()
        if not targets and name not in imported and name not in packages
    )
    assert loose == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("lower", sorted(FORBIDDEN))
def test_lower_stages_never_import_higher_ones(lower: str) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        if stage(module) == lower
        for target in targets
        if stage(target) in FORBIDDEN[lower]
    )
    assert wrong == []


def test_the_graph_sees_lazy_and_relative_imports() -> None:
    edges = graph()
    assert "kameleoon_relay.mapping.resolvers" in edges["kameleoon_relay.mapping.directives"]
    assert "kameleoon_relay.store" in edges["kameleoon_relay.delivery.replay"]


def test_every_exception_class_derives_from_relay_error() -> None:
    outside = []
    for name in sorted(modules()):
        if name.endswith("__main__"):
            continue  # runs the CLI when imported
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or not issubclass(cls, BaseException):
                continue
            if not issubclass(cls, RelayError):
                outside.append(f"{name}.{cls_name}")
    assert not outside, f"exception classes outside RelayError: {outside}"
