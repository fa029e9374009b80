"""Weights in flash on the generated hardware (``HwParams.weight_store = "flash"``): the
program of ``test_weight_chunks_rtl`` (4x4 PEs, two row bands, dense and compressed
convolutions, fused pools, a concat, the conv before the GAP in channel chunks; every conv
in chunks of the tightest budget) with its weights streamed from a model of the on-chip
flash into the staging RAMs chunk by chunk, bit-exact against the golden model and
cycle-exact against the cycle model: with the MAX 10 user flash's timing (latency 5,
bursts of 128, 4 words per 7 cycles), and with bursts of 3 words. The schedule comes from
the flash too (no schedule ROM): segments of a chunk and the instructions after it, the boot
segment (the input's first LOAD) loaded at the start. A second program has long runs of
instructions between chunks (ADDs and unfused max pools after a concat: segments of up to
five instructions) and compressed and dense convs. A third (drawn at random, 8x8 PEs) starts
with a CONV chunk: the boot load is chunk 0's."""

import dataclasses

import numpy as np
import pytest

from fpgagen.hw.params import FlashTiming
from fpgagen.schedule import Opcode, pack_input, run_program
from fpgagen.schedule.weight_chunks import least_chunk_bits
from fpgagen.sim.network import build_program, run_image
from fpgagen.testing import prepare

from fpgagen.testing.random_graphs import BlockSpec, GraphSpec, LayerSpec

from .test_random_layers_rtl import _assert_blocks_equal
from .test_weight_chunks_rtl import _conv, _pool, _spec


def _runs_spec() -> GraphSpec:
    """Runs of ADDs and max pools between the chunks (none of them fused)."""
    n = 4
    blocks = (
        BlockSpec("conv", -1, None, (_conv(3, 6, pad=1),)),
        BlockSpec("concat", 0, _conv(1, n), (_conv(1, n + 1), _conv(3, n + 2, pad=1))),
        BlockSpec("maxpool", 1, None, (_pool(3, 2),)),
        BlockSpec("add", 2, None, (None, None)),
        BlockSpec("maxpool", 3, None, (_pool(2, 1),)),
        BlockSpec("maxpool", 4, None, (_pool(2, 1),)),
        BlockSpec("add", 5, None, (None, None)),
        BlockSpec("gap", 6, _conv(1, n), (_conv(1, 3 * n - 1, relu=False),)),
    )
    return GraphSpec(height=13, width=11, blocks=blocks, lanes=n, seed=3, steps=2,
                     index_bits=(0, 3, 0, 4, 0, 2), density=(1.0, 0.5, 1.0, 0.4, 1.0, 0.3))


def _conv_first_spec() -> GraphSpec:
    """A random graph (drawn once) whose program starts with CONV chunks: a 1x1 stem on the
    input, an ADD with a pool, concats, in 16 row bands on 8x8 PEs."""
    def conv(k, s, p, out, relu):
        return LayerSpec("conv", k, s, p, out_channels=out, relu=relu)

    def pool(k, p, ceil):
        return LayerSpec("maxpool", k, (1, 1), p, ceil_mode=ceil)

    blocks = (
        BlockSpec("add", -1, conv((1, 1), (1, 1), (0, 0), 19, False),
                  (None, pool((5, 7), (2, 3), True))),
        BlockSpec("concat", -1, conv((1, 1), (1, 1), (0, 0), 13, True),
                  (conv((4, 1), (2, 2), (7, 7), 9, False), pool((7, 3), (2, 1), False),
                   pool((5, 7), (1, 3), False))),
        BlockSpec("concat", -1, conv((1, 1), (1, 1), (0, 0), 9, True),
                  (conv((5, 2), (2, 2), (7, 0), 3, True),
                   conv((3, 6), (2, 3), (6, 5), 7, True))),
        BlockSpec("gap", 0, None, (conv((2, 4), (1, 2), (0, 5), 18, True),)),
    )
    return GraphSpec(height=16, width=15, blocks=blocks, lanes=8, mean=(104, 117, 123),
                     weight_bits=5, per_channel=False, seed=1150335652, steps=16,
                     cut_mask=14)


