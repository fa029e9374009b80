"""Arithmetic helpers shared by the datapath blocks (the numerics of docs/numerics.md)."""

from amaranth.hdl import Const, Mux, Value, unsigned

from ..hw.spec import LANE_OUT_BITS, OUTPUT_CODE_BITS

__all__ = ["rshift_round", "rounding_half", "add_rounding_half", "apply_shift", "saturate"]


def rshift_round(value: Value, shift: Value, width: int = 64) -> Value:
    """``floor(value / 2**shift + 1/2)`` for ``shift > 0``, ``value << -shift`` otherwise.

    ``value`` is signed; ``shift`` a signed value in -63..63. The result is ``width`` bits
    wide, enough for every caller (no overflow before saturation). The pipelines use its
    parts, :func:`rounding_half`, :func:`add_rounding_half` and :func:`apply_shift`, in
    stages of their own."""
    return apply_shift(add_rounding_half(value, rounding_half(shift, width), width), shift,
                       width)


def rounding_half(shift: Value, width: int = 64) -> Value:
    """The rounding term of :func:`rshift_round`: ``2**(shift - 1)`` for ``shift > 0``, else
    0. It depends on the shift alone, so pipelines register it a stage ahead of the add."""
    right = shift.as_signed()[:6].as_unsigned()
    half = (Const(1, unsigned(width)) << (right - 1)[:6])[:width]
    return Mux(shift.as_signed() > 0, half, 0)[:width]


def add_rounding_half(value: Value, half: Value, width: int = 64) -> Value:
    """First half of :func:`rshift_round`, for a pipeline stage of its own: ``value +
    half``, where ``half`` is :func:`rounding_half` of the shift (registered earlier)."""
    return (value.as_signed() + half.as_unsigned())[:width].as_signed()


def apply_shift(value: Value, shift: Value, width: int = 64) -> Value:
    """Second half of :func:`rshift_round`: ``value >> shift`` (arithmetic) for ``shift >
    0``, ``value << -shift`` for ``shift < 0``."""
    v = value.as_signed()
    right = shift.as_signed()[:6].as_unsigned()
    left = (-shift.as_signed())[:6].as_unsigned()
    return Mux(shift.as_signed() > 0, v >> right, Mux(shift.as_signed() == 0, v,
                                                      (v << left)[:width]))[:width].as_signed()


def saturate(value: Value, bits: Value, is_signed: Value,
             codes: tuple[int, int] = OUTPUT_CODE_BITS) -> Value:
    """Clamp a signed ``value`` to the code range of a ``bits``-wide code, signed or
    unsigned; returns a signed 18-bit value. ``bits`` is one of ``codes``, the design's
    activation width and 16 (:func:`fpgagen.hw.spec.output_code_bits`, an
    elaboration-time constant): any value but 16 takes the activation width.

    The limits are powers of two, so the range checks are bit tests rather than comparators
    as wide as ``value`` (a 64-bit compare is a 32-cell carry chain): with ``k`` = ``n - 1``
    or ``n`` the magnitude bits of an ``n``-bit code (7, 8, 15 or 16 by default),
    ``value > 2**k - 1`` is "not negative and a bit from ``k`` up set", and ``value <
    -2**k`` is "negative and not every bit from ``k`` up set"."""
    v = value.as_signed()
    width = len(v)
    negative = v[width - 1]

    def any_above(k):  # a magnitude bit at k or above of a non-negative value
        return v[k:width - 1].any() if k < width - 1 else Const(0)

    def all_ones_from(k):  # value >= -2**k for a negative value
        return v[k:width].all() if k < width else Const(1)

    narrow, wide_bits = codes
    assert wide_bits == 16 and narrow < wide_bits and narrow + 1 < LANE_OUT_BITS, \
        f"saturate() knows n-bit activation codes and 16-bit scores, not {codes}"
    n = narrow
    wide = bits == 16
    over = ~negative & Mux(is_signed, Mux(wide, any_above(15), any_above(n - 1)),
                           Mux(wide, any_above(16), any_above(n)))
    under = negative & Mux(is_signed, ~Mux(wide, all_ones_from(15), all_ones_from(n - 1)), 1)
    hi = Mux(is_signed, Mux(wide, 32767, (1 << (n - 1)) - 1), Mux(wide, 65535, (1 << n) - 1))
    lo = Mux(is_signed, Mux(wide, -32768, -(1 << (n - 1))), 0)
    return Mux(over, hi, Mux(under, lo, v))[:LANE_OUT_BITS].as_signed()
