"""The boundaries of the design: kernels never import HyperSpy; no module imports itself back."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "hyperspy_symseg.descriptors",
        "hyperspy_symseg.descriptors.translation",
        "hyperspy_symseg.descriptors._translation_fft",
        "hyperspy_symseg.descriptors._pearson_kernels",
        "hyperspy_symseg.descriptors._translation_direct",
        "hyperspy_symseg.descriptors.point_symmetry",
        "hyperspy_symseg.descriptors._point_kernels",
        "hyperspy_symseg.descriptors.power_spectrum",
        "hyperspy_symseg.descriptors._power_methods",
        "hyperspy_symseg.descriptors._registry",
        "hyperspy_symseg.descriptors._translation_family",
        "hyperspy_symseg._learn",
        "hyperspy_symseg._kmeans",
        "hyperspy_symseg.lattice",
        "hyperspy_symseg._lattice_spectrum",
        "hyperspy_symseg._lattice_indexing",
        "hyperspy_symseg._ring_medians",
        "hyperspy_symseg.unmixing",
        "hyperspy_symseg.metrics",
        "hyperspy_symseg.separability",
        "hyperspy_symseg.analysis",
        "hyperspy_symseg.model",
        "hyperspy_symseg.files",
        "hyperspy_symseg._threading",
        "hyperspy_symseg._tasks",
        "hyperspy_symseg._tiling",
        "hyperspy_symseg._validation",
        "hyperspy_symseg.columns",
        "hyperspy_symseg.columns._detect",
        "hyperspy_symseg.columns._refine",
        "hyperspy_symseg.columns._locate",
        "hyperspy_symseg.columns._crlb",
        "hyperspy_symseg.columns._denoise",
        "hyperspy_symseg.columns._table",
        "hyperspy_symseg.columns._lm",
        "hyperspy_symseg.columns._pairs",
        "hyperspy_symseg.columns._split",
        "hyperspy_symseg._crystal_labels",
    ],
)
def test_kernel_modules_do_not_import_hyperspy(module):
    code = (
        f"import sys, {module}; "
        "loaded = [m for m in sys.modules if m == 'hyperspy' or m.startswith('hyperspy.')]; "
        "assert not loaded, loaded"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_signal_classes_hold_no_numerics():
    """signals.py forwards to the pipeline: it imports neither numpy nor numba."""
    import inspect

    import hyperspy_symseg.signals as signals

    source = inspect.getsource(signals)
    assert "import numpy" not in source and "import numba" not in source


PACKAGE = Path(__file__).resolve().parents[1] / "hyperspy_symseg"


def _modules() -> dict[str, tuple[Path, bool]]:
    """{dotted name: (path, is package)} of every module of the package."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _imported(module: str, is_package: bool, node, modules) -> list[str]:
    """Package modules an import statement of ``module`` refers to."""
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        names = [f"{target}.{a.name}" for a in node.names]
    else:
        target, names = "", [a.name for a in node.names]
    found = []
    for name in names or [target]:
        name = name if name in modules else target if target in modules else name
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in modules and name != module:
            found.append(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """Edges module -> modules it imports, at any level (functions included)."""
    modules = _modules()
    graph = {}
    for module, (path, is_package) in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.update(_imported(module, is_package, node, modules))
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph (a list of modules), or None."""
    state = dict.fromkeys(graph, 0)  # 0 new, 1 on the path, 2 done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if state.get(nxt) == 0:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if state[node] == 0:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_find_cycle_detects_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def test_no_import_cycles():
    """Not even through imports inside functions: e.g. the file reader returns plain
    keyword arguments and the result class builds itself, so files never imports it."""
    graph = import_graph()
    assert "hyperspy_symseg.result" in graph["hyperspy_symseg.segmentation"]  # the graph sees real edges
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
