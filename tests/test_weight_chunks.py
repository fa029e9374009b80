"""Weight chunks (``HwParams.weight_chunk_bits``): every CONV instruction split into chunks
of consecutive output groups whose weight data per PE column fits a budget, checked on
random graphs (dense and compressed) and a small SqueezeNet: more instructions, each
within the budget, the engine model bit-exact against the golden model, the cycle model
the engine model's; no budget, the schedule as before."""

import dataclasses
import os
import random

import numpy as np
import pytest

from fpgagen.errors import FpgagenError
from fpgagen.frontend import generate_weights
from fpgagen.golden.int_model import run_int
from fpgagen.hw import HwParams
from fpgagen.hw.spec import BIAS_WORD
from fpgagen.hw.weight_stream import STREAM_START, encode_streams, items_per_word
from fpgagen.ir.weight_format import WeightFormat
from fpgagen.nets import NetOptions, build_net
from fpgagen.passes import QuantConfig, quantize
from fpgagen.schedule import Instr, Opcode, lower, pack_input, run_program
from fpgagen.schedule.program import CompressedWeights
from fpgagen.schedule.weight_chunks import (column_weight_bits, instruction_weight_bits,
                                            least_chunk_bits, out_group_fields)
from fpgagen.testing import compare_blocks, draw_graph_spec, numpy_draw, prepare

SEED = int(os.environ.get("FPGAGEN_RANDOM_SEED") or random.SystemRandom().randrange(2 ** 32))
#: Random graphs lowered per run, dense and compressed.
GRAPHS = int(os.environ.get("FPGAGEN_CHUNK_GRAPHS", 40))


def _conv_groups(program) -> dict:
    """``{layer: sorted bias entries of its CONV instructions' output groups}``, one entry
    per (band or chunk, group)."""
    out = {}
    for f, info in zip(program.instructions, program.layers):
        if f.op == Opcode.CONV:
            out.setdefault(info.name, []).extend(range(f.bias_base, f.bias_base + f.out_groups))
    return {k: sorted(v) for k, v in out.items()}


def _assert_chunked(whole, chunked, budget):
    """``chunked`` is ``whole`` with its CONVs split within ``budget``: every instruction
    fits, CONVs cover the same output groups (per band), other instructions are equal,
    MACs are kept."""
    assert chunked.hw.weight_chunk_bits == budget
    for f in chunked.instructions:
        assert instruction_weight_bits(chunked, f) <= budget
    assert _conv_groups(chunked) == _conv_groups(whole)
    others = [f for f in whole.instructions if f.op != Opcode.CONV]
    assert [f for f in chunked.instructions if f.op != Opcode.CONV] == others
    assert sum(f.last for f in chunked.instructions) == 1 and chunked.instructions[-1].last
    assert chunked.macs == whole.macs
    for name in {i.name for i in whole.layers}:
        assert (sum(i.macs for i in chunked.layers if i.name == name)
                == sum(i.macs for i in whole.layers if i.name == name))
    np.testing.assert_array_equal(chunked.weight_banks, whole.weight_banks)
    np.testing.assert_array_equal(chunked.bias_banks, whole.bias_banks)
    over = [f for f in whole.instructions if instruction_weight_bits(whole, f) > budget]
    assert len(chunked.instructions) >= len(whole.instructions) + len(over)


# --- the rule --------------------------------------------------------------------------------

def _random_spec(seed: int, compress: bool):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        spec = draw_graph_spec(numpy_draw(rng), blocks=(2, 4), compress=compress)
        if compress and not spec.index_bits:
            continue
        try:
            return spec, prepare(spec)
        except FpgagenError:
            continue
    raise AssertionError(f"seed {seed}: 20 random graphs refused")


