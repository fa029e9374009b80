"""Per-layer weight formats chosen to fit a weight-storage budget with the least loss.

Each conv layer is moved alone to each cheaper candidate format; that move's cost is the
rise of the integer model's output noise (relative to the float model, on a few images) and
its gain the bytes of weight storage it saves, both measured on the compiled program
(:meth:`fpgagen.schedule.program.Program.weight_storage`). Moves are then taken greedily,
the least loss per byte saved first, until the compiled weights (lowered again after every
move: the exact figure) fit the budget.

A layer's quantization depends only on its own weights, its format and the calibrated
tensor types, which no format changes: the graph of a mixed choice is the base graph with
the layers' :class:`~fpgagen.ir.quant.ConvQuant` taken from the graph quantized wholly in
their formats.
"""

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import FpgagenError
from ..golden.float_model import bgr_to_float_chw, run_float
from ..golden.int_model import run_int
from ..hw.params import HwParams
from ..ir import Conv2d, Graph
from ..ir.weight_format import WeightFormat
from ..passes import QuantConfig, generated_calibration_images, quantize

__all__ = ["LayerFormatChoice", "choose_layer_formats"]

log = logging.getLogger(__name__)


@dataclass
class LayerFormatChoice:
    """What :func:`choose_layer_formats` chose.

    Attributes
    ----------
    formats : dict
        ``{conv layer: format text}`` of the layers moved off the base format.
    total_bytes : int
        Weight storage of the compiled choice (``weight_storage()["total"]``).
    base_bytes : int
        Weight storage with every layer in the base format.
    budget : int
    fits : bool
        ``total_bytes <= budget`` (else every move was taken and it still does not).
    moves : dict
        ``{(layer, format text): {"loss": relative output noise added, "saved": bytes}}``,
        each measured with that layer alone moved.
    """

    formats: dict
    total_bytes: int
    base_bytes: int
    budget: int
    fits: bool
    moves: dict = field(default_factory=dict)

    def flags(self) -> list[str]:
        """``--layer-format LAYER=FORMAT`` for every moved layer."""
        return [f"--layer-format {k}={v}" for k, v in self.formats.items()]


def _compose(base: Graph, by_format: dict, formats: dict) -> Graph:
    layers = dict(base.quant.layers)
    for layer, fmt in formats.items():
        layers[layer] = by_format[fmt].quant.layers[layer]
    return base.replace(quant=replace(base.quant, layers=layers))


def choose_layer_formats(float_graph: Graph, budget: int, candidates, *, hw: HwParams,
                         config: QuantConfig = QuantConfig(), calibration_images=None,
                         images=None) -> LayerFormatChoice:
    """Per-layer weight formats of ``float_graph`` whose compiled weights fit ``budget``
    bytes, losing the least (see the module docstring).

    Parameters
    ----------
    float_graph : Graph
    budget : int
        Most bytes of weight storage (weight banks, masks and codebooks).
    candidates : sequence of str or WeightFormat
        Formats a layer may move to.
    hw : HwParams
        The PE array the program is lowered to (the storage depends on it).
    config : QuantConfig
        The base quantization; layers its ``layer_formats`` names keep their format.
    calibration_images : array, optional
        ``(N, S, S, 3)`` uint8 BGR images for calibration (default: generated).
    images : array, optional
        Images the output noise is measured on (default: two generated images).
    """
    from ..schedule.lower import lower

    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise FpgagenError(f"weight budget must be a positive number of bytes, not {budget!r}")
    fmts = [str(WeightFormat.parse(c) if isinstance(c, str) else c) for c in candidates]
    if not fmts:
        raise FpgagenError("no candidate weight format to choose from")
    base = quantize(float_graph, config, calibration_images=calibration_images)
    by_format = {f: quantize(float_graph, replace(config, weight_format=WeightFormat.parse(f),
                                                  layer_formats={}),
                             calibration_images=calibration_images) for f in fmts}
    if images is None:
        images = generated_calibration_images(float_graph, 2, seed=1)
    out = float_graph.outputs[0]
    refs = [np.asarray(run_float(float_graph, bgr_to_float_chw(im, float_graph.mean))[out],
                       np.float64) for im in images]
    signal = max(sum(float(np.sum(r ** 2)) for r in refs), 1e-30)
    step = base.quant.types[out].step

    def noise(g: Graph) -> float:
        return sum(float(np.sum((run_int(g, im)[out].astype(np.float64) * step - r) ** 2))
                   for im, r in zip(images, refs)) / signal

    def storage(formats: dict) -> int:
        return int(lower(_compose(base, by_format, formats), hw).weight_storage()["total"])

    base_bytes = storage({})
    if base_bytes <= budget:
        return LayerFormatChoice({}, base_bytes, base_bytes, budget, True)
    base_noise = noise(base)
    layers = [n.name for n in float_graph.nodes
              if isinstance(n.op, Conv2d) and n.name not in config.layer_formats]
    moves = {}
    for layer in layers:
        current = str(config.format_of(layer))
        for f in fmts:
            if f == current:
                continue
            saved = base_bytes - storage({layer: f})
            if saved <= 0:
                continue
            loss = max(noise(_compose(base, by_format, {layer: f})) - base_noise, 0.0)
            moves[(layer, f)] = {"loss": loss, "saved": saved}
            log.info("layer %s as %s: saves %d bytes, output noise +%.3g", layer, f, saved,
                     loss)
    chosen: dict = {}
    total = base_bytes
    while total > budget:
        best, best_ratio = None, None
        for (layer, f), m in moves.items():
            now = moves.get((layer, chosen[layer])) if layer in chosen else None
            d_saved = m["saved"] - (now["saved"] if now else 0)
            if d_saved <= 0:
                continue
            ratio = (m["loss"] - (now["loss"] if now else 0.0)) / d_saved
            if best_ratio is None or ratio < best_ratio:
                best, best_ratio = (layer, f), ratio
        if best is None:
            break
        chosen[best[0]] = best[1]
        total = storage(chosen)
        log.info("per-layer formats: %s as %s, weights %d bytes (budget %d)", best[0],
                 best[1], total, budget)
    return LayerFormatChoice(chosen, total, base_bytes, budget, total <= budget,
                             {f"{k[0]}={k[1]}": v for k, v in moves.items()})
