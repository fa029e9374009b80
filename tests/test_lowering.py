"""Lowering to the accelerator's program, checked by running the program on the word-level
engine model against the golden model, bit for bit."""

import time

import numpy as np
import pytest
from amaranth.lib import data
from hypothesis import given, settings
from hypothesis import strategies as st

from fpgagen.errors import FpgagenError
from fpgagen.frontend import generate_weights
from fpgagen.golden.int_model import run_int
from fpgagen.hw import PIPELINE_OVERHEAD, HwParams, instruction_cycles, mac_utilization
from fpgagen.ir import Add, Concat, Conv2d, GlobalAvgPool, Graph, MaxPool, Node, Relu
from fpgagen.nets import NetOptions, build_net
from fpgagen.passes import quantize
from fpgagen.schedule import (Instr, Instruction, Opcode, lower, pack_input, pack_instruction,
                              run_program, unpack_instruction, unpack_tensor)
from fpgagen.schedule.lower import cut_candidates

HW = {"8x8": HwParams(pe_rows=8, pe_cols=8), "16x16": HwParams(pe_rows=16, pe_cols=16)}
NETS = {
    "squeezenet1_1": ("squeezenet1_1", 1.0),
    "squeezenet1_0-simple-bypass": ("squeezenet1_0-simple-bypass", 1.0),
    "squeezenet1_0-complex-bypass": ("squeezenet1_0-complex-bypass", 1.0),
    "zynqnet": ("zynqnet", 1.0),
    "squeezenet1_1-w0.3": ("squeezenet1_1", 0.3),  # channels not multiples of 8 or 16
    "squeezenet1_0-complex-bypass-w0.3": ("squeezenet1_0-complex-bypass", 0.3),  # gappy adds
}
_QUANTIZED = {}


def _quantized(key: str, size: int = 64) -> Graph:
    if (key, size) not in _QUANTIZED:
        name, width = NETS[key]
        graph = generate_weights(build_net(name, NetOptions(input_size=size, width=width)))
        _QUANTIZED[key, size] = quantize(graph)
    return _QUANTIZED[key, size]


def _image(graph: Graph, seed: int = 0) -> np.ndarray:
    _, h, w = graph.input_shape
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _memory_tensors(graph: Graph) -> list[str]:
    return [n.name for n in graph.nodes if isinstance(n.op, (Conv2d, MaxPool, Add, Concat))]


def _check_against_golden(graph: Graph, program, result, golden, tensors):
    """Every tensor the program stores equals the golden one; the others are the inputs of
    fused max pools (checked through the pools) or the chunked conv before the GAP."""
    checked = 0
    for name in _memory_tensors(graph):
        if name in program.unstored:
            continue
        np.testing.assert_array_equal(tensors[name], golden[name], err_msg=name)
        checked += 1
    assert checked == len(set(_memory_tensors(graph)) - program.unstored) > 0
    np.testing.assert_array_equal(result.scores, golden[graph.outputs[0]].ravel())
    assert len(result.scores) == program.output_channels


# --- the engine model equals the golden model -------------------------------------------------

@pytest.mark.parametrize("hw", HW.values(), ids=HW.keys())
@pytest.mark.parametrize("net", NETS)
def test_engine_model_matches_golden(net, hw):
    graph = _quantized(net)
    img = _image(graph)
    golden = run_int(graph, img, keep_all=True)

    program = lower(graph, hw)
    result = run_program(program, pack_input(program, graph, img), capture=True)
    _check_against_golden(graph, program, result, golden, result.tensors)
    assert result.cycles == [l.cycles_predicted for l in program.layers]
    assert result.act_mem.shape == (program.act_depth, hw.pe_rows)

    # Row bands, with a region cut: the same codes.
    banded = lower(graph, hw, steps=4, cuts=cut_candidates(graph, hw)[-1:])
    assert len(banded.instructions) > len(program.instructions)
    result = run_program(banded, pack_input(banded, graph, img), capture=True)
    _check_against_golden(graph, banded, result, golden, result.tensors)
    assert result.cycles == [l.cycles_predicted for l in banded.layers]

    # Without memory reuse every tensor is still in the final memory image.
    whole = lower(graph, hw, reuse_memory=False)
    assert whole.act_depth > program.act_depth
    final = run_program(whole, pack_input(whole, graph, img))
    tensors = {t: unpack_tensor(whole, final.act_mem, t) for t in _memory_tensors(graph)
               if t not in whole.unstored}
    _check_against_golden(graph, whole, final, golden, tensors)


