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
    "commands": 7,
    "cli": 7,
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
