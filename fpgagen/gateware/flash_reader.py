"""Burst reads from the on-chip user flash into a stream of words.

The flash is read through the data interface of Intel's On-Chip Flash IP (Avalon-MM,
parallel mode, incrementing read bursts): :class:`AvalonReadSignature` is that interface as
the master sees it, :class:`FlashReader` the master. :class:`fpgagen.gateware.flash_model.
FlashModel` stands in for the IP in simulation; :func:`fpgagen.hw.flash_timing.read_cycles`
gives the exact cycles of a read.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..hw.flash_timing import READER_FIFO_LATENCY, min_fifo_depth

__all__ = ["AvalonReadSignature", "FlashReader"]


def _at_least(name: str, value, least: int) -> int:
    """``value``, checked to be an int of at least ``least``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be an integer of at least {least}, not {value!r}")
    return value


class AvalonReadSignature(wiring.Signature):
    """Avalon-MM burst reads, as the master sees them (``Out`` for the master, ``In`` for
    the slave).

    A read command (``address``, ``burstcount``) is accepted at the end of a cycle with
    ``read`` high and ``waitrequest`` low; the master holds ``read``, ``address`` and
    ``burstcount`` until then. The slave answers with ``burstcount`` words, one in each
    cycle ``readdatavalid`` is high, from ``address`` upwards; it cannot be stalled.

    Parameters
    ----------
    addr_bits : int
        Width of ``address`` (a word address).
    burst_limit : int
        Most words in one command; ``burstcount`` is ``burst_limit.bit_length()`` bits wide.
    data_bits : int
        Width of ``readdata``.

    Members
    -------
    address, read, burstcount : Out
    waitrequest, readdata, readdatavalid : In
    """

    def __init__(self, *, addr_bits: int, burst_limit: int, data_bits: int = 32):
        self._addr_bits = _at_least("addr_bits", addr_bits, 1)
        self._burst_limit = _at_least("burst_limit", burst_limit, 1)
        self._data_bits = _at_least("data_bits", data_bits, 1)
        super().__init__({
            "address": Out(self._addr_bits),
            "read": Out(1),
            "burstcount": Out(self._burst_limit.bit_length()),
            "waitrequest": In(1),
            "readdata": In(self._data_bits),
            "readdatavalid": In(1),
        })

    @property
    def addr_bits(self) -> int:
        return self._addr_bits

    @property
    def burst_limit(self) -> int:
        return self._burst_limit

    @property
    def data_bits(self) -> int:
        return self._data_bits

    def __eq__(self, other):
        return (type(other) is type(self) and (self._addr_bits, self._burst_limit,
                self._data_bits) == (other._addr_bits, other._burst_limit, other._data_bits))

    def __repr__(self):
        return (f"AvalonReadSignature(addr_bits={self._addr_bits}, "
                f"burst_limit={self._burst_limit}, data_bits={self._data_bits})")


