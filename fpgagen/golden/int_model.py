"""The golden model: integer-only execution of a quantized graph.

Every value is an integer code (``int64`` arrays); the arithmetic is that of
``docs/numerics.md`` and of :mod:`fpgagen.golden.primitives`.
"""

import numpy as np

from ..errors import FpgagenError
from ..ir import (Add, AddQuant, AvgPoolQuant, Concat, Conv2d, ConvQuant, GlobalAvgPool, Graph,
                  MaxPool, Relu)
from .primitives import conv2d_int, global_sum, maxpool, requantize, rshift_round, saturate

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
        ins = [env[i] for i in node.inputs]
        op, lq, t_out = node.op, q.layers.get(node.name), q.types[node.name]
        if isinstance(op, Conv2d):
            assert isinstance(lq, ConvQuant)
            acc = conv2d_int(ins[0], lq.weight, lq.bias, op.stride, op.padding)
            y = requantize(acc, lq.shift[:, None, None], t_out, relu=op.relu)
        elif isinstance(op, Relu):
            y = saturate(np.maximum(ins[0], 0), t_out)
        elif isinstance(op, MaxPool):
            y = maxpool(ins[0], op.kernel, op.stride, op.padding, op.ceil_mode)
        elif isinstance(op, GlobalAvgPool):
            assert isinstance(lq, AvgPoolQuant)
            y = requantize(global_sum(ins[0]) * lq.multiplier, lq.shift, t_out)
        elif isinstance(op, Concat):
            y = np.concatenate(ins, axis=0)
        elif isinstance(op, Add):
            assert isinstance(lq, AddQuant)
            total = rshift_round(ins[0], -lq.left_a) + rshift_round(ins[1], -lq.left_b)
            y = requantize(total, lq.shift, t_out)
        else:
            raise FpgagenError(f"golden model: no rule for {op.kind} node {node.name!r}")
        env[node.name] = y
    if keep_all:
        return env
    return {o: env[o] for o in graph.outputs}


def scores(graph: Graph, codes: np.ndarray, tensor: str | None = None) -> np.ndarray:
    """Real values of output codes (``codes * 2**-frac``) as float64, flattened."""
    t = graph.quant.types[tensor or graph.outputs[0]]
    return np.asarray(codes, dtype=np.float64).ravel() * t.step
