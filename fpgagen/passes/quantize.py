"""Post-training quantization to dynamic fixed point (as Ristretto): ``activation_bits``-bit
activations (8 by default),
``weight_bits``-bit weights, one power-of-two scale per tensor and per layer's weights (per
output channel for dense weights), the weights of a layer dense or shared through a codebook
(:class:`~fpgagen.ir.weight_format.WeightFormat`)."""

import math
from dataclasses import dataclass, field

from ..errors import FpgagenError
from ..hw.spec import ACC_BITS, INPUT_CODE_BITS, check_activation_bits, check_weight_bits
from ..ir import Conv2d, Graph, GraphQuant, QType
from ..ir.weight_format import DENSE, WeightFormat
from ..numerics.fixed_point import SHIFT_CLAMP_LEFT, SHIFT_CLAMP_RIGHT, choose_frac
from ..operators import rules_for
from .calibrate import calibration_ranges, generated_calibration_images

__all__ = ["QuantConfig", "Quantize", "quantize", "INPUT_TYPE", "ACC_BITS", "SHIFT_CLAMP_RIGHT",
           "SHIFT_CLAMP_LEFT", "choose_frac", "QuantContext"]

#: Network input codes: ``pixel - round(mean)``, exact in 9-bit two's complement.
INPUT_TYPE = QType(INPUT_CODE_BITS, 0, True)


@dataclass(frozen=True)
class QuantConfig:
    """Options of the quantization pass."""

    weight_bits: int = 8  #: weight code width, 4..12
    #: activation code width, 8..12 (held in lanes of ``max(9, activation_bits + 1)`` bits)
    activation_bits: int = 8
    output_bits: int = 16  #: width of the network's outputs (class scores)
    per_channel: bool = True  #: one weight scale per output channel (else per layer); dense only
    #: storage of every conv layer's weights not named in ``layer_formats``
    weight_format: WeightFormat = DENSE
    #: ``{conv layer name: WeightFormat}``, overriding ``weight_format`` for those layers
    layer_formats: dict = field(default_factory=dict, hash=False)

    def __post_init__(self):
        try:
            check_weight_bits(self.weight_bits)
            check_activation_bits(self.activation_bits)
        except ValueError as e:
            raise FpgagenError(str(e)) from None
        object.__setattr__(self, "weight_format", _weight_format(self.weight_format))
        if not isinstance(self.layer_formats, dict):
            raise FpgagenError(f"layer_formats must be a dict {{layer name: WeightFormat}}, "
                               f"not {self.layer_formats!r}")
        object.__setattr__(self, "layer_formats", {str(k): _weight_format(v)
                                                   for k, v in self.layer_formats.items()})

    def format_of(self, layer: str) -> WeightFormat:
        """The weight format of conv layer ``layer``."""
        return self.layer_formats.get(layer, self.weight_format)

    def check_layers(self, graph: Graph) -> None:
        """Refuse ``layer_formats`` naming a layer that is not a conv layer of ``graph``."""
        convs = [n.name for n in graph.nodes if isinstance(n.op, Conv2d)]
        unknown = [name for name in self.layer_formats if name not in convs]
        if unknown:
            raise FpgagenError(f"weight format for {', '.join(map(repr, unknown))}: no such "
                               f"conv layer in {graph.name}; its conv layers are "
                               f"{', '.join(convs)}")


def _weight_format(value) -> WeightFormat:
    """A :class:`WeightFormat`, or its text form parsed."""
    if isinstance(value, str):
        return WeightFormat.parse(value)
    if not isinstance(value, WeightFormat):
        raise FpgagenError(f"a weight format must be a WeightFormat or text such as "
                           f"'pruned:8', not {value!r}")
    return value


@dataclass(frozen=True)
class QuantContext:
    """What an operator's quantization rule may read: the float graph and the options."""

    graph: Graph
    config: QuantConfig


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
    """Which tensors can never be negative, from the structure alone (each operator's
    rule)."""
    nonneg = {graph.input_name: False}
    for n in graph.nodes:
        rules = rules_for(n.op, "quantization")
        nonneg[n.name] = rules.nonnegative(n, [nonneg[i] for i in n.inputs])
    return nonneg


def _range(graph: Graph, tensor: str, ranges: dict, types: dict) -> float:
    """The magnitude ``tensor``'s type must hold: its calibrated range, and for a network
    output whose operator never exceeds its input (an average: ``bounded_by_input``) at
    least the largest value of the input's type, so the class scores never saturate (a
    saturated score ties the top classes; calibration on generated images sees them too
    small)."""
    r = ranges[tensor]
    if tensor in graph.outputs:
        node = graph.node(tensor)
        if rules_for(node.op, "quantization").bounded_by_input:
            t_in = types[node.inputs[0]]
            r = max(r, max(abs(t_in.min), abs(t_in.max)) * t_in.step)
    return r


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
        for n in graph.nodes:
            rules_for(n.op, "quantization")  # every operator has rules, before calibrating
        self.config.check_layers(graph)
        images = self.calibration_images
        if images is None:
            images = generated_calibration_images(graph)
        ranges = calibration_ranges(graph, images)
        types = self._tensor_types(graph, ranges)
        layers = {}
        ctx = QuantContext(graph=graph, config=self.config)
        for n in graph.nodes:
            rules = rules_for(n.op, "quantization")
            lq = rules.quantize(ctx, n, [types[i] for i in n.inputs], types[n.name])
            if lq is not None:
                layers[n.name] = lq
        input_mean = tuple(int(math.floor(m + 0.5)) for m in graph.mean)
        quant = GraphQuant(types=types, layers=layers, input_mean=input_mean,
                           weight_bits=self.config.weight_bits,
                           activation_bits=self.config.activation_bits)
        return graph.replace(quant=quant), True

    def _tensor_types(self, graph, ranges):
        cfg = self.config
        nonneg = _nonnegative(graph)
        groups = _Groups()
        for n in graph.nodes:
            if rules_for(n.op, "quantization").shares_input_type:
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
                frac = choose_frac(max(_range(graph, t, ranges, types) for t in tensors), qmax)
                qt = QType(bits, frac, signed)
            for t in tensors:
                types[t] = qt
        return types


def quantize(graph: Graph, config: QuantConfig = QuantConfig(), calibration_images=None):
    """The quantized graph (see :class:`Quantize`)."""
    return Quantize(config, calibration_images).apply(graph)[0]
