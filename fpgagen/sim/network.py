"""A compiled program on the simulated hardware: build the design for a :class:`Program`,
stream an image in, and read the scores and tensors back in the golden model's terms."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FpgagenError
from ..gateware.top import AcceleratorConfig
from ..ir import Graph
from ..schedule.pack import pack_input, unpack_tensor
from ..hw.isa import Opcode
from ..hw.spec import SCORE_BITS
from ..schedule.memory_map import memory_map
from ..schedule.program import Program
from .verilator import SimBuild, build_simulation

__all__ = ["build_program", "NetworkRun", "run_image", "SIM_BANK_DEPTH"]

#: Words per bank (activation RAM) and per part (weight and bias ROMs) of simulated designs.
#: Banking does not change what the design computes or when (the read latency is fixed), so
#: the simulation takes deeper banks than a device's block rows: fewer instances to compile
#: and multiplex (full SqueezeNet v1.1 on 16x16 PEs: 19 activation banks and 2 parts per
#: weight bank instead of 150 and 10), while deep memories still go through both
#: multiplexer levels. ``rtl_tests/test_block_ram.py`` tests small banks.
SIM_BANK_DEPTH = 4096


def build_program(program: Program, build_dir, *, bank_depth: int = SIM_BANK_DEPTH
                  ) -> SimBuild:
    """Write the Verilog and memory images of ``program`` into ``build_dir`` and compile
    them with Verilator (tens of seconds), with memory banks of ``bank_depth`` words."""
    build_dir = Path(build_dir).resolve()
    memories = memory_map(program).with_bank_depths(lambda mem: bank_depth)
    cfg = AcceleratorConfig.for_program(program, memories, image_dir=str(build_dir))
    return build_simulation(cfg, program.weight_banks, program.bias_banks,
                            program.shift_banks, build_dir)


@dataclass
class NetworkRun:
    """One image through the simulated accelerator."""

    scores: np.ndarray  #: streamed class scores as the golden model's codes (int64)
    cycles: int  #: cycles of the program run (the design's counter)
    instruction_cycles: np.ndarray  #: cycles of each instruction
    wall_seconds: float  #: host time from ``start`` to ``done`` (simulation speed)
    tensors: dict = field(default_factory=dict)  #: codes ``(C, H, W)`` read back


def _signed_scores(program: Program, raw: np.ndarray) -> np.ndarray:
    gap = [f for f in program.instructions if f.op == Opcode.GAP]
    raw = np.asarray(raw, dtype=np.int64)
    if gap and gap[-1].out_signed:
        half = 1 << (SCORE_BITS - 1)
        raw = np.where(raw >= half, raw - 2 * half, raw)
    return raw


def run_image(sim: SimBuild, program: Program, graph: Graph, bgr_u8: np.ndarray,
              read_back=()) -> NetworkRun:
    """Stream ``bgr_u8`` into the simulated design, run from ``start`` to ``done`` and
    collect the scores, the cycle counts and the tensors named in ``read_back`` (which must
    still be intact in the activation memory at the end: lower with ``reuse_memory=False``
    to read intermediate tensors)."""
    words = pack_input(program, graph, bgr_u8)
    places = [program.placement(t) for t in read_back]
    lo = min((p.base for p in places), default=0)
    hi = max((p.end for p in places), default=0)
    result = sim.run(words, regions=[(lo, hi - lo)] if places else ())
    tensors = {}
    if places:
        mem = np.zeros((hi, program.hw.pe_rows), dtype=np.int64)
        mem[lo:hi] = result.regions[0]
        tensors = {t: unpack_tensor(program, mem, t) for t in read_back}
    scores = _signed_scores(program, result.scores)
    if len(scores) != program.output_channels:
        raise FpgagenError(f"the design streamed {len(scores)} scores, the program has "
                           f"{program.output_channels}")
    return NetworkRun(scores=scores, cycles=result.cycles,
                      instruction_cycles=result.instruction_cycles, wall_seconds=result.wall_seconds,
                      tensors=tensors)
