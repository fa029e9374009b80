"""Deterministic generated weights, for networks without a weights file."""

import zlib

import numpy as np

from ..ir import Graph

__all__ = ["generate_weights"]


def generate_weights(graph: Graph, seed: int = 0) -> Graph:
    """Return ``graph`` with seeded random weights attached.

    Weights are He-normal (``std = sqrt(2 / fan_in)``), so that activations keep their scale
    through ReLU layers; biases are small (``N(0.05, 0.02)``). Each layer draws from its own
    stream seeded by ``seed`` and the layer name, so a layer's weights do not change when
    other layers do.
    """
    params = {}
    for name, (wshape, bshape) in graph.weight_shapes().items():
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        fan_in = wshape[1] * wshape[2] * wshape[3]
        w = rng.standard_normal(wshape) * np.sqrt(2.0 / fan_in)
        b = rng.normal(0.05, 0.02, size=bshape)
        params[name] = {"weight": w.astype(np.float32), "bias": b.astype(np.float32)}
    return graph.replace(params=params)
