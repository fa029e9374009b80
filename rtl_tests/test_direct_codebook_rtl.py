"""Direct codebook layers on the generated hardware (weights in flash, ``docs/hardware.md``,
*Compressed weights*): a graph whose convolutions use every index width 2..8 as direct
codebook layers (no masks, no decoder: each lane's index looked up in the codebook
registers of the chunk's staging half as the array reads the word), beside dense and
pruned (mask and decoder) convolutions, with channel counts that leave input lanes and
output columns unused, fused pools, a concat and a global average pool; every conv in
chunks of the tightest budget, the codebooks and bit-dense runs streamed from a model of
the flash. Bit-exact against the golden model and the engine model, and every
instruction's simulated cycles equal to the cycle model's, on 8x8 and 4x4 PEs."""

import dataclasses

import numpy as np
import pytest

from fpgagen.hw.direct_codebook import is_direct
from fpgagen.hw.params import FlashTiming
from fpgagen.schedule import Opcode
from fpgagen.schedule.weight_chunks import least_chunk_bits
from fpgagen.testing import prepare
from fpgagen.testing.random_graphs import BlockSpec, GraphSpec, LayerSpec

from .test_random_layers_rtl import _assert_blocks_equal, _run

#: Index width of each convolution in graph order (0: dense) and share of stored weights
#: (``None``: every weight stored, a direct codebook layer in a flash design).
INDEX_BITS = (2, 3, 0, 4, 5, 6, 7, 8, 4, 3)
DENSITY = (None, None, 1.0, None, None, None, None, None, 0.35, None)


def _conv(k, out, stride=1, pad=0, relu=True):
    return LayerSpec("conv", (k, k), (stride, stride), (pad, pad), out_channels=out,
                     relu=relu)


def _pool(k, s):
    return LayerSpec("maxpool", (k, k), (s, s), (0, 0), ceil_mode=True)


def direct_spec(lanes: int, seed: int) -> GraphSpec:
    """The test's graph on ``lanes`` x ``lanes`` PEs, weights in flash (MAX 10 timing)
    within the tightest chunk budget."""
    n = lanes
    blocks = (
        BlockSpec("conv", -1, None, (_conv(3, 21, pad=1),)),  # im2col, direct B=2
        BlockSpec("maxpool", 0, _conv(1, n + 3), (_pool(3, 2),)),  # fused, direct B=3
        BlockSpec("concat", 1, _conv(1, 2 * n - 3),  # dense squeeze
                  (_conv(1, n + 1), _conv(3, n + 5, pad=1))),  # direct B=4, 5
        BlockSpec("conv", 2, None, (_conv(3, 2 * n + 7, stride=2),)),  # direct B=6
        BlockSpec("maxpool", 3, _conv(1, 2 * n + 1), (_pool(2, 2),)),  # fused, direct B=7
        BlockSpec("gap", 4, _conv(1, n), (_conv(1, 5 * n - 1, relu=False),)),  # 8; pruned
    )
    timing = FlashTiming(latency=5, burst_limit=128, words_per=4, clocks_per=7)
    spec = GraphSpec(height=13, width=11, blocks=blocks, lanes=n, seed=seed, steps=2,
                     index_bits=INDEX_BITS, density=DENSITY, weight_store="flash",
                     weight_chunk_bits=1 << 30, flash=timing)
    whole = prepare(spec, reuse_memory=False).program
    return dataclasses.replace(spec, weight_chunk_bits=least_chunk_bits(whole))


@pytest.mark.parametrize("lanes,seed", [(8, 3), (4, 5)])
def test_direct_codebook_layers_bit_exact_and_cycle_exact_on_rtl(build_dir, lanes, seed):
    prep = prepare(direct_spec(lanes, seed), reuse_memory=False)
    program = prep.program
    convs = [f for f in program.instructions if f.op == Opcode.CONV]
    assert {f.index_bits for f in convs if is_direct(f)} == set(range(2, 9))
    assert any(f.compressed for f in convs)
    assert any(not f.index_bits for f in convs)
    run, engine = _run(prep, build_dir, 256)  # cycles checked per instruction too
    _assert_blocks_equal(prep, run, engine, "direct codebook layers")
    assert run.cycles == program.cycles_predicted == engine.total_cycles
    print(f"{len(program.instructions)} instructions, {len(program.flash.image)} flash "
          f"words, staging weight word {program.flash.widths['weight']} bits; "
          f"{run.cycles:,d} cycles")
