"""The fit verdict: used and available amounts of every resource of the device, and
whether the design fits. Resources: block RAM (every block type of the board, in that
type's blocks), hard multipliers, LUTs and flip-flops, and apart from them the board's
on-chip flash (in bytes, in the configuration mode the design needs: :mod:`.flash`)."""

import math
from dataclasses import dataclass

from ..devices.board import Board
from .flash import flash_use
from .placement import MemoryFit

__all__ = ["Resource", "Verdict", "make_verdict"]


@dataclass(frozen=True)
class Resource:
    """One resource of the device.

    Attributes
    ----------
    key : str
        ``bram`` (the main block RAM), ``dsp``, ``lut``, ``ff``, or the lower-case name of
        another memory block type (``spram``) or of a flash (``ufm``).
    unit : str
        What is counted (``M9K``, ``RAMB18E1``, ``18x18``, ``LUT``, ``FF``; ``bytes`` for a
        flash).
    used, available : int
    """

    key: str
    unit: str
    used: int
    available: int

    @property
    def fits(self) -> bool:
        return self.used <= self.available

    @property
    def percent(self) -> float:
        if not self.used:
            return 0.0
        return 100.0 * self.used / self.available if self.available else math.inf

    @property
    def ratio(self) -> float:
        """``used / available``: how many times the device's amount the design needs (0 when
        none is used, also of none available)."""
        if not self.used:
            return 0.0
        return self.used / self.available if self.available else math.inf

    @property
    def over(self) -> int:
        """How many more than available (0 when it fits)."""
        return max(0, self.used - self.available)


@dataclass(frozen=True)
class Verdict:
    """Used and available amounts of every resource and whether the design fits.

    Attributes
    ----------
    resources : tuple of Resource
        Block RAM (every block type), multipliers, LUTs and flip-flops.
    flash : tuple of Resource
        The board's on-chip flash memories, in bytes (empty for most boards).
    """

    resources: tuple[Resource, ...]
    flash: tuple[Resource, ...] = ()

    @property
    def all_resources(self) -> tuple[Resource, ...]:
        """:attr:`resources`, then :attr:`flash`."""
        return self.resources + self.flash

    @property
    def fits(self) -> bool:
        return all(r.fits for r in self.all_resources)

    @property
    def overflows(self) -> tuple[Resource, ...]:
        return tuple(r for r in self.all_resources if not r.fits)

    def __getitem__(self, key: str) -> Resource:
        for r in self.all_resources:
            if r.key == key:
                return r
        raise KeyError(key)


def make_verdict(board: Board, memfit: MemoryFit, logic: dict, program=None) -> Verdict:
    """The verdict of a design: its memory placement plus the logic estimate ``logic``
    (``{"lut", "ff", "dsp"}``), and the flash ``program`` (compiled) uses in the mode it
    can have (:func:`fpgagen.fit.flash.flash_use`; ``None``: none)."""
    totals = memfit.totals
    res = []
    for block in board.memory:
        key = "bram" if block is board.block_ram else block.name.lower()
        res.append(Resource(key, block.name, totals[block.name], block.count))
    res.sort(key=lambda r: r.key != "bram")
    res += [Resource("dsp", board.multiplier, int(logic["dsp"]), board.multipliers),
            Resource("lut", "LUT", int(logic["lut"]), board.luts),
            Resource("ff", "FF", int(logic["ff"]), board.ffs)]
    flash = tuple(Resource(u.flash.name.lower(), "bytes", u.used_bits // 8,
                           u.available_bits // 8) for u in flash_use(board, memfit, program))
    return Verdict(tuple(res), flash)
