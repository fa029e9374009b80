"""``fpgagen.synth.ecp5_outreg``: the flip-flops behind ECP5 block RAM outputs move into the
blocks' output registers, and only when that keeps the circuit the same.

The netlists are small Yosys-JSON fragments written by hand in the shape ``synth_ecp5``
produces (checked against the 8x8 benchmark netlist): a DP16KD whose data outputs each feed
one ``TRELLIS_FF``. Each refusal case changes one property of a register or of the block
that would make the move change behaviour, and checks that the netlist is left untouched."""

import copy
import json

import pytest

from fpgagen.synth.ecp5_outreg import absorb_output_registers
from fpgagen.synth.ecp5_pack import pack_file

CLK, OTHER_CLK = 2, 3


def _bin32(v: int) -> str:
    return format(v, "032b")


def _ebr(width_a=36, width_b=36, clka="0", clkb=CLK, outputs=None, **conns):
    connections = {"CLKA": [clka], "CLKB": [clkb], "CEA": ["0"], "CEB": ["1"],
                   "OCEA": ["0"], "OCEB": ["1"], "RSTA": ["0"], "RSTB": ["0"], **conns}
    for pin, bit in (outputs or {}).items():
        connections[pin] = [bit]
    return {"type": "DP16KD",
            "parameters": {"DATA_WIDTH_A": _bin32(width_a), "DATA_WIDTH_B": _bin32(width_b),
                           "REGMODE_A": "NOREG", "REGMODE_B": "NOREG",
                           "CLKAMUX": "CLKA", "CLKBMUX": "CLKB", "GSR": "DISABLED"},
            "port_directions": {**{p: "input" for p in connections if not p.startswith("DO")},
                                **{p: "output" for p in connections if p.startswith("DO")}},
            "connections": connections}


def _ff(d, q, clk=CLK, **params):
    return {"type": "TRELLIS_FF",
            "parameters": {"CEMUX": "1 ", "CLKMUX": "CLK", "GSR": "DISABLED",
                           "LSRMUX": "LSR", "REGSET": "RESET", **params},
            "port_directions": {"CLK": "input", "DI": "input", "LSR": "input",
                                "Q": "output"},
            "connections": {"CLK": [clk], "DI": [d], "LSR": ["0"], "Q": [q]}}


def _lut(a, z):
    return {"type": "LUT4", "parameters": {"INIT": "1010101010101010"},
            "port_directions": {"A": "input", "Z": "output"},
            "connections": {"A": [a], "Z": [z]}}


def _netlist(cells, ports=None):
    return {"modules": {"top": {"attributes": {"top": "1"}, "ports": ports or {},
                                "cells": cells, "netnames": {}}}}


def _rom36():
    """A 36-bit-mode read-only block: DOA0 and DOB5 registered, DOB6 unused (no sinks)."""
    return {"rom": _ebr(outputs={"DOA0": 10, "DOB5": 11, "DOB6": 12}),
            "ffa": _ff(10, 20), "ffb": _ff(11, 21), "user": _lut(20, 30)}


def test_36_bit_block_takes_its_registers_on_both_ports():
    net = _netlist(_rom36())
    summary = absorb_output_registers(net)
    assert (summary.blocks, summary.absorbed_blocks, summary.removed_flip_flops) == (1, 1, 2)
    cells = net["modules"]["top"]["cells"]
    assert set(cells) == {"rom", "user"}
    rom = cells["rom"]
    assert rom["parameters"]["REGMODE_A"] == rom["parameters"]["REGMODE_B"] == "OUTREG"
    conns = rom["connections"]
    # the block now drives what the registers drove; the unused output is left alone
    assert (conns["DOA0"], conns["DOB5"], conns["DOB6"]) == ([20], [21], [12])
    # both output registers run on the read clock with their clock enables on
    assert conns["CLKA"] == conns["CLKB"] == [CLK]
    assert rom["parameters"]["CLKAMUX"] == "CLKA"
    assert conns["OCEA"] == conns["OCEB"] == ["1"]
    assert cells["user"]["connections"]["A"] == [20]


def test_narrow_block_reading_on_port_a_only_registers_port_a():
    cells = {"rom": _ebr(width_a=9, width_b=18, clka=CLK, clkb="0",
                         outputs={"DOA0": 10, "DOA1": 11}, CEA=["1"], CEB=["0"],
                         OCEA=["1"]),
             "f0": _ff(10, 20), "f1": _ff(11, 21)}
    net = _netlist(cells)
    assert absorb_output_registers(net).removed_flip_flops == 2
    rom = net["modules"]["top"]["cells"]["rom"]
    assert rom["parameters"]["REGMODE_A"] == "OUTREG"
    assert rom["parameters"]["REGMODE_B"] == "NOREG"
    assert rom["connections"]["CLKB"] == ["0"]
    assert (rom["connections"]["DOA0"], rom["connections"]["DOA1"]) == ([20], [21])


def _with(change):
    cells = _rom36()
    change(cells)
    return cells


REFUSALS = {
    "register on another clock": lambda c: c["ffb"]["connections"].update(CLK=[OTHER_CLK]),
    "register on the falling edge": lambda c: c["ffb"]["parameters"].update(CLKMUX="INV"),
    "register with a clock enable": lambda c: (c["ffb"]["parameters"].update(CEMUX="CE"),
                                               c["ffb"]["connections"].update(CE=[40])),
    "register with a reset": lambda c: c["ffb"]["connections"].update(LSR=[41]),
    "register that starts at 1": lambda c: c["ffb"]["parameters"].update(REGSET="SET"),
    "output through a LUT": lambda c: (c.pop("ffb"), c.update(lut=_lut(11, 21))),
    "output with a second sink": lambda c: c.update(extra=_lut(11, 31)),
    "block output reset in use": lambda c: c["rom"]["connections"].update(RSTB=[42]),
    "36-bit block with a second clock": lambda c: c["rom"]["connections"].update(
        CLKA=[OTHER_CLK]),
    "output registers already on": lambda c: c["rom"]["parameters"].update(
        REGMODE_B="OUTREG"),
}


@pytest.mark.parametrize("change", list(REFUSALS.values()), ids=list(REFUSALS))
def test_blocks_that_would_change_behaviour_are_left_alone(change):
    net = _netlist(_with(change))
    before = copy.deepcopy(net)
    summary = absorb_output_registers(net)
    assert net == before
    assert summary.absorbed_blocks == 0 and list(summary.skipped) == ["rom"]


def test_output_that_is_a_module_port_is_left_alone():
    net = _netlist(_rom36(), ports={"q": {"direction": "output", "bits": [11]}})
    before = copy.deepcopy(net)
    assert absorb_output_registers(net).absorbed_blocks == 0
    assert net == before


def test_file_round_trip_and_summary(tmp_path):
    src, dst = tmp_path / "in.json", tmp_path / "out.json"
    src.write_text(json.dumps(_netlist({**_rom36(), **{
        "ram": _ebr(outputs={"DOB0": 50}), "lut": _lut(50, 51)}})))
    summary = pack_file(src, dst)["ebr_output_registers"]
    assert summary == {"blocks": 2, "absorbed_blocks": 1, "removed_flip_flops": 2,
                       "skipped": {"ram": "a data output feeds LUT4.A"}}
    out = json.loads(dst.read_text())
    assert out["modules"]["top"]["cells"]["rom"]["parameters"]["REGMODE_B"] == "OUTREG"
    assert json.loads(src.read_text()) != out
