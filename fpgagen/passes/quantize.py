"""Post-training quantization to dynamic fixed point (as Ristretto): 8-bit activations,
``weight_bits``-bit weights, one power-of-two scale per tensor and per layer's weights."""

import math
from dataclasses import dataclass

import numpy as np

from ..errors import FpgagenError
from ..golden.primitives import accumulator_bits
from ..ir import (Add, AddQuant, AvgPoolQuant, Concat, Conv2d, ConvQuant, GlobalAvgPool, Graph,
                  GraphQuant, MaxPool, QType, Relu)
from .calibrate import calibration_ranges, generated_calibration_images

__all__ = ["QuantConfig", "Quantize", "quantize", "INPUT_TYPE", "ACC_BITS", "SHIFT_CLAMP_RIGHT",
           "SHIFT_CLAMP_LEFT", "AVGPOOL_MULT_BITS", "choose_frac"]

#: Largest right shift of a conv's requantization: ``acc + bias`` fits 32 bits (checked), so
#: it rounds to 0 for any shift of 33 or more, and larger shifts are stored as this one.
SHIFT_CLAMP_RIGHT = 40
#: Largest left shift (negative shift): any non-zero accumulator shifted left by 32 already
#: saturates every output type (16 bits at most), so larger ones are stored as this one.
SHIFT_CLAMP_LEFT = 32

#: Network input codes: ``pixel - round(mean)``, exact in 9-bit two's complement.
INPUT_TYPE = QType(9, 0, True)
#: Accumulator width of the hardware; layers that could exceed it are refused.
ACC_BITS = 32
#: The global average pool's reciprocal multiplier is an unsigned integer of this width.
AVGPOOL_MULT_BITS = 16


@dataclass(frozen=True)
class QuantConfig:
    """Options of the quantization pass."""

    weight_bits: int = 8  #: weight code width, 4..8
    activation_bits: int = 8  #: activation code width
    output_bits: int = 16  #: width of the network's outputs (class scores)
    per_channel: bool = True  #: one weight scale per output channel (else per layer)

    def __post_init__(self):
        if not isinstance(self.weight_bits, int) or not 4 <= self.weight_bits <= 8:
            raise FpgagenError(f"weight_bits must be an integer in 4..8, not {self.weight_bits!r}")


def choose_frac(max_abs: float, qmax: int) -> int:
    """Largest fractional bit count whose scale still represents ``max_abs`` within
    ``qmax`` codes after rounding to nearest."""
    if not max_abs > 0:
        return 0
    frac = math.floor(math.log2(qmax / max_abs))
    while round(max_abs * 2.0 ** (frac + 1)) <= qmax:
        frac += 1
    while round(max_abs * 2.0 ** frac) > qmax:
        frac -= 1
    return max(-32, min(32, frac))


class _Groups:
    """Union-find over tensors that must share one type (concat inputs and output, max pool
    input and output), so concatenation and pooling never rescale."""

    def __init__(self):
        self.parent = {}

    def find(self, t):
        self.parent.setdefault(t, t)
        while self.parent[t] != t:
            self.parent[t] = self.parent[self.parent[t]]
            t = self.parent[t]
        return t

    def union(self, a, b):
        self.parent[self.find(a)] = self.find(b)


def _nonnegative(graph: Graph) -> dict[str, bool]:
    """Which tensors can never be negative, from the structure alone."""
    nonneg = {graph.input_name: False}
    for n in graph.nodes:
        op, ins = n.op, [nonneg[i] for i in n.inputs]
        if isinstance(op, Conv2d):
            nonneg[n.name] = op.relu
        elif isinstance(op, Relu):
            nonneg[n.name] = True
        else:
            nonneg[n.name] = all(ins)
    return nonneg


