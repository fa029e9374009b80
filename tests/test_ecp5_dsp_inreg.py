"""``fpgagen.synth.ecp5_dsp_inreg``: the registers in front of an ECP5 multiplier move into
its input registers, only when that keeps the circuit the same.

Hand-written Yosys-JSON fragments in the shape ``synth_ecp5`` produces for a PE product
(checked against the 8x8 benchmark netlist): a MULT18X18D with no parameters whose A and B
pins come from ``TRELLIS_FF`` cells, the A register shared with a second multiplier (an
activation feeds a PE row), with Amaranth's synchronous reset on ``LSR``."""

import copy

import pytest

from fpgagen.synth.ecp5_dsp_inreg import absorb_input_registers

CLK, RST, OTHER = 2, 3, 4


def _ff(d, q, clk=CLK, lsr=RST, **params):
    return {"type": "TRELLIS_FF",
            "parameters": {"CEMUX": "1 ", "CLKMUX": "CLK", "GSR": "DISABLED",
                           "LSRMUX": "LSR", "REGSET": "RESET", "SRMODE": "LSR_OVER_CE",
                           **params},
            "port_directions": {"CLK": "input", "DI": "input", "LSR": "input",
                                "Q": "output"},
            "connections": {"CLK": [clk], "DI": [d], "LSR": [lsr], "Q": [q]}}


def _mult(a, b, p):
    conns = {**{f"A{i}": [x] for i, x in enumerate(a)}, **{f"B{i}": [x] for i, x in enumerate(b)},
             "SIGNEDA": ["1"], "SIGNEDB": ["1"], "SOURCEA": ["0"], "SOURCEB": ["0"],
             "P0": [p]}
    return {"type": "MULT18X18D", "parameters": {},
            "port_directions": {k: "output" if k.startswith("P") else "input" for k in conns},
            "connections": conns}


def _design():
    """Two multipliers sharing the activation register ``fa`` (A0, and A1..A2 its sign
    extension); weights ``fw0``/``fw1``; a constant 0 on B1."""
    return {"fa": _ff(10, 20), "fw0": _ff(11, 21), "fw1": _ff(12, 22),
            "m0": _mult([20, 20, 20], [21, "0"], 30), "m1": _mult([20, 20, 20], [22], 31)}


def _netlist(cells):
    return {"modules": {"top": {"ports": {}, "cells": cells, "netnames": {}}}}


def test_multipliers_take_their_input_registers_and_the_shared_one_is_copied():
    net = _netlist(_design())
    s = absorb_input_registers(net)
    assert (s.multipliers, s.absorbed_multipliers, s.removed_flip_flops) == (2, 2, 3)
    cells = net["modules"]["top"]["cells"]
    assert set(cells) == {"m0", "m1"}
    m0 = cells["m0"]
    # each multiplier reads what its registers read, and registers it on CLK0
    assert [m0["connections"][f"A{i}"] for i in range(3)] == [[10]] * 3
    assert m0["connections"]["B0"] == [11] and m0["connections"]["B1"] == ["0"]
    assert cells["m1"]["connections"]["A0"] == [10] and cells["m1"]["connections"]["B0"] == [12]
    assert m0["connections"]["CLK0"] == [CLK] and m0["connections"]["CE0"] == ["1"]
    # the flip-flops' synchronous reset becomes the input registers' reset
    assert m0["connections"]["RST0"] == [RST] and m0["connections"]["RST1"] == [RST]
    p = m0["parameters"]
    assert (p["REG_INPUTA_CLK"], p["REG_INPUTA_CE"], p["REG_INPUTA_RST"]) == ("CLK0", "CE0",
                                                                               "RST0")
    assert (p["REG_INPUTB_CLK"], p["REG_INPUTB_RST"], p["RESETMODE"]) == ("CLK0", "RST1", "SYNC")
    assert m0["port_directions"]["CLK0"] == "input"


def test_a_register_with_other_sinks_stays():
    cells = _design()
    cells["lut"] = {"type": "LUT4", "parameters": {}, "port_directions": {"A": "input",
                                                                          "Z": "output"},
                    "connections": {"A": [20], "Z": [40]}}
    net = _netlist(cells)
    s = absorb_input_registers(net)
    assert s.absorbed_multipliers == 2 and s.removed_flip_flops == 2
    assert "fa" in net["modules"]["top"]["cells"]


REFUSALS = {
    "register on another clock": lambda c: c["fw0"]["connections"].update(CLK=[OTHER]),
    "register on the falling edge": lambda c: c["fw0"]["parameters"].update(CLKMUX="INV"),
    "register with a clock enable": lambda c: (c["fw0"]["parameters"].update(CEMUX="CE"),
                                               c["fw0"]["connections"].update(CE=[41])),
    "register with an asynchronous reset": lambda c: c["fw0"]["parameters"].update(
        SRMODE="ASYNC"),
    "register that sets to 1": lambda c: c["fw0"]["parameters"].update(REGSET="SET"),
    "two resets on one side": lambda c: c.update(fb=_ff(13, 23, lsr=OTHER)) or
    c["m0"]["connections"].update(B1=[23]),
    "input from logic": lambda c: c["m0"]["connections"].update(B0=[10]),
    "only the A side registered": lambda c: c["m0"]["connections"].update(B0=["0"]),
    "registers already in use": lambda c: c["m0"]["parameters"].update(
        REG_OUTPUT_CLK="CLK0"),
}


@pytest.mark.parametrize("change", list(REFUSALS.values()), ids=list(REFUSALS))
def test_multipliers_that_would_change_behaviour_are_left_alone(change):
    cells = _design()
    change(cells)
    net = _netlist(cells)
    m0 = copy.deepcopy(cells["m0"])
    s = absorb_input_registers(net)
    assert "m0" in s.skipped
    after = net["modules"]["top"]["cells"]
    assert after["m0"] == m0
    # the shared activation register still feeds m0
    assert "fa" in after and after["m1"]["connections"]["A0"] == [10]
