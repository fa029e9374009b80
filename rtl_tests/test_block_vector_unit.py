"""Unit test of the vector unit (``fpgagen.gateware.vector_unit.VectorUnit``) under
Verilator, against the golden primitives of ``docs/numerics.md``:

- MAXPOOL: Caffe ceil-mode windows (``maxpool``), fed tap by tap in the order of the loop
  nest of ``docs/hardware.md``; taps in the padding or past the edge arrive with
  ``tap_valid`` low and random codes (often larger than every valid one);
- GAP: ``saturate(rshift_round(global_sum(x) * multiplier, shift))`` to u16 / s16, from 1 to
  169 positions, down to the saturation limits;
- ADD: ``rshift_round((a << shift_a) + (b << shift_b), shift)``, with ``relu`` the ReLU
  after it, saturated to u8 / s8, with left shifts up to 15 and negative final shifts.

Each run of pixels keeps its parameters, as an instruction does, and is followed by idle
cycles; idle cycles (also between and inside pixels) carry random ``first``/``last`` and
codes, which must be ignored. ``done`` must rise exactly ``VECTOR_LATENCY`` cycles after
each pixel's ``last`` input, with the pixel's result on ``out``."""

import numpy as np
import pytest

from fpgagen.gateware.vector_unit import VECTOR_LATENCY, VectorUnit
from fpgagen.numerics.primitives import global_sum, maxpool, requantize, rshift_round
from fpgagen.ir import QType
from fpgagen.ir.ops import pool_out_size
from fpgagen.hw.isa import Opcode

from .units.support import build, run_cycles

_PARAMS = ("shift", "shift_a", "shift_b", "multiplier", "out_bits", "out_signed", "relu")


def _codes(rng, qtype, shape):
    """Random codes of ``qtype`` with the extremes over-represented."""
    x = rng.integers(qtype.min, qtype.max + 1, size=shape)
    edge = rng.random(shape) < 0.2
    x[edge] = rng.choice([qtype.min, qtype.max], size=int(edge.sum()))
    return x


def _lane_codes(rng, qtype, lanes):
    """Whatever a lane of the width holding ``qtype`` may hold (padding reads)."""
    half = 1 << max(8, qtype.bits)
    return rng.integers(-half, half, size=lanes)


def _maxpool_run(rng, lanes, hw, k, s, p, qtype):
    """One MAXPOOL run: pixels as lists of ``(act, tap_valid, second)`` taps, expected."""
    h, w = hw
    x = _codes(rng, qtype, (lanes, h, w))
    want = maxpool(x, (k, k), (s, s), (p, p), ceil_mode=True)
    oh, ow = pool_out_size(h, k, s, p, True), pool_out_size(w, k, s, p, True)
    assert want.shape == (lanes, oh, ow)
    pixels = []
    for oy in range(oh):
        for ox in range(ow):
            taps = []
            for ky in range(k):
                for kx in range(k):
                    iy, ix = oy * s + ky - p, ox * s + kx - p
                    if 0 <= iy < h and 0 <= ix < w:
                        taps.append((x[:, iy, ix], 1, 0))
                    else:  # padding or past the edge: whatever the memory holds
                        taps.append((_lane_codes(rng, qtype, lanes), 0, 0))
            pixels.append(taps)
    params = dict(shift=0, shift_a=0, shift_b=0, multiplier=0, out_bits=qtype.bits,
                  out_signed=int(qtype.signed), relu=0)
    return Opcode.MAXPOOL, params, pixels, [want[:, oy, ox] for oy in range(oh)
                                            for ox in range(ow)]


def _gap_run(rng, lanes, hw, groups, qtype, multiplier, shift, fill=None):
    """One GAP run over ``groups`` groups of ``lanes`` channels of an ``hw`` input."""
    h, w = hw
    out = QType(16, 0, qtype.signed)
    pixels, want = [], []
    for _ in range(groups):
        x = _codes(rng, qtype, (lanes, h, w)) if fill is None else np.full((lanes, h, w), fill)
        pixels.append([(x[:, y, xx], 1, 0) for y in range(h) for xx in range(w)])
        want.append(requantize(global_sum(x) * multiplier, shift, out).reshape(lanes))
    params = dict(shift=shift, shift_a=0, shift_b=0, multiplier=multiplier, out_bits=16,
                  out_signed=int(qtype.signed), relu=0)
    return Opcode.GAP, params, pixels, want


def _add_run(rng, lanes, n, ta, tb, shift_a, shift_b, shift, out, relu=False):
    """One ADD run of ``n`` pixels: a of type ``ta``, b of type ``tb``; ``relu``: the
    ReLU after the sum."""
    pixels, want = [], []
    for _ in range(n):
        a, b = _codes(rng, ta, lanes), _codes(rng, tb, lanes)
        pixels.append([(a, 1, 0), (b, 1, 1)])
        total = rshift_round(a, -shift_a) + rshift_round(b, -shift_b)
        want.append(requantize(total, shift, out, relu=relu))
    params = dict(shift=shift, shift_a=shift_a, shift_b=shift_b, multiplier=0,
                  out_bits=out.bits, out_signed=int(out.signed), relu=int(relu))
    return Opcode.ADD, params, pixels, want


