"""Small graphs with SqueezeNext's tail pieces for tests: a sum with the ReLU after it
(fused into the add) and the fully connected layer after the global average pool."""

from ..ir import Graph, Relu
from ..nets.builder import GraphBuilder
from ..passes.fuse_relu import FuseRelu

__all__ = ["fc_add_graph"]


def fc_add_graph(classes: int = 20, channels: int = 12, size: int = 11, kernel: int = 3,
                 pre_gap: int | None = None) -> Graph:
    """Float graph (no weights): a stem conv, two signed convs of ``channels`` outputs
    summed with the ReLU after the sum (``sum_relu``, an ``Add(relu=True)`` once fused),
    optionally a 1x1 conv of ``pre_gap`` outputs (``pre``, the conv before the GAP, which
    band schedules run in channel chunks), the global average pool ``gap``, then the fully
    connected layer ``fc`` (a 1x1 conv of ``classes`` outputs, the graph output).
    ``kernel``: of the stem and of the first summed conv."""
    b = GraphBuilder("fc_add", (3, size, size))
    stem = b.conv("stem", "data", 16, kernel, 2, kernel // 2)
    a = b.conv("a", stem, channels, kernel, padding=kernel // 2, relu=False)
    c = b.conv("b", stem, channels, 1, relu=False)
    total = b.add("sum", a, c)
    x = b._add("sum_relu", Relu(), [total])
    if pre_gap is not None:
        x = b.conv("pre", x, pre_gap, 1)
    gap = b.global_avgpool("gap", x)
    fc = b.conv("fc", gap, classes, 1, relu=False)
    graph, _ = FuseRelu().apply(b.build([fc]))
    return graph
