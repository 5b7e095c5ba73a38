"""Dependencies point one way: cli → api/worker → pipeline → alerting/reports/performance → sources/storage →
stats → kernels. A module may import its own layer or any layer below, never above."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "driftwatch"

LAYERS = {
    "kernels": 0,
    "errors": 0,
    "durations": 0,
    "timestamps": 0,
    "stats": 1,
    "config": 2,
    "sources": 3,
    "storage": 3,
    "performance": 4,
    "alerting": 4,
    "reports": 4,
    "demo": 4,
    "comparison": 5,
    "pipeline": 5,
    "api": 6,
    "worker": 6,
    "cli": 7,
    "service": 7,
    "__init__": 8,
    "__main__": 8,
}


def layer_of(module: str) -> int:
    part = module.split(".")[1] if module.count(".") >= 1 else "__init__"
    return LAYERS[part]


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("driftwatch"):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("driftwatch")]
    return found


def test_every_top_level_module_has_a_layer() -> None:
    names = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())
    }
    assert names <= set(LAYERS), sorted(names - set(LAYERS))


def test_imports_point_down() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts)
        if module == "driftwatch.__init__":
            continue
        own = layer_of(module)
        for target in imports(path):
            if target == "driftwatch":
                wrong.append(f"{module} imports the package root")
            elif layer_of(target) > own:
                wrong.append(f"{module} (layer {own}) imports {target} (layer {layer_of(target)})")
    assert not wrong, "\n".join(wrong)


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.parts[-1] == "__init__" else rel.parts
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def resolved_imports(path: Path, known: set[str]) -> set[str]:
    """The driftwatch modules `path` imports, anywhere in it (a function-level import is a dependency too).

    `from driftwatch.api import queries` names the module driftwatch.api.queries when that is a module, the
    package driftwatch.api otherwise (a name defined in its __init__)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("driftwatch"):
            subs = {f"{node.module}.{alias.name}" for alias in node.names} & known
            found |= subs
            if len(subs) < len(node.names):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("driftwatch")}
    return found & known


def import_graph() -> dict[str, set[str]]:
    """driftwatch module → the driftwatch modules it imports (a package's own __init__ excluded as a target
    of its submodules: importing driftwatch.api.x runs driftwatch/api/__init__.py, but that is not a cycle)."""
    known = modules()
    return {name: resolved_imports(path, set(known)) - {name} for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, …, a], or None. Iterative DFS with colours: grey = on the current path."""
    colour: dict[str, int] = dict.fromkeys(graph, 0)  # 0 white, 1 grey, 2 black
    for root in sorted(graph):
        if colour[root]:
            continue
        path = [root]
        stack = [iter(sorted(graph[root]))]
        colour[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = 2
                stack.pop()
            elif colour.get(nxt, 2) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif colour.get(nxt) == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_find_cycle_reports_the_cycle() -> None:
    """The cycle finder itself: it must name a cycle through a longer path and stay quiet on a DAG."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"d", "a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_api_does_not_import_worker() -> None:
    """The API runs cycles through pipeline.runner and sees the schedule only as api.state.Scheduler;
    the composition of both is driftwatch.service."""
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if module.startswith("driftwatch.api")
        for target in targets
        if target == "driftwatch.worker" or target.startswith("driftwatch.worker.")
    )
    assert not wrong, "\n".join(wrong)
