"""Unit test of the post-processing unit (``fpgagen.gateware.postproc.PostProcessor``) under
Verilator, against the golden ``requantize`` (``fpgagen.numerics.primitives``):
``out = saturate(relu?(rshift_round(acc + bias, shift)), out_type)``, one cycle later.

The stimulus visits the edges of every step: shift 0, small, large (up to 63) and negative
(left) shifts; exact .5 ties of both signs (rounding half up) and the codes next to them;
ReLU on and off; results at, just inside and just outside the u8, s8, u16 and s16 ranges
(with wider activation codes, ``code_bits`` 10 or 12: the u10, s10... ranges instead of the
8-bit ones); the int32 extremes of the accumulator and the bias; plus random rows."""

import itertools

import numpy as np
import pytest

from fpgagen.gateware.postproc import POSTPROC_LATENCY, PostProcessor
from fpgagen.numerics.primitives import requantize
from fpgagen.ir import QType

from .units.support import build, run_cycles

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
#: The output types the unit of a default design supports (``out_bits``, ``out_signed``).
OUT_TYPES = [(8, 0), (8, 1), (16, 0), (16, 1)]


def _out_types(code_bits: int) -> list:
    """The output types of a unit built with ``code_bits``-bit activation codes."""
    return [(code_bits, 0), (code_bits, 1), (16, 0), (16, 1)]
SHIFTS = [0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 33, 40, 62, 63, -1, -2, -7, -8, -16, -31]


def _split(rng, v: int):
    """``(acc, bias)`` int32 values with ``acc + bias == v`` (``v`` within two int32s)."""
    lo, hi = max(I32_MIN, v - I32_MAX), min(I32_MAX, v - I32_MIN)
    bias = int(rng.integers(lo, hi + 1)) if rng.random() < 0.7 else min(max(0, lo), hi)
    return v - bias, bias


def _rows(rng, out_types=OUT_TYPES):
    """Rows ``(acc, bias, shift, relu, out_bits, out_signed)``."""
    rows = []

    def add(v, shift, relu=None, out=None):
        if not 2 * I32_MIN <= v <= 2 * I32_MAX:
            return
        bits, sgn = out if out is not None else out_types[rng.integers(len(out_types))]
        relu = int(rng.integers(2)) if relu is None else relu
        rows.append((*_split(rng, v), shift, relu, bits, sgn))

    # Ties (x.5 exactly) of both signs, and their neighbours, for every shift > 0.
    for s in SHIFTS:
        if s <= 0:
            continue
        for k in [-3, -2, -1, 0, 1, 2, 3, *rng.integers(-300, 300, size=4)]:
            tie = int(k) * (1 << s) + (1 << (s - 1))
            for d in (-1, 0, 1):
                add(tie + d, s, relu=0, out=(16, 1))
                add(tie + d, s)
    # Results at the saturation boundaries, reached exactly, by a tie and from just below.
    for (bits, sgn), s, relu in itertools.product(out_types, [0, 1, 4, 12, -1, -3], (0, 1)):
        q = QType(bits, 0, bool(sgn))
        for b in (q.min - 1, q.min, q.min + 1, q.max - 1, q.max, q.max + 1, -1, 0, 1):
            if s > 0:
                for v in (b << s, (b << s) - (1 << (s - 1)), (b << s) + (1 << (s - 1)) - 1):
                    add(v, s, relu, (bits, sgn))
            elif s == 0:
                add(b, s, relu, (bits, sgn))
            else:
                add(b >> -s, s, relu, (bits, sgn))
    # The int32 extremes of accumulator and bias.
    ext = [I32_MIN, I32_MIN + 1, -1, 0, 1, I32_MAX - 1, I32_MAX]
    for acc, bias in itertools.product(ext, ext):
        for s in (0, 1, 16, 31, 32, 33, 63, -1, -31):
            for relu, (bits, sgn) in itertools.product((0, 1), out_types):
                if rng.random() < 0.25:
                    rows.append((acc, bias, s, relu, bits, sgn))
    # Random rows: wide and narrow accumulators, every shift from -63 to 63.
    for _ in range(1500):
        span = 1 << int(rng.integers(4, 32))
        acc, bias = (int(x) for x in rng.integers(max(-span, I32_MIN), min(span, I32_MAX),
                                                  size=2))
        s = int(rng.integers(-63, 64)) if rng.random() < 0.3 else int(rng.integers(0, 21))
        bits, sgn = out_types[rng.integers(len(out_types))]
        rows.append((acc, bias, s, int(rng.integers(2)), bits, sgn))
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]


def _golden(acc, bias, shift, relu, bits, sgn):
    return int(requantize(np.int64(acc) + np.int64(bias), shift, QType(bits, 0, bool(sgn)),
                          relu=bool(relu)))


@pytest.mark.parametrize("code_bits", [8, 10, 12])
def test_postproc(build_dir, code_bits):
    rng = np.random.default_rng(7)
    dut = PostProcessor(code_bits=code_bits)
    sim = build(dut, build_dir)
    rows = _rows(rng, _out_types(code_bits))
    names = ["acc", "bias", "shift", "relu", "out_bits", "out_signed"]
    pad = [0] * POSTPROC_LATENCY
    inputs = {n: [r[i] for r in rows] + pad for i, n in enumerate(names)}
    got = run_cycles(sim, dut, inputs, ["out"])["out"][POSTPROC_LATENCY:]
    want = np.array([_golden(*r) for r in rows], dtype=np.int64)
    bad = np.flatnonzero(got != want)
    detail = "; ".join(f"acc={rows[i][0]} bias={rows[i][1]} shift={rows[i][2]} "
                       f"relu={rows[i][3]} out={'us'[rows[i][5]]}{rows[i][4]}: "
                       f"got {got[i]}, want {want[i]}" for i in bad[:8])
    np.testing.assert_array_equal(got, want, err_msg=f"{len(bad)} rows differ: {detail}")
    assert len(rows) > 2000
