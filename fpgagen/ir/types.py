"""Fixed-point number types (dynamic fixed point, as Ristretto)."""

from dataclasses import dataclass

__all__ = ["QType"]


@dataclass(frozen=True)
class QType:
    """A fixed-point type: an integer code ``q`` stands for the real value ``q * 2**-frac``.

    Parameters
    ----------
    bits : int
        Width of the integer code, sign bit included.
    frac : int
        Number of fractional bits; may be negative (the step is then larger than 1).
    signed : bool
        Two's complement when true, unsigned otherwise.
    """

    bits: int
    frac: int
    signed: bool = True

    def __post_init__(self):
        if not isinstance(self.bits, int) or not 1 <= self.bits <= 64:
            raise ValueError(f"QType bits must be an int in 1..64, not {self.bits!r}")
        if not isinstance(self.frac, int):
            raise ValueError(f"QType frac must be an int, not {self.frac!r}")

    @property
    def min(self) -> int:
        """Smallest code."""
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        """Largest code."""
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def step(self) -> float:
        """The real value of one code step, ``2**-frac``."""
        return 2.0 ** -self.frac

    def __str__(self):
        return f"{'s' if self.signed else 'u'}{self.bits}.f{self.frac}"
