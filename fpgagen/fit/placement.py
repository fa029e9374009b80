"""Place logical memories on a device's memory blocks with the data sheet's geometries.

A memory of ``depth x width`` bits built from blocks in configuration ``(d, w)`` takes
``ceil(depth / d)`` rows of ``ceil(width / w)`` blocks: the depth is split across rows (a
read multiplexer picks the row) and the width across the blocks of a row. For each memory
the configuration with the fewest blocks is chosen (ties: the fewest rows, then the order of
the board file).

Packed rows (``packed=True``, the default on the families Yosys synthesizes: ECP5, iCE40):
every row is read at the same low address bits and a multiplexer picks the row's bits, so
the rows can share blocks: ``ceil(rows * width / w)`` blocks in all, not ``rows *
ceil(width / w)``. Yosys's ``memory_libmap`` maps this way (an 18,860 x 16 ROM on ECP5 EBR:
19 rows of 16 bits = 304 bits in 17 blocks of 1K x 18, where the rectangular count is 19).
``fit_memories(..., packed=True)`` gives what Yosys counts on Xilinx 7-series too; Vivado
counts rectangles, the default there.

Banked memories (``LogicalMemory.banked``: the activation RAM and the weight and bias ROMs)
are split in the RTL into banks of one row of blocks each, a separate memory to synthesis:
they take the rectangular count, and among the configurations with the fewest blocks the widest (the shallowest
bank, so no tool builds a bank from more than one row). :func:`bank_depth` gives the bank
depth the RTL uses; a memory that carries it (``LogicalMemory.bank_depth``: the RTL's
banks as synthesis builds them, narrower by constant ROM columns) is counted bank by bank.

Memories whose RTL asks for block RAM (``style="block"``: the weight and bias banks and the
activation memory) always get blocks. The others (``style="auto"``: the schedule ROM, score
RAM and cycle log, whose placement the synthesis tool chooses) go to logic when small, by
this rule (``LOGIC_MAX_DEPTH``, ``FF_RAM_MAX_BITS``):

- a ROM at most 64 words deep becomes LUTs on every family (a 6-input function per bit:
  far cheaper than a block that would stay nearly empty);
- a RAM at most 64 words deep goes to LUT RAM on families that have it (Xilinx 7-series
  distributed RAM, ECP5 PFU RAM: :attr:`fpgagen.devices.families.FamilyProfile.lutram`); on
  families without LUT RAM (MAX 10 has no MLAB, iCE40 none at all) only a RAM of at most
  1024 bits does, as flip-flops.

A memory whose RTL asks for logic (``style="logic"``: the schedule staging buffer of a
design with its weights and schedule in flash, registers) is in logic whatever its depth: a
ROM counted as the shallow ROMs above, a RAM as flip-flops (one per bit, and a read
multiplexer) whatever the family.

Memory kinds other than ``block``: ``spram`` (iCE40 SPRAM) is single-port with no initial
contents, so it holds neither a ROM nor a RAM that is read and written in the same cycle
(every RAM of this design): it stays unused. ``uram`` takes RAMs only (no initial contents).
"""

import math
from dataclasses import dataclass

from ..devices.board import Board, MemoryBlock
from ..devices.families import FamilyProfile
from ..schedule.memory_map import LogicalMemory, MemoryRole

__all__ = ["blocks_for", "bank_depth", "fit_memories", "MemoryPlacement", "MemoryFit",
           "LOGIC_MAX_DEPTH", "FF_RAM_MAX_BITS"]

#: Memories at most this many words deep are candidates for logic (see the module docstring).
LOGIC_MAX_DEPTH = 64
#: On families without LUT RAM, a shallow RAM of at most this many bits becomes flip-flops.
FF_RAM_MAX_BITS = 1024


