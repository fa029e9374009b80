"""Unit test of the address generator (``fpgagen.gateware.addrgen.AddressGenerator``)
under Verilator: a Python walk of the loop nest, written from ``docs/hardware.md`` and the
instruction set's docstring, predicts every emitted iteration (activation address when the
tap is valid, ``tap_valid``, weight, bias and output addresses, ``first``/``last``/
``second``, output group; for a CONV with fused pooling the pooled word's address, the
pool-state word and the window events of :func:`fpgagen.hw.pooling.window_events`), one
per cycle, ``ADDRGEN_LATENCY`` cycles after the iteration is issued, and the ``busy``
window of each instruction. ``advance`` is random throughout: a LOAD issues an iteration
only in the cycles it is high (bubbles otherwise), every other opcode ignores it.

The instructions: CONV 3x3 stride 2 pad 1 into a concat slot (``out_group_offset``), 1x1
(also with one tap and one group: every iteration a whole pixel), 3x5 with different
strides and pads along h and w, 7x7 stride 2 pad 3, depthwise 3x3, MAXPOOL 3x3/2 in ceil
mode with windows past the edge (with and without padding), ADD from two bases, GAP (5x5
and 13x13); row bands read from and written to rings (CONV with and without padding rows,
stride 1 and 2 with ``stride_h == in_rows``, MAXPOOL, ADD, LOAD), CONV bands with fused
pooling (3x3/2 with clipped last windows and the band's first row ending the window of
the band before, 2x2/2 in ceil and floor mode, 3x3/3, 2x2/1, a ring of one pooled row)."""

import numpy as np

from fpgagen.gateware.addrgen import ADDRGEN_LATENCY, AddressGenerator
from fpgagen.gateware.pool_unit import PoolEvents
from fpgagen.hw.pooling import window_events
from fpgagen.ir.ops import pool_out_size
from fpgagen.hw.isa import Instr, Opcode, pack_instruction

from .units.support import build, run_cycles

_FIELDS = ("tap_valid", "act_addr", "weight_addr", "bias_addr", "out_addr", "first", "last",
           "second", "og", "pool_addr", "pool_events")


