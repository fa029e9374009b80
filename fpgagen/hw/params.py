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
    weight_chunk_bits : int or None
        Most bits of weight data per PE column that one CONV instruction may use (the
        budget of a staging memory its weights are loaded into): the lowering splits every
        CONV instruction into chunks of consecutive output groups that fit, as measured by
        :func:`fpgagen.schedule.weight_chunks.instruction_weight_bits`. ``None``: no
        budget, one instruction per band (or channel chunk) of a layer.

    Raises
    ------
    ValueError
        For a size that is not a power of two in 2..64, a non-square array, or a
        ``weight_chunk_bits`` that is not a positive integer.
    """

    pe_rows: int = 16
    pe_cols: int = 16
    weight_chunk_bits: int | None = None

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

    @property
    def lanes(self) -> int:
        """Lanes of an activation word (``pe_rows``)."""
        return self.pe_rows

    def __str__(self):
        return f"{self.pe_rows}x{self.pe_cols}"
