"""Unit test of the address generator (``fpgagen.gateware.addrgen.AddressGenerator``)
under Verilator: a Python walk of the loop nest, written from ``docs/hardware.md``,
predicts every emitted iteration (activation address when the tap is valid, ``tap_valid``,
weight, bias and output addresses, ``first``/``last``/``second``, output group), one per
cycle without bubbles, ``ADDRGEN_LATENCY`` cycles after the iteration is issued, and the
``busy`` window of each instruction.

The instructions: CONV 3x3 stride 2 pad 1 into a concat slot (``out_group_offset``), 1x1
(also with one tap and one group: every iteration a whole pixel), 3x5 with different
strides and pads along h and w, 7x7 stride 2 pad 3, depthwise 3x3, MAXPOOL 3x3/2 in ceil
mode with windows past the edge (with and without padding), ADD from two bases, GAP (5x5
and 13x13)."""

import numpy as np

from fpgagen.gateware.addrgen import ADDRGEN_LATENCY, AddressGenerator
from fpgagen.ir.ops import pool_out_size
from fpgagen.hw.isa import Instr, Opcode, pack_instruction

from .units.support import build, run_cycles

_FIELDS = ("tap_valid", "act_addr", "weight_addr", "bias_addr", "out_addr", "first", "last",
           "second", "og")


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
             out_pixel_groups=1)
    f.update(kw)
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
}


def walk(f: dict) -> list:
    """Every iteration of an instruction's loop nest, as ``docs/hardware.md`` states it."""
    kk = f["kh"] * f["kw"]
    ig = f["in_groups"]
    is_add = f["op"] == Opcode.ADD
    steps = []
    for og in range(f["out_groups"]):
        for oy in range(f["out_h"]):
            for ox in range(f["out_w"]):
                out = (f.get("out_base", 0) + (oy * f["out_w"] + ox) * f["out_pixel_groups"]
                       + f.get("out_group_offset", 0) + og)
                for tap in range(kk):
                    ky, kx = divmod(tap, f["kw"])
                    for g in range(ig):
                        if is_add:
                            iy, ix = oy, ox
                            base = f.get("in2_base", 0) if tap == 1 else f.get("in_base", 0)
                        else:
                            iy = oy * f["stride_h"] + ky - f["pad_h"]
                            ix = ox * f["stride_w"] + kx - f["pad_w"]
                            base = f.get("in_base", 0)
                        valid = 0 <= iy < f["in_h"] and 0 <= ix < f["in_w"]
                        grp = og if f.get("depthwise", 0) else g
                        steps.append(dict(
                            tap_valid=int(valid),
                            act_addr=base + (iy * f["in_w"] + ix) * f["in_pixel_groups"] + grp,
                            weight_addr=f.get("weight_base", 0) + (og * kk + tap) * ig + g,
                            bias_addr=f.get("bias_base", 0) + og, out_addr=out,
                            first=int(tap == 0 and g == 0),
                            last=int(tap == kk - 1 and g == ig - 1),
                            second=int(is_add and tap == 1), og=og,
                            where=f"og={og} oy={oy} ox={ox} tap={tap} g={g}"))
    return steps


def _table(instructions):
    """Input rows (``instr`` set one cycle before ``start``, as the sequencer does, and held
    until the last results are out) and the expected busy / valid cycles and iterations."""
    instr, start = [], []
    expected = []  # (name, start cycle, iterations)
    for name, fields in instructions.items():
        word = pack_instruction(Instr(**fields))
        steps = walk(fields)
        instr += [word, word]
        start += [0, 1]
        expected.append((name, len(start) - 1, steps))
        tail = len(steps) + ADDRGEN_LATENCY + 3
        instr += [word] * tail
        start += [0] * tail
    return {"instr": instr, "start": start}, expected


def test_address_generator(build_dir):
    dut = AddressGenerator()
    sim = build(dut, build_dir)
    inputs, expected = _table(INSTRUCTIONS)
    outputs = ["busy", "o_valid"] + [f"o_{n}" for n in _FIELDS]
    got = run_cycles(sim, dut, inputs, outputs)

    n = len(inputs["start"])
    want_busy = np.zeros(n, dtype=np.int64)
    want_valid = np.zeros(n, dtype=np.int64)
    for _, s, steps in expected:
        want_busy[s + 1:s + 1 + len(steps)] = 1
        want_valid[s + 1 + ADDRGEN_LATENCY:s + 1 + ADDRGEN_LATENCY + len(steps)] = 1
    np.testing.assert_array_equal(got["busy"], want_busy, err_msg="busy window")
    np.testing.assert_array_equal(got["o_valid"], want_valid,
                                  err_msg=f"o_valid window (latency {ADDRGEN_LATENCY})")
    for name, s, steps in expected:
        first = s + 1 + ADDRGEN_LATENCY
        for j, step in enumerate(steps):
            have = {f: int(got[f"o_{f}"][first + j]) for f in _FIELDS}
            want = {f: step[f] for f in _FIELDS}
            if not step["tap_valid"]:  # the address of a padding tap is not used
                have.pop("act_addr")
                want.pop("act_addr")
            assert have == want, (f"{name}, iteration {j} ({step['where']}): "
                                  f"got {have}, want {want}")
