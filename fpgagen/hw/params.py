"""Size parameters of the generated accelerator (``docs/hardware.md``)."""

import enum
from dataclasses import dataclass, field

from .flash_timing import check_flash_timing

__all__ = ["HwParams", "PE_SIZES", "WeightStore", "FlashTiming"]

#: Allowed values of ``pe_rows`` and ``pe_cols``.
PE_SIZES = (2, 4, 8, 16, 32, 64)


class WeightStore(enum.Enum):
    """Where the weights live (``docs/hardware.md``, *Weights in flash*)."""

    #: In ROM banks, one per PE column (and mask and bias banks), all of them on chip.
    BRAM = "bram"
    #: In the on-chip flash, streamed per CONV chunk into double-buffered staging RAMs.
    FLASH = "flash"


@dataclass(frozen=True, kw_only=True)
class FlashTiming:
    """Timing of the on-chip flash's Avalon-MM data interface
    (:mod:`fpgagen.hw.flash_timing`); the default is the MAX 10 user flash at 50 MHz.

    Parameters
    ----------
    latency : int
        Cycles from an accepted read command to its first word.
    burst_limit : int
        Most words per read command (the reader's bursts).
    words_per, clocks_per : int
        ``words_per`` words every ``clocks_per`` cycles within a burst.
    """

    latency: int = 5
    burst_limit: int = 128
    words_per: int = 4
    clocks_per: int = 7

    def __post_init__(self):
        check_flash_timing(self.latency, self.burst_limit, self.words_per, self.clocks_per)

    def astuple(self) -> tuple:
        """``(latency, burst_limit, words_per, clocks_per)``."""
        return self.latency, self.burst_limit, self.words_per, self.clocks_per


@dataclass(frozen=True, kw_only=True)
class HwParams:
    """Shape of the processing-element array.

    Parameters
    ----------
    pe_rows : int
        Lanes of an activation word (``L``): input channels reduced per cycle. A power of
        two in 2..64.
    pe_cols : int
        Output channels computed per cycle (weight and bias banks). Must equal ``pe_rows``
        for now, so that one output word holds the results of one pass.
    weight_chunk_bits : int or None
        Most bits of weight data per PE column that one CONV instruction may use (the
        budget of a staging memory its weights are loaded into): the lowering splits every
        CONV instruction into chunks of consecutive output groups that fit, as measured by
        :func:`fpgagen.schedule.weight_chunks.instruction_weight_bits`. ``None``: no
        budget, one instruction per band (or channel chunk) of a layer.
    weight_store : WeightStore or str
        ``"bram"`` (the default): weights in ROM banks. ``"flash"``: weights in the on-chip
        flash, loaded chunk by chunk into staging RAMs (needs ``weight_chunk_bits``).
    flash : FlashTiming
        The flash's timing (used with ``weight_store="flash"``).

    Raises
    ------
    ValueError
        For a size that is not a power of two in 2..64, a non-square array, or a
        ``weight_chunk_bits`` that is not a positive integer, an unknown weight store, or
        the flash store without ``weight_chunk_bits``.
    """

    pe_rows: int = 16
    pe_cols: int = 16
    weight_chunk_bits: int | None = None
    weight_store: WeightStore = WeightStore.BRAM
    flash: FlashTiming = field(default_factory=FlashTiming)

    def __post_init__(self):
        for name in ("pe_rows", "pe_cols"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v not in PE_SIZES:
                raise ValueError(f"{name} must be a power of two in 2..64, not {v!r}")
        if self.pe_rows != self.pe_cols:
            raise ValueError(f"the PE array must be square for now (pe_rows == pe_cols), not "
                             f"{self.pe_rows}x{self.pe_cols}")
        b = self.weight_chunk_bits
        if b is not None and (isinstance(b, bool) or not isinstance(b, int) or b < 1):
            raise ValueError(f"weight_chunk_bits must be a positive integer or None, not {b!r}")
        try:
            store = WeightStore(self.weight_store)
        except ValueError:
            raise ValueError(f"weight_store must be one of "
                             f"{[w.value for w in WeightStore]}, not {self.weight_store!r}"
                             ) from None
        object.__setattr__(self, "weight_store", store)
        if store == WeightStore.FLASH and b is None:
            raise ValueError("weight_store='flash' needs weight_chunk_bits (the staging "
                             "memories hold one chunk per half)")
        if not isinstance(self.flash, FlashTiming):
            raise ValueError(f"flash must be a FlashTiming, not {self.flash!r}")

    @property
    def in_flash(self) -> bool:
        """The weights live in the on-chip flash (``weight_store == "flash"``)."""
        return self.weight_store == WeightStore.FLASH

    @property
    def lanes(self) -> int:
        """Lanes of an activation word (``pe_rows``)."""
        return self.pe_rows

    def __str__(self):
        return f"{self.pe_rows}x{self.pe_cols}"
