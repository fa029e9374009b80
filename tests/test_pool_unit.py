"""The pooling unit of fused max pooling (``fpgagen.gateware.pool_unit.PoolUnit``) in
Amaranth's simulator, against a direct max over every (clipped) window.

A conv output of several channel groups is fed in the address generator's loop order (group,
row, column), one word per cycle or with idle cycles between, with the window events of
:func:`fpgagen.hw.pooling.window_events` along both axes, the pool-state word ``og * pool_w
+ px`` and an output address naming the window. Strides 1, 2 and 3, windows of the stride
and of the stride + 1, ceil-mode counts (clipped last windows) and floor-mode counts
(trailing rows and columns in no window), widths down to the narrowest fused width (4),
where a column's state word is read again four cycles after it was written. Every window
must be written exactly once, ``POOL_LATENCY`` cycles after the word that completes it, and
nothing else."""

import warnings

import numpy as np
import pytest
from amaranth.sim import Simulator

from fpgagen.gateware.pool_unit import PoolEvents, PoolUnit
from fpgagen.hw.pooling import MIN_FUSED_WIDTH, window_events
from fpgagen.hw.spec import ACT_LANE_BITS
from fpgagen.hw.timing import POOL_LATENCY
from fpgagen.ir.ops import pool_out_size

LANES = 3


def _pack(lanes) -> int:
    mask = (1 << ACT_LANE_BITS) - 1
    return sum((int(v) & mask) << (ACT_LANE_BITS * i) for i, v in enumerate(lanes))


def _unpack(word: int) -> list:
    mask, sign = (1 << ACT_LANE_BITS) - 1, 1 << (ACT_LANE_BITS - 1)
    out = []
    for i in range(LANES):
        v = (word >> (ACT_LANE_BITS * i)) & mask
        out.append(v - 2 * sign if v & sign else v)
    return out


def _events(ev, t) -> dict:
    return {"in_a": int(ev.in_a[t]), "starts": int(ev.starts[t]),
            "ends_prev": int(ev.ends_prev[t]), "ends": int(ev.ends[t])}


def _expected(x, s, k, count_h, count_w):
    """``{(og, j, px): lanes}``: the maximum over every clipped window."""
    groups, _, h, w = x.shape
    want = {}
    for og in range(groups):
        for j in range(count_h):
            for px in range(count_w):
                win = x[og, :, j * s:min(j * s + k, h), px * s:min(px * s + k, w)]
                assert win.size, "every window holds an input"
                want[(og, j, px)] = win.max(axis=(1, 2)).tolist()
    return want


def _run(x, s, overlap, count_h, count_w, gaps):
    """Feed ``x`` ``(groups, LANES, h, w)``; return ``{(og, j, px): lanes}`` written and
    the cycles of the writes and of the words that complete windows."""
    groups, _, h, w = x.shape
    hev = window_events(np.arange(w), np.arange(w) == w - 1, s, overlap, count_w)
    vev = window_events(np.arange(h), np.arange(h) == h - 1, s, overlap, count_h)
    stimulus = []  # per cycle: None (idle) or (word, events, state, out, key)
    for og in range(groups):
        for y in range(h):
            for xx in range(w):
                for _ in range(gaps[len(stimulus) % len(gaps)]):
                    stimulus.append(None)
                px = int(hev.window[xx])
                j = int(vev.window[y])
                ev = PoolEvents.const({"h": _events(hev, xx), "v": _events(vev, y)})
                key = (og, j, px)
                out = (og * count_h + j) * count_w + px
                emits = bool(hev.emits[xx] and vev.emits[y])
                stimulus.append((_pack(x[og, :, y, xx]), ev.as_value().value,
                                 og * count_w + px, out, key if emits else None))
    dut = PoolUnit(lanes=LANES, depth=groups * count_w + 1)
    keys = {(og * count_h + j) * count_w + px: (og, j, px)
            for og in range(groups) for j in range(count_h) for px in range(count_w)}
    written, write_cycles, emit_cycles = {}, [], []

    async def bench(ctx):
        for cycle in range(len(stimulus) + POOL_LATENCY + 2):
            if ctx.get(dut.o_we):
                key = keys[ctx.get(dut.o_addr)]
                assert key not in written, f"window {key} written twice"
                written[key] = _unpack(ctx.get(dut.o_data))
                write_cycles.append(cycle)
            item = stimulus[cycle] if cycle < len(stimulus) else None
            ctx.set(dut.valid, item is not None)
            if item is not None:
                word, ev, state, out, emit = item
                ctx.set(dut.word, word)
                ctx.set(dut.events.as_value(), ev)
                ctx.set(dut.state_addr, state)
                ctx.set(dut.out_addr, out)
                if emit is not None:
                    emit_cycles.append(cycle)
            else:  # idle: whatever was left on the ports
                ctx.set(dut.word, 0x1ff)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. an unused (unregistered) memory
        sim.run()
    return written, write_cycles, emit_cycles