def test_weight_bits_rule_dense_and_compressed():
    """Dense: tile words x word width in every column. Compressed, for a whole layer (its
    streams start at word 0, item 0): mask bits, the column's index words, bias words of
    bias, shift and stream start."""
    spec, prep = _random_spec(SEED, compress=True)
    program, graph = prep.program, prep.graph
    lanes = spec.lanes
    word = lanes * spec.weight_bits
    firsts = {}
    for f, info in zip(program.instructions, program.layers):
        bits = column_weight_bits(f, program.hw, program.weight_bits, program.compressed)
        assert bits.shape == (lanes,)
        assert instruction_weight_bits(program, f) == bits.max()
        if f.op != Opcode.CONV:
            assert not bits.any()
        elif not f.compressed:
            assert set(bits.tolist()) == {f.out_groups * f.kh * f.kw * f.in_groups * word}
        else:
            firsts.setdefault(info.name, f)
    assert firsts
    for name, first in firsts.items():
        assert graph.quant.layers[name].compressed
        groups = max(f.bias_base + f.out_groups for f, i
                     in zip(program.instructions, program.layers)
                     if i.name == name) - first.bias_base
        tile = first.kh * first.kw * first.in_groups
        whole = Instr(**{**first.fields(), "out_groups": groups})
        masks = program.compressed.masks[:, whole.weight_base:whole.weight_base + groups * tile]
        stored = np.array([sum(bin(int(m)).count("1") for m in col) for col in masks])
        per = items_per_word(first.index_bits, word)
        want = (groups * tile * lanes + -(-stored // per) * word
                + groups * (BIAS_WORD.bits + STREAM_START.bits))
        got = column_weight_bits(whole, program.hw, program.weight_bits, program.compressed)
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_weight_bits_of_a_direct_codebook_instruction():
    # a direct codebook CONV (weights in flash): one word of pe_rows indices per tile word
    hw = HwParams(pe_rows=8, pe_cols=8, weight_chunk_bits=4096, weight_store="flash")
    f = Instr(op=Opcode.CONV, kh=3, kw=3, in_groups=2, out_groups=3, index_bits=5)
    np.testing.assert_array_equal(column_weight_bits(f, hw, 8), [3 * 9 * 2 * 8 * 5] * 8)
    dense = Instr(op=Opcode.CONV, kh=3, kw=3, in_groups=2, out_groups=3)
    np.testing.assert_array_equal(column_weight_bits(dense, hw, 8), [3 * 9 * 2 * 64] * 8)


def test_index_words_spanned_from_the_start_word_to_the_last_word_used():
    """A chunk's index words: from the word its first group's stream starts in to the word
    of its last stored index (words shared at the ends count once per chunk); none for a
    column with no stored weight."""
    lanes, wb, bits = 4, 8, 5  # 6 indices per 32-bit word
    index = -np.ones((4, 3 * 2, lanes), dtype=np.int64)  # 3 groups of 2 words; column 0:
    index[0, 0:2] = 1  # group 0: 8 stored -> items 0..7 (words 0, 1)
    index[0, 2, :3] = 2  # group 1: 3 stored -> items 8..10 (word 1)
    index[0, 4:6, :2] = 3  # group 2: 4 stored -> items 11..14 (words 1, 2)
    enc = encode_streams(index, 3, bits, lanes * wb)
    cw = CompressedWeights(masks=enc.masks, starts=enc.starts, codebook=np.zeros(32, np.int64),
                           tile_depth=2)
    hw = HwParams(pe_rows=lanes, pe_cols=lanes)
    base = Instr(op=Opcode.CONV, compressed=1, index_bits=bits, kh=1, kw=2, in_groups=1,
                 out_groups=3, in_h=1, in_w=2, out_h=1, out_w=1)
    fixed = 2 * lanes  # two mask words per group
    bias = BIAS_WORD.bits + STREAM_START.bits
    word = lanes * wb
    for (g0, g1), words in {(0, 1): 2, (1, 2): 1, (2, 3): 2, (0, 2): 2, (1, 3): 2,
                            (0, 3): 3}.items():
        f = Instr(**out_group_fields(base.fields(), g0, g1))
        got = column_weight_bits(f, hw, wb, cw)
        n = g1 - g0
        assert got[0] == n * (fixed + bias) + words * word, (g0, g1)
        assert list(got[1:]) == [n * (fixed + bias)] * 3  # no stored weight: no index word


# --- random graphs ---------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [False, True], ids=["dense", "compressed"])
def test_random_graphs_chunked_within_budget_and_bit_exact(compress):
    rng = np.random.default_rng(SEED + compress)
    split = 0
    for n in range(GRAPHS):
        spec, prep = _random_spec(int(rng.integers(2 ** 32)), compress)
        whole = prep.program
        tight = least_chunk_bits(whole)
        most = max(instruction_weight_bits(whole, f) for f in whole.instructions)
        budget = int(rng.integers(tight, most + 1)) if n % 2 else tight
        chunked_spec = dataclasses.replace(spec, weight_chunk_bits=budget)
        prep2 = prepare(chunked_spec)
        program = prep2.program
        _assert_chunked(whole, program, budget)
        split += len(program.instructions) > len(whole.instructions)
        result = run_program(program, pack_input(program, prep2.graph, prep2.image),
                             capture=True)
        bad = [c for c in compare_blocks(prep2, result.tensors, result.scores) if not c.ok]
        assert not bad, f"seed {SEED}: {chunked_spec}, block {bad[0].block}: {bad[0].mismatch}"
        assert result.cycles == [i.cycles_predicted for i in program.layers]
    assert split >= GRAPHS // 4, f"only {split} of {GRAPHS} graphs were split"


# --- a small SqueezeNet ----------------------------------------------------------------------

_NETS = {}


def _squeezenet(compressed: bool):
    if compressed not in _NETS:
        graph = generate_weights(build_net("squeezenet1_1", NetOptions(input_size=63,
                                                                       width=0.25)))
        config = QuantConfig()
        if compressed:  # pruned layers, one codebook layer, conv1 dense
            config = QuantConfig(weight_format=WeightFormat.parse("pruned:4"),
                                 layer_formats={"conv1": WeightFormat(),
                                                "conv10": WeightFormat.parse("codebook:6")})
        _NETS[compressed] = quantize(graph, config)
    return _NETS[compressed]


@pytest.mark.parametrize("steps", [1, 4])
@pytest.mark.parametrize("compressed", [False, True], ids=["dense", "compressed"])
def test_small_squeezenet_chunked_bit_exact(compressed, steps):
    graph = _squeezenet(compressed)
    hw = HwParams(pe_rows=8, pe_cols=8)
    whole = lower(graph, hw, steps=steps)
    assert whole.pool_depth > 0
    assert any(f.compressed for f in whole.instructions) == compressed
    if steps > 1:
        assert any(whole.plan.buffers[i].chunk for i in range(len(whole.plan.buffers)))
    budget = least_chunk_bits(whole)
    program = lower(graph, dataclasses.replace(hw, weight_chunk_bits=budget), steps=steps)
    _assert_chunked(whole, program, budget)
    assert len(program.instructions) > len(whole.instructions)
    pooled = [f for f in program.instructions if f.pool]
    assert len({f.pool_base for f in pooled}) > len({f.pool_base for f in whole.instructions
                                                     if f.pool})
    image = np.random.default_rng(3).integers(0, 256, (63, 63, 3), dtype=np.uint8)
    golden = run_int(graph, image, keep_all=True)
    result = run_program(program, pack_input(program, graph, image), capture=True)
    for name, codes in result.tensors.items():
        if name != graph.input_name:
            np.testing.assert_array_equal(codes, golden[name], err_msg=name)
    np.testing.assert_array_equal(result.scores, golden[graph.outputs[0]].ravel())
    assert result.cycles == [i.cycles_predicted for i in program.layers]
    # per chunk: the instruction overhead, and for compressed ones the codebook load
    assert program.cycles_predicted > whole.cycles_predicted


# --- no budget, and budgets that are too small ---------------------------------------------

def test_no_budget_or_a_budget_everything_fits_is_the_schedule_as_before():
    graph = _squeezenet(True)
    hw = HwParams(pe_rows=8, pe_cols=8)
    assert HwParams(pe_rows=8, pe_cols=8, weight_chunk_bits=None) == hw
    whole = lower(graph, hw, steps=4)
    most = max(instruction_weight_bits(whole, f) for f in whole.instructions)
    roomy = lower(graph, dataclasses.replace(hw, weight_chunk_bits=most), steps=4)
    assert roomy.words() == whole.words()
    assert roomy.layers == whole.layers
    tighter = lower(graph, dataclasses.replace(hw, weight_chunk_bits=most - 1), steps=4)
    assert len(tighter.instructions) > len(whole.instructions)


def test_an_output_group_over_the_budget_is_refused_with_its_bits():
    graph = _squeezenet(False)
    hw = HwParams(pe_rows=8, pe_cols=8)
    whole = lower(graph, hw)
    conv1 = whole.instructions[1]
    assert whole.layers[1].name == "conv1"
    one = instruction_weight_bits(whole, Instr(**out_group_fields(conv1.fields(), 0, 1)))
    with pytest.raises(FpgagenError, match=rf"cannot split conv2d node 'conv1' into weight "
                                           rf"chunks of {one - 1:,d} bits per PE column: "
                                           rf"output group 0 alone needs {one:,d} bits"):
        lower(graph, dataclasses.replace(hw, weight_chunk_bits=one - 1))
    least = least_chunk_bits(whole)
    lower(graph, dataclasses.replace(hw, weight_chunk_bits=least))
    with pytest.raises(FpgagenError, match=rf"output group \d+ alone needs {least:,d} bits"):
        lower(graph, dataclasses.replace(hw, weight_chunk_bits=least - 1))


@pytest.mark.parametrize("bad", [0, -8, True, 1.5, "4096"])
def test_weight_chunk_bits_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match=rf"weight_chunk_bits must be a positive integer or "
                                         rf"None, not {bad!r}"):
        HwParams(weight_chunk_bits=bad)
