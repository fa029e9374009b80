"""Group convolution and 3x1 / 1x3 kernels: the golden model's grouped convolution
against a block-diagonal dense one, the choice between per-group and block-diagonal
lowering, and the engine model bit-exact (and cycle-exact) against the golden model on
:func:`fpgagen.testing.group_graphs.group_zoo` (bands, weight chunks, flash, compressed)."""

import numpy as np
import pytest

from fpgagen.frontend import generate_weights
from fpgagen.golden.int_model import run_int
from fpgagen.hw import HwParams
from fpgagen.hw.timing import INSTRUCTION_OVERHEAD
from fpgagen.numerics.primitives import conv2d_float, conv2d_int
from fpgagen.operators.conv_groups import GroupSplit, group_split
from fpgagen.passes import quantize
from fpgagen.schedule import lower, pack_input
from fpgagen.schedule.engine_model import run_program
from fpgagen.schedule.weight_chunks import least_chunk_bits
from fpgagen.testing.compressed import compress_randomly
from fpgagen.testing.group_graphs import GROUP_CASES, group_zoo

HW = {"8x8": HwParams(pe_rows=8, pe_cols=8), "16x16": HwParams(pe_rows=16, pe_cols=16)}
SIZE = 12
_GRAPH = {}


def _dense_reference(weight, groups):
    """The grouped ``(O, C / groups, kh, kw)`` weights as a dense ``(O, C, kh, kw)``
    convolution: zero between channels of different groups."""
    o, cg, kh, kw = weight.shape
    dense = np.zeros((o, cg * groups, kh, kw), dtype=weight.dtype)
    for out in range(o):
        k = out // (o // groups)
        for c in range(cg):
            dense[out, k * cg + c] = weight[out, c]
    return dense


