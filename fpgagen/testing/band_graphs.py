"""Small networks for the row-band tests, each exercising one kind of band edge: padding
rows, stride 2, ceil-mode pooling (fused) and a padded pool (not fused), concats at
channel offsets, a bypass add of an older tensor, the conv before the GAP in channel
chunks; ``"all"`` holds every one of them (``tests/test_bands.py``,
``rtl_tests/test_bands_compiled_rtl.py``)."""

from ..frontend import generate_weights
from ..ir import Add, Concat, Conv2d, GlobalAvgPool, Graph, MaxPool, Node
from ..passes import QuantConfig, quantize

__all__ = ["BAND_GRAPHS", "band_graph"]


def _graph(nodes, outputs, size=17, channels=3) -> Graph:
    graph = Graph("bands", (channels, size, size), nodes, outputs, mean=(104.0, 117.0, 123.0))
    graph.shapes()
    gap = isinstance(nodes[-1].op, GlobalAvgPool)
    return quantize(generate_weights(graph, seed=7), QuantConfig(output_bits=16 if gap else 8))


def _fire(prefix, src, squeeze, expand):
    return [Node(f"{prefix}/s", Conv2d(squeeze, 1, relu=True), (src,)),
            Node(f"{prefix}/e1", Conv2d(expand, 1, relu=True), (f"{prefix}/s",)),
            Node(f"{prefix}/e3", Conv2d(expand, 3, padding=1, relu=True), (f"{prefix}/s",)),
            Node(f"{prefix}/cat", Concat(), (f"{prefix}/e1", f"{prefix}/e3"))]


#: Small networks, each exercising one thing across band edges (each a function building
#: the quantized graph).
BAND_GRAPHS = {
    # 3x3 convs with padding: the first and last bands read padding rows
    "padding": lambda: _graph([
        Node("a", Conv2d(12, 3, padding=1, relu=True), ("data",)),
        Node("b", Conv2d(9, 3, padding=1, relu=True), ("a",)),
        Node("c", Conv2d(20, 5, padding=2, relu=True), ("b",))], ["c"]),
    # stride 2 (and an odd height) in a chain
    "stride2": lambda: _graph([
        Node("a", Conv2d(8, 3, stride=2, relu=True), ("data",)),
        Node("b", Conv2d(16, 3, stride=2, padding=1, relu=True), ("a",)),
        Node("c", Conv2d(10, 1, relu=True), ("b",))], ["c"], size=31),
    # SqueezeNet's pooling, fused (ceil mode: a clipped last window), and a padded pool
    # the compiler cannot fuse, banded as an instruction of its own
    "ceil-pool": lambda: _graph([
        Node("a", Conv2d(16, 3, relu=True), ("data",)),
        Node("p", MaxPool(3, 2, 0, ceil_mode=True), ("a",)),
        Node("b", Conv2d(12, 3, padding=1, relu=True), ("p",)),
        Node("q", MaxPool(3, 2, 1, ceil_mode=False), ("b",)),
        Node("c", Conv2d(8, 1, relu=True), ("q",))], ["c"], size=27),
    # fire modules: concat at channel offsets (expand widths not multiples of the array),
    # a pool fused into both expands
    "concat": lambda: _graph([
        Node("c1", Conv2d(24, 3, stride=2, relu=True), ("data",)),
        *_fire("f2", "c1", 6, 12),
        Node("pool", MaxPool(3, 2, 0, ceil_mode=True), ("f2/cat",)),
        *_fire("f3", "pool", 8, 20)], ["f3/cat"], size=35),
    # simple bypass: the add's other input is older (written many bands earlier)
    "bypass": lambda: _graph([
        Node("c1", Conv2d(16, 3, relu=True), ("data",)),
        *_fire("f2", "c1", 4, 8),
        *_fire("f3", "f2/cat", 4, 8),
        Node("add", Add(), ("f3/cat", "f2/cat")),
        Node("c4", Conv2d(12, 3, padding=1, relu=True), ("add",))], ["c4"], size=21),
    # the conv before the GAP runs in channel chunks when banded
    "gap": lambda: _graph([
        Node("c1", Conv2d(16, 3, stride=2, relu=True), ("data",)),
        Node("p", MaxPool(2, 2, 0, ceil_mode=True), ("c1",)),
        Node("c2", Conv2d(40, 1, relu=True), ("p",)),
        Node("gap", GlobalAvgPool(), ("c2",))], ["gap"], size=29),
}
#: Everything at once, for the RTL test (rtl_tests/test_bands_compiled_rtl.py).
BAND_GRAPHS["all"] = lambda: _graph([
    Node("c1", Conv2d(16, 3, stride=2, relu=True), ("data",)),  # stride 2
    Node("p1", MaxPool(3, 2, 0, ceil_mode=True), ("c1",)),  # fused, ceil mode
    *_fire("f2", "p1", 6, 12),  # padding rows, concat at a channel offset
    *_fire("f3", "f2/cat", 6, 12),
    Node("add", Add(), ("f3/cat", "f2/cat")),  # bypass: the older input
    Node("q", MaxPool(3, 2, 1, ceil_mode=False), ("add",)),  # padded: not fused
    Node("c4", Conv2d(24, 1, relu=True), ("q",)),
    Node("gap", GlobalAvgPool(), ("c4",))], ["gap"], size=45)  # channel chunks
_CACHE = {}


def band_graph(key: str) -> Graph:
    """The quantized network ``key`` of :data:`BAND_GRAPHS` (built once)."""
    if key not in _CACHE:
        _CACHE[key] = BAND_GRAPHS[key]()
    return _CACHE[key]