def _conv_out(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def _instr(op, in_hw, k, s, p, **kw):
    """Instruction fields with the output size of a convolution (or ceil-mode pool);
    ``k``, ``s`` and ``p`` are ``(h, w)`` pairs or one value for both."""
    (h, w), (kh, kw_), (sh, sw), (ph, pw) = in_hw, _pair(k), _pair(s), _pair(p)
    if op == Opcode.MAXPOOL:
        oh, ow = pool_out_size(h, kh, sh, ph, True), pool_out_size(w, kw_, sw, pw, True)
    elif op == Opcode.ADD:
        oh, ow = h, w
    else:
        oh, ow = _conv_out(h, kh, sh, ph), _conv_out(w, kw_, sw, pw)
    f = dict(op=op, in_h=h, in_w=w, kh=kh, kw=kw_, stride_h=sh, stride_w=sw, pad_h=ph,
             pad_w=pw, out_h=oh, out_w=ow, in_groups=1, in_pixel_groups=1, out_groups=1,
             out_pixel_groups=1, in_rows=h, in_slot0=(-ph) % h, out_rows=oh)
    f.update(kw)
    return f


def _band(f, y0, rows, in_rows, out_rows, out_slot0=None):
    """``f`` narrowed to output rows ``y0 .. y0 + rows - 1``, read from a ring of
    ``in_rows`` rows and written to one of ``out_rows`` rows."""
    in_y0 = y0 if f["op"] in (Opcode.ADD, Opcode.LOAD) else y0 * f["stride_h"]
    f = dict(f, out_h=rows, in_y0=in_y0, in_rows=in_rows, out_rows=out_rows,
             in_slot0=(in_y0 - f["pad_h"]) % in_rows,
             out_slot0=y0 % out_rows if out_slot0 is None else out_slot0)
    return f


def _pooled(f, y0, rows, k, s, out_rows, in_rows=None, ceil=True):
    """Conv ``f`` with a fused ``k`` x ``k`` / ``s`` max pool (ceil or floor mode), narrowed
    to the band of conv output rows ``y0 .. y0 + rows - 1``."""
    conv_h, conv_w = f["out_h"], f["out_w"]
    ph, pw = pool_out_size(conv_h, k, s, 0, ceil), pool_out_size(conv_w, k, s, 0, ceil)
    f = _band(f, y0, rows, in_rows or f["in_h"], out_rows)
    f.update(pool=1, pool_s=s, pool_overlap=k - s, pool_w=pw, pool_h=ph, pool_a0=y0 // s,
             pool_phase0=y0 % s, pool_last=int(y0 + rows == conv_h), pool_base=5,
             out_slot0=(y0 // s) % out_rows)
    return f


INSTRUCTIONS = {
    "conv3x3s2p1_concat": _instr(Opcode.CONV, (7, 9), 3, 2, 1, in_groups=2, in_pixel_groups=3,
                                 out_groups=2, out_pixel_groups=4, out_group_offset=1,
                                 in_base=900_000, out_base=1_000_000, weight_base=37,
                                 bias_base=11, relu=1, out_bits=8),
    "conv1x1": _instr(Opcode.CONV, (5, 4), 1, 1, 0, in_groups=3, in_pixel_groups=3,
                      out_groups=2, out_pixel_groups=5, out_group_offset=3, in_base=4,
                      out_base=300, weight_base=1000, bias_base=2),
    "conv1x1_one_group": _instr(Opcode.CONV, (3, 2), 1, 1, 0, out_groups=3,
                                out_pixel_groups=3, in_base=8, out_base=40, weight_base=3,
                                bias_base=6),
    "conv3x5_s1x2_p1x2": _instr(Opcode.CONV, (6, 9), (3, 5), (1, 2), (1, 2), in_groups=2,
                                in_pixel_groups=2, out_groups=2, out_pixel_groups=2,
                                in_base=50, out_base=3000, weight_base=400, bias_base=9),
    "conv7x7s2p3": _instr(Opcode.CONV, (11, 10), 7, 2, 3, in_base=17, out_base=700,
                          weight_base=5, bias_base=1),
    "conv3x3_depthwise": _instr(Opcode.CONV, (4, 5), 3, 1, 1, depthwise=1, in_pixel_groups=3,
                                out_groups=3, out_pixel_groups=3, in_base=60, out_base=200,
                                weight_base=90, bias_base=30),
    "maxpool3x3s2_ceil": _instr(Opcode.MAXPOOL, (8, 6), 3, 2, 0, depthwise=1,
                                in_pixel_groups=2, out_groups=2, out_pixel_groups=2,
                                in_base=123, out_base=456),
    "maxpool3x3s2p1_ceil": _instr(Opcode.MAXPOOL, (5, 6), 3, 2, 1, depthwise=1,
                                  in_pixel_groups=3, out_groups=1, out_pixel_groups=3,
                                  out_group_offset=2, in_base=1, out_base=99),
    "add": _instr(Opcode.ADD, (3, 4), (1, 2), 1, 0, depthwise=1, in_pixel_groups=3,
                  out_groups=3, out_pixel_groups=4, out_group_offset=1, in_base=10,
                  in2_base=2000, out_base=5000, shift_a=1, shift_b=2, shift=-1),
    "gap5x5": _instr(Opcode.GAP, (5, 5), 5, 1, 0, depthwise=1, in_pixel_groups=2,
                     out_groups=2, in_base=77, out_base=0, multiplier=40000, shift=20,
                     out_bits=16, out_channels=7, last=1),
    "gap13x13": _instr(Opcode.GAP, (13, 13), 13, 1, 0, depthwise=1, in_base=3),
    # row bands in rings
    "band_conv3x3s2p1": _band(_instr(Opcode.CONV, (20, 6), 3, 2, 1, in_groups=2,
                                     in_pixel_groups=2, out_groups=2, out_pixel_groups=3,
                                     in_base=500, out_base=40, weight_base=7, bias_base=2),
                              3, 4, in_rows=7, out_rows=5),
    "band_conv3x3s2p1_first": _band(_instr(Opcode.CONV, (20, 6), 3, 2, 1, in_base=500,
                                           out_base=40), 0, 3, in_rows=5, out_rows=2),
    "band_conv3x3s2p1_last": _band(_instr(Opcode.CONV, (19, 6), 3, 2, 1, in_base=500,
                                          out_base=40), 7, 3, in_rows=3, out_rows=4),
    "band_conv3x3s1p0_tight": _band(_instr(Opcode.CONV, (12, 5), 3, 1, 0, in_base=60,
                                           out_base=2), 4, 5, in_rows=3, out_rows=3),
    "band_conv1x1s2": _band(_instr(Opcode.CONV, (12, 5), 1, 2, 0, in_base=60, out_base=2),
                            1, 3, in_rows=2, out_rows=1),
    "band_maxpool3x3s2p1": _band(_instr(Opcode.MAXPOOL, (11, 7), 3, 2, 1, depthwise=1,
                                        in_pixel_groups=2, out_groups=2, out_pixel_groups=2,
                                        in_base=9, out_base=300), 2, 3, in_rows=6,
                                 out_rows=4, out_slot0=3),
    "band_add": _band(_instr(Opcode.ADD, (9, 4), (1, 2), 1, 0, depthwise=1, in_pixel_groups=2,
                             out_groups=2, out_pixel_groups=2, in_base=10, in2_base=400,
                             out_base=800, shift=1), 2, 5, in_rows=3, out_rows=4),
    "band_load": _band(_instr(Opcode.LOAD, (12, 4), 1, 1, 0, in_groups=2, in_pixel_groups=2,
                              in_base=33), 5, 3, in_rows=4, out_rows=1),
    "load_whole": _instr(Opcode.LOAD, (3, 5), 1, 1, 0, in_groups=3, in_pixel_groups=3,
                         in_base=1000),
    # bands with fused pooling
    "pool3x3s2_band": _pooled(_instr(Opcode.CONV, (15, 13), 3, 1, 1, in_groups=2,
                                     in_pixel_groups=2, out_groups=2, out_pixel_groups=3,
                                     out_group_offset=1, in_base=100, out_base=900,
                                     weight_base=4, bias_base=1), 4, 5, 3, 2, out_rows=3,
                              in_rows=9),
    "pool3x3s2_last": _pooled(_instr(Opcode.CONV, (14, 14), 1, 1, 0, out_groups=2,
                                     out_pixel_groups=2, in_base=100, out_base=900),
                              9, 5, 3, 2, out_rows=2),
    "pool3x3s2_whole": _pooled(_instr(Opcode.CONV, (7, 9), 1, 1, 0, in_base=0, out_base=70),
                               0, 7, 3, 2, out_rows=3),
    "pool2x2s2_floor": _pooled(_instr(Opcode.CONV, (7, 9), 1, 1, 0, in_base=0, out_base=70),
                               2, 5, 2, 2, out_rows=3, ceil=False),
    "pool2x2s2": _pooled(_instr(Opcode.CONV, (11, 7), 1, 1, 0, in_base=0, out_base=70),
                         3, 6, 2, 2, out_rows=2),
    "pool3x3s3": _pooled(_instr(Opcode.CONV, (13, 11), 1, 1, 0, in_base=0, out_base=70),
                         2, 11, 3, 3, out_rows=4),
    "pool2x2s1": _pooled(_instr(Opcode.CONV, (6, 4), 1, 1, 0, in_base=0, out_base=70),
                         1, 3, 2, 1, out_rows=1),
}


def _pool_fields(f: dict, og: int, oy: int, ox: int):
    """``(pooled word address, pool-state word, events)`` of conv output pixel ``(oy,
    ox)`` of a band with fused pooling."""
    s, ov = f["pool_s"], f["pool_overlap"]
    y = f["pool_a0"] * s + f["pool_phase0"] + oy
    h = window_events(ox, ox == f["out_w"] - 1, s, ov, f["pool_w"])
    v = window_events(y, f["pool_last"] and oy == f["out_h"] - 1, s, ov, f["pool_h"])
    px, j = int(h.window), int(v.window)
    out = (f.get("out_base", 0) + ((j % f["out_rows"]) * f["pool_w"] + px)
           * f["out_pixel_groups"] + f.get("out_group_offset", 0) + og)
    events = PoolEvents.const({axis: {n: int(getattr(e, n)) for n in
                                      ("in_a", "starts", "ends_prev", "ends")}
                               for axis, e in (("h", h), ("v", v))})
    return out, f["pool_base"] + og * f["pool_w"] + px, events.as_value().value


def walk(f: dict) -> list:
    """Every iteration of an instruction's loop nest, as ``docs/hardware.md`` states it."""
    kk = f["kh"] * f["kw"]
    ig = f["in_groups"]
    is_add = f["op"] == Opcode.ADD
    y0 = f.get("in_y0", 0)
    steps = []
    for og in range(f["out_groups"]):
        for oy in range(f["out_h"]):
            for ox in range(f["out_w"]):
                slot = (f.get("out_slot0", 0) + oy) % f["out_rows"]
                out = (f.get("out_base", 0) + (slot * f["out_w"] + ox) * f["out_pixel_groups"]
                       + f.get("out_group_offset", 0) + og)
                pool_addr = events = None
                if f.get("pool"):
                    out, pool_addr, events = _pool_fields(f, og, oy, ox)
                for tap in range(kk):
                    ky, kx = divmod(tap, f["kw"])
                    for g in range(ig):
                        if is_add:
                            iy, ix = y0 + oy, ox
                            base = f.get("in2_base", 0) if tap == 1 else f.get("in_base", 0)
                        else:
                            iy = y0 + oy * f["stride_h"] + ky - f["pad_h"]
                            ix = ox * f["stride_w"] + kx - f["pad_w"]
                            base = f.get("in_base", 0)
                        valid = 0 <= iy < f["in_h"] and 0 <= ix < f["in_w"]
                        grp = og if f.get("depthwise", 0) else g
                        row = iy % f["in_rows"]
                        steps.append(dict(
                            tap_valid=int(valid),
                            act_addr=base + (row * f["in_w"] + ix) * f["in_pixel_groups"] + grp,
                            weight_addr=f.get("weight_base", 0) + (og * kk + tap) * ig + g,
                            bias_addr=f.get("bias_base", 0) + og, out_addr=out,
                            first=int(tap == 0 and g == 0),
                            last=int(tap == kk - 1 and g == ig - 1),
                            second=int(is_add and tap == 1), og=og,
                            pool_addr=pool_addr, pool_events=events,
                            where=f"og={og} oy={oy} ox={ox} tap={tap} g={g}"))
    return steps


def _table(instructions, rng):
    """Input rows (``instr`` set one cycle before ``start``, as the sequencer does, and held
    until the last results are out; ``advance`` random) and, per instruction, its start
    row, the rows its iterations are issued in and the iterations."""
    instr, start, advance = [], [], []
    expected = []  # (name, start row, issue rows, iterations)
    for name, fields in instructions.items():
        word = pack_instruction(Instr(**fields))
        steps = walk(fields)
        instr += [word, word]
        start += [0, 1]
        advance += [1, 0]
        s = len(start) - 1
        issued = []
        while len(issued) < len(steps):
            adv = int(rng.random() < 0.7)
            if fields["op"] != Opcode.LOAD or adv:
                issued.append(len(start))
            instr.append(word)
            start.append(0)
            advance.append(adv)
        expected.append((name, s, issued, steps))
        tail = ADDRGEN_LATENCY + 3
        instr += [word] * tail
        start += [0] * tail
        advance += [1] * tail
    return {"instr": instr, "start": start, "advance": advance}, expected


def test_address_generator(build_dir):
    dut = AddressGenerator()
    sim = build(dut, build_dir)
    inputs, expected = _table(INSTRUCTIONS, np.random.default_rng(5))
    outputs = ["busy", "o_valid"] + [f"o_{n}" for n in _FIELDS]
    got = run_cycles(sim, dut, inputs, outputs)

    n = len(inputs["start"])
    want_busy = np.zeros(n, dtype=np.int64)
    want_valid = np.zeros(n, dtype=np.int64)
    for _, s, issued, _ in expected:
        want_busy[s + 1:issued[-1] + 1] = 1
        want_valid[np.array(issued) + ADDRGEN_LATENCY] = 1
    np.testing.assert_array_equal(got["busy"], want_busy, err_msg="busy window")
    np.testing.assert_array_equal(got["o_valid"], want_valid,
                                  err_msg=f"o_valid window (latency {ADDRGEN_LATENCY})")
    for name, s, issued, steps in expected:
        assert any(r != issued[0] + k for k, r in enumerate(issued)) == name.startswith(
            ("band_load", "load")), f"{name}: bubbles only in a LOAD"
        for j, (row, step) in enumerate(zip(issued, steps)):
            have = {f: int(got[f"o_{f}"][row + ADDRGEN_LATENCY]) for f in _FIELDS}
            want = dict(step)
            want.pop("where")
            if not step["tap_valid"]:  # the address of a padding tap is not used
                have.pop("act_addr")
                want.pop("act_addr")
            if step["pool_events"] is None:  # not a pooled CONV
                for f in ("pool_addr", "pool_events"):
                    have.pop(f)
                    want.pop(f)
            assert have == want, (f"{name}, iteration {j} ({step['where']}): "
                                  f"got {have}, want {want}")