CASES = [
    # (h, w, stride, overlap, ceil mode, idle cycles between words, by turns)
    (7, 9, 2, 1, True, (0,)),  # SqueezeNet's 3x3/2, clipped last windows
    (8, 10, 2, 1, True, (0,)),  # 3x3/2, both axes with a 2-wide last window
    (8, 10, 2, 1, False, (0, 2)),  # floor mode: a trailing row and column in no window
    (6, MIN_FUSED_WIDTH, 2, 1, True, (0,)),  # narrowest width, a word every cycle
    (5, MIN_FUSED_WIDTH, 1, 1, True, (0,)),  # 2x2/1: every coordinate ends a window
    (6, 7, 2, 0, True, (0, 1)),  # 2x2/2, a clipped last column window
    (6, 8, 2, 0, False, (0,)),  # 2x2/2 exact
    (7, 11, 3, 0, True, (0, 0, 3)),  # 3x3/3, clipped last windows
    (9, 10, 3, 1, True, (0,)),  # 4x4/3
    (4, 5, 1, 0, True, (1,)),  # 1x1/1: every word is its own window
]


@pytest.mark.parametrize("h, w, s, overlap, ceil, gaps", CASES)
def test_pool_unit_windows(h, w, s, overlap, ceil, gaps):
    k = s + overlap
    count_h, count_w = pool_out_size(h, k, s, 0, ceil), pool_out_size(w, k, s, 0, ceil)
    rng = np.random.default_rng(h * 100 + w * 10 + s + overlap)
    x = rng.integers(-256, 256, size=(2, LANES, h, w))
    x[rng.random(x.shape) < 0.1] = -256  # the lowest code is a real value too
    written, write_cycles, emit_cycles = _run(x, s, overlap, count_h, count_w, gaps)
    want = _expected(x, s, k, count_h, count_w)
    assert sorted(written) == sorted(want), "the windows written"
    for key in want:
        assert written[key] == want[key], f"window {key}"
    assert write_cycles == [c + POOL_LATENCY for c in emit_cycles], "write latency"


def test_pool_unit_rejects_bad_parameters():
    with pytest.raises(ValueError, match="pool-state depth must be an integer of at least 2, "
                                         "not 1"):
        PoolUnit(lanes=4, depth=1)
    with pytest.raises(ValueError, match="lanes must be a positive integer, not 0"):
        PoolUnit(lanes=0, depth=4)


def test_pool_unit_state_word_spacing():
    """Why fused pooling needs ``out_w >= MIN_FUSED_WIDTH``: a state word is written two
    cycles after it is read. Four columns a cycle apart are safe (above); two columns a
    cycle apart (one window per row) read the word in the cycle it is written, and get
    the old one."""
    rng = np.random.default_rng(0)
    x = rng.integers(-256, 256, size=(1, LANES, 6, 2))
    want = _expected(x, 1, 2, 5, 1)
    written, _, _ = _run(x, 1, 1, 5, 1, (0,))
    assert sorted(written) == sorted(want)
    assert any(written[k] != want[k] for k in want), "no forwarding: the old word is read"
    written, _, _ = _run(x, 1, 1, 5, 1, (0, 1))  # a cycle between words: in time
    assert all(written[k] == want[k] for k in want)
