"""Size parameters of the generated accelerator (``docs/hardware.md``)."""

from dataclasses import dataclass

__all__ = ["HwParams", "PE_SIZES"]

#: Allowed values of ``pe_rows`` and ``pe_cols``.
PE_SIZES = (2, 4, 8, 16, 32, 64)


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

    Raises
    ------
    ValueError
        For a size that is not a power of two in 2..64, or a non-square array.
    """

    pe_rows: int = 16
    pe_cols: int = 16

    def __post_init__(self):
        for name in ("pe_rows", "pe_cols"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v not in PE_SIZES:
                raise ValueError(f"{name} must be a power of two in 2..64, not {v!r}")
        if self.pe_rows != self.pe_cols:
            raise ValueError(f"the PE array must be square for now (pe_rows == pe_cols), not "
                             f"{self.pe_rows}x{self.pe_cols}")

    @property
    def lanes(self) -> int:
        """Lanes of an activation word (``pe_rows``)."""
        return self.pe_rows

    def __str__(self):
        return f"{self.pe_rows}x{self.pe_cols}"
