"""Move the registers in front of ECP5 multipliers into the multipliers' input registers.

Yosys maps every PE product to a combinational MULT18X18D fed by fabric flip-flops: the
PE input registers. An activation register feeds the multipliers of a whole PE row,
spread over the device's DSP columns, so the cycle that ends at a product register holds
a long route into the DSP plus its 3.9 ns combinational multiply (speed grade 6). The
MULT18X18D has input registers of its own (``REG_INPUTA_CLK`` / ``REG_INPUTB_CLK``).

:func:`absorb_input_registers` rewrites a Yosys JSON netlist after ``synth_ecp5``: when
every non-constant ``A``, ``B`` and ``SIGNEDA/B`` input of a MULT18X18D comes from a
``TRELLIS_FF`` on one clock (rising edge, no clock enable, no reset or a synchronous reset
to 0, the A side's resets all one net and the B side's all one net), the multiplier takes
the flip-flops' inputs instead and registers them itself on ``CLK0`` (resets on ``RST0``
for A, ``RST1`` for B, in ``RESETMODE = "SYNC"``; clock enables tied on). Each multiplier
gets its own copy of a register it shares with others; a flip-flop left with no sinks is
deleted. The cycle count is unchanged. Both sides or neither: nextpnr's timing model of a
MULT18X18D with one side registered is the combinational one. Registered constant inputs
reach their value on the first clock after configuration.
"""

from dataclasses import dataclass, field

from .yosys_json import CONSTANTS, NetIndex, bit, modules_with, param, register_kind

__all__ = ["DspInregSummary", "absorb_input_registers"]

_SIDES = {"A": [f"A{i}" for i in range(18)] + ["SIGNEDA"],
          "B": [f"B{i}" for i in range(18)] + ["SIGNEDB"]}
_REGISTERS = ("REG_INPUTA_CLK", "REG_INPUTB_CLK", "REG_INPUTC_CLK", "REG_PIPELINE_CLK",
              "REG_OUTPUT_CLK")


@dataclass
class DspInregSummary:
    """What :func:`absorb_input_registers` changed."""

    multipliers: int = 0  #: MULT18X18D cells seen
    absorbed_multipliers: int = 0  #: MULT18X18D cells now using their input registers
    removed_flip_flops: int = 0  #: TRELLIS_FF cells left without sinks and deleted
    skipped: dict = field(default_factory=dict)  #: ``{cell name: reason}``

    def as_dict(self) -> dict:
        """JSON-ready figures (at most 20 skip reasons)."""
        return {"multipliers": self.multipliers,
                "absorbed_multipliers": self.absorbed_multipliers,
                "removed_flip_flops": self.removed_flip_flops,
                "skipped": dict(sorted(self.skipped.items())[:20])}


def _plan(cells: dict, index: NetIndex, name: str):
    """``(clock, {side: reset bit or None}, {pin: flip-flop})`` for one MULT18X18D, or a
    reason string."""
    mult = cells[name]
    if any(param(mult, p, "NONE") != "NONE" for p in _REGISTERS):
        return "registers already in use"
    for port in ("CLK0", "CE0", "RST0", "RST1"):
        if isinstance(bit(mult, port), int):
            return f"{port} already connected"
    clock, resets, pins = None, {}, {}
    for side, side_pins in _SIDES.items():
        side_resets = set()
        for pin in side_pins:
            b = bit(mult, pin)
            if b is None or b in CONSTANTS:
                continue
            driver = index.drivers.get(b)
            if driver is None or driver[1] != "Q":
                return f"{pin} is not driven by a register"
            ff = cells[driver[0]]
            if clock is None:
                clock = bit(ff, "CLK")
            reset, reason = register_kind(ff, clock)
            if reason is not None:
                return f"{pin}: {reason} ({driver[0]})"
            side_resets.add(reset)
            pins[pin] = driver[0]
        if len(side_resets) > 1:
            return f"the {side} registers have different resets"
        resets[side] = side_resets.pop() if side_resets else None
    if not pins:
        return "no register in front"
    if not any(p in pins for p in _SIDES["A"]) or not any(p in pins for p in _SIDES["B"]):
        return "only one side registered"
    return clock, resets, pins


def absorb_input_registers(netlist: dict) -> DspInregSummary:
    """Rewrite ``netlist`` (a Yosys JSON netlist after ``synth_ecp5``) in place: each
    MULT18X18D whose inputs all come from registers on one clock registers them itself.
    Returns what changed."""
    summary = DspInregSummary()
    for cells, index, names in modules_with(netlist, "MULT18X18D"):
        rewired = {}  # flip-flop -> sinks moved off its output
        for name in names:
            summary.multipliers += 1
            plan = _plan(cells, index, name)
            if isinstance(plan, str):
                summary.skipped[name] = plan
                continue
            clock, resets, pins = plan
            mult = cells[name]
            conns, dirs, params = mult["connections"], mult.setdefault(
                "port_directions", {}), mult.setdefault("parameters", {})
            for pin, ff in pins.items():
                conns[pin] = list(cells[ff]["connections"]["DI"])
                rewired[ff] = rewired.get(ff, 0) + 1
            conns["CLK0"], conns["CE0"] = [clock], ["1"]
            dirs["CLK0"] = dirs["CE0"] = "input"
            for side, rst_port in (("A", "RST0"), ("B", "RST1")):
                params[f"REG_INPUT{side}_CLK"] = "CLK0"
                params[f"REG_INPUT{side}_CE"] = "CE0"
                params[f"REG_INPUT{side}_RST"] = rst_port
                conns[rst_port] = [resets[side] if resets[side] is not None else "0"]
                dirs[rst_port] = "input"
            params["RESETMODE"] = "SYNC"
            summary.absorbed_multipliers += 1
        for ff, moved in sorted(rewired.items()):
            q = cells[ff]["connections"]["Q"][0]
            if moved == len(index.sinks.get(q, [])) and q not in index.port_bits:
                del cells[ff]
                summary.removed_flip_flops += 1
    return summary
