"""The layering of docs/design.md, enforced: each module imports only its own layer or lower."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "vampy"

LAYERS: dict[str, int] = {
    # pure
    "errors": 0, "files": 0, "config": 0, "vdsp": 0, "stats": 0, "report": 0, "progress": 0, "table": 0, "compile_config": 0,
    "schedule": 0, "profiling": 0, "timesheet": 0, "pareto": 0, "compare": 0,
    # data
    "preprocess": 1, "datalist": 1, "monitor": 1, "imaging": 1, "inputs": 1, "metrics": 1,
    # runtime
    "model": 2, "worker": 2, "compiler": 2, "zoo": 2, "datalist_run": 2,
    # orchestration
    "loadgen": 3, "evaluate": 3, "run": 3, "summary": 3, "mlperf": 3, "infer": 3, "sweep": 3,
    # interface
    "cli": 4, "__init__": 0, "__main__": 4, "plots": 4,
}
THIRD_PARTY: dict[str, int] = {
    "numpy": 0, "yaml": 0,
    "cv2": 1, "PIL": 1, "psutil": 1,
    "onnx": 2, "onnxruntime": 2, "mlperf_loadgen": 3,
    "typer": 4, "rich": 4, "click": 4, "matplotlib": 4,
}


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def layer_of(path: Path) -> int:
    rel = path.relative_to(PACKAGE)
    name = rel.parts[0] if len(rel.parts) > 1 else rel.stem
    assert name in LAYERS, f"{rel}: module missing from the layer table (tests/unit/test_layers.py, docs/design.md)"
    return LAYERS[name]


def _runtime_nodes(tree: ast.Module) -> list[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:` (type-only imports cost nothing at run time)."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        out.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return out


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_respect_layers(path: Path) -> None:
    own = layer_of(path)
    for name in imported(path):
        top = name.split(".")[0]
        if top == "vampy":
            parts = name.split(".")
            if len(parts) == 1:
                continue
            target = parts[1]
            assert LAYERS[target] <= own, f"{path.name} (layer {own}) imports {name} (layer {LAYERS[target]})"
        elif top in THIRD_PARTY:
            assert THIRD_PARTY[top] <= own, f"{path.name} (layer {own}) imports {top}, allowed from layer {THIRD_PARTY[top]}"


def test_matplotlib_only_in_plots() -> None:
    """plots.py sits in the interface layer for matplotlib alone: nothing else draws, and it never prints."""
    for path in modules():
        tops = {name.split(".")[0] for name in imported(path)}
        if path.relative_to(PACKAGE).as_posix() == "plots.py":
            assert not tops & {"typer", "rich", "click"}, "plots.py must not import typer or rich"
        else:
            assert "matplotlib" not in tops, f"{path.name} imports matplotlib; only vampy/report/plots.py may"
