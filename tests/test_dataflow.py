"""The analytic WS / OS dataflow model (``fpgagen.analysis.dataflow``) on small layers whose
cycles are counted by hand in each test."""

import pytest

from fpgagen.analysis import Dataflow, dataflow_cycles, layer_dataflow
from fpgagen.ir import Graph, Node
from fpgagen.ir.ops import Add, Conv2d, GlobalAvgPool, MaxPool


def _one(conv, in_shape, rows=8, cols=8, dataflow="ws", setup=0):
    graph = Graph("t", in_shape, [Node("c", conv, ["data"])], ["c"])
    (layer,) = dataflow_cycles(graph, rows, cols, dataflow, setup=setup)
    return layer


def test_ws_1x1_fills_the_array():
    # 8 in x 8 out fill one 8x8 block; one pixel per cycle over a 13x13 map
    layer = _one(Conv2d(8, 1), (8, 13, 13))
    assert layer.passes == 1
    assert layer.cycles == 13 * 13
    assert layer.macs == 8 * 8 * 169
    assert layer.utilization == pytest.approx(1.0)


def test_ws_3x3_with_three_channels_fills_three_rows():
    # 9 taps, one block each (3 of 8 rows used), 10x10 output pixels per block
    layer = _one(Conv2d(8, 3, padding=1), (3, 10, 10))
    assert layer.passes == 9
    assert layer.cycles == 9 * 100
    assert layer.utilization == pytest.approx(3 / 8)


def test_ws_under_filled_columns_and_setup():
    # 16 in -> 12 out on 8x8: 2 channel blocks x 2 output blocks (the second 4 of 8 wide),
    # each 5*5 pixels plus 8 setup cycles
    layer = _one(Conv2d(12, 1), (16, 5, 5), setup=None)
    assert layer.passes == 4
    assert layer.cycles == 4 * (25 + 8)
    assert layer.setup_cycles == 32
    assert layer.utilization == pytest.approx(16 * 12 * 25 / (4 * 33 * 64))


def test_ws_stride_counts_output_pixels():
    # 7x7/2 on 3 channels of 19x19: 7x7 output pixels per tap
    layer = _one(Conv2d(8, 7, stride=2), (3, 19, 19))
    assert layer.cycles == 49 * 49


def test_ws_groups_run_one_after_the_other():
    # 2 groups of 4 in -> 4 out: per group one half-filled block of 6x6 pixels
    layer = _one(Conv2d(8, 1, groups=2), (8, 6, 6))
    assert layer.passes == 2
    assert layer.cycles == 72
    assert layer.utilization == pytest.approx(8 * 4 * 36 / (72 * 64))


def test_os_13x13_map_takes_four_tiles():
    # 13x13 on 8x8 tiles: 2 x 2 tiles, 169 of 256 PEs busy; per output channel and tile
    # one cycle per input channel (1x1 kernel)
    layer = _one(Conv2d(2, 1), (8, 13, 13), dataflow="os")
    assert layer.passes == 2 * 4
    assert layer.cycles == 2 * 4 * 8
    assert layer.utilization == pytest.approx(169 / 256)


def test_os_kernel_and_groups_and_setup():
    # 3x3, 4 groups of 2 input channels: each output channel reads 2 * 9 weights; 8x8 map
    # is one tile; 8 setup cycles per tile pass
    layer = _one(Conv2d(8, 3, padding=1, groups=4), (8, 8, 8), dataflow=Dataflow.OS,
                 setup=None)
    assert layer.passes == 8
    assert layer.cycles == 8 * (18 + 8)
    assert layer.setup_cycles == 64


def test_fully_connected_after_gap():
    # GAP -> 1x1 conv 20 -> 10 on a 1x1 map; WS on 8x8: 3 x 2 blocks of one pixel each;
    # OS: one tile with one busy PE per output channel
    graph = Graph("fc", (20, 4, 4), [Node("gap", GlobalAvgPool(), ["data"]),
                                      Node("fc", Conv2d(10, 1), ["gap"])], ["fc"])
    (ws,) = dataflow_cycles(graph, 8, 8, "ws", setup=0)
    (os_,) = dataflow_cycles(graph, 8, 8, "os", setup=0)
    assert (ws.name, ws.cycles, ws.macs) == ("fc", 6, 200)
    assert os_.cycles == 10 * 20
    assert os_.utilization == pytest.approx(1 / 64)


