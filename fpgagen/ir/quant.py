"""Integer parameters attached to a graph by the quantization pass."""

from dataclasses import dataclass, field

import numpy as np

from ..hw.spec import act_lane_bits
from .types import QType

#: Narrowest and widest codebook index a compressed layer may store.
MIN_INDEX_BITS, MAX_INDEX_BITS = 2, 8

__all__ = ["MIN_INDEX_BITS", "MAX_INDEX_BITS", "ConvQuant", "AvgPoolQuant", "AddQuant", "GraphQuant"]


@dataclass
class ConvQuant:
    """Integer form of one conv2d: ``y = sat(rshift_round(sum(x*w) + bias, shift))``.

    Weights of output channel ``o`` have their own power-of-two scale ``weight_frac[o]``
    (per-channel dynamic fixed point); bias and shift follow it.

    Attributes
    ----------
    weight : np.ndarray
        int16 codes ``(O, I, kh, kw)``, each within ``weight_bits`` signed bits.
    weight_bits : int
    weight_frac : np.ndarray
        int64 ``(O,)``: real weight = code * 2**-weight_frac[o].
    bias : np.ndarray
        int64 codes ``(O,)`` at accumulator scale (``in.frac + weight_frac[o]``).
    shift : np.ndarray
        int64 ``(O,)`` right shift from accumulator to output scale (negative: left).
    acc_bits : int
        Worst-case accumulator width (sign included) over all possible inputs.
    codebook : np.ndarray or None
        Compressed layers only: int64 codes ``(K,)`` of the layer's shared weight values,
        ``K <= 2**index_bits`` (one ``weight_frac`` for the whole layer).
    index : np.ndarray or None
        Compressed layers only: int64 ``(O, I, kh, kw)``, the codebook entry of every
        weight, or -1 for a weight that is not stored (a pruned zero).
    index_bits : int
        Width of a stored index (2..8); 0 for a dense layer.

    A compressed layer's ``weight`` is its decoded form, ``where(index >= 0,
    codebook[index], 0)``: the golden model computes with it, the hardware stores
    ``codebook`` and ``index`` and decodes them.
    """

    weight: np.ndarray
    weight_bits: int
    weight_frac: np.ndarray
    bias: np.ndarray
    shift: np.ndarray
    acc_bits: int
    codebook: np.ndarray | None = None
    index: np.ndarray | None = None
    index_bits: int = 0

    def __post_init__(self):
        if self.codebook is None and self.index is None:
            return
        cb, idx = np.asarray(self.codebook), np.asarray(self.index)
        if self.codebook is None or self.index is None:
            raise ValueError("a compressed layer needs both codebook and index")
        if not MIN_INDEX_BITS <= self.index_bits <= MAX_INDEX_BITS:
            raise ValueError(f"index_bits must be in {MIN_INDEX_BITS}..{MAX_INDEX_BITS}, not "
                             f"{self.index_bits!r}")
        if cb.ndim != 1 or not 1 <= len(cb) <= 1 << self.index_bits:
            raise ValueError(f"codebook must have 1..{1 << self.index_bits} entries, not "
                             f"shape {cb.shape}")
        if idx.shape != np.shape(self.weight):
            raise ValueError(f"index shape {idx.shape} differs from weight shape "
                             f"{np.shape(self.weight)}")
        if idx.size and (idx.min() < -1 or idx.max() >= len(cb)):
            raise ValueError(f"index values {idx.min()}..{idx.max()} outside -1..{len(cb) - 1}")
        decoded = np.where(idx >= 0, cb[np.maximum(idx, 0)], 0)
        if not np.array_equal(decoded, np.asarray(self.weight, dtype=np.int64)):
            raise ValueError("weight is not where(index >= 0, codebook[index], 0)")

    @property
    def compressed(self) -> bool:
        """The hardware stores this layer as codebook indices."""
        return self.codebook is not None


@dataclass
class AvgPoolQuant:
    """Global average pool: ``y = sat(rshift_round(sum(x) * multiplier, shift))``, where
    ``multiplier / 2**shift`` approximates ``2**(out.frac - in.frac) / (H * W)``."""

    multiplier: int
    shift: int


@dataclass
class AddQuant:
    """Element-wise add: ``y = sat(rshift_round((a << la) + (b << lb), shift))``; ``la`` and
    ``lb`` align both inputs to the finer of their two scales."""

    left_a: int
    left_b: int
    shift: int


@dataclass
class GraphQuant:
    """Everything integer about a quantized graph.

    Attributes
    ----------
    types : dict
        ``{tensor name: QType}`` for the input and every node output.
    layers : dict
        ``{node name: ConvQuant | AvgPoolQuant | AddQuant}`` for nodes that rescale.
    input_mean : tuple of int
        Integer per-channel mean subtracted from the raw uint8 pixels to form the input codes.
    weight_bits : int
    activation_bits : int
        Width of the activation codes (8..12; the class scores are wider): the hardware
        holds them in lanes of ``max(9, activation_bits + 1)`` bits and saturates to it.
    """

    types: dict[str, QType]
    layers: dict = field(default_factory=dict)
    input_mean: tuple[int, ...] = (0, 0, 0)
    weight_bits: int = 8
    activation_bits: int = 8

    @property
    def act_lane_bits(self) -> int:
        """Width of the activation lanes that hold these codes
        (:func:`fpgagen.hw.spec.act_lane_bits`)."""
        return act_lane_bits(self.activation_bits)

    def weights_by_layer(self) -> dict[str, np.ndarray]:
        """Weight codes (int16) of every conv layer."""
        return {k: v.weight for k, v in self.layers.items() if isinstance(v, ConvQuant)}
