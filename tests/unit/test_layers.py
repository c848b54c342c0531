"""The architecture of docs/design.md, enforced on the source tree.

- Layers: a module imports only its own layer or lower (type-only imports under
  `if TYPE_CHECKING:` excepted); third-party packages from their layer up.
- No import cycles between vampy's modules, counting imports inside functions too.
- Runtimes (onnxruntime, openvino) only inside vampy/engines/; matplotlib only in
  report/plots.py; typer and rich only in cli/.
- At most 8 modules at the top of vampy/, and no module over 600 lines.
"""
from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "vampy"

# Dotted paths under vampy; the longest matching prefix decides a module's layer.
LAYERS: dict[str, int] = {
    # 0 pure: plain data, vendor formats, protocols (numpy, pyyaml)
    "errors": 0, "progress": 0, "config": 0, "formats": 0, "models.info": 0, "models.resolve": 0,
    "engines.base": 0, "results": 0,
    # 1 data: images, preprocessing, measurement and quality (OpenCV, Pillow, psutil)
    "data": 1, "measure": 1, "quality": 1,
    # 2 model graphs (onnx)
    "models": 2,
    # 3 engines: the only runtime importers
    "engines": 3,
    # 4 where work runs, and what builds models
    "execution": 4, "compiler": 4,
    # 5 one module per user-facing job
    "workflows": 5,
    # 6 the Python API (and the package root, which exports it)
    "api": 6, "__init__": 6,
    # 7 interface: the only modules that print or draw
    "cli": 7, "__main__": 7, "report": 7,
}
THIRD_PARTY: dict[str, int] = {
    "numpy": 0, "yaml": 0,
    "cv2": 1, "PIL": 1, "psutil": 1,
    "onnx": 2,
    "onnxruntime": 3, "openvino": 3, "ray": 4,
    "mlperf_loadgen": 5,
    "typer": 7, "rich": 7, "click": 7, "matplotlib": 7,
}
RUNTIMES = ("onnxruntime", "openvino")
MAX_TOP_LEVEL_MODULES = 8
MAX_MODULE_LINES = 600


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def dotted(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" and len(rel.parts) > 1 else rel.parts
    return ".".join(parts)


def layer_of(name: str) -> int:
    """The layer of a dotted module name under vampy (e.g. 'engines.ort')."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        prefix = ".".join(parts[:k])
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise AssertionError(f"vampy.{name}: module missing from the layer table (tests/unit/test_layers.py, docs/design.md)")


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


@cache
def imported(path: Path) -> frozenset[str]:
    """Absolute names imported anywhere in the module (functions included), relative ones resolved."""
    names: set[str] = set()
    package = ["vampy", *dotted(path).split(".")]
    if path.name != "__init__.py":
        package = package[:-1]
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            # `from vampy.x import y` may name a submodule y: count vampy.x.y when it is one.
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                names.add(sub if _is_module(sub) else base)
    return frozenset(names)


def _is_module(name: str) -> bool:
    if not name.startswith("vampy."):
        return False
    rel = Path(*name.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def vampy_deps(path: Path) -> set[str]:
    """The vampy modules (dotted, without 'vampy.') that a module imports; the root package
    itself ('from vampy import __version__') is not a dependency on its exports."""
    return {n[len("vampy."):] for n in imported(path) if n.startswith("vampy.") and _is_module(n)}


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_respect_layers(path: Path) -> None:
    own = layer_of(dotted(path))
    for dep in vampy_deps(path):
        assert layer_of(dep) <= own, f"vampy.{dotted(path)} (layer {own}) imports vampy.{dep} (layer {layer_of(dep)})"
    for name in imported(path):
        top = name.split(".")[0]
        if top in THIRD_PARTY:
            assert THIRD_PARTY[top] <= own, f"vampy.{dotted(path)} (layer {own}) imports {top}, allowed from layer {THIRD_PARTY[top]}"


def import_graph() -> dict[str, set[str]]:
    return {dotted(p): vampy_deps(p) - {dotted(p)} for p in modules()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in graph.get(node, ()):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == [], "modules that import each other in a circle (move the shared part down a layer)"


def test_the_cycle_check_finds_a_cycle() -> None:
    """The check itself, on a made-up graph: a -> b -> c -> a is found, d -> a is not part of it."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_runtimes_only_in_engines() -> None:
    for path in modules():
        tops = {name.split(".")[0] for name in imported(path)}
        if not dotted(path).startswith("engines"):
            assert not tops & set(RUNTIMES), f"vampy.{dotted(path)} imports {sorted(tops & set(RUNTIMES))}; only vampy/engines/ may"


def test_matplotlib_only_in_plots_and_terminal_only_in_cli() -> None:
    """plots.py sits in the interface layer for matplotlib alone: nothing else draws, and it never prints."""
    for path in modules():
        name = dotted(path)
        tops = {n.split(".")[0] for n in imported(path)}
        if name != "report.plots":
            assert "matplotlib" not in tops, f"vampy.{name} imports matplotlib; only vampy/report/plots.py may"
        if not name.startswith("cli"):
            assert not tops & {"typer", "rich", "click"}, f"vampy.{name} imports {sorted(tops & {'typer', 'rich', 'click'})}; only cli/ may"


def test_top_level_stays_small() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, f"vampy/ holds {len(top)} modules ({', '.join(top)}); put new ones in a subpackage"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_size(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"vampy.{dotted(path)}: {lines} lines; split it by concept (at most {MAX_MODULE_LINES})"


def test_no_test_module_is_imported_by_another_file() -> None:
    """Shared test helpers live in tests/support/ (and tests/models.py): a test module imported by another test,
    a benchmark or a docs snippet runs its module-level code there and ties two tests' edits together."""
    root = PACKAGE.parent
    test_packages = ("tests.unit", "tests.integration", "tests.cli")
    offenders = []
    for path in [*root.glob("tests/**/*.py"), *root.glob("benchmarks/*.py")]:
        names = [alias.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Import) for alias in node.names]
        names += [node.module or "" for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)]
        offenders += [f"{path.relative_to(root)}: {name}" for name in names if name.startswith(test_packages)]
    for doc in [root / "README.md", *root.glob("docs/*.md")]:
        offenders += [f"{doc.relative_to(root)}: {line.strip()}" for line in doc.read_text().splitlines()
                      if any(f"from {package}" in line or f"import {package}" in line for package in test_packages)]
    assert not offenders, "import these helpers from tests/support/ instead: " + "; ".join(offenders)
