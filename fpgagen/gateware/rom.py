"""Large read-only memories as instances of a templated ``$readmemh`` module."""

from pathlib import Path

import jinja2
from amaranth.hdl import ClockSignal, Instance, Signal

from .. import __version__

__all__ = ["ROM_MODULE", "rom_verilog", "rom_instance"]

#: Name of the Verilog module rendered from ``templates/rom.v.j2``.
ROM_MODULE = "fpgagen_rom"

_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _env():
    loader = jinja2.FileSystemLoader(str(_TEMPLATES))
    return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def rom_verilog() -> str:
    """Verilog source of the ROM module."""
    return _env().get_template("rom.v.j2").render(module=ROM_MODULE, version=__version__)


def rom_instance(addr: Signal, data: Signal, depth: int, init_file: str) -> Instance:
    """An instance reading ``data`` (next cycle) at ``addr`` from the hex file ``init_file``."""
    return Instance(ROM_MODULE, p_WIDTH=len(data), p_DEPTH=depth, p_ABITS=len(addr),
                    p_INIT=init_file, i_clk=ClockSignal(), i_addr=addr, o_data=data)
