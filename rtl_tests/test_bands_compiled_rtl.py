"""Compiled row-band programs on the generated hardware: one small network holding every
case of a band edge (stride 2, a max pool fused in ceil mode, padding rows, a concat at a
channel offset, a bypass add of an older tensor, a padded pool that stays an instruction,
the conv before the GAP in channel chunks; ``fpgagen.testing.band_graphs``, ``all``),
lowered in row bands and run in Verilator on 8x8 and 16x16 arrays. The final activation
memory must equal the engine model's (whose every row is checked against the golden model
as it is written), the scores the golden model's, the cycles of every instruction the
prediction. The same network with a step count per region (one region in whole tensors,
the other in bands) runs too."""

import numpy as np
import pytest

from fpgagen.golden.int_model import run_int
from fpgagen.hw import HwParams
from fpgagen.schedule import lower, pack_input, run_program
from fpgagen.schedule.lower import cut_candidates
from fpgagen.sim.network import build_program, run_image
from fpgagen.testing.band_graphs import band_graph


def _engine_and_rtl_bit_exact(graph, program, image, build_dir):
    """Every tensor of the engine model and the RTL's scores and activation memory equal
    the golden model's, each instruction's simulated cycles its predicted ones; the run."""
    golden = run_int(graph, image, keep_all=True)
    engine = run_program(program, pack_input(program, graph, image), capture=True)
    for name, codes in engine.tensors.items():
        if name != graph.input_name:
            np.testing.assert_array_equal(codes, golden[name], err_msg=name)
    np.testing.assert_array_equal(engine.scores, golden["gap"].ravel())

    sim = build_program(program, build_dir, bank_depth=256)
    run = run_image(sim, program, graph, image, read_memory=True)
    np.testing.assert_array_equal(run.scores, golden["gap"].ravel())
    np.testing.assert_array_equal(run.act_mem, engine.act_mem)
    np.testing.assert_array_equal(run.instruction_cycles,
                                  [info.cycles_predicted for info in program.layers])
    return run


@pytest.mark.parametrize("side,steps", [(8, 5), (16, 3)])
def test_compiled_bands_bit_exact(side, steps, build_dir):
    graph = band_graph("all")
    hw = HwParams(pe_rows=side, pe_cols=side)
    program = lower(graph, hw, steps=steps, cuts=cut_candidates(graph, hw)[-1:])
    assert program.plan.steps == steps and program.pool_depth > 0
    assert any(not p.whole for p in program.tensors.values())
    image = np.random.default_rng(side).integers(0, 256, (45, 45, 3), dtype=np.uint8)
    run = _engine_and_rtl_bit_exact(graph, program, image, build_dir)
    print(f"{side}x{side}, {steps} bands: {len(program.instructions)} instructions, "
          f"{run.cycles:,d} cycles, activation memory {program.act_depth} words "
          f"(whole tensors {program.plan.whole_words})")


@pytest.mark.parametrize("side,steps", [(8, (1, 4)), (16, (3, 1))])
def test_compiled_region_steps_bit_exact(side, steps, build_dir):
    """The regions before and after the cut in their own band counts: (1, 4) runs the
    first region in whole tensors and the second in bands (the conv before the GAP in
    channel chunks), (3, 1) the reverse; bit-exact scores and activation memory, the
    predicted cycles of every instruction."""
    graph = band_graph("all")
    hw = HwParams(pe_rows=side, pe_cols=side)
    cuts = cut_candidates(graph, hw)[-1:]
    program = lower(graph, hw, steps=steps, cuts=cuts)
    assert program.plan.region_steps == steps and program.plan.cuts == tuple(cuts)
    uniform = lower(graph, hw, steps=max(steps), cuts=cuts)
    assert program.instructions != uniform.instructions
    image = np.random.default_rng(side + 1).integers(0, 256, (45, 45, 3), dtype=np.uint8)
    run = _engine_and_rtl_bit_exact(graph, program, image, build_dir)
    print(f"{side}x{side}, steps per region {steps}: {len(program.instructions)} "
          f"instructions, {run.cycles:,d} cycles, activation memory {program.act_depth} "
          f"words")
