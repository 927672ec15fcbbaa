"""The dependency rules of docs/ARCHITECTURE.md, checked on the source (issue 11).

Dependencies point down (cli -> api -> engine -> transport -> wire) and never form a cycle, also
not through an import inside a function: such an import is still a dependency, only a late one.
Imports under ``if TYPE_CHECKING:`` are excluded, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "layerping"

# Modules every layer may use: they know no layer (value classes, the error types).
FOUNDATION = ("layerping._value", "layerping._value_inits", "layerping.errors")

# (importing prefix, forbidden prefixes, why)
RULES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("layerping.transport", ("layerping.engine", "layerping.api", "layerping.cli", "layerping.multicli",
                             "layerping.output", "layerping.results", "layerping.many"),
     "a transport moves packets; it knows neither the engine nor who asked"),
    ("layerping.engine", ("layerping.discovery", "layerping.api", "layerping.cli", "layerping.multicli",
                          "layerping.output", "layerping.results", "layerping.many",
                          "layerping.wire.ipv4", "layerping.wire.ethernet", "layerping.wire.arp"),
     "the engine never knows the layer or the address family"),
)  # fmt: skip


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = getattr(test, "id", None) or getattr(test, "attr", None)  # (typing.)TYPE_CHECKING
            if name == "TYPE_CHECKING":
                for statement in node.body:
                    skipped.update(id(inner) for inner in ast.walk(statement))
    return skipped


def import_graph() -> dict[str, set[str]]:
    """Module -> the layerping modules it imports, at module level or inside functions."""
    files = {_module_name(path): path for path in (SRC / PACKAGE).rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        skipped = _type_checking_nodes(tree)
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            candidates: list[str] = []
            if isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = name.split(".") if is_package else name.split(".")[:-1]
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join([*parts, base] if base else parts)
                # ``from pkg import mod`` imports the submodule pkg.mod.
                candidates = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for candidate in candidates:
                while candidate and candidate not in files:
                    candidate = candidate.rpartition(".")[0]
                # The package's own __init__ only re-exports lazily; every module imports it implicitly.
                if candidate and candidate not in (name, PACKAGE):
                    graph[name].add(candidate)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


GRAPH = import_graph()


def test_the_graph_sees_function_level_imports_and_skips_type_checking() -> None:
    # cli imports multicli only inside a function; factory imports api only for type checking.
    assert "layerping.multicli" in GRAPH["layerping.cli"]
    assert "layerping.api" not in GRAPH["layerping.transport.factory"]
    assert "layerping.wire.checksum" in GRAPH["layerping.wire.ipv4"]


def test_the_cycle_finder_finds_a_cycle_through_three_modules() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    assert cycles(GRAPH) == []


def test_wire_imports_nothing_above_it() -> None:
    """A wire format never knows a socket exists."""
    bad = sorted(
        (module, target)
        for module, targets in GRAPH.items()
        if _under(module, "layerping.wire")
        for target in targets
        if not _under(target, "layerping.wire") and target not in FOUNDATION
    )
    assert bad == []


@pytest.mark.parametrize(("importer", "forbidden", "why"), RULES, ids=[rule[0] for rule in RULES])
def test_layer_rule(importer: str, forbidden: tuple[str, ...], why: str) -> None:
    bad = sorted(
        (module, target)
        for module, targets in GRAPH.items()
        if _under(module, importer)
        for target in targets
        if any(_under(target, prefix) for prefix in forbidden)
    )
    assert bad == [], why