def test_graph_lists_convolutions_only_in_order():
    nodes = [Node("a", Conv2d(16, 3, padding=1, relu=True), ["data"]),
             Node("p", MaxPool(), ["a"]),
             Node("b", Conv2d(16, 1), ["p"]),
             Node("s", Add(), ["p", "b"])]
    graph = Graph("g", (3, 16, 16), nodes, ["s"])
    layers = dataflow_cycles(graph, 16, 16, "ws", setup=0)
    assert [l.name for l in layers] == ["a", "b"]
    # b: 16 -> 16 on the 8x8 pooled map (3x3/2 ceil on 16: 8), one block
    assert layers[1].cycles == 64


def test_rectangular_array():
    # WS on 4 rows x 8 cols: 8 input channels are 2 row blocks
    layer = _one(Conv2d(8, 1), (8, 3, 3), rows=4, cols=8)
    assert layer.cycles == 2 * 9


@pytest.mark.parametrize("kwargs, message", [
    (dict(rows=0), "rows must be a positive integer, not 0"),
    (dict(cols=2.5), "cols must be a positive integer, not 2.5"),
    (dict(dataflow="rs"), "dataflow must be 'ws' or 'os', not 'rs'"),
    (dict(setup=-1), "setup must be a non-negative integer, not -1"),
])
def test_bad_arguments(kwargs, message):
    args = dict(rows=8, cols=8, dataflow="ws", setup=0) | kwargs
    with pytest.raises(ValueError, match=message):
        layer_dataflow("c", Conv2d(8, 1), (8, 4, 4), (8, 4, 4), args["rows"], args["cols"],
                       args["dataflow"], setup=args["setup"])


def test_ws_without_setup_is_fpgagen_conv_cycles():
    # fpgagen's array reduces pe_rows input channels into pe_cols output channels per cycle
    # with a new weight word every cycle (docs/hardware.md, *The loop nest*): per CONV
    # instruction exactly the WS count without setup, plus the fixed overhead
    from fpgagen.frontend import generate_weights
    from fpgagen.hw import PIPELINE_OVERHEAD, HwParams
    from fpgagen.passes import quantize
    from fpgagen.schedule import lower

    nodes = [Node("a", Conv2d(16, 3, padding=1, relu=True), ["data"]),
             Node("b", Conv2d(24, 1, relu=True), ["a"]),
             Node("c", Conv2d(20, 3, stride=2, padding=1, relu=True), ["b"]),
             Node("gap", GlobalAvgPool(), ["c"])]
    graph = quantize(generate_weights(Graph("x", (3, 12, 12), nodes, ["gap"])))
    program = lower(graph, HwParams(pe_rows=8, pe_cols=8))
    fpgagen = {info.name: info.cycles_predicted for info in program.layers}
    ws = {l.name: l.cycles for l in dataflow_cycles(graph, 8, 8, "ws", setup=0)}
    # b: 2 x 3 blocks of 12x12 pixels; c: 9 taps x 3 x 3 blocks of 6x6 pixels
    assert ws["b"] == 2 * 3 * 144 and ws["c"] == 9 * 3 * 3 * 36
    for name in ("b", "c"):
        assert fpgagen[name] == ws[name] + PIPELINE_OVERHEAD


def test_graph_without_convolutions_still_checks_the_array():
    graph = Graph("p", (8, 4, 4), [Node("gap", GlobalAvgPool(), ["data"])], ["gap"])
    assert dataflow_cycles(graph, 8, 8, "os") == []
    with pytest.raises(ValueError, match="rows must be a positive integer, not -8"):
        dataflow_cycles(graph, -8, 8)
    with pytest.raises(ValueError, match="dataflow must be 'ws' or 'os', not 'RS'"):
        dataflow_cycles(graph, 8, 8, "RS")


def test_dataflow_names_in_any_case():
    assert _one(Conv2d(8, 1), (8, 5, 5), dataflow="OS") == _one(Conv2d(8, 1), (8, 5, 5),
                                                                  dataflow=Dataflow.OS)
