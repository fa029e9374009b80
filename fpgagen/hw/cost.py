"""The cycle model of the accelerator (``docs/hardware.md``, *Cycle model*)."""

from .timing import INSTRUCTION_OVERHEAD
from .params import HwParams

__all__ = ["PIPELINE_OVERHEAD", "instruction_cycles", "mac_utilization"]

#: Cycles every instruction adds to its reads (:data:`fpgagen.hw.timing.INSTRUCTION_OVERHEAD`).
PIPELINE_OVERHEAD = INSTRUCTION_OVERHEAD


def instruction_cycles(fields: dict, overhead: int = PIPELINE_OVERHEAD) -> int:
    """Predicted cycles of one instruction.

    Parameters
    ----------
    fields : dict
        Instruction fields (as for :func:`fpgagen.schedule.isa.pack_instruction`); uses
        ``out_groups``, ``out_h``, ``out_w``, ``kh``, ``kw`` and ``in_groups``.
    overhead : int
        Fixed cycles added per instruction.

    Returns
    -------
    int
        ``out_groups * out_h * out_w * kh * kw * in_groups + overhead``: one activation
        read per cycle, no bubbles.
    """
    reads = 1
    for name in ("out_groups", "out_h", "out_w", "kh", "kw", "in_groups"):
        reads *= int(fields.get(name, 0))
    return reads + int(overhead)


def mac_utilization(macs: int, cycles: int, hw: HwParams) -> float:
    """Share of the PE array's multipliers doing useful work: ``macs / (cycles * rows *
    cols)`` (0 for zero cycles)."""
    if cycles <= 0:
        return 0.0
    return macs / (cycles * hw.pe_rows * hw.pe_cols)
