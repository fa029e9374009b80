"""A board's on-chip flash (the MAX 10's user flash memory) as the fit sees it: how much of it
a design can have and how much it uses.

How much user flash a MAX 10 has depends on its configuration mode, and the mode on the
design: initial contents of block RAM (every ROM placed in block RAM: the weight and bias
banks and the schedule ROM of a design with its weights in block RAM, the codebook ROM of
compressed layers of such a design) are part of the configuration
image, which only the modes "with memory initialization" load, and those leave the least
user flash (512 Kbit of the 10M50's 5,888). So the capacity reported is that of the mode the
design as built needs, not the board's default mode when the default cannot initialise
block RAM.

A design with its weights in flash (``--weight-store flash``, ``program.flash``) uses the
bytes of its flash image (32-bit words, :mod:`fpgagen.schedule.flash_store`: the chunks'
blocks and the schedule) in the first flash of the board; its weight, bias and mask
memories are staging RAMs without initial contents, its codebooks come with the chunks
into registers (no codebook ROM) and its schedule staging buffer is registers. A design
with its weights in block RAM uses none of the flash.
"""

from dataclasses import dataclass

from ..devices.board import Board, FlashMemory
from .placement import MemoryFit

__all__ = ["FlashUse", "flash_use", "flash_note", "image_bits"]


@dataclass(frozen=True)
class FlashUse:
    """One flash of the board, for one design.

    Attributes
    ----------
    flash : FlashMemory
    used_bits : int
        Bits the design stores in the flash: its flash image (0 with the weights in block
        RAM).
    initialized : tuple of str
        What the design's block RAM holds from the bitstream on: the names of its ROMs placed
        in block RAM, grouped by role (``bias``, ``schedule``, ``weights``), sorted; empty
        when no block has initial contents.
    modes : tuple of str
        The configuration modes the design can use with the most user flash (several when
        they tie, in the board file's order): the default mode if the design allows it,
        else the modes that initialise block RAM; empty when the design needs block RAM
        initialisation and no mode offers it.
    """

    flash: FlashMemory
    used_bits: int
    initialized: tuple[str, ...]
    modes: tuple[str, ...]

    @property
    def mode(self) -> str | None:
        """The mode whose capacity is reported (the first of :attr:`modes`)."""
        return self.modes[0] if self.modes else None

    @property
    def available_bits(self) -> int:
        """User bits of the flash in :attr:`mode` (0 when the design can use no mode)."""
        return self.flash.capacity(self.mode) if self.mode is not None else 0

    @property
    def default_fits_design(self) -> bool:
        """Whether the board's default mode suits the design."""
        return self.modes == (self.flash.default_mode,)


def _initialized(memfit: MemoryFit) -> tuple[str, ...]:
    """The ROMs placed in block RAM (which the bitstream initialises), by role."""
    kinds = {b.name: b.kind for b in memfit.board.memory}
    names = {p.memory.role.value if p.memory.role is not None else p.memory.name
             for p in memfit.placements
             if p.memory.kind == "rom" and p.block is not None and kinds[p.block] == "block"}
    return tuple(sorted(names))


def image_bits(program) -> int:
    """Bits of ``program``'s flash image (32-bit words); 0 with its weights in block RAM."""
    st = getattr(program, "flash", None) if program is not None else None
    return 32 * len(st.image) if st is not None else 0


def flash_use(board: Board, memfit: MemoryFit, program=None) -> tuple[FlashUse, ...]:
    """Every flash of ``board`` as the design placed in ``memfit`` (compiled as ``program``)
    can use it; empty for a board without flash. The flash image of a program with its
    weights in flash (:func:`image_bits`) goes to the first flash."""
    initialized = _initialized(memfit) if board.flash else ()
    out = []
    for k, flash in enumerate(board.flash):
        default = flash.default_mode
        if not initialized or flash.allows_memory_init(default):
            modes = (default,)
        else:
            modes = flash.modes_for(memory_init=True)
        used = image_bits(program) if k == 0 else 0
        out.append(FlashUse(flash=flash, used_bits=used, initialized=initialized, modes=modes))
    return tuple(out)


def _bits(bits: int) -> str:
    """``5,888 Kbit`` (``bits`` when not whole Kbit), with bytes."""
    size = f"{bits // 1024:,d} Kbit" if bits % 1024 == 0 else f"{bits:,d} bits"
    return f"{size} ({bits // 8:,d} bytes)"


def _and(names) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def flash_note(use: FlashUse, block_unit: str) -> str:
    """What the reports say about one flash: used, the mode the design needs and why, and
    the read interface. ``block_unit`` names the block RAM (``M9K``)."""
    f = use.flash
    default = f.default_mode
    words, clocks = f.burst_throughput
    what = f"the {_and(use.initialized)} ROMs" if use.initialized else ""
    if use.used_bits:
        verdict = ("fits" if use.used_bits <= use.available_bits else
                   f"does not fit: {use.used_bits - use.available_bits:,d} bits over")
        lines = [f"{use.used_bits // 8:,d} bytes used: the flash image of the weights (codebook "
                 f"indices, masks and codebooks of codebook layers), biases and the schedule "
                 f"({use.used_bits // 32:,d} words of 32 bits), loaded chunk by chunk into "
                 f"staging RAMs and the schedule staging buffer; of "
                 f"{_bits(use.available_bits)} in mode {use.mode or 'none'}: {verdict}."]
    else:
        lines = [f"{use.used_bits // 8:,d} bytes used (no fpgagen design stores data in flash "
                 f"yet; the weights stay in block RAM)."]
    if use.default_fits_design:
        why = (f"this design initialises {block_unit} blocks ({what}) and the mode allows it"
               if use.initialized else "this design initialises no block RAM")
        lines.append(f"Available in the board's default mode {default}: "
                     f"{_bits(use.available_bits)}; {why}.")
    elif use.modes:
        lines.append(f"The board's default mode {default} has {_bits(f.capacity(default))} of "
                     f"user flash but cannot initialise block RAM; this design initialises "
                     f"{block_unit} blocks ({what}), so it needs {' or '.join(use.modes)}, "
                     f"which leave{'s' if len(use.modes) == 1 else ''} "
                     f"{_bits(use.available_bits)}.")
    else:
        lines.append(f"No configuration mode of {f.name} initialises block RAM, which this "
                     f"design does ({block_unit} blocks: {what}): none of the flash is "
                     f"available to it.")
    lines.append(f"Read interface: {f.word_bits}-bit words, {f.read_latency_cycles} cycles "
                 f"latency, bursts of up to {f.max_burst_words:,d} words at {words} words "
                 f"per {clocks} clocks, at most {f.max_clock_mhz:g} MHz.")
    return " ".join(lines)
