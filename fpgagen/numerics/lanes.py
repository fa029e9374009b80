"""Word-level arithmetic of the hardware's lanes, as the engine model computes it: two's
complement wrap-around, the rounding shift and saturation to a code width given as numbers
(the instruction's ``out_bits`` and ``out_signed``)."""

import numpy as np

__all__ = ["wrap", "rshift_round", "saturate_bits"]


def wrap(v: np.ndarray, bits: int) -> np.ndarray:
    """Two's complement wrap-around to ``bits`` bits."""
    half = 1 << (bits - 1)
    return ((v + half) & ((1 << bits) - 1)) - half


def rshift_round(v: np.ndarray, shift) -> np.ndarray:
    """``(v + 2**(s-1)) >> s`` for ``s > 0``, ``v << -s`` otherwise (per element)."""
    s = np.asarray(shift, dtype=np.int64)
    right = np.maximum(s, 0)
    half = np.where(right > 0, np.left_shift(1, np.maximum(right - 1, 0)), 0)
    return np.where(s > 0, (v + half) >> right, v << np.maximum(-s, 0))


def saturate_bits(v: np.ndarray, bits: int, signed: int) -> np.ndarray:
    """Clamp to the codes of a ``bits``-wide code, two's complement when ``signed``."""
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return np.clip(v, lo, hi)
