"""The compile flow as named steps over one typed configuration."""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import FpgagenError
from .frontend import generate_weights, load_image_bgr, load_npz_weights
from .ir import Graph
from .ir.weight_format import DENSE, WeightFormat
from .nets import NetOptions, build_net
from .passes import QuantConfig, quantize

__all__ = ["FlowConfig", "step_import", "step_quantize", "load_images", "WEIGHT_SEED"]

log = logging.getLogger(__name__)

#: Seed of the generated weights when no weights file is given.
WEIGHT_SEED = 0


@dataclass(frozen=True)
class FlowConfig:
    """Everything that decides the compiled network."""

    net: str = "squeezenet"  #: catalog network name (see ``fpgagen info --list``)
    weights: Path | None = None  #: ``.npz`` or ``.onnx`` weights; ``None``: generated weights
    net_options: NetOptions = field(default_factory=NetOptions)  #: input size, classes, width
    weight_bits: int = 8  #: weight code width, 4..8
    #: activation code width, 8..12 (lanes of ``max(9, activation_bits + 1)`` bits)
    activation_bits: int = 8
    weight_format: WeightFormat = DENSE  #: storage of the conv weights (dense or a codebook)
    #: ``{conv layer name: WeightFormat}`` overriding ``weight_format`` for those layers
    layer_formats: dict = field(default_factory=dict, hash=False)
    calibration: tuple[Path, ...] = ()  #: images for calibration; empty: generated images


def step_import(cfg: FlowConfig) -> Graph:
    """The float graph: the catalog topology with weights from ``cfg.weights`` (``.npz``),
    the topology and weights of an ONNX file, or generated weights."""
    if cfg.weights is not None and Path(cfg.weights).suffix.lower() == ".onnx":
        from .frontend.onnx_import import load_onnx

        ref = build_net(cfg.net, cfg.net_options)
        log.info("importing %s", cfg.weights)
        return load_onnx(cfg.weights, mean=ref.mean)
    graph = build_net(cfg.net, cfg.net_options)
    if cfg.weights is None:
        log.info("no weights file: generated weights (seed %d)", WEIGHT_SEED)
        return generate_weights(graph, seed=WEIGHT_SEED)
    log.info("loading weights %s", cfg.weights)
    return load_npz_weights(graph, cfg.weights)


def load_images(paths, input_size: int) -> np.ndarray:
    """Decode and pre-process image files to ``(N, S, S, 3)`` uint8 BGR crops."""
    return np.stack([load_image_bgr(p, input_size) for p in paths])


def step_quantize(graph: Graph, cfg: FlowConfig) -> Graph:
    """The quantized graph, calibrated on ``cfg.calibration`` images or generated ones."""
    images = None
    if cfg.calibration:
        if graph.input_shape[1] != graph.input_shape[2]:
            raise FpgagenError(f"calibration images need a square input, not "
                               f"{graph.input_shape}")
        images = load_images(cfg.calibration, graph.input_shape[1])
        log.info("calibrating on %d image(s)", len(images))
    else:
        log.info("calibrating on generated images")
    config = QuantConfig(weight_bits=cfg.weight_bits, activation_bits=cfg.activation_bits,
                         weight_format=cfg.weight_format,
                         layer_formats=dict(cfg.layer_formats))
    return quantize(graph, config, calibration_images=images)
