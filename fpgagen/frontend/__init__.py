"""Front ends: weights from ``.npz`` and ONNX files, generated weights, images."""

from .generated import generate_weights
from .images import bgr_to_float_chw, load_image_bgr
from .npz import attach_weights, load_npz_weights, npz_key, save_npz_weights
from .onnx_export import export_onnx
from .onnx_import import load_onnx

__all__ = ["generate_weights", "bgr_to_float_chw", "load_image_bgr", "attach_weights",
           "load_npz_weights", "npz_key", "save_npz_weights", "load_onnx", "export_onnx"]
