"""The sum with a fused ReLU and the fully connected layer after the global average pool,
compiled by fpgagen and run on the generated hardware: bit-exact against the golden model
(the add's output, the GAP's stored averages, the FC's scores streamed from the score
memory) and cycle-exact against the compiler's model. The FC has 20 outputs (more than
one output group) over 12 or 19 inputs (not a multiple of the lanes); with 2 band steps
the conv before the GAP runs in channel chunks, each GAP chunk storing its averages; with
the weights in flash the FC runs in weight chunks, each writing its groups of scores."""

import numpy as np
import pytest

from fpgagen.frontend import generate_weights
from fpgagen.golden.int_model import run_int
from fpgagen.hw import HwParams
from fpgagen.hw.isa import Opcode
from fpgagen.passes import quantize
from fpgagen.schedule import lower
from fpgagen.sim.network import build_program, run_image
from fpgagen.testing.fc_graphs import fc_add_graph

from .conftest import BUILD_ROOT

#: ``case: (hw, pre_gap, steps, fc_add_graph arguments)``
CASES = {
    "8x8": (HwParams(pe_rows=8, pe_cols=8), None, 1, {}),
    "8x8_chunked": (HwParams(pe_rows=8, pe_cols=8), 19, 2, {}),
    "16x16": (HwParams(pe_rows=16, pe_cols=16), None, 1, {}),
    # weights in flash, the FC (40 inputs) in three chunks of one output group
    "8x8_flash": (HwParams(pe_rows=8, pe_cols=8, weight_chunk_bits=400,
                           weight_store="flash"), None, 1, dict(channels=40, kernel=1)),
}


@pytest.mark.parametrize("case", [
    "8x8", pytest.param("8x8_chunked", marks=pytest.mark.slow),
    pytest.param("16x16", marks=pytest.mark.slow),
    pytest.param("8x8_flash", marks=pytest.mark.slow)])
def test_add_relu_gap_fc_bit_and_cycle_exact(case):
    hw, pre_gap, steps, shape = CASES[case]
    graph = quantize(generate_weights(fc_add_graph(pre_gap=pre_gap, **shape)))
    program = lower(graph, hw, reuse_memory=False, steps=steps)
    ops = [f.op for f in program.instructions]
    assert Opcode.ADD in ops and program.instructions[-1].to_scores
    if hw.in_flash:
        assert sum(f.to_scores for f in program.instructions) == 3
    sim = build_program(program, BUILD_ROOT / f"fc_add_{case}")
    image = np.random.default_rng(5).integers(0, 256, (11, 11, 3), dtype=np.uint8)
    read_back = ["gap"] + (["sum_relu"] if steps == 1 else [])
    run = run_image(sim, program, graph, image, read_back=read_back)
    golden = run_int(graph, image, keep_all=True)
    for t in read_back:
        np.testing.assert_array_equal(run.tensors[t], golden[t], err_msg=t)
    np.testing.assert_array_equal(run.scores, golden["fc"].ravel())
    assert len(run.scores) == 20 and np.unique(run.scores).size > 10
    if steps == 1:
        assert (golden["sum_relu"] == 0).any() and (golden["sum_relu"] > 0).any()
    predicted = np.array([l.cycles_predicted for l in program.layers])
    np.testing.assert_array_equal(run.instruction_cycles, predicted)