def test_program_structure_squeezenet1_1():
    graph = _quantized("squeezenet1_1")
    hw = HW["16x16"]
    program = lower(graph, hw)
    # a LOAD, then one instruction per node but the concats and the max pools fused into
    # the convs before them (pool1 into conv1, pool3 into both expands of fire3, ...)
    pools = [n.name for n in graph.nodes if isinstance(n.op, MaxPool)]
    assert pools and set(pools) <= {f for f in program.tensors}
    n_instr = 1 + sum(not isinstance(n.op, (Concat, MaxPool)) for n in graph.nodes)
    assert len(program.instructions) == len(program.layers) == len(program.words()) == n_instr
    assert [f.last for f in program.instructions] == [0] * (n_instr - 1) + [1]
    assert program.instructions[0].op == Opcode.LOAD
    assert sum(f.pool for f in program.instructions) == 1 + 2 + 2
    assert {"conv1", "fire3/expand1x1", "fire3/concat"} <= program.unstored
    for f, word in zip(program.instructions, program.words()):
        assert unpack_instruction(word) == f
    # Weight and bias banks are laid out layer after layer, without gaps.
    convs = [f for f in program.instructions if f.op == Opcode.CONV]
    wb = 0
    for f in convs:
        assert f.weight_base == wb
        wb += f.out_groups * f.kh * f.kw * f.in_groups
    assert program.weight_banks.shape == (hw.pe_cols, wb, hw.pe_rows)
    assert program.weight_banks.dtype == np.int16
    assert program.bias_banks.shape == program.shift_banks.shape
    assert program.bias_banks.shape == (hw.pe_cols, sum(f.out_groups for f in convs))
    # The fire modules' expand layers write the two halves of one concat buffer.
    e1 = program.tensors["fire2/expand1x1"]
    e3 = program.tensors["fire2/expand3x3"]
    cat = program.tensors["fire2/concat"]
    assert e1.base == e3.base == cat.base and e1.pixel_groups == cat.pixel_groups == 8
    assert (e1.group_offset, e3.group_offset) == (0, 4)
    text = program.listing()
    assert len(text.splitlines()) == n_instr + 2
    assert "conv1" in text and "GAP" in text
    # Predicted cycles follow the cycle model.
    for f, info in zip(program.instructions, program.layers):
        assert info.cycles_predicted == instruction_cycles(f, PIPELINE_OVERHEAD)


