"""Fold batch normalization into the convolution before it.

BatchNorm is never an IR operator: at inference it is an affine map per channel,
``y = gamma * (x - mean) / sqrt(var + eps) + beta``, so a convolution followed by it is
the same convolution with weights scaled per output channel and a new bias:

    weight' = weight * s,   bias' = (bias - mean) * s + beta,   s = gamma / sqrt(var + eps)

ONNX ``BatchNormalization`` carries ``scale`` (gamma), ``B`` (beta), ``mean``, ``var`` and
``epsilon`` (default 1e-5). Caffe splits it in two layers: ``BatchNorm`` stores the running
sums ``mean * f``, ``var * f`` and the factor ``f`` (:func:`caffe_batchnorm_stats` divides
it out; ``eps`` default 1e-5) and ``Scale`` stores gamma and beta.
"""

import numpy as np

from ..errors import FpgagenError

__all__ = ["fold_batchnorm", "caffe_batchnorm_stats", "batchnorm_float"]

#: ``epsilon`` of ONNX BatchNormalization and Caffe BatchNorm when the file gives none.
DEFAULT_EPS = 1e-5


def fold_batchnorm(weight, bias, mean, var, gamma=None, beta=None, eps: float = DEFAULT_EPS):
    """The ``(weight, bias)`` of ``conv -> BatchNorm`` as one convolution.

    Parameters
    ----------
    weight : array ``(O, I, kh, kw)``
        Convolution weights.
    bias : array ``(O,)`` or None
        Convolution bias (``None``: a convolution without bias).
    mean, var : arrays ``(O,)``
        Running mean and variance of the convolution's output.
    gamma, beta : arrays ``(O,)`` or None
        Scale and shift after normalization (``None``: 1 and 0, a Caffe BatchNorm without
        its Scale layer).
    eps : float
        Added to the variance.

    Returns
    -------
    tuple of float32 arrays
        ``weight * s`` and ``(bias - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``,
        computed in float64.
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4:
        raise FpgagenError(f"BatchNorm folding needs a (O, I, kh, kw) weight, got shape "
                           f"{w.shape}")
    o = w.shape[0]

    def channel(name, value, default):
        if value is None:
            return np.full(o, default, dtype=np.float64)
        v = np.asarray(value, dtype=np.float64).reshape(-1)
        if v.shape != (o,):
            raise FpgagenError(f"BatchNorm {name} has {v.size} values, the convolution has "
                               f"{o} output channels")
        if not np.isfinite(v).all():
            raise FpgagenError(f"BatchNorm {name} has non-finite values: "
                               f"{v[~np.isfinite(v)][:3].tolist()}")
        return v

    b, mu, var = channel("bias", bias, 0.0), channel("mean", mean, 0.0), channel("var", var, 1.0)
    g, be = channel("gamma", gamma, 1.0), channel("beta", beta, 0.0)
    if not np.isfinite(eps) or eps < 0:
        raise FpgagenError(f"BatchNorm epsilon must be a finite number >= 0, not {eps!r}")
    denom = var + eps
    if (denom <= 0).any():
        bad = int(np.argmax(denom <= 0))
        raise FpgagenError(f"BatchNorm channel {bad}: variance {float(var[bad])!r} + "
                           f"epsilon {eps!r} is not positive")
    s = g / np.sqrt(denom)
    w_folded = w * s[:, None, None, None]
    b_folded = (b - mu) * s + be
    return w_folded.astype(np.float32), b_folded.astype(np.float32)


def caffe_batchnorm_stats(mean_sum, var_sum, factor):
    """Mean and variance from the three blobs of a Caffe ``BatchNorm`` layer (the running
    sums and their moving-average factor; a zero factor means statistics of zero, as
    Caffe computes them)."""
    f = float(np.asarray(factor, dtype=np.float64).reshape(-1)[0])
    scale = 0.0 if f == 0 else 1.0 / f
    return (np.asarray(mean_sum, dtype=np.float64) * scale,
            np.asarray(var_sum, dtype=np.float64) * scale)


def batchnorm_float(x, mean, var, gamma=None, beta=None, eps: float = DEFAULT_EPS):
    """Reference BatchNorm on a ``(C, H, W)`` tensor (float64), unfolded."""
    x = np.asarray(x, dtype=np.float64)
    c = x.shape[0]
    gamma = np.ones(c) if gamma is None else np.asarray(gamma, dtype=np.float64)
    beta = np.zeros(c) if beta is None else np.asarray(beta, dtype=np.float64)
    mean, var = np.asarray(mean, dtype=np.float64), np.asarray(var, dtype=np.float64)
    return ((x - mean[:, None, None]) / np.sqrt(var[:, None, None] + eps)
            * gamma[:, None, None] + beta[:, None, None])
