"""Instruction decode round trip, Python to hardware: random instructions over the whole
range of every field (the extremes over-represented, signed fields included) and the
all-minimum / all-maximum / alternating ones are packed with ``pack_instruction``; the
packed integers drive a component that views its input through the ``Instruction`` layout
and puts every field on its own port (``units.support.InstructionFields``); every field
read back under Verilator must equal the Python value. ``unpack_instruction`` is checked
on the same words."""

import numpy as np
from amaranth.lib import data

from fpgagen.hw.isa import Instr, Instruction, Opcode, pack_instruction, unpack_instruction

from .units.support import InstructionFields, build, port_shapes, run_testbench

LAYOUT = data.Layout.cast(Instruction)


def _range(field):
    shape = field.shape
    if shape is Opcode:
        return 0, len(Opcode) - 1
    lo = -(1 << (shape.width - 1)) if shape.signed else 0
    hi = (1 << (shape.width - 1)) - 1 if shape.signed else (1 << shape.width) - 1
    return lo, hi


def _instructions(rng, n):
    """Field dicts: all minimum, all maximum, two alternating patterns, then random."""
    ranges = {name: _range(field) for name, field in LAYOUT}
    out = [{k: lo for k, (lo, hi) in ranges.items()}, {k: hi for k, (lo, hi) in ranges.items()}]
    for parity in (0, 1):
        out.append({k: (lo, hi)[(i + parity) % 2]
                    for i, (k, (lo, hi)) in enumerate(ranges.items())})
    for _ in range(n):
        f = {}
        for k, (lo, hi) in ranges.items():
            u = rng.random()
            f[k] = lo if u < 0.12 else hi if u < 0.24 else int(rng.integers(lo, hi + 1))
        out.append(f)
    for f in out:
        f["op"] = Opcode(f["op"])
    return out


def test_decode_round_trip(build_dir):
    rng = np.random.default_rng(2024)
    dut = InstructionFields()
    sim = build(dut, build_dir)
    instrs = _instructions(rng, 500)
    words = [pack_instruction(Instr(**f)) for f in instrs]
    shapes = port_shapes(dut)
    ports = [p for p in shapes if p.startswith("f_")]
    got = run_testbench(sim, "tb_decode", {
        "words": np.array([f"{w:x}" for w in words]), "fields": np.array(ports),
        "signed_fields": np.array([p for p in ports if shapes[p][1]])})

    assert {p[2:] for p in ports} == {name for name, _ in LAYOUT}
    for name, _ in LAYOUT:
        want = np.array([int(getattr(f[name], "value", f[name])) for f in instrs])
        have = got[f"f_{name}"]
        bad = np.flatnonzero(have != want)
        np.testing.assert_array_equal(
            have, want, err_msg=f"field {name}: {len(bad)} words differ, first "
                                f"{[hex(words[i]) for i in bad[:3]]}")
    for f, w in zip(instrs, words):
        assert unpack_instruction(w) == Instr(**f), f"unpack_instruction({w:#x})"
