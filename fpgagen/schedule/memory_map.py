"""The memory map of an accelerator: every memory of its top level as typed data, derived
once from a compiled program and the hardware spec (:mod:`fpgagen.hw.spec`).

The top level (:mod:`fpgagen.gateware.top`) builds its memories from it, the block-RAM fit
places it, the image writer writes the images its entries name, the reports group it by
role and the simulator builds from it: nobody parses memory names.
"""

import dataclasses
import enum
from dataclasses import dataclass
from typing import Callable

from ..hw.isa import INSTRUCTION_BITS, LOAD_FIELDS_BITS
from ..hw.spec import (ACT_LANE_BITS, BIAS_WORD, CYCLE_LOG_BITS, SCORE_BITS,
                       weight_operand_bits, weight_word_bits)
from ..hw.weight_stream import STREAM_START
from ..ir.quant import MAX_INDEX_BITS

__all__ = ["MemoryRole", "LogicalMemory", "MemoryMap", "memory_map", "compressed_depths"]


class MemoryRole(enum.Enum):
    """What a memory holds."""

    WEIGHTS = "weights"  #: one PE column's weight bank (ROM)
    BIAS = "bias"  #: one PE column's bias and shift bank (ROM)
    ACTIVATIONS = "act"  #: the activation memory (RAM)
    #: the packed instructions (ROM; with the weights in flash, the schedule staging buffer)
    SCHEDULE = "schedule"
    SCORES = "scores"  #: the class scores the GAP writes and the stream reads (RAM)
    CYCLE_LOG = "cycle_log"  #: the cycle count at the end of every instruction (RAM)
    POOL_STATE = "pool_state"  #: partial maxima of fused pooling's open windows (RAM)
    MASKS = "masks"  #: one PE column's masks of compressed weights (ROM)
    CODEBOOK = "codebook"  #: every compressed layer's codebook (ROM)
    COLUMN_CODEBOOK = "column_codebook"  #: a column decoder's copy of the layer's codebook
    TILES = "tiles"  #: a column decoder's two tiles of decoded weights (RAM)


