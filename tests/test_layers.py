"""The package's structure, read from its own imports: every module imports only its own
layer and the layers below (what the hardware *is* sits below what consumes it), and no
import circle exists between modules or between folders."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fpgagen"

#: Layers from the bottom up; a unit (a folder or a top-level module of the package)
#: imports only units of its own layer or of a lower one.
LAYERS = [
    {"errors", "resources", "__init__"},
    {"hw"},  # the hardware spec: widths, latencies, instruction set, PE array, cycle model
    {"ir"},
    {"numerics", "devices", "labels", "data", "analysis"},  # analysis: models from the IR alone
    {"operators"},
    {"nets", "golden"},
    {"passes"},
    {"frontend"},
    {"schedule"},
    {"gateware"},
    {"fit"},
    {"emit"},
    {"sim", "synth", "testing"},  # testing: random graphs and bit-exact checks for tests
    {"flow", "evaluation"},
    {"build_flow", "build_accuracy"},
    {"cli", "cli_common", "cli_build", "cli_simulate", "cli_synth", "cli_evaluate"},
]
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every ``fpgagen`` module ``path`` imports (at any depth of its code)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("fpgagen")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("fpgagen"):
                out.add(target)
                # "from . import x" and "from .pkg import mod" may name modules
                out |= {f"{target}.{a.name}" for a in node.names}
    return out


@pytest.fixture(scope="module")
def graph():
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        edges[name] = {t for t in _imports(path) if t in modules and t != name}
    return edges


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_unit_has_a_layer(graph):
    units = {_unit(m) for m in graph}
    assert units <= set(RANK), f"units without a layer: {sorted(units - set(RANK))}"


def test_imports_run_down_the_layers(graph):
    bad = [f"{a} -> {b}" for a, targets in graph.items() for b in targets
           if _unit(a) != "__init__" and RANK[_unit(b)] > RANK[_unit(a)]]
    assert not bad, "imports running up the layers:\n" + "\n".join(sorted(bad))


def test_hardware_spec_imports_only_itself(graph):
    bad = [f"{a} -> {b}" for a, targets in graph.items() if _unit(a) == "hw"
           for b in targets if _unit(b) != "hw"]
    assert not bad, bad


def _cycle(edges: dict) -> list | None:
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        state[n] = 2
        stack.pop()
        return None

    for n in sorted(edges):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_no_import_circle_between_modules(graph):
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_no_import_circle_between_folders(graph):
    units = {}
    for a, targets in graph.items():
        if _unit(a) == "__init__":
            continue
        units.setdefault(_unit(a), set()).update(_unit(b) for b in targets
                                                 if _unit(b) != _unit(a))
    assert _cycle(units) is None, " -> ".join(_cycle(units))


def test_the_check_sees_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
