"""Integer parameters attached to a graph by the quantization pass."""

from dataclasses import dataclass, field

import numpy as np

from .types import QType

__all__ = ["ConvQuant", "AvgPoolQuant", "AddQuant", "GraphQuant"]


@dataclass
class ConvQuant:
    """Integer form of one conv2d: ``y = sat(rshift_round(sum(x*w) + bias, shift))``.

    Weights of output channel ``o`` have their own power-of-two scale ``weight_frac[o]``
    (per-channel dynamic fixed point); bias and shift follow it.

    Attributes
    ----------
    weight : np.ndarray
        int8 codes ``(O, I, kh, kw)``, each within ``weight_bits`` signed bits.
    weight_bits : int
    weight_frac : np.ndarray
        int64 ``(O,)``: real weight = code * 2**-weight_frac[o].
    bias : np.ndarray
        int64 codes ``(O,)`` at accumulator scale (``in.frac + weight_frac[o]``).
    shift : np.ndarray
        int64 ``(O,)`` right shift from accumulator to output scale (negative: left).
    acc_bits : int
        Worst-case accumulator width (sign included) over all possible inputs.
    """

    weight: np.ndarray
    weight_bits: int
    weight_frac: np.ndarray
    bias: np.ndarray
    shift: np.ndarray
    acc_bits: int


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
    """

    types: dict[str, QType]
    layers: dict = field(default_factory=dict)
    input_mean: tuple[int, ...] = (0, 0, 0)
    weight_bits: int = 8

    def weights_by_layer(self) -> dict[str, np.ndarray]:
        """int8 weight codes of every conv layer."""
        return {k: v.weight for k, v in self.layers.items() if isinstance(v, ConvQuant)}
