"""Random layers on the generated hardware, bit-exact against the golden model: one
Verilator build of a random graph of :data:`BLOCKS` layer configurations (conv kernels
1..7 on each axis, strides 1..3, padding 0..7, max pools, concats, adds, maybe a closing
global average pool; see :mod:`fpgagen.testing.random_graphs`) on a random PE array and
random weight width, maybe compressed weights (codebook indices and pruning, decoded by
the hardware), every tensor read back after the run.

Each run draws a new graph from a printed seed; replay a failure with
``FPGAGEN_RANDOM_SEED=<seed> pytest rtl_tests/test_random_layers_rtl.py``.
``benchmarks/random_layers.py`` runs hundreds of such cases.
"""

import os
import random

import numpy as np
import pytest

from fpgagen.errors import FpgagenError
from fpgagen.schedule import pack_input, run_program
from fpgagen.sim.network import build_program, run_image
from fpgagen.testing import block_tensors, draw_graph_spec, numpy_draw, prepare

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
                               compress=True, weight_bits=(8, 4, 5, 6, 7, 10, 12))
        try:
            return spec, prepare(spec, reuse_memory=False)
        except FpgagenError as e:
            print(f"refused as not mappable: {e}")
    raise AssertionError(f"seed {SEED}: 10 random graphs in a row were refused")


def _run(prep, build_dir, bank_depth):
    """Build, run, and return the tensors and scores of the RTL and of the engine model;
    the RTL's tensors kept in rings (row bands) are the engine model's rows when the two
    final activation memories are equal."""
    program, graph = prep.program, prep.graph
    sim = build_program(program, build_dir, bank_depth=bank_depth)
    names = [t for t, p in program.tensors.items() if t != graph.input_name and p.whole]
    run = run_image(sim, program, graph, prep.image, read_back=names, read_memory=True)
    engine = run_program(program, pack_input(program, graph, prep.image), capture=True)
    np.testing.assert_array_equal(run.act_mem, engine.act_mem,
                                  err_msg="final activation memory, RTL vs engine model")
    np.testing.assert_array_equal(run.instruction_cycles,
                                  [info.cycles_predicted for info in program.layers])
    for t, p in program.tensors.items():
        if not p.whole:
            run.tensors[t] = engine.tensors[t]
    return run, engine


def _assert_blocks_equal(prep, run, engine, context: str):
    program, spec = prep.program, prep.spec
    for i, tensors in enumerate(block_tensors(spec)):
        for name in tensors:
            want = prep.golden[name]
            if name in program.tensors:
                got, model = run.tensors[name], engine.tensors[name]
            elif name in program.unstored:
                continue  # a fused pool's input or the chunked conv before the GAP
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
