"""Add with a fused ReLU (SqueezeNext's ReLU after the block's sum) and the fully connected
layer after the global average pool (``GlobalAvgPool -> Conv2d(classes, 1)``): the fusion
pass, the golden model, and the lowered program on the word-level engine model, bit-exact
against the golden model."""

import numpy as np
import pytest

from fpgagen.errors import FpgagenError
from fpgagen.frontend import generate_weights
from fpgagen.golden.float_model import run_float
from fpgagen.golden.int_model import run_int
from fpgagen.hw import HwParams
from fpgagen.hw.isa import Opcode
from fpgagen.ir import Add, Conv2d, GlobalAvgPool, Graph, Node, Relu
from fpgagen.ir.quant import AddQuant
from fpgagen.ir.types import QType
from fpgagen.nets.builder import GraphBuilder
from fpgagen.operators.add import AddRules
from fpgagen.passes import quantize
from fpgagen.passes.fuse_relu import FuseRelu
from fpgagen.schedule import lower, pack_input, run_program
from fpgagen.testing.fc_graphs import fc_add_graph

HW = {"8x8": HwParams(pe_rows=8, pe_cols=8), "16x16": HwParams(pe_rows=16, pe_cols=16)}


def test_fuse_relu_into_add():
    graph = fc_add_graph()
    node = graph.node("sum_relu")
    assert node.op == Add(relu=True) and node.inputs == ("a", "b")
    assert "sum" not in {n.name for n in graph.nodes}


def test_fuse_relu_keeps_an_add_with_another_reader_or_an_output():
    nodes = [Node("a", Conv2d(4, 1, relu=False), ("data",)),
             Node("sum", Add(), ("a", "data")), Node("r", Relu(), ("sum",))]
    for extra, outputs in (([Node("c", Conv2d(4, 1), ("sum",))], ["r", "c"]), ([], ["sum", "r"])):
        graph = Graph("g", (4, 5, 5), nodes + extra, outputs)
        fused, changed = FuseRelu().apply(graph)
        assert not changed and fused.node("sum").op == Add()


def test_add_relu_attribute_is_checked():
    with pytest.raises(ValueError, match="relu must be a bool, not 1"):
        Add(relu=1)


@pytest.mark.parametrize("signed", [True, False])
def test_add_relu_int_is_relu_of_the_sum(signed):
    rng = np.random.default_rng(3)
    a, b = (rng.integers(-128, 128, (4, 3, 3)) for _ in range(2))
    lq = AddQuant(1, 0, 1)
    out = QType(8, 0, signed)
    plain = AddRules().run_int(Node("s", Add(), ("x", "y")), [a, b], lq, out)
    fused = AddRules().run_int(Node("s", Add(relu=True), ("x", "y")), [a, b], lq, out)
    # by hand: ((a << 1) + b) >> 1 rounded half up, then max(0, .), then the code range
    total = (a * 2 + b + 1) >> 1
    want = np.clip(np.maximum(total, 0), *((-128, 127) if signed else (0, 255)))
    np.testing.assert_array_equal(fused, want)
    assert (plain < 0).any() == signed and (fused >= 0).all()


def test_add_relu_float_equals_add_then_relu():
    fused = generate_weights(fc_add_graph())
    nodes = []
    for n in fused.nodes:  # the same graph with the ReLU as its own node again
        if n.name == "sum_relu":
            nodes += [Node("sum", Add(), n.inputs), Node("sum_relu", Relu(), ("sum",))]
        else:
            nodes.append(n)
    unfused = fused.replace(nodes=nodes)
    x = np.random.default_rng(0).standard_normal(fused.input_shape).astype(np.float32)
    got, want = run_float(fused, x, True), run_float(unfused, x, True)
    np.testing.assert_array_equal(got["sum_relu"], want["sum_relu"])
    np.testing.assert_array_equal(got["fc"], want["fc"])
    assert (want["sum"] < 0).any()


def _engine(graph, hw, steps=1):
    program = lower(graph, hw, steps=steps)
    image = np.random.default_rng(1).integers(0, 256, graph.input_shape[1:] + (3,),
                                              dtype=np.uint8)
    golden = run_int(graph, image, keep_all=True)
    result = run_program(program, pack_input(program, graph, image), capture=True)
    return program, result, golden