def blocks_for(mem: LogicalMemory, block: MemoryBlock, *, packed: bool = False
               ) -> tuple[int, tuple[int, int]]:
    """The fewest blocks of type ``block`` that hold ``mem``, and the configuration used.

    Parameters
    ----------
    mem : LogicalMemory
    block : MemoryBlock
    packed : bool
        Rows share blocks (module docstring): ``ceil(ceil(depth / d) * width / w)``.

    Returns
    -------
    (int, (int, int))
        ``ceil(depth / d) * ceil(width / w)`` (packed, unless ``mem.banked``:
        ``ceil(ceil(depth / d) * width / w)``) for the best configuration ``(d, w)``, and
        that configuration. A banked memory whose ``bank_depth`` is fixed: its banks times
        the blocks of one bank (``bank_depth`` words, built like an unbanked memory).
    """
    if mem.banked and mem.bank_depth is not None:
        bank = LogicalMemory(mem.name, mem.bank_depth, mem.width, mem.kind)
        n, cfg = blocks_for(bank, block, packed=packed)
        return -(-mem.depth // mem.bank_depth) * n, cfg
    best = None
    for i, (d, w) in enumerate(block.configs):
        rows = -(-mem.depth // d)
        if mem.banked:
            n = rows * -(-mem.width // w)
            key = (n, d, i)
        else:
            n = -(-rows * mem.width // w) if packed else rows * -(-mem.width // w)
            key = (n, rows, i)
        if best is None or key < best[0]:
            best = (key, (d, w))
    return best[0][0], best[1]


def bank_depth(mem: LogicalMemory, board: Board) -> int:
    """Words per bank of the banked memory ``mem`` on ``board``: the depth of the block
    configuration :func:`fit_memories` chooses for it (one row of blocks per bank).

    Raises
    ------
    ValueError
        ``mem`` is not banked, or it does not go to blocks on this board.
    """
    if not mem.banked:
        raise ValueError(f"memory {mem.name!r} is not banked")
    if mem.bank_depth is not None:
        return mem.bank_depth
    p = fit_memories([mem], board).placement(mem.name)
    if p.config is None:
        raise ValueError(f"memory {mem.name!r} ({mem.depth} x {mem.width}) is not in "
                         f"block RAM on board {board.name!r}")
    return p.config[0]


@dataclass(frozen=True)
class MemoryPlacement:
    """Where one memory goes.

    Attributes
    ----------
    memory : LogicalMemory
    block : str or None
        Name of the block type, or ``None`` when the memory is built from logic.
    config : (int, int) or None
        The block configuration ``(depth, width)``.
    blocks : int
        Blocks used (0 in logic).
    rows : int
        Rows of blocks the depth is split across (0 in logic).
    luts, ffs : int
        Estimated LUTs and flip-flops of a memory in logic (0 in blocks).
    """

    memory: LogicalMemory
    block: str | None
    config: tuple[int, int] | None
    blocks: int
    rows: int = 0
    luts: int = 0
    ffs: int = 0

    @property
    def in_logic(self) -> bool:
        return self.block is None

    @property
    def efficiency(self) -> float:
        """Share of the used blocks' configured bits the memory fills (1 in logic)."""
        if self.in_logic:
            return 1.0
        d, w = self.config
        return self.memory.bits / (self.blocks * d * w)


@dataclass(frozen=True)
class MemoryFit:
    """All memories of a design on one board.

    Attributes
    ----------
    board : Board
    placements : tuple of MemoryPlacement
        One per memory, in the order given.
    """

    board: Board
    placements: tuple[MemoryPlacement, ...]

    @property
    def totals(self) -> dict[str, int]:
        """Blocks used per block type of the board (every type listed, 0 when unused)."""
        out = {b.name: 0 for b in self.board.memory}
        for p in self.placements:
            if p.block is not None:
                out[p.block] += p.blocks
        return out

    @property
    def available(self) -> dict[str, int]:
        """Blocks on the device per block type."""
        return {b.name: b.count for b in self.board.memory}

    @property
    def fits(self) -> bool:
        """Every block type within its count."""
        avail = self.available
        return all(n <= avail[k] for k, n in self.totals.items())

    @property
    def logic_luts(self) -> int:
        """Estimated LUTs of the memories built from logic."""
        return sum(p.luts for p in self.placements)

    @property
    def logic_ffs(self) -> int:
        """Estimated flip-flops of the memories built from logic."""
        return sum(p.ffs for p in self.placements)

    def placement(self, name: str) -> MemoryPlacement:
        """The placement of the memory called ``name``."""
        for p in self.placements:
            if p.memory.name == name:
                return p
        raise KeyError(name)

    def blocks_of(self, *roles: MemoryRole) -> int:
        """Blocks used by the memories holding any of ``roles``."""
        return sum(p.blocks for p in self.placements if p.memory.role in roles)


def _eligible(mem: LogicalMemory, block: MemoryBlock) -> bool:
    if block.kind == "block":
        return True
    if block.kind == "uram":
        return mem.kind == "ram"
    return False  # spram: single-port, no initial contents


def _logic(mem: LogicalMemory, family: FamilyProfile) -> MemoryPlacement | None:
    """The memory in logic, if the rule of the module docstring puts it there (a memory of
    style ``logic`` always)."""
    if mem.style == "block" or (mem.depth > LOGIC_MAX_DEPTH and mem.style != "logic"):
        return None
    if mem.kind == "rom":
        leaves = -(-mem.depth // (1 << family.lut_inputs))
        # one LUT per 2**k words and bit, a 2:1 multiplexer tree above them, a registered read
        return MemoryPlacement(mem, None, None, 0, luts=mem.width * (2 * leaves - 1),
                               ffs=mem.width)
    if family.has_lutram and mem.style != "logic":
        luts = None
        for d, w, cost in family.lutram:
            rows = -(-mem.depth // d)
            n = rows * -(-mem.width // w) * cost + (rows - 1) * mem.width
            luts = n if luts is None else min(luts, n)
        return MemoryPlacement(mem, None, None, 0, luts=luts, ffs=mem.width)
    if mem.bits <= FF_RAM_MAX_BITS or mem.style == "logic":
        # a register per bit, write decode and a read multiplexer of about a LUT per 2 words
        # (style logic, the schedule staging buffer: read without a register, but the
        # loader assembles each word in a register about as wide)
        return MemoryPlacement(mem, None, None, 0, luts=mem.width * math.ceil(mem.depth / 2),
                               ffs=mem.bits + mem.width)
    return None


def fit_memories(memories, board: Board, *, packed: bool | None = None) -> MemoryFit:
    """Place every memory on ``board``'s blocks (or in logic, by the module's rule).

    Each memory goes to the eligible block type where it takes the fewest bits of silicon
    (blocks times block size), with that type's best configuration (:func:`blocks_for`).

    Parameters
    ----------
    memories : iterable of LogicalMemory
    board : Board
    packed : bool or None
        Rows share blocks (module docstring); ``None``: on the families whose synthesis is
        Yosys (:attr:`fpgagen.devices.families.FamilyProfile.yosys_flow`).

    Returns
    -------
    MemoryFit
        Placements and per-type totals; ``fits`` tells whether every type is within its
        count.
    """
    if packed is None:
        packed = board.profile.yosys_flow
    placements = []
    for mem in memories:
        logic = _logic(mem, board.profile)
        if logic is not None:
            placements.append(logic)
            continue
        best = None
        for i, block in enumerate(board.memory):
            if not _eligible(mem, block):
                continue
            n, cfg = blocks_for(mem, block, packed=packed)
            key = (n * block.bits, n, i)
            if best is None or key < best[0]:
                best = (key, block, n, cfg)
        _, block, n, cfg = best
        placements.append(MemoryPlacement(mem, block.name, cfg, n,
                                          rows=-(-mem.depth // cfg[0])))
    return MemoryFit(board=board, placements=tuple(placements))
