"""Move the flip-flops behind ECP5 block RAM outputs into the blocks' output registers.

Every block memory of the accelerator reads through two registers: the block RAM's read
register, then a register per bank in the fabric (``templates/ram.v.j2``,
``fpgagen.gateware.rom``). The ECP5 block RAM (DP16KD) has a second register of its own
behind the array, the output register (``REGMODE_A/B = "OUTREG"``), but Yosys's
``synth_ecp5`` never uses it: the bank register lands in a slice, and every read path pays
the block's clock-to-output time (5.8 ns without the output register, 0.9 ns with it, speed
grade 6) plus a route out of a crowded block RAM row.

:func:`absorb_output_registers` rewrites a Yosys JSON netlist after ``synth_ecp5``: when
*every* used data output (``DOA0..17``, ``DOB0..17``) of a DP16KD drives exactly one
``TRELLIS_FF`` and nothing else, and each of those flip-flops is a plain register on the
block's read clock (same clock and polarity, clock enable tied to 1, no set/reset), the
flip-flops are deleted, their outputs are driven by the block itself, and the block is set
to ``OUTREG`` on both ports with the output clock enables tied to 1. The read latency is
unchanged (two registers either way), so the design's timing model and results are too.
Both ports' output registers are configured alike and clocked by the read clock, so the
result does not depend on which port's register serves the low half of a 36-bit read.
A block that does not match is left as it is, with the reason recorded.
(:mod:`fpgagen.synth.ecp5_pack` runs this pass on a netlist file.)
"""

from dataclasses import dataclass, field

from .yosys_json import CONSTANTS, NetIndex, modules_with, register_kind
from .yosys_json import bit as _bit, is_const as _is_const, param as _param

__all__ = ["OutregSummary", "absorb_output_registers"]

_DATA_OUTPUTS = tuple(f"DO{port}{i}" for port in "AB" for i in range(18))


@dataclass
class OutregSummary:
    """What :func:`absorb_output_registers` changed."""

    blocks: int = 0  #: DP16KD cells seen
    absorbed_blocks: int = 0  #: DP16KD cells now using their output registers
    removed_flip_flops: int = 0  #: TRELLIS_FF cells deleted
    skipped: dict = field(default_factory=dict)  #: ``{cell name: reason}``

    def as_dict(self) -> dict:
        """JSON-ready figures (at most 20 skip reasons)."""
        return {"blocks": self.blocks, "absorbed_blocks": self.absorbed_blocks,
                "removed_flip_flops": self.removed_flip_flops,
                "skipped": dict(sorted(self.skipped.items())[:20])}


def _register_behind(cells: dict, index: NetIndex, bit, clock, inverted: bool):
    """``(flip-flop name, None)`` when ``bit`` feeds exactly one plain register on
    ``clock``; ``(None, reason)`` otherwise."""
    if bit in index.port_bits:
        return None, "a data output is a module port"
    sinks = index.sinks.get(bit, [])
    if len(sinks) != 1:
        return None, f"a data output has {len(sinks)} sinks"
    name, port = sinks[0]
    ff = cells[name]
    if ff["type"] != "TRELLIS_FF" or port != "DI":
        return None, f"a data output feeds {ff['type']}.{port}"
    reset, reason = register_kind(ff, clock, inverted)
    if reason is None and reset is not None:
        reason = "a register with a reset"
    if reason is not None:
        return None, f"{reason} ({name})"
    return name, None


def _width(cell: dict, name: str) -> int:
    value = _param(cell, name, "18")
    return int(value, 2) if set(value) <= {"0", "1"} and len(value) > 8 else int(value)


def _read_ports(ebr: dict) -> dict:
    """``{port letter: (clock bit, inverted clock?)}`` of the port whose read data each data pin
    of that port carries: in the 36-bit mode both halves (``DOA``, ``DOB``) are port B's read data,
    otherwise each port reads on its own pins."""
    port_b = (_bit(ebr, "CLKB"), _param(ebr, "CLKBMUX", "CLKB") != "CLKB")
    if _width(ebr, "DATA_WIDTH_B") == 36:
        return {"A": port_b, "B": port_b}
    return {"A": (_bit(ebr, "CLKA"), _param(ebr, "CLKAMUX", "CLKA") != "CLKA"), "B": port_b}


def _absorb_block(cells: dict, index: NetIndex, name: str):
    """``(ports, {data output: flip-flop})`` for one DP16KD, or a reason string."""
    ebr = cells[name]
    if _param(ebr, "REGMODE_A", "NOREG") != "NOREG" or \
            _param(ebr, "REGMODE_B", "NOREG") != "NOREG":
        return "output registers already in use"
    clocks = _read_ports(ebr)
    plan, ports = {}, set()
    for pin in _DATA_OUTPUTS:
        bit = _bit(ebr, pin)
        if bit is None or bit in CONSTANTS or \
                not index.sinks.get(bit) and bit not in index.port_bits:
            continue  # an unused output
        port = pin[2]
        clock, inverted = clocks[port]
        if not isinstance(clock, int):
            return f"{pin} is used but its port has no clock"
        ff, reason = _register_behind(cells, index, bit, clock, inverted)
        if ff is None:
            return reason
        plan[pin] = ff
        ports.add(port)
    if not plan:
        return "no data output used"
    if _width(ebr, "DATA_WIDTH_B") == 36:
        clock_a = _bit(ebr, "CLKA")
        if isinstance(clock_a, int) and (clock_a != clocks["B"][0] or
                                         _param(ebr, "CLKAMUX", "CLKA") !=
                                         ("INV" if clocks["B"][1] else "CLKA")):
            return "36-bit mode with ports A and B on different clocks"
        ports = {"A", "B"}
    for port in sorted(ports):
        if not _is_const(_bit(ebr, f"RST{port}"), "0"):
            return f"RST{port} is not tied to 0"
    return sorted(ports), plan


def absorb_output_registers(netlist: dict) -> OutregSummary:
    """Rewrite ``netlist`` (a Yosys JSON netlist after ``synth_ecp5``) in place: each
    DP16KD whose data outputs all feed plain registers on its read clock takes those
    registers into its output registers. Returns what changed."""
    summary = OutregSummary()
    for cells, index, names in modules_with(netlist, "DP16KD"):
        for name in names:
            summary.blocks += 1
            plan = _absorb_block(cells, index, name)
            if isinstance(plan, str):
                summary.skipped[name] = plan
                continue
            ebr = cells[name]
            ports, plan = plan
            conns = ebr["connections"]
            if len(ports) == 2 and _width(ebr, "DATA_WIDTH_B") == 36:
                # both output registers on the read clock, whichever serves which half
                conns["CLKA"] = list(conns["CLKB"])
                ebr["parameters"]["CLKAMUX"] = \
                    "CLKA" if _param(ebr, "CLKBMUX", "CLKB") == "CLKB" else "INV"
            for port in ports:
                ebr["parameters"][f"REGMODE_{port}"] = "OUTREG"
                conns[f"OCE{port}"] = ["1"]
            for pin, ff in plan.items():
                conns[pin] = list(cells[ff]["connections"]["Q"])
                del cells[ff]
            summary.absorbed_blocks += 1
            summary.removed_flip_flops += len(plan)
    return summary