@pytest.mark.parametrize("layer", ["conv1", "fire2/expand3x3", "conv10"])
def test_weight_and_bias_banks_follow_the_spec(layer):
    graph = _quantized("squeezenet1_1-w0.3")  # channel counts not multiples of L
    hw = HW["8x8"]
    L = hw.pe_rows
    program = lower(graph, hw)
    i = next(k for k, info in enumerate(program.layers) if info.name == layer)
    f = program.instructions[i]
    q = graph.quant.layers[layer]
    w = q.weight
    if layer == "conv1":  # im2col: input channel (ky * kw + kx) * C + c, a 1x1 kernel
        w = w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1, 1, 1)
    in_pos = program.tensors[graph.node(layer).inputs[0]].positions
    real_in = {p: ch for ch, p in enumerate(in_pos)}
    kh, kw, ig = f.kh, f.kw, f.in_groups
    for og in range(f.out_groups):
        for c in range(hw.pe_cols):
            o = og * L + c
            entry = f.bias_base + og
            real_o = o < w.shape[0]
            assert program.bias_banks[c, entry] == (q.bias[o] if real_o else 0)
            assert program.shift_banks[c, entry] == (q.shift[o] if real_o else 0)
            for tap in range(kh * kw):
                for g in range(ig):
                    word = program.weight_banks[c, f.weight_base + (og * kh * kw + tap) * ig
                                                + g]
                    for r in range(L):
                        ch = real_in.get(g * L + r)
                        want = w[o, ch, tap // kw, tap % kw] if real_o and ch is not None else 0
                        assert word[r] == want, (og, c, tap, g, r)


def test_buffers_of_live_tensors_never_overlap():
    graph = _quantized("squeezenet1_0-complex-bypass-w0.3")
    program = lower(graph, HW["8x8"])
    step = {info.name: i for i, info in enumerate(program.layers)}
    buffer_of = {t: t for t in program.tensors}
    for n in graph.nodes:
        if isinstance(n.op, Concat):
            buffer_of.update({i: n.name for i in n.inputs})
    life = {}  # buffer -> [first write, last read]
    for t, buf in buffer_of.items():
        writes = [step[t]] if t in step else [-1] if t == graph.input_name else []
        uses = writes + [step[r.name] for r in graph.consumers(t) if r.name in step]
        lo, hi = life.get(buf, (min(uses), max(uses)))
        life[buf] = (min(lo, *uses), max(hi, *uses))
    bufs = sorted(life)
    for i, a in enumerate(bufs):
        pa = program.tensors[a]
        for b in bufs[i + 1:]:
            pb = program.tensors[b]
            if pa.base < pb.end and pb.base < pa.end:  # shared words: lifetimes disjoint
                (fa, la), (fb, lb) = life[a], life[b]
                assert la < fb or lb < fa, (a, life[a], b, life[b])


# --- the first layer and the full network -------------------------------------------------

@pytest.fixture(scope="module")
def squeezenet_227():
    return quantize(generate_weights(build_net("squeezenet1_1")))


def test_full_squeezenet1_1_conv1_is_im2col(squeezenet_227):
    for hw, groups in ((HW["16x16"], 2), (HW["8x8"], 4)):
        program = lower(squeezenet_227, hw)
        f = program.instructions[1]
        assert program.layers[1].name == "conv1"
        assert f.op == Opcode.CONV
        assert (f.kh, f.kw, f.stride_h, f.stride_w, f.pad_h, f.pad_w) == \
            (1, 1, 1, 1, 0, 0)
        assert f.in_groups == groups  # 27 channels ordered (ky, kx, c)
        assert (f.in_h, f.in_w) == (113, 113)
        assert program.im2col is not None and program.im2col.kernel == (3, 3)
        assert program.input.channels == 27 and program.input.h == 113
        assert program.input_words == 113 * 113 * groups


def test_full_squeezenet1_1_engine_run(squeezenet_227):
    graph = squeezenet_227
    img = _image(graph, seed=3)
    t0 = time.perf_counter()
    program = lower(graph, HW["16x16"])
    result = run_program(program, pack_input(program, graph, img), capture=True)
    seconds = time.perf_counter() - t0
    golden = run_int(graph, img, keep_all=True)
    _check_against_golden(graph, program, result, golden, result.tensors)
    assert seconds < 10, f"lowering + engine model took {seconds:.1f} s"
    util = mac_utilization(program.macs, program.cycles_predicted, program.hw)
    assert 0.5 < util < 1.0


def test_pack_input_codes():
    graph = _quantized("squeezenet1_1")
    program = lower(graph, HW["16x16"])
    img = _image(graph, seed=5)
    words = pack_input(program, graph, img)
    assert words.shape == (program.input_words, 16) and words.dtype == np.int64
    assert program.input.base == 0  # the input is the first buffer
    assert not words[1::2, 27 - 16:].any()  # lanes of channels 27..31 hold zeros
    packed = unpack_tensor(program, words, graph.input_name)
    x = img.astype(np.int64) - np.array(graph.quant.input_mean)
    # Pixel (1, 2) of the conv1 output reads window rows 2..4, columns 4..6 (stride 2).
    window = x[2:5, 4:7, :].reshape(-1)  # (ky, kx, c)
    np.testing.assert_array_equal(packed[:, 1, 2], window)


def test_padding_is_baked_into_the_im2col_input():
    graph = _quantized("zynqnet")  # conv1: 3x3, stride 2, padding 1
    program = lower(graph, HW["8x8"])
    words = pack_input(program, graph, np.full((64, 64, 3), 255, np.uint8))
    packed = unpack_tensor(program, words, graph.input_name)
    assert packed.shape == (27, 32, 32)
    assert (packed[:9, 0, 0] == 0).all()  # ky = 0: the padding row above the image
    assert (packed[9:, 1, 1] != 0).all()


def test_plain_input_when_the_image_has_several_readers():
    nodes = [Node("a", Conv2d(8, 3, padding=1, relu=True), ("data",)),
             Node("b", Conv2d(8, 1, relu=True), ("data",)),
             Node("cat", Concat(), ("a", "b")),
             Node("gap", GlobalAvgPool(), ("cat",))]
    graph = _tiny(nodes, ["gap"], size=12)
    program = lower(graph, HW["8x8"])
    assert program.im2col is None and program.input.channels == 3
    img = _image(graph)
    result = run_program(program, pack_input(program, graph, img), capture=True)
    golden = run_int(graph, img, keep_all=True)
    np.testing.assert_array_equal(result.tensors["cat"], golden["cat"])
    np.testing.assert_array_equal(result.scores, golden["gap"].ravel())


# --- the instruction encoding -------------------------------------------------------------

def _field_strategy():
    fields = {}
    for name, field in data.Layout.cast(Instruction):
        if name == "op":
            fields[name] = st.sampled_from(list(Opcode))
        elif field.shape.signed:
            fields[name] = st.integers(-(1 << (field.width - 1)), (1 << (field.width - 1)) - 1)
        else:
            fields[name] = st.integers(0, (1 << field.width) - 1)
    return st.fixed_dictionaries(fields)


@settings(max_examples=300)
@given(_field_strategy())
def test_instruction_pack_unpack_round_trip(fields):
    word = pack_instruction(Instr(**fields))
    assert unpack_instruction(word) == Instr(**fields)
    assert pack_instruction(unpack_instruction(word)) == word


def test_pack_instruction_rejects_out_of_range():
    with pytest.raises(ValueError, match="kh=16"):
        pack_instruction(Instr(op=Opcode.CONV, kh=16))
    with pytest.raises(ValueError, match="shift=-129"):
        pack_instruction(Instr(op=Opcode.GAP, shift=-129))


# --- errors ---------------------------------------------------------------------------------

def _tiny(nodes, outputs, size=16, channels=3) -> Graph:
    graph = Graph("tiny", (channels, size, size), nodes, outputs, mean=(104.0, 117.0, 123.0))
    graph.shapes()
    return quantize(generate_weights(graph))


def test_unfused_relu_is_refused():
    graph = _tiny([Node("conv", Conv2d(8, 3, relu=False), ("data",)),
                   Node("pool", MaxPool(3, 2), ("conv",)),
                   Node("relu_after_pool", Relu(), ("pool",)),
                   Node("gap", GlobalAvgPool(), ("relu_after_pool",))], ["gap"])
    with pytest.raises(FpgagenError, match="cannot map relu node 'relu_after_pool'"):
        lower(graph, HW["8x8"])


@pytest.mark.parametrize("tail", [
    [Node("fc", Conv2d(4, 3, padding=1), ("gap",))],  # not a 1x1 conv
    [Node("fc", Conv2d(4, 1), ("gap",)), Node("fc2", Conv2d(4, 1), ("fc",))],  # not last
])
def test_gap_must_be_last_or_feed_the_last_fully_connected_conv(tail):
    graph = _tiny([Node("conv", Conv2d(8, 3, relu=True), ("data",)),
                   Node("gap", GlobalAvgPool(), ("conv",)), *tail], [tail[-1].name])
    with pytest.raises(FpgagenError, match="cannot map global_avgpool node 'gap'.*last node"):
        lower(graph, HW["8x8"])


def test_concat_of_the_input_is_refused():
    graph = _tiny([Node("conv", Conv2d(5, 1, relu=True), ("data",)),
                   Node("cat", Concat(), ("data", "conv")),
                   Node("gap", GlobalAvgPool(), ("cat",))], ["gap"])
    with pytest.raises(FpgagenError, match="cannot map concat node 'cat'.*'data'"):
        lower(graph, HW["8x8"])


def test_add_of_differently_laid_out_concats_is_refused():
    graph = _tiny([Node("a", Conv2d(5, 1, relu=True), ("data",)),
                   Node("b", Conv2d(5, 1, relu=True), ("data",)),
                   Node("c", Conv2d(3, 1, relu=True), ("data",)),
                   Node("d", Conv2d(7, 1, relu=True), ("data",)),
                   Node("ab", Concat(), ("a", "b")),
                   Node("cd", Concat(), ("c", "d")),
                   Node("sum", Add(), ("ab", "cd")),
                   Node("gap", GlobalAvgPool(), ("sum",))], ["gap"])
    with pytest.raises(FpgagenError, match="cannot map add node 'sum'.*lanes 0..4, 8..12"):
        lower(graph, HW["8x8"])


def test_gap_of_a_concat_with_unused_lanes_is_refused():
    graph = _tiny([Node("a", Conv2d(4, 3, padding=1, relu=True), ("data",)),
                   Node("b", Conv2d(4, 1, relu=True), ("a",)),
                   Node("cat", Concat(), ("a", "b")),
                   Node("gap", GlobalAvgPool(), ("cat",))], ["gap"])
    with pytest.raises(FpgagenError, match="global_avgpool node 'gap'.*lanes 0..3, 8..11"):
        lower(graph, HW["8x8"])


def test_field_overflow_names_the_layer():
    graph = _tiny([Node("conv", Conv2d(8, 1, relu=True), ("data",)),
                   Node("gap", GlobalAvgPool(), ("conv",))], ["gap"], size=32)
    with pytest.raises(FpgagenError, match="global_avgpool node 'gap'.*kh=32"):
        lower(graph, HW["8x8"])


def test_unquantized_graph_is_refused():
    graph = build_net("squeezenet1_1", NetOptions(input_size=64))
    with pytest.raises(FpgagenError, match="not quantized"):
        lower(graph, HW["8x8"])


def test_wrong_input_words_are_refused():
    graph = _quantized("squeezenet1_1")
    program = lower(graph, HW["8x8"])
    with pytest.raises(FpgagenError, match="shape"):
        run_program(program, np.zeros((3, 8), np.int64))


@pytest.mark.parametrize("kwargs, bad", [(dict(pe_rows=12, pe_cols=12), "12"),
                                         (dict(pe_rows=128, pe_cols=128), "128"),
                                         (dict(pe_rows=8, pe_cols=16), "8x16")])
def test_hw_params_validation(kwargs, bad):
    with pytest.raises(ValueError, match=bad):
        HwParams(**kwargs)


def test_output_codes_the_hardware_cannot_saturate_are_refused():
    """The post-processors and vector lanes saturate to 8- and 16-bit codes (by default):
    a tensor of any other width (a max pool of the 9-bit input) is refused, where the RTL
    would clamp it to 8 bits (found by the random-layer RTL test); activations narrower
    than 8 bits are refused by the quantizer."""
    from fpgagen.testing import BlockSpec, GraphSpec, LayerSpec, prepare

    pool_of_input = GraphSpec(height=4, width=4, lanes=2, seed=27, blocks=(
        BlockSpec("concat", -1, None, (LayerSpec("conv", (1, 1), out_channels=1, relu=True),
                                       LayerSpec("maxpool", (1, 1)))),))
    with pytest.raises(FpgagenError, match=r"output type s9\.f0 has 9-bit codes, and the "
                                           r"hardware saturates to 8 or 16-bit codes"):
        prepare(pool_of_input)
    narrow = GraphSpec(height=4, width=4, lanes=2, activation_bits=6, seed=27, blocks=(
        BlockSpec("conv", -1, None, (LayerSpec("conv", (1, 1), out_channels=1, relu=True),)),))
    with pytest.raises(FpgagenError, match=r"activation_bits must be an integer in 8\.\.12, "
                                           r"not 6"):
        prepare(narrow)
