"""Random layers on the generated hardware, bit-exact against the golden model: one
Verilator build of a random graph of :data:`BLOCKS` layer configurations (conv kernels
1..7 on each axis, strides 1..3, padding 0..7, max pools, concats, adds, maybe a closing
global average pool; see :mod:`fpgagen.testing.random_graphs`) on a random PE array and
random weight width, every tensor read back after the run.

Each run draws a new graph from a printed seed; replay a failure with
``FPGAGEN_RANDOM_SEED=<seed> pytest rtl_tests/test_random_layers_rtl.py``.
``benchmarks/random_layers.py`` runs hundreds of such cases.

The random graphs leave out the configurations of :data:`KNOWN_RTL_BUGS` (the RTL
saturates every output that is not 16 bits wide to 8 bits); the ``xfail`` tests below keep
one build that shows them and start to pass (and so fail, being strict) once they are fixed.
"""

import os
import random

import numpy as np
import pytest

from fpgagen.errors import FpgagenError
from fpgagen.schedule import pack_input, run_program
from fpgagen.sim.network import build_program, run_image
from fpgagen.testing import (KNOWN_RTL_BUGS, BlockSpec, GraphSpec, LayerSpec, block_tensors,
                             draw_graph_spec, numpy_draw, prepare)

from .conftest import BUILD_ROOT

SEED = int(os.environ.get("FPGAGEN_RANDOM_SEED") or random.SystemRandom().randrange(2 ** 32))
#: Blocks (cases) of the graph: one build checks them all.
BLOCKS = 16
#: PE array sizes drawn from (16x16 builds take much longer).
LANES = (2, 4, 8)
#: Words per memory bank drawn from: shallow banks make reads cross bank boundaries.
BANK_DEPTHS = (256, 4096)


def _mappable_spec(rng):
    """The first drawn graph that quantization and lowering accept, prepared for reading
    every tensor back."""
    for _ in range(10):
        spec = draw_graph_spec(numpy_draw(rng), blocks=(BLOCKS, BLOCKS), lanes=LANES,
                               **KNOWN_RTL_BUGS)
        try:
            return spec, prepare(spec, reuse_memory=False)
        except FpgagenError as e:
            print(f"refused as not mappable: {e}")
    raise AssertionError(f"seed {SEED}: 10 random graphs in a row were refused")


def _run(prep, build_dir, bank_depth):
    """Build, run, and return the tensors and scores of the RTL and of the engine model."""
    program, graph = prep.program, prep.graph
    sim = build_program(program, build_dir, bank_depth=bank_depth)
    names = [t for t in program.tensors if t != graph.input_name]
    run = run_image(sim, program, graph, prep.image, read_back=names)
    engine = run_program(program, pack_input(program, graph, prep.image), capture=True)
    return run, engine


def _assert_blocks_equal(prep, run, engine, context: str):
    program, spec = prep.program, prep.spec
    for i, tensors in enumerate(block_tensors(spec)):
        for name in tensors:
            want = prep.golden[name]
            if name in program.tensors:
                got, model = run.tensors[name], engine.tensors[name]
            else:  # the closing global average pool: the streamed scores
                got, model, want = run.scores, engine.scores, want.ravel()
            same = "agrees" if np.array_equal(model, want) else "differs too"
            np.testing.assert_array_equal(
                got, want, err_msg=f"{context}, block {i} {spec.blocks[i]}, tensor {name} "
                                   f"(the engine model {same})")


def test_random_layers_bit_exact_on_rtl(build_dir):
    rng = np.random.default_rng(SEED)
    spec, prep = _mappable_spec(rng)
    bank_depth = int(rng.choice(BANK_DEPTHS))
    print(f"random layers on RTL: FPGAGEN_RANDOM_SEED={SEED}, {spec.lanes}x{spec.lanes} PEs, "
          f"banks of {bank_depth} words\n{spec}")
    run, engine = _run(prep, build_dir, bank_depth)
    _assert_blocks_equal(prep, run, engine, f"FPGAGEN_RANDOM_SEED={SEED}")
    assert len(spec.blocks) == BLOCKS


# --- known bugs ------------------------------------------------------------------------------

#: Block 0: the concat of a conv of the input and a max pool of the input (as ENet's first
#: block): both take the input's type s9, and the RTL clamps them to -128..127. Block 1: a
#: conv with 6-bit unsigned codes, which the RTL clamps to 0..255 instead of 0..63. Seed 27
#: gives codes beyond the 8-bit and 6-bit ranges in every tensor of both blocks.
KNOWN_BUGS_SPEC = GraphSpec(
    height=4, width=4, lanes=2, activation_bits=6, reuse_memory=False, seed=27, blocks=(
        BlockSpec("concat", -1, None, (LayerSpec("conv", (1, 1), out_channels=1, relu=True),
                                       LayerSpec("maxpool", (1, 1)))),
        BlockSpec("conv", -1, None, (LayerSpec("conv", (1, 1), out_channels=1, relu=True),))))
_KNOWN = {}


def _known_bugs_run():
    if not _KNOWN:
        prep = prepare(KNOWN_BUGS_SPEC)
        run, engine = _run(prep, BUILD_ROOT / "random_layers_known_bugs", 4096)
        _KNOWN.update(prep=prep, run=run, engine=engine)
    return _KNOWN["prep"], _KNOWN["run"], _KNOWN["engine"]


@pytest.mark.xfail(strict=True, reason="RTL saturates signed 9-bit outputs to 8 bits")
@pytest.mark.parametrize("tensor", ["b0/x0", "b0/x1"])
def test_known_bug_nine_bit_outputs(tensor):
    prep, run, engine = _known_bugs_run()
    assert prep.graph.quant.types[tensor].bits == 9
    np.testing.assert_array_equal(engine.tensors[tensor], prep.golden[tensor])
    np.testing.assert_array_equal(run.tensors[tensor], prep.golden[tensor])


@pytest.mark.xfail(strict=True, reason="RTL saturates outputs narrower than 8 bits to 8 bits")
def test_known_bug_narrow_activations():
    prep, run, engine = _known_bugs_run()
    assert prep.graph.quant.types["b1/conv"].bits == 6
    np.testing.assert_array_equal(engine.tensors["b1/conv"], prep.golden["b1/conv"])
    np.testing.assert_array_equal(run.tensors["b1/conv"], prep.golden["b1/conv"])
