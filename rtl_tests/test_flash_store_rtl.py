"""Weights in flash on the generated hardware (``HwParams.weight_store = "flash"``): the
program of ``test_weight_chunks_rtl`` (4x4 PEs, two row bands, dense and compressed
convolutions, fused pools, a concat, the conv before the GAP in channel chunks; every conv
in chunks of the tightest budget) with its weights streamed from a model of the on-chip
flash into the staging RAMs chunk by chunk, bit-exact against the golden model and
cycle-exact against the cycle model: with the MAX 10 user flash's timing (latency 5,
bursts of 128, 4 words per 7 cycles), and with bursts of 3 words."""

import dataclasses

import numpy as np
import pytest

from fpgagen.hw.params import FlashTiming
from fpgagen.schedule import Opcode, pack_input, run_program
from fpgagen.schedule.weight_chunks import least_chunk_bits
from fpgagen.sim.network import build_program, run_image
from fpgagen.testing import prepare

from .test_random_layers_rtl import _assert_blocks_equal
from .test_weight_chunks_rtl import _spec


@pytest.mark.parametrize("burst", [128, 3], ids=["max10", "burst3"])
def test_flash_store_bit_exact_and_cycle_exact_on_rtl(build_dir, burst):
    spec = _spec()
    whole = prepare(spec, reuse_memory=False).program
    timing = FlashTiming(latency=5, burst_limit=burst, words_per=4, clocks_per=7)
    spec = dataclasses.replace(spec, weight_chunk_bits=least_chunk_bits(whole),
                               weight_store="flash", flash=timing)
    prep = prepare(spec, reuse_memory=False)
    program, graph = prep.program, prep.graph
    assert program.flash is not None
    assert {bool(f.compressed) for f in program.instructions if f.op == Opcode.CONV} == {
        False, True}
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
    print(f"{len(program.instructions)} instructions, {len(program.flash.image)} flash "
          f"words; {run.cycles:,d} cycles simulated, {program.cycles_predicted:,d} "
          f"predicted (weights in ROM: {whole.cycles_predicted:,d})")
    np.testing.assert_array_equal(run.instruction_cycles,
                                  [info.cycles_predicted for info in program.layers])
    assert run.cycles == program.cycles_predicted == engine.total_cycles
