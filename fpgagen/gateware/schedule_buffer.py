"""The schedule staging buffer of a design with its schedule in flash (``docs/hardware.md``,
*Schedule in flash*): two halves of ``segment_depth`` schedule words each, in flip-flops (a
schedule word is some 550 bits wide, and a MAX 10 M9K block at most 36: block RAM would take
15 blocks for a few words), written by the loader and read by the sequencer without
latency."""

from amaranth.hdl import Array, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ScheduleBuffer"]


class ScheduleBuffer(wiring.Component):
    """``2 * segment_depth`` registers of ``width`` bits.

    Ports
    -----
    we, waddr, wdata
        Write word ``waddr`` (at the end of the cycle).
    raddr, rdata
        Word ``raddr``, combinationally (the registers' outputs through a multiplexer).

    Parameters
    ----------
    width : int
        Bits of a schedule word.
    segment_depth : int
        Words of one half.
    """

    def __init__(self, *, width: int, segment_depth: int):
        if segment_depth < 1:
            raise ValueError(f"segment_depth must be at least 1, not {segment_depth!r}")
        if width < 1:
            raise ValueError(f"width must be at least 1, not {width!r}")
        self._depth = 2 * segment_depth
        super().__init__({"we": In(1), "waddr": In(range(self._depth)), "wdata": In(width),
                          "raddr": In(range(self._depth)), "rdata": Out(width)})

    @property
    def depth(self) -> int:
        """Words of both halves."""
        return self._depth

    def elaborate(self, platform):
        m = Module()
        words = Array(Signal(len(self.wdata), name=f"word_{k}") for k in range(self._depth))
        with m.If(self.we):
            m.d.sync += words[self.waddr].eq(self.wdata)
        m.d.comb += self.rdata.eq(words[self.raddr])
        return m
