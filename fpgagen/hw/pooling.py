"""The window rule of fused max pooling, per coordinate: what the pooling unit does with
the conv output at coordinate ``t`` of one axis (a column ``x`` of a row, or a row ``y`` of
the whole conv output). The gateware (:mod:`fpgagen.gateware.pool_unit` and the address
generator's trackers) and the engine model (:mod:`fpgagen.operators.conv`) both follow it.

Windows ``j = 0 .. count - 1`` cover ``[j * s, j * s + k - 1]`` clipped to the axis, with
``k = s + overlap`` (``overlap`` 0 or 1). At most two windows contain a coordinate, and
the older one then ends there, so one partial maximum per window column is enough:

- ``a = t // s`` is the newest window touching ``t``; it is a window when ``a < count``
  (``in_a``) and starts at ``t`` when ``t % s == 0`` (``starts``);
- ``ends_prev``: window ``a - 1`` ends at ``t`` (only with overlap, at ``t % s == 0``);
- ``ends``: window ``a`` ends at ``t``: at ``t % s == k - 1`` or at the axis' last
  coordinate.

With ``part`` the open window's partial maximum and ``v`` the value at ``t``: the new
partial is ``v`` if ``starts`` else ``max(part, v)``; the completed value is ``max(part,
v)`` when ``ends_prev``, the new partial when ``ends``. Without padding, ``ends_prev`` and
``ends`` never hold together (:func:`check_fusable` refuses what would break this).
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["WindowEvents", "window_events", "check_fusable", "MAX_POOL_STRIDE",
           "MIN_FUSED_WIDTH"]

#: Largest pooling stride the 2-bit ``pool_s`` field holds.
MAX_POOL_STRIDE = 3
#: Narrowest conv output a fused pool accepts: the pool-state word of a column is read,
#: combined and written back over a few cycles, and the next row reaches the same column
#: at least ``out_w`` cycles later.
MIN_FUSED_WIDTH = 4


@dataclass(frozen=True)
class WindowEvents:
    """The rule's outputs for an array of coordinates (all arrays of one shape)."""

    a: np.ndarray  #: newest window touching the coordinate
    in_a: np.ndarray  #: ``a`` is a window (``a < count``)
    starts: np.ndarray  #: window ``a`` starts here
    ends_prev: np.ndarray  #: window ``a - 1`` ends here
    ends: np.ndarray  #: window ``a`` ends here

    @property
    def emits(self) -> np.ndarray:
        """A window completes here."""
        return self.ends_prev | self.ends

    @property
    def window(self) -> np.ndarray:
        """The window that completes here (where :attr:`emits`)."""
        return np.where(self.ends_prev, self.a - 1, self.a)


def window_events(t, last, s: int, overlap: int, count: int) -> WindowEvents:
    """The events at coordinates ``t`` (``last``: ``t`` is the axis' last coordinate)."""
    t = np.asarray(t, dtype=np.int64)
    last = np.asarray(last, dtype=bool)
    a, phase = t // s, t % s
    in_a = a < count
    starts = (phase == 0) & in_a
    ends_prev = bool(overlap) & (phase == 0) & (a >= 1) & (a - 1 < count)
    ends = in_a & ((phase == s + overlap - 1) | last)
    return WindowEvents(a=a, in_a=in_a, starts=starts, ends_prev=ends_prev, ends=ends)


def check_fusable(kernel, stride, padding, in_hw) -> str | None:
    """Why a max pool of ``kernel``, ``stride``, ``padding`` over an ``in_hw`` input cannot
    be fused into the convolution before it, or ``None`` when it can."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if kh != kw or sh != sw:
        return f"the window {kh}x{kw} / stride {sh}x{sw} is not square"
    if ph or pw:
        return f"it pads ({ph}, {pw})"
    if not 1 <= sh <= MAX_POOL_STRIDE:
        return f"its stride {sh} is beyond {MAX_POOL_STRIDE}"
    if kh not in (sh, sh + 1):
        return f"its window {kh} is neither the stride {sh} nor the stride + 1"
    h, w = in_hw
    if w < MIN_FUSED_WIDTH:
        return f"its input is {w} wide (fused pooling needs at least {MIN_FUSED_WIDTH})"
    if h < kh or w < kw:
        return f"its input {h}x{w} is smaller than the window"
    return None
