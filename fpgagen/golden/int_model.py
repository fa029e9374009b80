"""The golden model: integer-only execution of a quantized graph.

Every value is an integer code (``int64`` arrays); the arithmetic is that of
``docs/numerics.md``: each operator's rule (:mod:`fpgagen.operators`) computes with the
primitives of :mod:`fpgagen.numerics.primitives`.
"""

import numpy as np

from ..errors import FpgagenError
from ..ir import Graph
from ..operators import rules_for

__all__ = ["input_codes", "run_int", "scores"]


def input_codes(graph: Graph, bgr_u8: np.ndarray) -> np.ndarray:
    """Input codes ``(3, H, W)``: BGR pixels minus the integer mean, channel-major."""
    q = graph.quant
    bgr = np.asarray(bgr_u8)
    if bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3:
        raise FpgagenError(f"expected an (H, W, 3) uint8 BGR image, got {bgr.dtype} "
                           f"{bgr.shape}")
    x = bgr.astype(np.int64) - np.asarray(q.input_mean, dtype=np.int64)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def run_int(graph: Graph, bgr_u8: np.ndarray, keep_all: bool = False) -> dict[str, np.ndarray]:
    """Run one uint8 ``(H, W, 3)`` BGR image through the quantized graph.

    Returns ``{output name: int64 codes}``, or every tensor with ``keep_all``.

    Raises
    ------
    FpgagenError
        For a graph that is not quantized, an image of the wrong size, or an operator
        without golden rules.
    """
    q = graph.quant
    if q is None:
        raise FpgagenError(f"graph {graph.name!r} is not quantized")
    x = input_codes(graph, bgr_u8)
    if tuple(x.shape) != graph.input_shape:
        raise FpgagenError(f"image is {bgr_u8.shape[0]}x{bgr_u8.shape[1]}, {graph.name} "
                           f"expects {graph.input_shape[1]}x{graph.input_shape[2]}")
    env = {graph.input_name: x}
    for node in graph.nodes:
        rules = rules_for(node.op, "golden model")
        env[node.name] = rules.run_int(node, [env[i] for i in node.inputs],
                                       q.layers.get(node.name), q.types[node.name])
    if keep_all:
        return env
    return {o: env[o] for o in graph.outputs}


def scores(graph: Graph, codes: np.ndarray, tensor: str | None = None) -> np.ndarray:
    """Real values of output codes (``codes * 2**-frac``) as float64, flattened."""
    t = graph.quant.types[tensor or graph.outputs[0]]
    return np.asarray(codes, dtype=np.float64).ravel() * t.step
