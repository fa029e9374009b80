"""float32 forward pass of a graph with float weights, following Caffe's rules
(ceil-mode pooling, windows clipped at the edge, ReLU fused where the graph says): each
operator's float rule of :mod:`fpgagen.operators`."""

import numpy as np

from ..errors import FpgagenError
from ..ir import Graph
from ..operators import rules_for

__all__ = ["run_float", "bgr_to_float_chw"]


def bgr_to_float_chw(bgr_u8: np.ndarray, mean) -> np.ndarray:
    """float32 CHW input of the float network: BGR pixels minus the per-channel mean."""
    x = bgr_u8.astype(np.float32) - np.asarray(mean, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def run_float(graph: Graph, x: np.ndarray, keep_all: bool = False) -> dict[str, np.ndarray]:
    """Run one image. ``x`` is the float32 ``(C, H, W)`` network input (mean already
    subtracted). Returns ``{output name: array}``, or every tensor with ``keep_all``."""
    if not graph.params:
        raise FpgagenError(f"graph {graph.name!r} has no weights attached")
    if tuple(x.shape) != graph.input_shape:
        raise FpgagenError(f"input has shape {tuple(x.shape)}, {graph.name} expects "
                           f"{graph.input_shape}")
    env = {graph.input_name: x.astype(np.float32)}
    # float32 overflow gives inf and nan, which the callers check (no warning per layer)
    with np.errstate(over="ignore", invalid="ignore"):
        for node in graph.nodes:
            rules = rules_for(node.op, "float model")
            env[node.name] = rules.run_float(node, [env[i] for i in node.inputs],
                                             graph.params)
    if keep_all:
        return env
    return {o: env[o] for o in graph.outputs}