@pytest.mark.parametrize("pre_gap", [None, 19])
@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("array", HW)
def test_fc_after_gap_on_the_engine_model(array, steps, pre_gap):
    """With ``pre_gap`` and 2 steps the conv before the GAP runs in channel chunks, each
    followed by a GAP storing its chunk's averages."""
    graph = quantize(generate_weights(fc_add_graph(pre_gap=pre_gap)))
    program, result, golden = _engine(graph, HW[array], steps)
    np.testing.assert_array_equal(result.scores, golden["fc"].ravel())
    np.testing.assert_array_equal(result.tensors["gap"], golden["gap"])
    np.testing.assert_array_equal(result.tensors["sum_relu"], golden["sum_relu"])
    gaps = [f for f in program.instructions if f.op == Opcode.GAP]
    # 19 channels: 3 groups of 8 in chunks of 2 groups, or 2 groups of 16 in chunks of 1
    chunks = {"8x8": [0, 2], "16x16": [0, 1]}[array]
    assert [f.out_group_offset for f in gaps] == (chunks if steps > 1 and pre_gap else [0])
    assert program.output_channels == 20 and len(result.scores) == 20
    assert np.unique(result.scores).size > 10
    gap, fc = program.instructions[-2:]
    assert (gap.op, gap.gap_store, fc.op, fc.to_scores, fc.last) == (
        Opcode.GAP, 1, Opcode.CONV, 1, 1)
    assert graph.quant.types["fc"].bits == 16 and graph.quant.types["gap"].bits == 8


def test_fc_split_into_weight_chunks():
    """A weight budget of one FC output group per chunk (40 inputs: 5 words of 8 lanes of
    8 bits, 320 bits, per group): the FC's chunks write the score memory group after
    group."""
    graph = quantize(generate_weights(fc_add_graph(classes=20, channels=40, kernel=1)))
    hw = HwParams(pe_rows=8, pe_cols=8, weight_chunk_bits=400)
    program, result, golden = _engine(graph, hw)
    fcs = [f for f in program.instructions if f.to_scores]
    assert len(fcs) == 3 and [f.out_group_offset for f in fcs] == [0, 1, 2]
    np.testing.assert_array_equal(result.scores, golden["fc"].ravel())


def test_fc_with_its_weights_in_flash():
    """The weights in flash, loaded chunk by chunk: the FC's chunks too."""
    graph = quantize(generate_weights(fc_add_graph(classes=20, channels=40, kernel=1)))
    hw = HwParams(pe_rows=8, pe_cols=8, weight_chunk_bits=400, weight_store="flash")
    program, result, golden = _engine(graph, hw)
    assert sum(f.to_scores for f in program.instructions) == 3
    np.testing.assert_array_equal(result.scores, golden["fc"].ravel())


def test_a_conv_after_the_fc_is_refused():
    graph = fc_add_graph()
    graph = graph.replace(nodes=list(graph.nodes) + [Node("fc2", Conv2d(5, 1), ("fc",))],
                          outputs=["fc2"])
    graph = quantize(generate_weights(graph))
    with pytest.raises(FpgagenError, match="global_avgpool node 'gap'.*readers of 'gap': "
                                           r"\['fc'\]"):
        lower(graph, HW["8x8"])


def test_gap_read_twice_is_refused():
    graph = fc_add_graph()
    nodes = list(graph.nodes) + [Node("fc2", Conv2d(5, 1), ("gap",))]
    graph = quantize(generate_weights(graph.replace(nodes=nodes, outputs=["fc2"])))
    with pytest.raises(FpgagenError, match=r"readers of 'gap': \['fc', 'fc2'\]"):
        lower(graph, HW["8x8"])


def test_gap_as_last_node_still_streams_its_scores():
    b = GraphBuilder("gap_last", (3, 9, 9))
    b.conv("stem", "data", 10, 3, 2, 1)
    graph = quantize(generate_weights(b.build([b.global_avgpool("gap", "stem")])))
    program, result, golden = _engine(graph, HW["8x8"])
    assert not program.instructions[-1].gap_store
    np.testing.assert_array_equal(result.scores, golden["gap"].ravel())
