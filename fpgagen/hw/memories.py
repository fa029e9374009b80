"""The logical memories of the accelerator's top level (``fpgagen/gateware/top.py``), as
the block-RAM fitter sees them: name, depth, width and whether they are ROMs or RAMs."""

from dataclasses import dataclass

from ..schedule.isa import INSTRUCTION_BITS
from ..schedule.lower import ACT_LANE_BITS, BIAS_BITS, SHIFT_BITS

__all__ = ["LogicalMemory", "design_memories", "SCORE_BITS", "CYCLE_LOG_BITS"]

#: Width of one class score in the score RAM (the GAP's 16-bit output codes).
SCORE_BITS = 16
#: Width of one cycle log entry.
CYCLE_LOG_BITS = 32


@dataclass(frozen=True)
class LogicalMemory:
    """One memory of the design.

    Parameters
    ----------
    name : str
        Its name in the design (``weights_3``, ``act``).
    depth : int
        Words.
    width : int
        Bits per word.
    kind : str
        ``rom`` (contents fixed at configuration) or ``ram`` (simple dual port: one write
        and one read port, used in the same cycle).
    layer : str or None
        The layer that owns the memory alone, or ``None`` for memories shared by all layers
        (every memory of the current design).
    style : str
        ``block`` when the RTL asks for block RAM (the templated bank ROMs and activation
        RAM carry ``rom_style``/``ram_style = "block"`` or Quartus ``ramstyle``), ``auto``
        when the synthesis tool chooses (Amaranth memories without attributes).
    banked : bool
        Built as separate banks of one row of blocks each, with a registered multiplexer
        over the banks (the activation RAM, ``templates/ram.v.j2``): each bank is its own
        memory to synthesis, so rows never share blocks (see :mod:`fpgagen.hw.bram_fit`).
    """

    name: str
    depth: int
    width: int
    kind: str
    layer: str | None = None
    style: str = "auto"
    banked: bool = False

    def __post_init__(self):
        if self.kind not in ("rom", "ram"):
            raise ValueError(f"kind must be 'rom' or 'ram', not {self.kind!r}")
        if self.style not in ("auto", "block"):
            raise ValueError(f"style must be 'auto' or 'block', not {self.style!r}")
        for f in ("depth", "width"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{f} must be a positive integer, not {v!r}")

    @property
    def bits(self) -> int:
        """``depth * width``."""
        return self.depth * self.width


def design_memories(program) -> list[LogicalMemory]:
    """Every memory of the top level for ``program``, sized as ``top.py`` sizes them.

    Per PE column ``c``: the weight bank ROM ``weights_c`` (``weight_depth`` words of
    ``pe_rows * weight_bits`` bits) and the bias ROM ``bias_c`` (``bias_depth`` x 40: bias
    and shift). Shared: the activation RAM ``act`` (``act_depth`` x ``9 * pe_rows``), the
    schedule ROM (one word per instruction), the score RAM (``ceil(classes / pe_rows)`` x
    ``16 * pe_rows``) and the cycle log RAM (one 32-bit word per instruction). RAMs are at
    least two words deep, as in the top level. The banks and the activation RAM are
    templated memories that ask for block RAM (``style="block"``) and are ``banked``; the
    other three are Amaranth memories the synthesis tool places (``style="auto"``).
    """
    hw = program.hw
    rows, cols = hw.pe_rows, hw.pe_cols
    weight_bits = int(getattr(program, "weight_bits", 8))
    n_instr = len(program.instructions)
    score_groups = -(-int(program.output_channels) // rows)
    mems = []
    for c in range(cols):
        mems.append(LogicalMemory(f"weights_{c}", program.weight_depth, rows * weight_bits,
                                  "rom", style="block", banked=True))
    for c in range(cols):
        mems.append(LogicalMemory(f"bias_{c}", program.bias_depth, BIAS_BITS + SHIFT_BITS,
                                  "rom", style="block", banked=True))
    mems.append(LogicalMemory("act", max(int(program.act_depth), 2), ACT_LANE_BITS * rows,
                              "ram", style="block", banked=True))
    mems.append(LogicalMemory("schedule", max(n_instr, 1), INSTRUCTION_BITS, "rom"))
    mems.append(LogicalMemory("scores", max(score_groups, 2), SCORE_BITS * rows, "ram"))
    mems.append(LogicalMemory("cycle_log", max(n_instr, 2), CYCLE_LOG_BITS, "ram"))
    return mems
