"""Large read-write memories as instances of a templated simple dual-port RAM module (no
initial contents, so they never become Verilog literals)."""

from amaranth.hdl import ClockSignal, Instance, Signal

from .. import __version__
from .templates import verilog_template_env

__all__ = ["RAM_MODULE", "ram_verilog", "ram_instance"]

#: Name of the Verilog module rendered from ``templates/ram.v.j2``.
RAM_MODULE = "fpgagen_ram"


def ram_verilog() -> str:
    """Verilog source of the RAM module."""
    return verilog_template_env().get_template("ram.v.j2").render(module=RAM_MODULE,
                                                          version=__version__)


def ram_instance(*, depth: int, waddr: Signal, wdata: Signal, we: Signal, raddr: Signal,
                 rdata: Signal) -> Instance:
    """A RAM of ``depth`` words of ``len(wdata)`` bits: writes ``wdata`` at ``waddr`` when
    ``we``; ``rdata`` is the word at ``raddr`` two cycles later (``MEMORY_LATENCY``; the
    old word on a same-address write)."""
    if len(wdata) != len(rdata) or len(waddr) != len(raddr):
        raise ValueError(f"RAM ports disagree: data {len(wdata)}/{len(rdata)} bits, address "
                         f"{len(waddr)}/{len(raddr)} bits")
    return Instance(RAM_MODULE, p_WIDTH=len(wdata), p_DEPTH=depth, p_ABITS=len(waddr),
                    i_clk=ClockSignal(), i_waddr=waddr, i_wdata=wdata, i_we=we, i_raddr=raddr,
                    o_rdata=rdata)
