"""Fixed latencies of the accelerator's sequencer, shared by the gateware
(:mod:`fpgagen.gateware.top`) and the cycle model (:mod:`fpgagen.hw.cost`), so the two
cannot drift."""

__all__ = ["DRAIN_CYCLES", "INSTRUCTION_OVERHEAD"]

#: Cycles the sequencer waits after an instruction's last iteration, so that its last
#: result is written before the next instruction reads (addrgen 2 + memory 1 + PE 3 +
#: post-processing 1 + write 1, rounded up).
DRAIN_CYCLES = 9

#: Cycles every instruction adds to its reads: FETCH, DECODE and ISSUE (3), the cycle RUN
#: needs to see the address generator finish (1), and DRAIN (``DRAIN_CYCLES + 1``).
INSTRUCTION_OVERHEAD = 3 + 1 + DRAIN_CYCLES + 1
