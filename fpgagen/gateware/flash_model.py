"""A simulation model of the data interface of Intel's On-Chip Flash IP
(``altera_onchip_flash``, parallel mode, incrementing read bursts, read only), with
deterministic timing, for the tests of the blocks that read weights from the MAX 10 user
flash. It is plain synthesizable Amaranth (a memory initialised from the contents), but it
stands in for the IP only in simulation."""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ..hw.flash_timing import check_flash_timing
from .flash_reader import AvalonReadSignature

__all__ = ["FlashModel"]


class FlashModel(wiring.Component):
    """The flash's Avalon-MM data interface, answering burst reads from ``contents``.

    Timing (:mod:`fpgagen.hw.flash_timing`): a command is accepted at the end of a cycle
    ``a`` with ``read`` high and ``waitrequest`` low. Word ``k`` of its ``burstcount`` words
    (0-based, from ``address`` upwards) is presented (``readdatavalid`` high, ``readdata``
    the word) in cycle ``a + latency + floor(k * clocks_per / words_per)``
    (:func:`~fpgagen.hw.flash_timing.burst_word_cycle`); ``readdatavalid`` is low in every
    other cycle. ``waitrequest`` is high from cycle ``a + 1`` through the cycle of the last
    word, low otherwise (it does not depend on ``read``), so the next command may be
    accepted in the cycle after the last word. With ``latency = 5``, ``words_per /
    clocks_per = 4/7`` and ``burst_limit = 128`` this is about what the IP shows at 50 MHz.

    A command with ``burstcount`` 0 or above ``burst_limit``, or reading past the contents,
    sets ``error`` (until reset); what the model answers to it is undefined.

    Parameters
    ----------
    contents : list of int
        The flash words (``data_bits`` bits each), word address 0 upwards.
    latency : int
        Cycles from a command's acceptance to its first word (at least 1).
    burst_limit : int
        Most words per command.
    words_per, clocks_per : int
        Throughput within a burst: ``words_per`` words every ``clocks_per`` cycles, at most
        one a cycle.
    addr_bits : int or None
        Width of ``address``; None for the fewest that address the contents.
    data_bits : int
        Width of a word.

    Ports
    -----
    bus : flipped AvalonReadSignature
        The data interface (``bus__address``, ``bus__read``, ``bus__burstcount``,
        ``bus__waitrequest``, ``bus__readdata``, ``bus__readdatavalid`` in Verilog).
    error
        A bad command was accepted.
    """

    def __init__(self, contents, *, latency: int, burst_limit: int, words_per: int,
                 clocks_per: int, addr_bits: int | None = None, data_bits: int = 32):
        self._timing = check_flash_timing(latency, burst_limit, words_per, clocks_per)
        if isinstance(data_bits, bool) or not isinstance(data_bits, int) or data_bits < 1:
            raise ValueError(f"data_bits must be a positive integer, not {data_bits!r}")
        contents = [int(w) for w in contents]
        if not contents:
            raise ValueError("the flash contents must hold at least one word, not none")
        for i, w in enumerate(contents):
            if not 0 <= w < 1 << data_bits:
                raise ValueError(f"flash word {i} does not fit in {data_bits} bits: {w!r}")
        need = max(1, (len(contents) - 1).bit_length())
        if addr_bits is None:
            addr_bits = need
        if isinstance(addr_bits, bool) or not isinstance(addr_bits, int) or addr_bits < need:
            raise ValueError(f"addr_bits must be an integer of at least {need} for "
                             f"{len(contents)} words, not {addr_bits!r}")
        self._contents = tuple(contents)
        super().__init__({
            "bus": In(AvalonReadSignature(addr_bits=addr_bits, burst_limit=burst_limit,
                                          data_bits=data_bits)),
            "error": Out(1),
        })

    @property
    def contents(self) -> tuple:
        return self._contents

    @property
    def latency(self) -> int:
        return self._timing[0]

    @property
    def burst_limit(self) -> int:
        return self._timing[1]

    @property
    def words_per(self) -> int:
        return self._timing[2]

    @property
    def clocks_per(self) -> int:
        return self._timing[3]

    def elaborate(self, platform):
        m = Module()
        latency, limit, words_per, clocks_per = self._timing
        bus = self.bus
        depth = len(self._contents)

        m.submodules.mem = mem = memory.Memory(shape=unsigned(len(bus.readdata)), depth=depth,
                                               init=self._contents)
        rd = mem.read_port()  # a word fetched in cycle t is presented in cycle t + 1
        fetch = Signal()
        fetch_addr = Signal.like(bus.address)
        m.d.comb += [rd.addr.eq(fetch_addr), rd.en.eq(fetch), bus.readdata.eq(rd.data)]
        m.d.sync += bus.readdatavalid.eq(fetch)

        busy = Signal()
        m.d.comb += bus.waitrequest.eq(busy)
        accept = bus.read & ~busy
        left = Signal(range(limit + 1))  # words of the burst not yet fetched
        next_addr = Signal.like(bus.address)
        # cycles until the next fetch; fetch when 0
        wait = Signal(range(max(2, latency - 1, clocks_per // words_per + 1)))
        # k * clocks_per mod words_per for the next word k: the gap from word k to word
        # k + 1 is floor((phase + clocks_per) / words_per)
        phase = Signal(range(words_per))
        q, r = divmod(clocks_per, words_per)
        carry = phase + r >= words_per
        gap = q + carry

        with m.If(accept):
            m.d.sync += busy.eq(1)
            bad = ((bus.burstcount == 0) | (bus.burstcount > limit)
                   | (bus.address + bus.burstcount > depth))
            with m.If(bad):
                m.d.sync += self.error.eq(1)
            if latency == 1:  # word 0 is fetched now
                m.d.comb += [fetch.eq(1), fetch_addr.eq(bus.address)]
                m.d.sync += [left.eq(bus.burstcount - 1), next_addr.eq(bus.address + 1),
                             wait.eq(q - 1), phase.eq(r)]
            else:
                m.d.sync += [left.eq(bus.burstcount), next_addr.eq(bus.address),
                             wait.eq(latency - 2), phase.eq(0)]
        with m.Elif(busy):
            with m.If(left != 0):
                with m.If(wait == 0):
                    m.d.comb += [fetch.eq(1), fetch_addr.eq(next_addr)]
                    m.d.sync += [left.eq(left - 1), next_addr.eq(next_addr + 1),
                                 wait.eq(gap - 1),
                                 phase.eq(Mux(carry, phase + r - words_per, phase + r))]
                with m.Else():
                    m.d.sync += wait.eq(wait - 1)
            with m.Elif(bus.readdatavalid):  # the last word is presented now
                m.d.sync += busy.eq(0)
        return m
