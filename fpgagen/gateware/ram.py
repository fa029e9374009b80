"""Large read-write memories as instances of a templated simple dual-port RAM module (no
initial contents, so they never become Verilog literals), split into banks of block RAM
with a registered two-level read multiplexer (``templates/ram.v.j2``)."""

import math

from amaranth.hdl import ClockSignal, Instance, Signal

from .. import __version__
from ..resources import template_env

__all__ = ["RAM_MODULE", "DEFAULT_BANK_DEPTH", "ram_verilog", "ram_instance", "ram_banking"]

#: Name of the Verilog module rendered from ``templates/ram.v.j2``.
RAM_MODULE = "fpgagen_ram"
#: Words per bank when the device is not known: one row of 512 x 36 blocks (ECP5 EBR,
#: 7-series RAMB18/RAMB36 at their widest).
DEFAULT_BANK_DEPTH = 512


def ram_verilog() -> str:
    """Verilog source of the RAM module."""
    return template_env().get_template("ram.v.j2").render(module=RAM_MODULE,
                                                          version=__version__)


def ram_banking(depth: int, bank_depth: int) -> tuple[int, int, int]:
    """``(banks, banks per group, groups)`` of a ``depth``-word RAM in banks of
    ``bank_depth`` words: the first multiplexer level picks a bank within its group, the
    second a group. Groups hold a power of two of banks, about the square root of the bank
    count, so both levels stay small."""
    if bank_depth < 1 or bank_depth & (bank_depth - 1):
        raise ValueError(f"bank depth must be a power of two, not {bank_depth!r}")
    banks = -(-depth // bank_depth)
    group = 1 << max(0, math.ceil(math.log2(math.ceil(math.sqrt(banks)))))
    return banks, group, -(-banks // group)


def ram_instance(*, depth: int, waddr: Signal, wdata: Signal, we: Signal, raddr: Signal,
                 rdata: Signal, bank_depth: int = DEFAULT_BANK_DEPTH) -> Instance:
    """A RAM of ``depth`` words of ``len(wdata)`` bits in banks of ``bank_depth`` words (a
    power of two): writes ``wdata`` at ``waddr`` when ``we``; ``rdata`` is the word at
    ``raddr`` four cycles later (``MEMORY_LATENCY``; the old word on a same-address
    write)."""
    if len(wdata) != len(rdata) or len(waddr) != len(raddr):
        raise ValueError(f"RAM ports disagree: data {len(wdata)}/{len(rdata)} bits, address "
                         f"{len(waddr)}/{len(raddr)} bits")
    _, group, _ = ram_banking(depth, bank_depth)
    return Instance(RAM_MODULE, p_WIDTH=len(wdata), p_DEPTH=depth, p_ABITS=len(waddr),
                    p_BANK_ABITS=bank_depth.bit_length() - 1, p_GROUP_BANKS=group,
                    i_clk=ClockSignal(), i_waddr=waddr, i_wdata=wdata, i_we=we, i_raddr=raddr,
                    o_rdata=rdata)