class FlashReader(wiring.Component):
    """Reads ``count`` words from ``base`` on in bursts and streams them out in order.

    On ``start`` (one cycle, ignored while ``busy``) the reader takes ``base`` and ``count``
    and issues read commands of ``min(burst_limit, words left)`` words at rising addresses.
    A command is issued (``read`` raised) only when the FIFO has room for all its words
    besides those already in it or on their way, since the flash cannot be stalled within
    a burst; so no word is lost whatever ``o_stream.ready`` does. The FIFO reads a block
    memory (Amaranth's ``SyncFIFOBuffered``: MAX 10 has no asynchronous-read RAM): a word
    is on ``o_stream`` :data:`~fpgagen.hw.flash_timing.READER_FIFO_LATENCY` (2) cycles
    after its ``readdatavalid``. Commands follow each other back to back: ``read`` may be
    high in the cycle after a command is accepted, and is a function of registers only.

    Timing, ``start`` in cycle 0 and the consumer always ready: the first command is
    issued in cycle 1 and the last word is taken in cycle
    :func:`~fpgagen.hw.flash_timing.read_cycles` ``(count, ..., fifo_depth=fifo_depth)``.
    With the default depth the next command is never held back for room; with a
    shallower FIFO a burst after the first may wait up to 2 cycles for it.

    Parameters
    ----------
    addr_bits : int
        Width of ``base`` and of the flash's word address.
    count_bits : int
        Width of ``count``.
    burst_limit : int
        Most words per read command (at most the flash's limit; 128 for the IP).
    fifo_depth : int or None
        Words the FIFO holds, at least ``burst_limit`` and 3
        (:func:`~fpgagen.hw.flash_timing.min_fifo_depth`); None for ``burst_limit + 2``,
        which lets the next command go out as soon as the flash takes it.
    data_bits : int
        Width of a word.

    Ports
    -----
    start, base, count
        Read ``count`` words from ``base`` on. ``count`` 0 only raises ``done``.
    busy
        High from the cycle after ``start`` through the cycle the last word is taken.
    done
        High from the cycle after the last word is taken until the next ``start``.
    bus : AvalonReadSignature
        To the flash's data interface.
    o_stream : stream of ``data_bits``
        The words, in address order.
    """

    def __init__(self, *, addr_bits: int, count_bits: int, burst_limit: int,
                 fifo_depth: int | None = None, data_bits: int = 32):
        addr_bits = _at_least("addr_bits", addr_bits, 1)
        count_bits = _at_least("count_bits", count_bits, 1)
        burst_limit = _at_least("burst_limit", burst_limit, 1)
        if fifo_depth is None:
            fifo_depth = burst_limit + READER_FIFO_LATENCY
        fifo_depth = _at_least("fifo_depth", fifo_depth, min_fifo_depth(burst_limit))
        data_bits = _at_least("data_bits", data_bits, 1)
        self._burst_limit, self._fifo_depth = burst_limit, fifo_depth
        super().__init__({
            "start": In(1), "base": In(addr_bits), "count": In(count_bits),
            "busy": Out(1), "done": Out(1),
            "bus": Out(AvalonReadSignature(addr_bits=addr_bits, burst_limit=burst_limit,
                                           data_bits=data_bits)),
            "o_stream": Out(stream.Signature(data_bits)),
        })

    @property
    def burst_limit(self) -> int:
        return self._burst_limit

    @property
    def fifo_depth(self) -> int:
        return self._fifo_depth

    def elaborate(self, platform):
        m = Module()
        limit, depth = self._burst_limit, self._fifo_depth
        bus = self.bus

        m.submodules.fifo = fifo = SyncFIFOBuffered(width=len(bus.readdata), depth=depth)
        m.d.comb += [fifo.w_en.eq(bus.readdatavalid), fifo.w_data.eq(bus.readdata),
                     self.o_stream.valid.eq(fifo.r_rdy),
                     self.o_stream.payload.eq(fifo.r_data), fifo.r_en.eq(self.o_stream.ready)]
        take = self.o_stream.valid & self.o_stream.ready

        to_issue = Signal.like(self.count)  # words not yet requested
        to_take = Signal.like(self.count)  # words not yet taken from the stream
        addr = Signal.like(self.base)
        # words requested and not yet taken (in flight or in the FIFO)
        reserved = Signal(range(depth + 1))
        size = Signal.like(bus.burstcount)
        m.d.comb += size.eq(Mux(to_issue < limit, to_issue, limit))
        # a command goes out only when the FIFO has room for every word of it
        m.d.comb += [bus.read.eq((to_issue != 0) & (reserved + size <= depth)),
                     bus.address.eq(addr), bus.burstcount.eq(size)]
        accept = bus.read & ~bus.waitrequest

        m.d.sync += reserved.eq(reserved + Mux(accept, size, 0) - take)
        with m.If(accept):
            m.d.sync += [to_issue.eq(to_issue - size), addr.eq(addr + size)]
        with m.If(self.start & ~self.busy):
            m.d.sync += [to_issue.eq(self.count), to_take.eq(self.count),
                         addr.eq(self.base), self.busy.eq(self.count != 0),
                         self.done.eq(self.count == 0)]
        with m.Elif(take):
            m.d.sync += to_take.eq(to_take - 1)
            with m.If(to_take == 1):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]
        return m