def _runs(rng, lanes, code_bits=8):
    U8, S8 = QType(code_bits, 0, False), QType(code_bits, 0, True)  # the activation types
    runs = [
        # 3x3 stride 2: ceil-mode edge windows (7 -> 3, 8 -> 4, 6 -> 3 with a clipped one).
        _maxpool_run(rng, lanes, (7, 8), 3, 2, 0, U8),
        _maxpool_run(rng, lanes, (6, 5), 3, 2, 1, S8),
        _maxpool_run(rng, lanes, (5, 5), 2, 2, 0, U8),
        _maxpool_run(rng, lanes, (4, 6), 3, 1, 1, S8),
        _gap_run(rng, lanes, (3, 3), 2, U8, 58254, 19),
        _gap_run(rng, lanes, (13, 13), 1, U8, 49636, 23),
        _gap_run(rng, lanes, (1, 1), 2, S8, 32768, 15),
        _gap_run(rng, lanes, (2, 3), 2, S8, 65535, 9),  # large gain: s16 saturation
        _gap_run(rng, lanes, (13, 13), 1, U8, 65535, 16 + code_bits - 8,
                 fill=U8.max),  # the largest sum
        _gap_run(rng, lanes, (13, 13), 1, U8, 65535, 7, fill=U8.max),  # u16 saturation
        _gap_run(rng, lanes, (4, 4), 1, S8, 65535, 0, fill=S8.min),  # s16 low limit
        _gap_run(rng, lanes, (2, 2), 2, U8, 40000, -2),  # a left shift
        _add_run(rng, lanes, 12, U8, U8, 0, 0, 1, U8),
        _add_run(rng, lanes, 12, U8, S8, 2, 0, 2, S8),
        _add_run(rng, lanes, 12, S8, S8, 1, 3, 0, S8),
        _add_run(rng, lanes, 12, S8, U8, 0, 1, -2, S8),
        _add_run(rng, lanes, 12, U8, S8, 15, 15, 16, U8),
        _add_run(rng, lanes, 12, S8, S8, 15, 0, 7, S8),
        _add_run(rng, lanes, 12, S8, S8, 0, 0, 0, S8, relu=True),  # the ReLU alone
        _add_run(rng, lanes, 12, S8, S8, 3, 0, 5, S8, relu=True),  # ReLU, then s8 limit
        _add_run(rng, lanes, 12, S8, U8, 0, 1, -2, U8, relu=True),
    ]
    for _ in range(6):  # random ADD scalings
        ta, tb, to = (U8 if rng.random() < 0.5 else S8 for _ in range(3))
        sa, sb = (int(v) for v in rng.integers(0, 8, size=2))
        runs.append(_add_run(rng, lanes, 10, ta, tb, sa, sb, int(rng.integers(-3, 12)), to,
                             relu=bool(rng.random() < 0.5)))
    order = rng.permutation(len(runs))
    return [runs[i] for i in order]


def _table(rng, lanes, runs, lane_bits=9):
    """Cycle rows and the expected results ``{cycle: out lanes}``."""
    rows, expect = [], {}
    idle_params = dict.fromkeys(_PARAMS, 0)

    def row(op, params, valid, first, last, tap_valid, second, act):
        r = dict(op=int(op.value), valid=valid, first=first, last=last, tap_valid=tap_valid,
                 second=second, **params)
        r.update({f"act__{l}": int(act[l]) for l in range(lanes)})
        rows.append(r)

    def idle(op, params):
        row(op, params, 0, int(rng.integers(2)), int(rng.integers(2)), int(rng.integers(2)),
            int(rng.integers(2)),
            rng.integers(-(1 << (lane_bits - 1)), 1 << (lane_bits - 1), size=lanes))

    for op, params, pixels, want in runs:
        for taps, result in zip(pixels, want):
            for i, (act, tap_valid, second) in enumerate(taps):
                row(op, params, 1, int(i == 0), int(i == len(taps) - 1), tap_valid, second, act)
                if i < len(taps) - 1 and rng.random() < 0.05:
                    idle(op, params)  # a bubble inside the pixel
            expect[len(rows) - 1 + VECTOR_LATENCY] = [int(v) for v in result]
            if rng.random() < 0.2:
                idle(op, params)
        for _ in range(VECTOR_LATENCY):  # the instruction stays until its results are out
            idle(op, params)
    for _ in range(2):
        idle(Opcode.CONV, idle_params)
    return rows, expect


#: ``(lanes, activation code bits)``: 8-bit codes in 9-bit lanes, 12-bit ones in 13-bit lanes
CASES = [(3, 8), (4, 8), (3, 12)]


@pytest.mark.parametrize("lanes, code_bits", CASES)
def test_vector_unit(build_dir, lanes, code_bits):
    rng = np.random.default_rng(lanes)
    lane_bits = max(9, code_bits + 1)
    dut = VectorUnit(lanes=lanes, lane_bits=lane_bits)
    sim = build(dut, build_dir)
    runs = _runs(rng, lanes, code_bits)
    rows, expect = _table(rng, lanes, runs, lane_bits)
    inputs = {name: [r[name] for r in rows] for name in rows[0]}
    outputs = ["done"] + [f"out__{l}" for l in range(lanes)]
    got = run_cycles(sim, dut, inputs, outputs)

    want_done = np.zeros(len(rows), dtype=np.int64)
    want_done[list(expect)] = 1
    np.testing.assert_array_equal(got["done"], want_done,
                                  err_msg=f"done timing (latency {VECTOR_LATENCY})")
    ops = [Opcode(rows[k - VECTOR_LATENCY]["op"]).name for k in expect]
    for k, op in zip(expect, ops):
        have = [int(got[f"out__{l}"][k]) for l in range(lanes)]
        assert have == expect[k], f"{op} result at cycle {k}: got {have}, want {expect[k]}"