class Quantize:
    """Attach integer weights, shifts and a ``QType`` to every tensor (``graph.quant``).

    ``apply(graph) -> (graph, changed)``; the float graph is left as it is.
    """

    def __init__(self, config: QuantConfig = QuantConfig(), calibration_images=None):
        self.config = config
        self.calibration_images = calibration_images

    def apply(self, graph: Graph):
        if not graph.params:
            raise FpgagenError(f"graph {graph.name!r} has no weights to quantize")
        images = self.calibration_images
        if images is None:
            images = generated_calibration_images(graph)
        ranges = calibration_ranges(graph, images)
        types = self._tensor_types(graph, ranges)
        layers = {}
        for n in graph.nodes:
            t_in = [types[i] for i in n.inputs]
            t_out = types[n.name]
            if isinstance(n.op, Conv2d):
                layers[n.name] = self._conv(graph, n, t_in[0], t_out)
            elif isinstance(n.op, GlobalAvgPool):
                h, w = graph.in_shapes(n)[0][1:]
                layers[n.name] = _avgpool_quant(h * w, t_in[0], t_out)
            elif isinstance(n.op, Add):
                fine = max(t.frac for t in t_in)
                layers[n.name] = AddQuant(fine - t_in[0].frac, fine - t_in[1].frac,
                                          fine - t_out.frac)
        input_mean = tuple(int(math.floor(m + 0.5)) for m in graph.mean)
        quant = GraphQuant(types=types, layers=layers, input_mean=input_mean,
                           weight_bits=self.config.weight_bits)
        return graph.replace(quant=quant), True

    def _tensor_types(self, graph, ranges):
        cfg = self.config
        nonneg = _nonnegative(graph)
        groups = _Groups()
        for n in graph.nodes:
            if isinstance(n.op, (Concat, MaxPool)):
                for i in n.inputs:
                    groups.union(i, n.name)
        members = {}
        for t in [graph.input_name, *(n.name for n in graph.nodes)]:
            members.setdefault(groups.find(t), []).append(t)
        types = {}
        for tensors in members.values():
            if graph.input_name in tensors:
                qt = INPUT_TYPE
            else:
                signed = not all(nonneg[t] for t in tensors)
                bits = cfg.output_bits if any(t in graph.outputs for t in tensors) \
                    else cfg.activation_bits
                qmax = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
                frac = choose_frac(max(ranges[t] for t in tensors), qmax)
                qt = QType(bits, frac, signed)
            for t in tensors:
                types[t] = qt
        return types

    def _conv(self, graph, node, t_in, t_out):
        wb = self.config.weight_bits
        p = graph.params[node.name]
        w, b = p["weight"].astype(np.float64), p["bias"].astype(np.float64)
        qmax = (1 << (wb - 1)) - 1
        if self.config.per_channel:
            maxima = np.abs(w).reshape(w.shape[0], -1).max(axis=1)
        else:
            maxima = np.full(w.shape[0], np.abs(w).max())
        w_frac = np.array([choose_frac(float(m), qmax) for m in maxima], dtype=np.int64)
        scale = 2.0 ** w_frac.astype(np.float64)
        w_int = np.clip(np.round(w * scale[:, None, None, None]), -qmax - 1, qmax)
        acc_frac = t_in.frac + w_frac
        b_int = np.round(b * 2.0 ** acc_frac.astype(np.float64)).astype(np.int64)
        terms = int(np.prod(w.shape[1:]))
        acc = accumulator_bits(terms, t_in, QType(wb, 0, True),
                               int(np.abs(b_int).max(initial=0)))
        if acc > ACC_BITS:
            raise FpgagenError(f"layer {node.name!r}: worst-case accumulator needs {acc} bits "
                               f"(> {ACC_BITS}); its bias or reduction length is too large")
        # Shifts beyond these bounds give the same codes (0, or saturation) for any 32-bit
        # accumulator, and keep both the golden model's int64 shifts and the hardware's
        # 6-bit shifter well defined.
        shift = np.clip(acc_frac - t_out.frac, -SHIFT_CLAMP_LEFT, SHIFT_CLAMP_RIGHT)
        return ConvQuant(weight=w_int.astype(np.int8), weight_bits=wb, weight_frac=w_frac,
                         bias=b_int, shift=shift, acc_bits=acc)


def _avgpool_quant(count: int, t_in: QType, t_out: QType) -> AvgPoolQuant:
    """Multiplier and shift with ``multiplier / 2**shift ~ 2**(out.frac - in.frac) / count``,
    the multiplier using all ``AVGPOOL_MULT_BITS`` bits."""
    target = 2.0 ** (t_out.frac - t_in.frac) / count
    shift = AVGPOOL_MULT_BITS - 1 - math.floor(math.log2(target))
    mult = round(target * 2.0 ** shift)
    if mult >= 1 << AVGPOOL_MULT_BITS:
        mult, shift = round(target * 2.0 ** (shift - 1)), shift - 1
    return AvgPoolQuant(multiplier=int(mult), shift=int(shift))


def quantize(graph: Graph, config: QuantConfig = QuantConfig(), calibration_images=None):
    """The quantized graph (see :class:`Quantize`)."""
    return Quantize(config, calibration_images).apply(graph)[0]
