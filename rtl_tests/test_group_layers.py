"""Group convolution (per group and block-diagonal) and 3x1 / 1x3 kernels with padding on
one axis (stride 1 and 2), behind a 5x5/2 im2col first layer, compiled by fpgagen and run
on the generated hardware: bit-exact against the golden model, and the cycle model exact
for every instruction (``fpgagen.testing.group_graphs``; the 8x8 build in the default run,
16x16 slow)."""

import numpy as np
import pytest

from fpgagen.frontend import generate_weights
from fpgagen.golden.int_model import run_int
from fpgagen.hw import HwParams
from fpgagen.passes import quantize
from fpgagen.schedule import lower
from fpgagen.sim.network import build_program, run_image
from fpgagen.testing.group_graphs import GROUP_CASES, group_zoo

from .conftest import BUILD_ROOT

ARRAYS = {"8x8": HwParams(pe_rows=8, pe_cols=8), "16x16": HwParams(pe_rows=16, pe_cols=16)}
ARRAY_PARAMS = ["8x8", pytest.param("16x16", marks=pytest.mark.slow)]
SIZE = 12
#: Words per memory bank (small, so reads cross bank boundaries of the memories).
BANK_DEPTH = 64
_RUNS = {}


def _run(array: str):
    """Build the group zoo for ``array`` (once per session), run one image, return the
    program, the simulated run and the golden tensors (row bands: the engine-model tests,
    ``tests/test_group_conv.py``)."""
    if array not in _RUNS:
        graph = quantize(generate_weights(group_zoo(SIZE)))
        program = lower(graph, ARRAYS[array], reuse_memory=False)
        sim = build_program(program, BUILD_ROOT / f"group_zoo_{array}", bank_depth=BANK_DEPTH)
        image = np.random.default_rng(11).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
        tensors = [t for t in program.tensors if t != graph.input_name]
        run = run_image(sim, program, graph, image, read_back=tensors)
        _RUNS[array] = (program, run, run_int(graph, image, keep_all=True))
    return _RUNS[array]


@pytest.mark.parametrize("array", ARRAY_PARAMS)
def test_group_and_nonsquare_layers_bit_exact(array):
    program, run, golden = _run(array)
    for case in [*GROUP_CASES, "conv5x5s2", "stem16", "stem12", "wide32"]:
        got = run.tensors[case]
        np.testing.assert_array_equal(got, golden[case], err_msg=f"{case} on {array}")
        assert np.unique(got).size > 4, f"{case}: degenerate test data {np.unique(got)}"
    np.testing.assert_array_equal(run.scores, golden["gap"].ravel())
    split = [info.name for info, f in zip(program.layers, program.instructions)
             if info.name == "g2_1x1_c32"]
    assert len(split) == 2  # per group


@pytest.mark.parametrize("array", ARRAY_PARAMS)
def test_group_zoo_cycle_model_exact(array):
    program, run, _ = _run(array)
    predicted = np.array([l.cycles_predicted for l in program.layers])
    np.testing.assert_array_equal(run.instruction_cycles, predicted)
    assert run.cycles == int(predicted.sum())
