"""The cycle model of the accelerator (``docs/hardware.md``, *Cycle model*)."""

from .isa import Instr
from .params import HwParams
from .timing import INSTRUCTION_OVERHEAD, POOL_LATENCY

__all__ = ["PIPELINE_OVERHEAD", "instruction_cycles", "mac_utilization"]

#: Cycles every instruction adds to its reads (:data:`fpgagen.hw.timing.INSTRUCTION_OVERHEAD`).
PIPELINE_OVERHEAD = INSTRUCTION_OVERHEAD


def instruction_cycles(instr: Instr, overhead: int = PIPELINE_OVERHEAD) -> int:
    """Predicted cycles of one instruction.

    Parameters
    ----------
    instr : Instr
        The instruction; uses ``out_groups``, ``out_h``, ``out_w``, ``kh``, ``kw`` and
        ``in_groups``.
    overhead : int
        Fixed cycles added per instruction.

    Returns
    -------
    int
        ``out_groups * out_h * out_w * kh * kw * in_groups + overhead``: one activation
        read (for LOAD: one streamed word) per cycle, no bubbles; a CONV with fused
        pooling drains :data:`~fpgagen.hw.timing.POOL_LATENCY` cycles longer. LOAD assumes
        the host streams a word every cycle it is asked for one.
    """
    i = instr
    reads = i.out_groups * i.out_h * i.out_w * i.kh * i.kw * i.in_groups
    return reads + int(overhead) + (POOL_LATENCY if i.pool else 0)


def mac_utilization(macs: int, cycles: int, hw: HwParams) -> float:
    """Share of the PE array's multipliers doing useful work: ``macs / (cycles * rows *
    cols)`` (0 for zero cycles)."""
    if cycles <= 0:
        return 0.0
    return macs / (cycles * hw.pe_rows * hw.pe_cols)