def _segments(program) -> list[int]:
    """The lengths of the program's segments, cut after each ``segment_end``: the boot
    segment (empty when instruction 0 is a CONV), then one per chunk."""
    loads = program.flash.loads
    bounds = [0] + [i + 1 for i, l in enumerate(loads) if l.segment_end] + [len(loads)]
    lengths = [b - a for a, b in zip(bounds, bounds[1:])]
    return ([0] if program.instructions[0].op == Opcode.CONV else []) + lengths


# bursts of 3 words (a burst limit far below the MAX 10's, many bursts per load): slow
@pytest.mark.parametrize("burst", [128, pytest.param(3, marks=pytest.mark.slow)],
                         ids=["max10", "burst3"])
@pytest.mark.parametrize("graph", ["chunks", "runs"])
def test_flash_store_bit_exact_and_cycle_exact_on_rtl(build_dir, graph, burst):
    spec = _spec() if graph == "chunks" else _runs_spec()
    _check_on_rtl(build_dir, spec, burst, kind=graph)


def test_flash_store_program_starting_with_a_conv_on_rtl(build_dir):
    _check_on_rtl(build_dir, _conv_first_spec(), 128, kind="conv_first")


def _check_on_rtl(build_dir, spec, burst, *, kind):
    whole = prepare(spec, reuse_memory=False).program
    timing = FlashTiming(latency=5, burst_limit=burst, words_per=4, clocks_per=7)
    spec = dataclasses.replace(spec, weight_chunk_bits=least_chunk_bits(whole),
                               weight_store="flash", flash=timing)
    prep = prepare(spec, reuse_memory=False)
    program, graph = prep.program, prep.graph
    assert program.flash is not None
    if kind != "conv_first":
        assert {bool(f.compressed) for f in program.instructions
                if f.op == Opcode.CONV} == {False, True}
    # the schedule in flash: a boot segment before the first CONV, segments of a chunk and
    # the instructions after it
    ops = [f.op for f in program.instructions]
    assert (ops[0] == Opcode.CONV) == (kind == "conv_first")
    lengths = _segments(program)
    assert lengths[0] == ops.index(Opcode.CONV) and sum(lengths) == len(ops)
    if kind == "conv_first":  # chunk 0 and its segment are the boot load's
        assert program.flash.boot.load_bias_words > 0 and program.flash.boot.load_half == 0
    assert program.flash.segment_depth == max(lengths)
    if kind == "runs":
        assert max(lengths) >= 5
    sim = build_program(program, build_dir, bank_depth=256)
    names = [t for t, p in program.tensors.items() if t != graph.input_name and p.whole]
    run = run_image(sim, program, graph, prep.image, read_back=names, read_memory=True)
    engine = run_program(program, pack_input(program, graph, prep.image), capture=True)
    np.testing.assert_array_equal(run.act_mem, engine.act_mem,
                                  err_msg="final activation memory, RTL vs engine model")
    for t, p in program.tensors.items():
        if not p.whole:
            run.tensors[t] = engine.tensors[t]
    _assert_blocks_equal(prep, run, engine, f"weights in flash, bursts of {burst}")
    print(f"{len(program.instructions)} instructions (segments of up to "
          f"{max(lengths)}), {len(program.flash.image)} flash "
          f"words; {run.cycles:,d} cycles simulated, {program.cycles_predicted:,d} "
          f"predicted (weights in ROM: {whole.cycles_predicted:,d})")
    np.testing.assert_array_equal(run.instruction_cycles,
                                  [info.cycles_predicted for info in program.layers])
    assert run.cycles == program.cycles_predicted == engine.total_cycles
