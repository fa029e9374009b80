"""Single layers compiled by fpgagen and run on the generated hardware, bit-exact against
the golden model: conv kernels 1/3/5/7, strides 1/2, padding 0..3, channel counts that are
and are not multiples of the array size, max pool (alone, and fused into the signed conv
before it), a fire module's concat, a bypass add and the global average pool, on two array
shapes (one build each, see ``layer_zoo.py``).
Also checks the compiler's cycle model against the simulated cycles of every layer."""

import numpy as np
import pytest

from fpgagen.frontend import generate_weights
from fpgagen.golden.int_model import run_int
from fpgagen.hw import HwParams, mac_utilization
from fpgagen.passes import quantize
from fpgagen.schedule import lower
from fpgagen.sim.network import build_program, run_image

from .conftest import BUILD_ROOT
from .layer_zoo import CONV_CASES, OTHER_CASES, layer_zoo

ARRAYS = {"8x8": HwParams(pe_rows=8, pe_cols=8), "16x16": HwParams(pe_rows=16, pe_cols=16)}
SIZE = 15
_RUNS = {}


#: Words per memory bank of the layer zoo builds (the simulator's default is deeper).
ZOO_BANK_DEPTH = 64


def _zoo_run(array: str):
    """Build the layer zoo for ``array`` (once per session), run one image, return the
    program, the simulated run and the golden tensors."""
    if array not in _RUNS:
        graph = quantize(generate_weights(layer_zoo(SIZE)))
        program = lower(graph, ARRAYS[array], reuse_memory=False)
        # small banks, so every layer's reads also cross bank and group boundaries of the
        # activation RAM and parts of the weight ROMs
        assert program.weight_depth > 2 * ZOO_BANK_DEPTH
        assert program.act_depth > 4 * ZOO_BANK_DEPTH
        sim = build_program(program, BUILD_ROOT / f"layer_zoo_{array}",
                            bank_depth=ZOO_BANK_DEPTH)
        image = np.random.default_rng(7).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
        tensors = [t for t in program.tensors if t != graph.input_name]
        run = run_image(sim, program, graph, image, read_back=tensors)
        _RUNS[array] = (program, run, run_int(graph, image, keep_all=True))
    return _RUNS[array]


@pytest.mark.parametrize("case", [*CONV_CASES, *OTHER_CASES, "stem16", "stem12"])
@pytest.mark.parametrize("array", ARRAYS)
def test_layer_bit_exact(array, case):
    program, run, golden = _zoo_run(array)
    if case in program.unstored:  # a conv with its max pool fused: judged through the pool
        assert case == "k3s2p1_c19_signed", f"{case} is not stored"
        case = "pool_signed"
    got = run.tensors[case]
    np.testing.assert_array_equal(got, golden[case], err_msg=f"{case} on {array}")
    assert np.unique(got).size > 4, f"{case}: degenerate test data {np.unique(got)}"


@pytest.mark.parametrize("array", ARRAYS)
def test_global_average_pool_scores(array):
    program, run, golden = _zoo_run(array)
    np.testing.assert_array_equal(run.scores, golden["gap"].ravel())
    assert len(run.scores) == program.output_channels == 20


@pytest.mark.parametrize("array", ARRAYS)
def test_cycle_model_per_layer(array):
    """The compiler's predicted cycles of every layer are within 2% of the simulation
    (the model is meant to be exact); prints the per-layer report."""
    program, run, _ = _zoo_run(array)
    hw = ARRAYS[array]
    print(f"\n{'layer':<22} {'op':<7} {'MACs':>8} {'simulated':>10} {'predicted':>10} "
          f"{'util':>6}")
    for info, cycles in zip(program.layers, run.instruction_cycles):
        util = mac_utilization(info.macs, int(cycles), hw)
        print(f"{info.name:<22} {info.opcode.name:<7} {info.macs:8d} {int(cycles):10d} "
              f"{info.cycles_predicted:10d} {100 * util:5.1f}%")
    predicted = np.array([l.cycles_predicted for l in program.layers])
    assert len(run.instruction_cycles) == len(predicted)
    error = np.abs(run.instruction_cycles - predicted) / run.instruction_cycles
    assert error.max() <= 0.02, dict(zip((l.name for l in program.layers), error))
    assert run.cycles == int(run.instruction_cycles.sum())
