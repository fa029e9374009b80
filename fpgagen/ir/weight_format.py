"""How a conv layer's weights are stored: dense codes, or a shared codebook and an index per
weight (Deep Compression's weight sharing, optionally with pruned zeros left out)."""

import enum
from dataclasses import dataclass

from ..errors import FpgagenError
from .quant import MAX_INDEX_BITS, MIN_INDEX_BITS

__all__ = ["WeightKind", "WeightFormat", "DENSE"]


class WeightKind(enum.Enum):
    """The storage of a layer's weights."""

    #: one code per weight, one power-of-two scale per output channel
    DENSE = "dense"
    #: ``2**index_bits`` shared values (k-means over the layer), an index per weight
    CODEBOOK = "codebook"
    #: as ``CODEBOOK``, but the zeros of the float weights are not stored (index -1) and
    #: the codebook covers the nonzero weights only
    PRUNED = "pruned"


@dataclass(frozen=True)
class WeightFormat:
    """The storage format of a layer's weights.

    Parameters
    ----------
    kind : WeightKind or str
        ``"dense"``, ``"codebook"`` or ``"pruned"``.
    index_bits : int
        Width of a stored index, 2..8, for ``codebook`` and ``pruned`` (a codebook of at
        most ``2**index_bits`` entries); 0 for ``dense``.

    ``WeightFormat.parse("pruned:8")`` reads the text form, which ``str()`` gives back.
    """

    kind: WeightKind = WeightKind.DENSE
    index_bits: int = 0

    def __post_init__(self):
        kind = self.kind
        if not isinstance(kind, WeightKind):
            try:
                kind = WeightKind(kind)
            except ValueError:
                raise FpgagenError(f"weight format kind must be one of "
                                   f"{', '.join(k.value for k in WeightKind)}, not "
                                   f"{kind!r}") from None
            object.__setattr__(self, "kind", kind)
        bits = self.index_bits
        if kind is WeightKind.DENSE:
            if bits != 0:
                raise FpgagenError(f"a dense weight format has no index bits, not {bits!r}")
        elif isinstance(bits, bool) or not isinstance(bits, int) or \
                not MIN_INDEX_BITS <= bits <= MAX_INDEX_BITS:
            raise FpgagenError(f"{kind.value} index bits must be an integer in "
                               f"{MIN_INDEX_BITS}..{MAX_INDEX_BITS}, not {bits!r}")

    @property
    def compressed(self) -> bool:
        """Stored as codebook indices (``codebook`` or ``pruned``)."""
        return self.kind is not WeightKind.DENSE

    @property
    def pruned(self) -> bool:
        """Zeros of the float weights are not stored."""
        return self.kind is WeightKind.PRUNED

    def __str__(self) -> str:
        return self.kind.value if not self.compressed else f"{self.kind.value}:{self.index_bits}"

    @classmethod
    def parse(cls, text: str) -> "WeightFormat":
        """``"dense"``, ``"codebook:B"`` or ``"pruned:B"`` (B = index bits, 2..8)."""
        if not isinstance(text, str):
            raise FpgagenError(f"a weight format is text such as 'pruned:8', not {text!r}")
        kind, sep, bits = text.strip().lower().partition(":")
        names = [k.value for k in WeightKind]
        if kind not in names:
            raise FpgagenError(f"weight format must be dense, codebook:B or pruned:B (B = "
                               f"{MIN_INDEX_BITS}..{MAX_INDEX_BITS} index bits), not {text!r}")
        if kind == WeightKind.DENSE.value:
            if sep:
                raise FpgagenError(f"weight format 'dense' takes no index bits, not {text!r}")
            return cls(WeightKind.DENSE)
        if not bits.isdigit():
            raise FpgagenError(f"weight format {kind}:B needs the index bits B = "
                               f"{MIN_INDEX_BITS}..{MAX_INDEX_BITS}, not {text!r}")
        if not MIN_INDEX_BITS <= int(bits) <= MAX_INDEX_BITS:
            raise FpgagenError(f"weight format {kind}:B needs {MIN_INDEX_BITS} <= B <= "
                               f"{MAX_INDEX_BITS} index bits, not {text!r}")
        return cls(WeightKind(kind), int(bits))


#: Today's format: per-channel uniform codes.
DENSE = WeightFormat()