@pytest.mark.parametrize("groups, c, o, kernel, stride, padding", [
    (2, 4, 6, (1, 1), (1, 1), (0, 0)),
    (2, 6, 4, (3, 1), (1, 1), (1, 0)),
    (3, 9, 6, (1, 3), (2, 2), (0, 1)),
    (4, 8, 8, (3, 3), (2, 1), (1, 1)),
])
def test_grouped_conv_equals_block_diagonal_dense(groups, c, o, kernel, stride, padding):
    rng = np.random.default_rng(groups * 100 + c)
    x = rng.integers(-128, 128, (c, 7, 6))
    w = rng.integers(-128, 128, (o, c // groups, *kernel))
    b = rng.integers(-1000, 1000, o)
    dense = _dense_reference(w, groups)
    np.testing.assert_array_equal(conv2d_int(x, w, b, stride, padding, groups),
                                  conv2d_int(x, dense, b, stride, padding, 1))
    xf, wf, bf = x / 64.0, w / 32.0, b / 16.0
    np.testing.assert_allclose(conv2d_float(xf, wf, bf, stride, padding, groups),
                               conv2d_float(xf, _dense_reference(wf, groups), bf, stride,
                                            padding, 1), rtol=1e-12, atol=1e-9)


def test_group_split_only_when_groups_own_their_lane_groups():
    contiguous = tuple(range(32))
    assert group_split(2, contiguous, 4, contiguous, 4, 8, 8) == GroupSplit(2, 2, 2)
    assert group_split(2, contiguous, 2, contiguous, 2, 16, 16) == GroupSplit(2, 1, 1)
    assert group_split(4, contiguous, 4, contiguous[:16], 2, 8, 8) is None  # 4 out a group
    assert group_split(2, tuple(range(12)), 2, tuple(range(10)), 2, 8, 8) is None
    assert group_split(2, tuple(range(16)), 1, tuple(range(16)), 1, 16, 16) is None
    # a concat of two 4-channel tensors on 8 lanes: each half in its own lane group
    gappy = (0, 1, 2, 3, 8, 9, 10, 11)
    assert group_split(2, gappy, 2, gappy, 2, 8, 8) == GroupSplit(2, 1, 1)
    assert group_split(1, contiguous, 4, contiguous, 4, 8, 8) is None


def _graph():
    if not _GRAPH:
        _GRAPH["g"] = quantize(generate_weights(group_zoo(SIZE)))
    return _GRAPH["g"]


def _image(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


def _check(graph, hw, **kw):
    img = _image()
    golden = run_int(graph, img, keep_all=True)
    program = lower(graph, hw, reuse_memory=False, **kw)
    result = run_program(program, pack_input(program, graph, img), capture=True)
    for name in [*GROUP_CASES, "end"]:
        if name in result.tensors or name not in program.unstored:  # "end": chunked
            np.testing.assert_array_equal(result.tensors[name], golden[name], err_msg=name)
    np.testing.assert_array_equal(result.scores, golden["gap"].ravel())
    assert result.cycles == [l.cycles_predicted for l in program.layers]
    return program


@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("hw", HW.values(), ids=HW.keys())
def test_engine_model_group_zoo(hw, steps):
    program = _check(_graph(), hw, steps=steps)
    assert program.im2col is not None and program.im2col.conv == "conv5x5s2"


def test_per_group_lowering_costs_fewer_cycles():
    """``g2_1x1_c32`` on 8x8 runs as 2 instructions of 2 output x 2 input groups; the
    block-diagonal ``g4_1x3s2_c32`` as one over all 4 input groups. Their MAC counts
    stay those of the grouped layers."""
    graph = _graph()
    program = lower(graph, HW["8x8"])
    infos = {}
    for f, info in zip(program.instructions, program.layers):
        infos.setdefault(info.name, []).append((f, info))
    pixels = SIZE // 2 * (SIZE // 2)  # after the 5x5/2 first conv
    per_group = infos["g2_1x1_c32"]
    assert [(f.out_groups, f.in_groups) for f, _ in per_group] == [(2, 2), (2, 2)]
    assert [f.in_base - per_group[0][0].in_base for f, _ in per_group] == [0, 2]
    assert [i.cycles_predicted for _, i in per_group] == [2 * pixels * 2
                                                         + INSTRUCTION_OVERHEAD] * 2
    assert sum(i.macs for _, i in per_group) == 32 * 16 * pixels
    (f, info), = infos["g4_1x3s2_c32"]
    assert (f.out_groups, f.in_groups) == (2, 4)
    assert info.macs == 16 * 8 * 3 * (3 * 3)  # 6x6 -> 3x3 outputs, 8 inputs a group
    (f, info), = infos["g2_1x1_c12"]  # 12 channels on 8 lanes: groups share lane group 0
    assert (f.out_groups, f.in_groups) == (2, 2)


@pytest.mark.parametrize("density", [0.5, None], ids=["pruned", "codebook"])
@pytest.mark.parametrize("hw", HW.values(), ids=HW.keys())
def test_engine_model_group_zoo_compressed_chunked_flash(hw, density):
    graph = compress_randomly(_graph(), np.random.default_rng(3), 4, density)
    _check(graph, hw, steps=2)
    bits = least_chunk_bits(lower(graph, hw))
    for store in ("bram", "flash"):
        h = HwParams(pe_rows=hw.pe_rows, pe_cols=hw.pe_cols, weight_chunk_bits=bits,
                     weight_store=store)
        program = _check(graph, h, steps=2)
        if hw.pe_rows == 8:  # on 16x16 the least budget may fit every instruction whole
            assert len(program.instructions) > len(lower(graph, hw, steps=2).instructions)


@pytest.mark.parametrize("kernel, stride, padding, groups", [
    ((3, 1), (1, 1), (1, 0), 1),
    ((1, 3), (2, 2), (0, 1), 1),
    ((5, 5), (2, 2), (2, 2), 1),
    ((3, 3), (2, 1), (1, 0), 1),
    ((3, 1), (2, 2), (1, 0), 3),  # grouped first layer: block-diagonal in the im2col words
])
@pytest.mark.parametrize("hw", HW.values(), ids=HW.keys())
def test_engine_model_im2col_first_layer(hw, kernel, stride, padding, groups):
    from fpgagen.nets.builder import GraphBuilder
    b = GraphBuilder("first", (3, 11, 10))
    first = b.conv("first", "data", 6, kernel, stride, padding, groups=groups)
    nxt = b.conv("next", first, 8, (1, 3), 1, (0, 1))
    graph = quantize(generate_weights(b.build([b.global_avgpool("gap", nxt)])))
    img = np.random.default_rng(1).integers(0, 256, (11, 10, 3), dtype=np.uint8)
    golden = run_int(graph, img, keep_all=True)
    for steps in (1, 2):
        program = lower(graph, hw, steps=steps, reuse_memory=False)
        assert program.im2col is not None and program.im2col.conv == "first"
        result = run_program(program, pack_input(program, graph, img), capture=True)
        if steps == 1:
            for name in ("first", "next"):
                np.testing.assert_array_equal(result.tensors[name], golden[name], err_msg=name)
        np.testing.assert_array_equal(result.scores, golden["gap"].ravel())
        assert result.cycles == [l.cycles_predicted for l in program.layers]
