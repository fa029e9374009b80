"""Unit test of the PE array (``fpgagen.gateware.pe_array.PEArray``) under Verilator.

Random int9 activations and int8 (or int12) weights, with the extreme codes (-256, 255,
-128, 127; -2048, 2047) over-represented, form accumulate sequences of 1 to 9 terms
(``first`` ... ``last``), back to back or with idle cycles between and inside them; idle
cycles carry random ``first``/``last``/data, which must be ignored. A Python model, written
from the class docstring, predicts the exact cycle of every ``done`` pulse
(``PE_ARRAY_LATENCY`` after the ``last`` term) and the column sums it shows."""

import numpy as np
import pytest

from fpgagen.gateware.pe_array import PE_ARRAY_LATENCY, PEArray

from .units.support import build, run_cycles

ACT_MIN, ACT_MAX = -256, 255


def _values(rng, lo, hi, size):
    """Uniform codes in ``[lo, hi]`` with one in three replaced by ``lo``, ``hi``, -1, 0
    or 1."""
    v = rng.integers(lo, hi + 1, size=size)
    edge = rng.random(size) < 1 / 3
    v[edge] = rng.choice([lo, hi, -1, 0, 1], size=int(edge.sum()))
    return v


def _wrap32(v: int) -> int:
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def _stimulus(rng, rows, cols, sequences, weight_bits):
    """Per-cycle rows of ``(valid, first, last, act[rows], weights[cols][rows])``."""
    table = []
    W_MIN, W_MAX = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1

    def idle():
        table.append((0, int(rng.integers(2)), int(rng.integers(2)),
                      _values(rng, ACT_MIN, ACT_MAX, rows),
                      _values(rng, W_MIN, W_MAX, (cols, rows))))

    # The largest sums: every product (-256) * W_MIN, and the most negative ones.
    fixed = [[(np.full(rows, ACT_MIN), np.full((cols, rows), W_MIN))] * 9,
             [(np.full(rows, ACT_MIN), np.full((cols, rows), W_MAX))] * 9,
             [(np.full(rows, ACT_MAX), np.full((cols, rows), W_MIN))] * 4]
    for seq in fixed + [None] * sequences:
        if seq is None:
            n = int(rng.integers(1, 10))
            seq = [(_values(rng, ACT_MIN, ACT_MAX, rows), _values(rng, W_MIN, W_MAX, (cols, rows)))
                   for _ in range(n)]
        for i, (act, w) in enumerate(seq):
            table.append((1, int(i == 0), int(i == len(seq) - 1), act, w))
            if rng.random() < 0.15:  # a bubble inside the sequence
                idle()
        while rng.random() < 0.4:  # zero or more idle cycles between sequences
            idle()
    for _ in range(PE_ARRAY_LATENCY + 2):
        idle()
    return table


def _model(table, cols):
    """Expected ``done`` per cycle and the ``acc`` values of the cycles where it is high."""
    done = np.zeros(len(table), dtype=np.int64)
    sums = {}
    acc = [0] * cols
    for k, (valid, first, last, act, w) in enumerate(table):
        if not valid:
            continue
        for c in range(cols):
            term = sum(int(a) * int(b) for a, b in zip(act, w[c]))
            acc[c] = _wrap32(term if first else acc[c] + term)
        if last:
            done[k + PE_ARRAY_LATENCY] = 1
            sums[k + PE_ARRAY_LATENCY] = list(acc)
    return done, sums


@pytest.mark.parametrize("rows, cols, weight_bits",
                         [(2, 2, 8), (4, 4, 8), (3, 2, 8), (4, 4, 12)],
                         ids=["2x2", "4x4", "3x2", "4x4-w12"])
def test_pe_array(build_dir, rows, cols, weight_bits):
    rng = np.random.default_rng(1000 * rows + cols + weight_bits)
    dut = PEArray(pe_rows=rows, pe_cols=cols, weight_bits=weight_bits)
    sim = build(dut, build_dir)
    table = _stimulus(rng, rows, cols, sequences=150, weight_bits=weight_bits)
    inputs = {"valid": [t[0] for t in table], "first": [t[1] for t in table],
              "last": [t[2] for t in table]}
    for r in range(rows):
        inputs[f"act__{r}"] = [t[3][r] for t in table]
        for c in range(cols):
            inputs[f"weights__{c}__{r}"] = [t[4][c][r] for t in table]
    outputs = ["done"] + [f"acc__{c}" for c in range(cols)]
    got = run_cycles(sim, dut, inputs, outputs)

    want_done, want_sums = _model(table, cols)
    np.testing.assert_array_equal(got["done"], want_done,
                                  err_msg=f"done timing (latency {PE_ARRAY_LATENCY})")
    cycles = sorted(want_sums)
    want = np.array([want_sums[k] for k in cycles], dtype=np.int64)
    have = np.stack([got[f"acc__{c}"][cycles] for c in range(cols)], axis=1)
    np.testing.assert_array_equal(have, want, err_msg="acc at the done cycles (row: pixel)")
    w_min = 1 << (weight_bits - 1)
    assert want.max() == rows * 9 * 256 * w_min and want.min() == -rows * 9 * 256 * (w_min - 1)
