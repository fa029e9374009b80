"""float32 forward pass of a graph with float weights, following Caffe's rules
(ceil-mode pooling, windows clipped at the edge, ReLU fused where the graph says)."""

import numpy as np

from ..errors import FpgagenError
from ..ir import Add, Concat, Conv2d, GlobalAvgPool, Graph, MaxPool, Relu
from .primitives import conv2d_float, maxpool

__all__ = ["run_float"]


def run_float(graph: Graph, x: np.ndarray, keep_all: bool = False) -> dict[str, np.ndarray]:
    """Run one image. ``x`` is the float32 ``(C, H, W)`` network input (mean already
    subtracted). Returns ``{output name: array}``, or every tensor with ``keep_all``."""
    if not graph.params:
        raise FpgagenError(f"graph {graph.name!r} has no weights attached")
    if tuple(x.shape) != graph.input_shape:
        raise FpgagenError(f"input has shape {tuple(x.shape)}, {graph.name} expects "
                           f"{graph.input_shape}")
    env = {graph.input_name: x.astype(np.float32)}
    for node in graph.nodes:
        ins = [env[i] for i in node.inputs]
        op = node.op
        if isinstance(op, Conv2d):
            p = graph.params[node.name]
            y = conv2d_float(ins[0], p["weight"], p["bias"], op.stride, op.padding)
            if op.relu:
                y = np.maximum(y, 0)
        elif isinstance(op, Relu):
            y = np.maximum(ins[0], 0)
        elif isinstance(op, MaxPool):
            y = maxpool(ins[0], op.kernel, op.stride, op.padding, op.ceil_mode)
        elif isinstance(op, GlobalAvgPool):
            y = ins[0].mean(axis=(1, 2), keepdims=True, dtype=np.float32)
        elif isinstance(op, Concat):
            y = np.concatenate(ins, axis=0)
        elif isinstance(op, Add):
            y = ins[0] + ins[1]
        else:
            raise FpgagenError(f"float model: no rule for {op.kind} node {node.name!r}")
        env[node.name] = y
    if keep_all:
        return env
    return {o: env[o] for o in graph.outputs}
