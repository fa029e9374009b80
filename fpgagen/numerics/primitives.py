"""Integer (and float) primitives shared by the golden and float models.

These functions *are* the numerics contract of ``docs/numerics.md``: the hardware is
judged against them bit for bit.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ir.ops import pool_out_size
from ..ir.types import QType

__all__ = [
    "rshift_round", "saturate", "requantize", "im2col", "conv2d_int", "conv2d_float",
    "maxpool", "global_sum",
]

# Exact integer matrix products go through float64 BLAS: every partial sum of an int12 x
# int13 product over at most 2**20 terms stays below 2**53, where float64 is exact.
_F64_EXACT_TERMS = 1 << 20


def rshift_round(v, shift):
    """Arithmetic shift right by ``shift`` with rounding half up (toward +infinity):
    ``floor(v / 2**shift + 1/2)``. A negative ``shift`` shifts left (exact). ``shift`` may
    be an array that broadcasts against ``v`` (per-channel shifts)."""
    v = np.asarray(v, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    right = np.maximum(s, 0)
    half = np.where(right > 0, np.int64(1) << np.maximum(right - 1, 0), 0)
    return np.where(s >= 0, (v + half) >> right, v << np.maximum(-s, 0))


def saturate(v, qtype: QType):
    """Clamp to the code range of ``qtype``."""
    return np.clip(v, qtype.min, qtype.max)


def requantize(acc, shift: int, qtype: QType, relu: bool = False):
    """Accumulator to output code: round-shift, ReLU (``max(0, .)``), saturate."""
    v = rshift_round(acc, shift)
    if relu:
        v = np.maximum(v, 0)
    return saturate(v, qtype)


def im2col(x: np.ndarray, kernel, stride, padding, pad_value=0) -> np.ndarray:
    """``(C, H, W)`` to columns ``(C*kh*kw, OH*OW)``, rows ordered channel-major then
    kernel row then kernel column (the order of a flattened ``(O, C, kh, kw)`` weight)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    win = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # C, OH, OW, kh, kw
    c, oh, ow = win.shape[:3]
    return win.transpose(0, 3, 4, 1, 2).reshape(c * kh * kw, oh * ow), (oh, ow)


def _grouped(conv, x, weight, bias, stride, padding, groups):
    """``conv`` run on each of ``groups`` channel groups, outputs stacked in order."""
    xs = np.split(x, groups, axis=0)
    ws = np.split(weight, groups, axis=0)
    bs = np.split(np.asarray(bias), groups, axis=0)
    return np.concatenate([conv(xg, wg, bg, stride, padding)
                           for xg, wg, bg in zip(xs, ws, bs)], axis=0)


def _check_groups(x, weight, groups):
    if x.shape[0] != weight.shape[1] * groups:
        raise ValueError(f"input of {x.shape[0]} channels does not match weights "
                         f"{weight.shape} in {groups} group(s)")


def conv2d_int(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride, padding,
               groups: int = 1):
    """Exact integer convolution: int64 accumulators ``(O, OH, OW)`` of ``sum(x*w) + bias``
    (``weight`` ``(O, C / groups, kh, kw)``; group ``g`` of the outputs reads group ``g``
    of the inputs)."""
    _check_groups(x, weight, groups)
    if groups > 1:
        return _grouped(conv2d_int, x, weight, bias, stride, padding, groups)
    o, c, kh, kw = weight.shape
    if c * kh * kw > _F64_EXACT_TERMS:
        raise ValueError(f"reduction of {c * kh * kw} terms is too long for exact float64")
    cols, (oh, ow) = im2col(x.astype(np.float64), (kh, kw), stride, padding)
    acc = weight.reshape(o, -1).astype(np.float64) @ cols
    acc = acc.astype(np.int64) + np.asarray(bias, dtype=np.int64)[:, None]
    return acc.reshape(o, oh, ow)


def conv2d_float(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride, padding,
                 groups: int = 1):
    """float32 convolution ``(O, OH, OW)`` (groups as :func:`conv2d_int`)."""
    _check_groups(x, weight, groups)
    if groups > 1:
        return _grouped(conv2d_float, x, weight, bias, stride, padding, groups)
    o, c, kh, kw = weight.shape
    cols, (oh, ow) = im2col(x.astype(np.float32), (kh, kw), stride, padding)
    out = weight.reshape(o, -1).astype(np.float32) @ cols + bias.astype(np.float32)[:, None]
    return out.reshape(o, oh, ow)


def maxpool(x: np.ndarray, kernel, stride, padding, ceil_mode=True) -> np.ndarray:
    """Max pooling of ``(C, H, W)``; windows running past the edge (ceil mode) or into the
    padding are clipped to the input, so padding never wins. Works for ints and floats."""
    c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh = pool_out_size(h, kh, sh, ph, ceil_mode)
    ow = pool_out_size(w, kw, sw, pw, ceil_mode)
    need_h = (oh - 1) * sh + kh
    need_w = (ow - 1) * sw + kw
    low = -np.inf if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype).min
    padded = np.full((c, need_h, need_w), low, dtype=x.dtype)
    hh, ww = min(h, need_h - ph), min(w, need_w - pw)
    padded[:, ph:ph + hh, pw:pw + ww] = x[:, :hh, :ww]
    win = sliding_window_view(padded, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    return win.max(axis=(3, 4))[:, :oh, :ow]


def global_sum(x: np.ndarray) -> np.ndarray:
    """Sum over height and width, ``(C, 1, 1)`` int64."""
    return x.astype(np.int64).sum(axis=(1, 2), keepdims=True)