@dataclass(frozen=True)
class LogicalMemory:
    """One memory of the design.

    Parameters
    ----------
    name : str
        Its name in the design and the reports (``weights_3``, ``act``), for people: code
        asks :attr:`role` and :attr:`column`.
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
        when the synthesis tool chooses (Amaranth memories without attributes), ``logic``
        when the RTL builds it in logic (registers: the schedule staging buffer of a
        design with its weights and schedule in flash).
    banked : bool
        Built as separate banks (RAM) or parts (ROM) of one row of blocks each, with a
        registered multiplexer over them (``templates/ram.v.j2``, ``templates/rom.v.j2``):
        each bank is its own memory to synthesis, so rows never share blocks (see
        :mod:`fpgagen.fit.placement`).
    bank_depth : int or None
        Words per bank once chosen for a target (:meth:`MemoryMap.with_bank_depths`);
        ``None``: not chosen yet.
    role : MemoryRole or None
        What the memory holds (``None`` for a memory made up outside a design, e.g. in a
        test of the fit).
    column : int or None
        The PE column of a weight or bias bank.
    """

    name: str
    depth: int
    width: int
    kind: str
    layer: str | None = None
    style: str = "auto"
    banked: bool = False
    bank_depth: int | None = None
    role: MemoryRole | None = None
    column: int | None = None

    def __post_init__(self):
        if self.kind not in ("rom", "ram"):
            raise ValueError(f"kind must be 'rom' or 'ram', not {self.kind!r}")
        if self.style not in ("auto", "block", "logic"):
            raise ValueError(f"style must be 'auto', 'block' or 'logic', not {self.style!r}")
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

    @property
    def parts(self) -> int:
        """Banks (parts) the memory is built from: 1 unless banked with a chosen depth."""
        if not self.banked or self.bank_depth is None:
            return 1
        return max(1, -(-self.depth // self.bank_depth))


@dataclass(frozen=True)
class MemoryMap:
    """Every memory of one accelerator, in the top level's order: the weight banks, the
    bias banks, the activation memory, the schedule, the scores and the cycle log."""

    memories: tuple[LogicalMemory, ...]

    @classmethod
    def build(cls, *, pe_rows: int, pe_cols: int, weight_bits: int, weight_depth: int,
              bias_depth: int, act_depth: int, instructions: int,
              score_groups: int, pool_depth: int = 0, mask_depth: int = 0,
              codebook_depth: int = 0, tile_depth: int = 0,
              staging: bool = False, segment_depth: int = 1,
              act_lane_bits: int = ACT_LANE_BITS) -> "MemoryMap":
        """The memories of a design of these sizes, as the top level declares them.

        Per PE column ``c``: the weight bank ROM ``weights_c`` (``weight_depth`` words of
        ``pe_rows * weight_bits`` bits) and the bias ROM ``bias_c`` (``bias_depth`` words of
        :data:`~fpgagen.hw.spec.BIAS_WORD`). Shared: the activation RAM ``act``
        (``act_depth`` words of ``pe_rows`` lanes of ``act_lane_bits``), the schedule ROM
        (one word per instruction), the score RAM (``score_groups`` words of ``pe_rows``
        scores) and the cycle log RAM (one entry per instruction), and the pool-state RAM
        ``pool_state`` (``pool_depth`` words of ``pe_rows`` lanes of ``act_lane_bits``) of
        fused max pooling. RAMs are at least
        two words deep. The
        banks and the activation RAM are templated memories that ask for block RAM and are
        banked; the other three are Amaranth memories the synthesis tool places.

        With compressed layers (``mask_depth > 0``): per column the mask ROM ``masks_c``
        (``pe_rows`` bits), its decoder's codebook copy ``codebook_c`` (256 entries) and
        tile buffer ``tiles_c`` (two tiles of ``tile_depth`` weight words); the codebook ROM
        ``codebook`` (entries and tile lanes
        :func:`~fpgagen.hw.spec.weight_operand_bits` wide: 8 bits, or ``weight_bits``
        above 8); the bias words also hold the index stream starts
        (:data:`~fpgagen.hw.weight_stream.STREAM_START`).

        With ``staging`` (weights in flash): the weight, bias and mask memories are the
        staging RAMs the loader writes (Amaranth memories, not banked; the depths given are
        their two halves), and a schedule word also holds the load fields
        (:data:`~fpgagen.hw.isa.LOAD_FIELDS_BITS`); the schedule comes from the flash too:
        instead of the ROM, the schedule staging buffer ``schedule``, a RAM of two halves
        of ``segment_depth`` words in flip-flops (style ``logic``), so that no block RAM is
        initialized; there is no codebook ROM (each chunk brings its codebook into
        registers) and ``weight_bits`` is the staging word's lane width
        (``FlashStore.widths["weight"] // pe_rows``).
        """
        compressed = mask_depth > 0
        bias_bits = BIAS_WORD.bits + (STREAM_START.bits if compressed else 0)
        kind, banked = ("ram", False) if staging else ("rom", True)
        mems = [LogicalMemory(f"weights_{c}", weight_depth,
                              weight_word_bits(pe_rows, weight_bits), kind, style="block",
                              banked=banked, role=MemoryRole.WEIGHTS, column=c)
                for c in range(pe_cols)]
        mems += [LogicalMemory(f"bias_{c}", bias_depth, bias_bits, kind, style="block",
                               banked=banked, role=MemoryRole.BIAS, column=c)
                 for c in range(pe_cols)]
        mems.append(LogicalMemory("act", max(int(act_depth), 2), act_lane_bits * pe_rows,
                                  "ram", style="block", banked=True,
                                  role=MemoryRole.ACTIVATIONS))
        schedule_bits = INSTRUCTION_BITS + (LOAD_FIELDS_BITS if staging else 0)
        if staging:
            mems.append(LogicalMemory("schedule", 2 * max(int(segment_depth), 1),
                                      schedule_bits, "ram", style="logic",
                                      role=MemoryRole.SCHEDULE))
        else:
            mems.append(LogicalMemory("schedule", max(instructions, 1), schedule_bits, "rom",
                                      style="auto", role=MemoryRole.SCHEDULE))
        mems.append(LogicalMemory("scores", max(score_groups, 2), SCORE_BITS * pe_rows, "ram",
                                  role=MemoryRole.SCORES))
        mems.append(LogicalMemory("cycle_log", max(instructions, 2), CYCLE_LOG_BITS, "ram",
                                  role=MemoryRole.CYCLE_LOG))
        mems.append(LogicalMemory("pool_state", max(int(pool_depth), 2),
                                  act_lane_bits * pe_rows, "ram", role=MemoryRole.POOL_STATE))
        if compressed:
            code_bits = weight_operand_bits(weight_bits)
            mems += [LogicalMemory(f"masks_{c}", mask_depth, pe_rows, kind, style="block",
                                   banked=banked, role=MemoryRole.MASKS, column=c)
                     for c in range(pe_cols)]
            if not staging:  # with weights in flash, the codebooks come with the chunks
                mems.append(LogicalMemory("codebook", max(codebook_depth, 1), code_bits,
                                          "rom", style="block", banked=True,
                                          role=MemoryRole.CODEBOOK))
            mems += [LogicalMemory(f"codebook_{c}", 1 << MAX_INDEX_BITS, code_bits, "ram",
                                   role=MemoryRole.COLUMN_CODEBOOK, column=c)
                     for c in range(pe_cols)]
            mems += [LogicalMemory(f"tiles_{c}", 2 * max(tile_depth, 1),
                                   code_bits * pe_rows, "ram", role=MemoryRole.TILES,
                                   column=c)
                     for c in range(pe_cols)]
        return cls(tuple(mems))

    @property
    def compressed(self) -> bool:
        """The design decodes compressed weights (it has mask banks)."""
        return bool(self.of(MemoryRole.MASKS))

    def __iter__(self):
        return iter(self.memories)

    def __len__(self):
        return len(self.memories)

    @property
    def pe_rows(self) -> int:
        """Lanes of an activation word: scores of a score memory word."""
        return self.one(MemoryRole.SCORES).width // SCORE_BITS

    @property
    def act_lane_bits(self) -> int:
        """Width of one lane of the activation memory."""
        return self.one(MemoryRole.ACTIVATIONS).width // self.pe_rows

    def of(self, role: MemoryRole) -> list[LogicalMemory]:
        """The memories holding ``role``, in order (per column for the banks)."""
        return [m for m in self.memories if m.role is role]

    def one(self, role: MemoryRole) -> LogicalMemory:
        """The first memory holding ``role`` (the banks of every column are alike)."""
        for m in self.memories:
            if m.role is role:
                return m
        raise KeyError(role)

    def with_bank_depths(self, depth_of: Callable[[LogicalMemory], int]) -> "MemoryMap":
        """A copy whose banked memories have ``bank_depth = depth_of(memory)``."""
        return MemoryMap(tuple(dataclasses.replace(m, bank_depth=depth_of(m)) if m.banked
                               else m for m in self.memories))


def memory_map(program) -> MemoryMap:
    """The memories of ``program``'s accelerator (a
    :class:`~fpgagen.schedule.program.Program`), bank depths not chosen yet."""
    hw = program.hw
    weight_depth, bias_depth = program.weight_depth, program.bias_depth
    weight_bits = int(program.weight_bits)
    if program.flash is not None:  # the staging memories: two halves each
        weight_depth, bias_depth = program.flash.depth("weight"), program.flash.depth("bias")
        weight_bits = program.flash.widths["weight"] // hw.pe_rows
    return MemoryMap.build(pe_rows=hw.pe_rows, pe_cols=hw.pe_cols,
                           weight_bits=weight_bits,
                           weight_depth=weight_depth, bias_depth=bias_depth,
                           act_depth=program.act_depth, instructions=len(program.instructions),
                           score_groups=program.score_groups,
                           pool_depth=program.pool_depth, **compressed_depths(program),
                           staging=program.flash is not None,
                           act_lane_bits=int(program.act_lane_bits),
                           **({"segment_depth": program.flash.segment_depth}
                              if program.flash is not None else {}))


def compressed_depths(program) -> dict:
    """The compressed-weight sizes :meth:`MemoryMap.build` takes, of ``program``."""
    cw = program.compressed
    if cw is None:
        return {}
    mask_depth = cw.mask_depth if program.flash is None else program.flash.depth("mask")
    return dict(mask_depth=mask_depth, codebook_depth=len(cw.codebook),
                tile_depth=cw.tile_depth)
