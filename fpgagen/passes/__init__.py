"""Graph transformations, one per module; each a class with ``apply(graph)``."""

from .calibrate import calibration_ranges, generated_calibration_images
from .fuse_relu import FuseRelu
from .quantize import QuantConfig, Quantize, quantize

__all__ = ["calibration_ranges", "generated_calibration_images", "FuseRelu", "QuantConfig",
           "Quantize", "quantize"]
