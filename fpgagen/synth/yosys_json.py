"""Reading Yosys JSON netlists after ``synth_ecp5``: cell parameters and pins, the sinks and
drivers of every net bit, and what kind of register a ``TRELLIS_FF`` is. Shared by the
register-packing passes (:mod:`fpgagen.synth.ecp5_outreg`, :mod:`fpgagen.synth.ecp5_dsp_inreg`)."""

from collections import defaultdict

__all__ = ["CONSTANTS", "param", "bit", "is_const", "NetIndex", "modules_with", "register_kind"]

#: Constant bits as Yosys writes them in ``connections``.
CONSTANTS = ("0", "1", "x", "z")


def param(cell: dict, name: str, default: str = "") -> str:
    """A parameter as a string (Yosys writes string parameters that look like binary numbers
    with a trailing space; it is stripped)."""
    return str(cell.get("parameters", {}).get(name, default)).strip()


def bit(cell: dict, port: str):
    """The single bit on ``port``: an int net id, a constant string, or None if unconnected."""
    bits = cell["connections"].get(port)
    return bits[0] if bits else None


def is_const(value, const: str) -> bool:
    """``value`` (a :func:`bit`) is the constant ``const``; unconnected counts as ``"0"``."""
    return value is None and const == "0" or value == const


class NetIndex:
    """Sinks and drivers of every net bit of one module, and the bits its ports expose."""

    def __init__(self, module: dict):
        self.sinks = defaultdict(list)  #: bit -> [(cell name, port)]
        self.drivers = {}  #: bit -> (cell name, port)
        for name, cell in module.get("cells", {}).items():
            directions = cell.get("port_directions", {})
            for port, bits in cell["connections"].items():
                for b in bits:
                    if not isinstance(b, int):
                        continue
                    if directions.get(port) == "output":
                        self.drivers[b] = (name, port)
                    else:
                        self.sinks[b].append((name, port))
        self.port_bits = {b for p in module.get("ports", {}).values()
                          for b in p.get("bits", []) if isinstance(b, int)}


def modules_with(netlist: dict, cell_type: str):
    """Per module holding cells of ``cell_type``: ``(cells, NetIndex, sorted names of those
    cells)``; the index is built before the caller changes anything."""
    for module in netlist.get("modules", {}).values():
        cells = module.get("cells", {})
        names = sorted(n for n, c in cells.items() if c.get("type") == cell_type)
        if names:
            yield cells, NetIndex(module), names


def register_kind(ff: dict, clock, inverted: bool = False):
    """``(reset bit or None, None)`` when the ``TRELLIS_FF`` ``ff`` is a register on
    ``clock`` (rising edge unless ``inverted``) with no clock enable and either no reset or
    a synchronous reset to 0 on the returned bit; ``(None, reason)`` otherwise."""
    if ff.get("type") != "TRELLIS_FF":
        return None, f"a {ff.get('type')} cell, not a flip-flop"
    if bit(ff, "CLK") != clock:
        return None, "a register on another clock"
    if param(ff, "CLKMUX", "CLK") != ("INV" if inverted else "CLK"):
        return None, "a register on the other clock edge"
    ce_mux = param(ff, "CEMUX", "1")
    if not (ce_mux == "1" or ce_mux == "CE" and is_const(bit(ff, "CE"), "1")):
        return None, "a register with a clock enable"
    if param(ff, "REGSET", "RESET") != "RESET":
        return None, "a register that sets to 1"
    lsr_mux, lsr = param(ff, "LSRMUX", "LSR"), bit(ff, "LSR")
    if lsr_mux == "0" or lsr_mux == "LSR" and is_const(lsr, "0"):
        return None, None
    if lsr_mux != "LSR" or not isinstance(lsr, int):
        return None, "a register with a constant or inverted reset"
    if param(ff, "SRMODE", "LSR_OVER_CE") != "LSR_OVER_CE":
        return None, "a register with an asynchronous reset"
    return lsr, None
