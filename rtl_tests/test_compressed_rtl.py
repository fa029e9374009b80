"""Compressed weights on the generated hardware (codebook indices and masks decoded into
tile buffers), bit-exact against the golden model and cycle-exact against the cycle model:
one Verilator build per PE array (8x8 and 16x16, and 8x8 with 12-bit codes) of a
fire-like graph whose seven
convolutions use every index width 2..8 and pruning from none to everything, with empty
output channels, input channels no weight reads (all-zero input groups), runs of
unstored weights longer than a word, a tile and a whole layer, a channel count that
leaves lanes and columns unused, and a global average pool (its conv in channel chunks
when banded)."""

import pytest

from fpgagen.testing import prepare
from fpgagen.testing.random_graphs import BlockSpec, GraphSpec, LayerSpec

from .test_random_layers_rtl import _assert_blocks_equal, _run

#: Index width and share of stored weights of each convolution, in graph order.
INDEX_BITS = (8, 2, 5, 3, 7, 4, 6)
DENSITY = (0.35, 1.0, 0.0, 0.05, 0.6, 0.2, 0.9)


def _conv(k, out, stride=1, pad=0, relu=True):
    return LayerSpec("conv", (k, k), (stride, stride), (pad, pad), out_channels=out,
                     relu=relu)


def _spec(lanes: int, steps: int, weight_bits: int = 8) -> GraphSpec:
    blocks = (
        BlockSpec("conv", -1, None, (_conv(3, 21, pad=1),)),
        BlockSpec("concat", 0, _conv(1, 2 * lanes - 3),  # squeeze
                  (_conv(1, lanes + 1), _conv(3, lanes + 5, pad=1))),  # expand 1x1, 3x3
        BlockSpec("conv", 1, None, (_conv(3, 2 * lanes + 7, stride=2),)),
        BlockSpec("gap", 2, _conv(1, lanes), (_conv(1, 3 * lanes - 1, relu=False),)),
    )
    return GraphSpec(height=13, width=11, blocks=blocks, lanes=lanes, seed=lanes + steps,
                     steps=steps, index_bits=INDEX_BITS, density=DENSITY,
                     weight_bits=weight_bits)


@pytest.mark.parametrize("lanes,steps,bank_depth,weight_bits",
                         [(8, 1, 256, 8), (16, 3, 4096, 8), (8, 2, 256, 12)])
def test_compressed_weights_bit_exact_on_rtl(build_dir, lanes, steps, bank_depth,
                                             weight_bits):
    prep = prepare(_spec(lanes, steps, weight_bits), reuse_memory=False)
    program = prep.program
    compressed = [f for f in program.instructions if f.compressed]
    assert sorted({f.index_bits for f in compressed}) == list(range(2, 9))
    cw = program.compressed
    masks = cw.masks
    assert (masks == 0).any() and (masks == (1 << lanes) - 1).any()
    # the decoder makes the array wait somewhere: the stalls are part of what is checked
    assert sum(cw.stall(f, lanes) for f in compressed) > 0
    run, engine = _run(prep, build_dir, bank_depth)  # cycles checked per instruction too
    if weight_bits > 8:  # the codebooks use the codes' width beyond 8 bits
        codes = program.compressed.codebook
        assert ((codes < -128) | (codes > 127)).any(), "no codebook entry needs 9 bits or more"
    _assert_blocks_equal(prep, run, engine, f"compressed weights on {lanes}x{lanes} PEs, "
                         f"{weight_bits}-bit codes")
