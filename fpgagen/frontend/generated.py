"""Deterministic generated weights, for networks without a weights file."""

import math
import zlib

import numpy as np

from ..golden.float_model import bgr_to_float_chw
from ..ir import Conv2d, Graph
from ..nets.catalog import BATCHNORM_NETS
from ..operators import rules_for
from ..numerics.primitives import conv2d_float
from ..passes.calibrate import generated_calibration_images
from .batchnorm import batchnorm_float, fold_batchnorm

__all__ = ["generate_weights", "generate_batchnorm_weights", "STATISTICS_IMAGES",
           "MAX_STATISTICS_IMAGES"]

#: Generated images whose statistics the BatchNorm of :func:`generate_batchnorm_weights`
#: holds at 227x227; smaller inputs take more, in proportion to their fewer pixels, up to
#: :data:`MAX_STATISTICS_IMAGES`.
STATISTICS_IMAGES = 4
MAX_STATISTICS_IMAGES = 32


def _rng(seed, name, stream=""):
    return np.random.default_rng([seed, zlib.crc32((name + stream).encode())])


def _he_normal(rng, wshape):
    fan_in = wshape[1] * wshape[2] * wshape[3]
    return rng.standard_normal(wshape) * np.sqrt(2.0 / fan_in)


def generate_weights(graph: Graph, seed: int = 0, batchnorm: bool | None = None) -> Graph:
    """Return ``graph`` with seeded random weights attached.

    Weights are He-normal (``std = sqrt(2 / fan_in)``), so that activations keep their scale
    through ReLU layers; biases are small (``N(0.05, 0.02)``). Each layer draws from its own
    stream seeded by ``seed`` and the layer name, so a layer's weights do not change when
    other layers do.

    ``batchnorm`` (default: whether ``graph.name`` is one of
    :data:`fpgagen.nets.catalog.BATCHNORM_NETS`) gives
    the weights of :func:`generate_batchnorm_weights` instead.
    """
    if batchnorm is None:
        batchnorm = graph.name in BATCHNORM_NETS
    if batchnorm:
        return generate_batchnorm_weights(graph, seed)
    params = {}
    for name, (wshape, bshape) in graph.weight_shapes().items():
        rng = _rng(seed, name)
        w = _he_normal(rng, wshape)
        b = rng.normal(0.05, 0.02, size=bshape)
        params[name] = {"weight": w.astype(np.float32), "bias": b.astype(np.float32)}
    return graph.replace(params=params)


def generate_batchnorm_weights(graph: Graph, seed: int = 0) -> Graph:
    """Return ``graph`` with seeded weights of a network trained with BatchNorm, folded.

    Every conv but the last (the classifier) is a conv without bias (He-normal) followed
    by a BatchNorm whose running mean and variance are the statistics of that conv's
    output on seeded generated images (the "dead leaves" pictures of calibration,
    :func:`~fpgagen.passes.calibrate.generated_calibration_images`; 4 at 227x227, more at
    smaller inputs, up to 32), as training would have them for its data, and whose
    ``gamma ~ N(1, 0.2)`` (at least 0.2) and ``beta ~ N(0.1, 0.1)`` are drawn per channel
    (:func:`_channel_statistics`: where a layer has few output positions, as at reduced
    inputs, the statistics lean on the layer's); the BatchNorm is folded into the conv
    (:func:`~fpgagen.frontend.batchnorm.fold_batchnorm`), which gives each layer realistic
    per-channel scales and biases. Activations are thus normalized at every conv, and
    residual sums grow only with the number of blocks summed. The last conv gets
    He-normal weights and a zero bias (a fully connected layer without bias). Layers are
    generated in graph order, each conv's statistics measured with the layers before it
    already folded.
    """
    convs = graph.conv_nodes()
    last = convs[-1].name if convs else None
    weight_shapes = graph.weight_shapes()
    _, h, w = graph.input_shape
    count = min(MAX_STATISTICS_IMAGES, max(STATISTICS_IMAGES,
                                           math.ceil(STATISTICS_IMAGES * 227 * 227 / (h * w))))
    images = generated_calibration_images(graph, count=count, seed=seed)
    env = {graph.input_name: [bgr_to_float_chw(im, graph.mean) for im in images]}
    params = {}
    for node in graph.nodes:
        ins = [env[i] for i in node.inputs]
        if not isinstance(node.op, Conv2d):
            rules = rules_for(node.op, "generated weights")
            env[node.name] = [rules.run_float(node, list(x), params) for x in zip(*ins)]
            continue
        wshape, bshape = weight_shapes[node.name]
        weight = _he_normal(_rng(seed, node.name), wshape)
        zero = np.zeros(bshape, dtype=np.float32)
        pre = [conv2d_float(x, weight.astype(np.float32), zero, node.op.stride,
                            node.op.padding, node.op.groups) for x in ins[0]]
        if node.name == last:
            wf, bf = weight.astype(np.float32), zero
            out = pre
        else:
            brng = _rng(seed, node.name, "/batchnorm")
            gamma = np.maximum(brng.normal(1.0, 0.2, size=bshape), 0.2)
            beta = brng.normal(0.1, 0.1, size=bshape)
            mu, var = _channel_statistics(np.concatenate(pre, axis=2).astype(np.float64))
            wf, bf = fold_batchnorm(weight, None, mu, var, gamma, beta)
            out = [batchnorm_float(p, mu, var, gamma, beta).astype(np.float32) for p in pre]
        if node.op.relu:
            out = [np.maximum(o, 0) for o in out]
        params[node.name] = {"weight": wf, "bias": bf}
        env[node.name] = out
    return graph.replace(params=params)


#: Output positions whose weight equals that of the layer-wide statistics in
#: :func:`_channel_statistics`.
_PRIOR_POSITIONS = 16
#: Smallest channel variance as a fraction of the layer's: one image leaves some channels
#: (a detector of a pattern it lacks) nearly constant, and normalizing them by their own
#: variance would amplify them without bound on other images.
_VAR_FLOOR = 0.25


def _channel_statistics(pre: np.ndarray):
    """Per-channel mean and variance of a ``(C, H, W)`` conv output, shrunk towards the
    whole layer's: with ``n = H * W`` positions, ``(n * channel + k * layer) / (n + k)``,
    ``k = 16``, and at least a quarter of the layer's variance. Few images at a reduced
    input leave the last stages 1x1 or 2x2, where a channel's own variance is zero or
    noise; at 227x227 the channels mostly keep their own."""
    n = pre.shape[1] * pre.shape[2]
    mean_c, var_c = pre.mean(axis=(1, 2)), pre.var(axis=(1, 2))
    mean_l = mean_c.mean()
    var_l = (var_c + (mean_c - mean_l) ** 2).mean()  # the variance of the whole layer
    k = _PRIOR_POSITIONS
    mean = (n * mean_c + k * mean_l) / (n + k)
    var = (n * var_c + k * var_l) / (n + k)
    return mean, np.maximum(var, _VAR_FLOOR * var_l)
