"""The logical memories of the accelerator's top level (``fpgagen/gateware/top.py``), as
the block-RAM fitter sees them: name, depth, width and whether they are ROMs or RAMs; as
the RTL declares them (:func:`design_memories`) and as synthesis builds them
(:func:`synthesized_memories`, :func:`board_memories`)."""

import dataclasses
from dataclasses import dataclass

import numpy as np

from .board import YOSYS_FAMILIES
from .isa import INSTRUCTION_BITS
from .spec import ACT_LANE_BITS, BIAS_BITS, BIAS_WORD, CYCLE_LOG_BITS, SCORE_BITS, SHIFT_BITS

__all__ = ["LogicalMemory", "design_memories", "synthesized_memories", "board_memories",
           "counts_as_yosys"]


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
    bank_depth : int or None
        Words per bank when the RTL has fixed it (a banked memory as synthesis builds it,
        :func:`synthesized_memories`); ``None``: the fit chooses it
        (:func:`fpgagen.hw.bram_fit.bank_depth`).
    """

    name: str
    depth: int
    width: int
    kind: str
    layer: str | None = None
    style: str = "auto"
    banked: bool = False
    bank_depth: int | None = None

    def __post_init__(self):
        if self.kind not in ("rom", "ram"):
            raise ValueError(f"kind must be 'rom' or 'ram', not {self.kind!r}")
        if self.style not in ("auto", "block"):
            raise ValueError(f"style must be 'auto' or 'block', not {self.style!r}")
        for f in ("depth", "width"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{f} must be a positive integer, not {v!r}")
        if self.bank_depth is not None:
            v = self.bank_depth
            if not self.banked or isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"bank_depth must be None or, for a banked memory, a "
                                 f"positive integer, not {v!r} (banked={self.banked})")

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
        mems.append(LogicalMemory(f"bias_{c}", program.bias_depth, BIAS_WORD.bits,
                                  "rom", style="block", banked=True))
    mems.append(LogicalMemory("act", max(int(program.act_depth), 2), ACT_LANE_BITS * rows,
                              "ram", style="block", banked=True))
    mems.append(LogicalMemory("schedule", max(n_instr, 1), INSTRUCTION_BITS, "rom"))
    mems.append(LogicalMemory("scores", max(score_groups, 2), SCORE_BITS * rows, "ram"))
    mems.append(LogicalMemory("cycle_log", max(n_instr, 2), CYCLE_LOG_BITS, "ram"))
    return mems


def _constant_bits(fields) -> int:
    """Bit columns that hold the same value in every word of ``fields`` (``(codes (n,),
    bits)``)."""
    const = 0
    for codes, bits in fields:
        codes = np.asarray(codes, dtype=np.int64)
        if codes.size == 0:
            continue
        b = (codes[:, None] >> np.arange(bits)) & 1
        const += int((b == b[:1]).all(axis=0).sum())
    return const


def synthesized_memories(program, board) -> list[LogicalMemory]:
    """:func:`design_memories` as Yosys builds them on ``board``: each weight and bias ROM
    narrower by the bit columns that are constant over all its words (synthesis turns those
    into constants: the upper bits of the 8-bit rounding shift are 0 in every bias word of
    the networks measured, so a 40-bit bias word takes 36 bits, one EBR per 512-word part
    instead of two), every banked memory with the bank depth the RTL has for ``board``
    (chosen for the declared width, :func:`fpgagen.hw.bram_fit.bank_depth`)."""
    from .bram_fit import bank_depth  # bram_fit imports this module

    hw = program.hw
    wbits = int(getattr(program, "weight_bits", 8))
    out = []
    for mem in design_memories(program):
        if mem.banked:
            mem = dataclasses.replace(mem, bank_depth=bank_depth(mem, board))
        kind, _, col = mem.name.partition("_")
        if kind == "weights" and col.isdigit():
            bank = program.weight_banks[int(col)]
            fields = [(bank[:, r], wbits) for r in range(hw.pe_rows)]
        elif kind == "bias" and col.isdigit():
            c = int(col)
            fields = [(program.bias_banks[c], BIAS_BITS), (program.shift_banks[c], SHIFT_BITS)]
        else:
            out.append(mem)
            continue
        width = max(1, mem.width - _constant_bits(fields))
        out.append(dataclasses.replace(mem, width=width))
    return out


def board_memories(program, board, *, yosys: bool | None = None) -> list[LogicalMemory]:
    """The memories of ``program``'s accelerator as ``board``'s synthesis flow builds them:
    the list the block-RAM fit of ``fpgagen build`` and the logic model use.

    ``yosys``: count them as Yosys does (:func:`synthesized_memories`); ``None``: on the
    families whose project synthesizes with Yosys (:data:`fpgagen.hw.board.YOSYS_FAMILIES`).
    Elsewhere (Quartus, Vivado, whose handling of constant columns in initialised block
    RAM is not measured here) the RTL's widths, :func:`design_memories`: an upper bound.
    """
    if yosys is None:
        yosys = counts_as_yosys(board)
    return synthesized_memories(program, board) if yosys else design_memories(program)


def counts_as_yosys(board) -> bool:
    """Whether :func:`board_memories` counts ``board``'s memories as Yosys builds them by
    default: on the families whose project synthesizes with Yosys
    (:data:`fpgagen.hw.board.YOSYS_FAMILIES`)."""
    return board.family in YOSYS_FAMILIES
