"""Property tests of the integer primitives against slow, obviously-correct references."""

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fpgagen.numerics.fixed_point import accumulator_bits
from fpgagen.numerics.primitives import conv2d_int, maxpool, requantize, rshift_round
from fpgagen.ir import QType
from fpgagen.ir.ops import pool_out_size

ints = st.integers(-(1 << 40), 1 << 40)
shifts = st.integers(-8, 40)
qtypes = st.builds(QType, st.integers(2, 16), st.integers(-4, 12), st.booleans())


def _slow_round_half_up(v: int, s: int) -> int:
    return math.floor(Fraction(v, 2 ** s) + Fraction(1, 2)) if s >= 0 else v * 2 ** -s


@given(ints, shifts)
def test_rshift_round_is_round_half_up(v, s):
    assert int(rshift_round(v, s)) == _slow_round_half_up(v, s)


@given(st.lists(ints, min_size=1, max_size=20), st.lists(shifts, min_size=1, max_size=20))
def test_rshift_round_per_channel_shifts(vs, ss):
    n = min(len(vs), len(ss))
    got = rshift_round(np.array(vs[:n]), np.array(ss[:n]))
    assert list(got) == [_slow_round_half_up(v, s) for v, s in zip(vs[:n], ss[:n])]


@given(ints, st.integers(0, 40), qtypes, st.booleans())
def test_requantize_rounds_then_relus_then_saturates(acc, shift, qtype, relu):
    v = _slow_round_half_up(acc, shift)
    if relu:
        v = max(v, 0)
    expected = min(max(v, qtype.min), qtype.max)
    assert int(requantize(acc, shift, qtype, relu)) == expected


def test_rounding_ties_go_up_for_negatives_too():
    assert list(rshift_round(np.array([-5, -3, -1, 1, 3, 5]), 1)) == [-2, -1, 0, 1, 2, 3]


def _slow_caffe_maxpool(x, k, s, p):
    c, h, w = x.shape

    def size(n):  # every window that starts inside the input or its left padding
        starts = [i for i in range(0, n + 2 * p, s) if i < n + p and i - p + k > 0]
        last_full = (n + 2 * p - k + s - 1) // s + 1  # ceil((n + 2p - k) / s) + 1
        return min(len(starts), last_full)

    oh, ow = size(h), size(w)
    out = np.empty((c, oh, ow), dtype=x.dtype)
    for ch in range(c):
        for i in range(oh):
            for j in range(ow):
                y0, x0 = max(i * s - p, 0), max(j * s - p, 0)
                y1, x1 = min(i * s - p + k, h), min(j * s - p + k, w)
                out[ch, i, j] = x[ch, y0:y1, x0:x1].max()
    return out


@settings(max_examples=200)
@given(st.integers(1, 3), st.integers(1, 17), st.integers(1, 17), st.integers(1, 4),
       st.integers(1, 3), st.integers(0, 2), st.data())
def test_maxpool_ceil_mode_matches_caffe(c, h, w, k, s, p, data):
    p = min(p, k - 1)
    if h + 2 * p < k or w + 2 * p < k:
        return
    x = data.draw(arrays(np.int64, (c, h, w), elements=st.integers(-128, 255)))
    np.testing.assert_array_equal(maxpool(x, (k, k), (s, s), (p, p)),
                                  _slow_caffe_maxpool(x, k, s, p))


def test_pool_output_sizes_of_squeezenet():
    assert pool_out_size(111, 3, 2, 0, True) == 55
    assert pool_out_size(113, 3, 2, 0, True) == 56
    assert pool_out_size(28, 3, 2, 0, True) == 14   # ceil((28-3)/2)+1 = 14 (floor gives 13)
    assert pool_out_size(28, 3, 2, 0, False) == 13
    assert pool_out_size(5, 3, 2, 1, True) == 3     # last window would start at 6 >= 5+1


@settings(max_examples=50)
@given(st.integers(1, 4), st.integers(1, 6), st.integers(1, 3), st.integers(1, 2),
       st.integers(0, 1), st.data())
def test_conv2d_int_matches_loops(cin, size, k, stride, pad, data):
    if size + 2 * pad < k:
        return
    x = data.draw(arrays(np.int64, (cin, size, size), elements=st.integers(-256, 255)))
    w = data.draw(arrays(np.int8, (2, cin, k, k), elements=st.integers(-128, 127)))
    b = data.draw(arrays(np.int64, (2,), elements=st.integers(-(1 << 20), 1 << 20)))
    got = conv2d_int(x, w, b, (stride, stride), (pad, pad))
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    oh = (size + 2 * pad - k) // stride + 1
    for o in range(2):
        for i in range(oh):
            for j in range(oh):
                win = xp[:, i * stride:i * stride + k, j * stride:j * stride + k]
                assert got[o, i, j] == int((win * w[o].astype(np.int64)).sum()) + b[o]


@given(st.integers(1, 5000), qtypes, st.integers(2, 8), st.integers(0, 1 << 20))
def test_accumulator_bits_bound_every_extreme_sum(terms, act, wbits, bias):
    w = QType(wbits, 0, True)
    bits = accumulator_bits(terms, act, w, bias)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    extremes = [terms * a * b for a in (act.min, act.max) for b in (w.min, w.max)]
    for e in extremes:
        assert lo <= e - bias and e + bias <= hi
    # and it is tight to within one bit
    assert max(abs(e) for e in extremes) + bias >= 1 << (bits - 3)


@given(st.integers(-(1 << 31), (1 << 31) - 1), st.integers(-200, 200),
       st.builds(QType, st.integers(2, 16), st.integers(-4, 12), st.booleans()), st.booleans())
def test_shift_clamp_changes_no_result(acc, shift, qtype, relu):
    """The quantizer stores conv shifts clamped to [-32, 40] (docs/numerics.md); for any
    32-bit accumulator (bias included, as the quantizer checks) the exact result (rationals,
    no int64) is the same, and the int64 golden model computes it."""
    from fpgagen.passes.quantize import SHIFT_CLAMP_LEFT, SHIFT_CLAMP_RIGHT

    def exact(s):
        v = _slow_round_half_up(acc, s)
        v = max(v, 0) if relu else v
        return min(max(v, qtype.min), qtype.max)

    clamped = min(max(shift, -SHIFT_CLAMP_LEFT), SHIFT_CLAMP_RIGHT)
    assert exact(clamped) == exact(shift)
    assert int(requantize(acc, clamped, qtype, relu)) == exact(clamped)
