"""Unit test of the flash reader (``fpgagen.gateware.flash_reader.FlashReader``) on the
model of the On-Chip Flash IP's data interface (``fpgagen.gateware.flash_model.FlashModel``)
under Verilator.

Each parameter set (burst limit, flash latency, throughput ``words_per / clocks_per``,
FIFO depth: the default, or so shallow that a burst waits 1 or 2 cycles for room) is one
build with random flash contents, run on one cycle table (``units/tb_cycles.py``) of many
reads: counts 1, 2, ``limit - 1``, ``limit``, ``limit + 1`` and ``3 * limit + 5`` from
random bases.

* Consumer always ready, each read started in the first cycle the reader is idle again:
  the last word is taken exactly :func:`fpgagen.hw.flash_timing.read_cycles` cycles after
  ``start``. Then a read of 0 words: ``done`` at once, nothing read.
* Consumer ready at random (long stalls included), with an extra ``start`` while busy
  (to be ignored): nothing lost, nothing duplicated.

In both every read must deliver ``contents[base:base + count]`` in order, bit for bit;
``busy`` and ``done`` must frame it; the reader must raise ``read`` in exactly the cycles
its issue rule allows (room in the FIFO for the whole burst), with the right address and
burst count, and hold its command while the flash raises ``waitrequest``; the model must
present the words of every accepted command at the cycles of
:func:`~fpgagen.hw.flash_timing.burst_word_cycle` and never flag an error."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from fpgagen.gateware.flash_model import FlashModel
from fpgagen.gateware.flash_reader import FlashReader
from fpgagen.hw.flash_timing import burst_word_cycle, read_cycles

from .units.support import build, run_cycles

COUNT_BITS = 10
_BUS = ("read", "address", "burstcount", "waitrequest", "readdatavalid")


class FlashReadUnderTest(wiring.Component):
    """A reader on a flash model, with the bus between them on output ports."""

    def __init__(self, contents, *, burst_limit, latency, words_per, clocks_per, fifo_depth):
        self._flash = FlashModel(contents, latency=latency, burst_limit=burst_limit,
                                 words_per=words_per, clocks_per=clocks_per)
        addr_bits = len(self._flash.bus.address)
        self._reader = FlashReader(addr_bits=addr_bits, count_bits=COUNT_BITS,
                                   burst_limit=burst_limit, fifo_depth=fifo_depth)
        super().__init__({
            "start": In(1), "base": In(addr_bits), "count": In(COUNT_BITS),
            "busy": Out(1), "done": Out(1), "o_stream": Out(stream.Signature(32)),
            "error": Out(1), "read": Out(1), "address": Out(addr_bits),
            "burstcount": Out(len(self._flash.bus.burstcount)), "waitrequest": Out(1),
            "readdatavalid": Out(1)})

    @property
    def fifo_depth(self) -> int:
        return self._reader.fifo_depth

    def elaborate(self, platform):
        m = Module()
        m.submodules.flash = flash = self._flash
        m.submodules.reader = reader = self._reader
        wiring.connect(m, reader.bus, flash.bus)
        wiring.connect(m, wiring.flipped(self.o_stream), reader.o_stream)
        m.d.comb += [reader.start.eq(self.start), reader.base.eq(self.base),
                     reader.count.eq(self.count), self.busy.eq(reader.busy),
                     self.done.eq(reader.done), self.error.eq(flash.error)]
        m.d.comb += [getattr(self, n).eq(getattr(flash.bus, n)) for n in _BUS]
        return m


class _Table:
    """The input cycle table under construction, and the reads started in it."""

    def __init__(self):
        self.rows = {"start": [], "base": [], "count": [], "o_stream__ready": []}
        self.reads = []  # (start cycle, base, count, always ready)

    def idle(self, cycles, ready):
        for r in ready if hasattr(ready, "__len__") else [ready] * cycles:
            for k, v in (("start", 0), ("base", 0), ("count", 0), ("o_stream__ready", r)):
                self.rows[k].append(int(v))

    def start(self, base, count, ready, *, always_ready=False, record=True):
        """A start pulse; ``always_ready`` if the consumer is ready until the read ends."""
        self.idle(1, ready)
        self.rows["start"][-1], self.rows["base"][-1] = 1, base
        self.rows["count"][-1] = count
        if record:
            self.reads.append((len(self.rows["start"]) - 1, base, count, always_ready))


def _stalling_ready(rng, n, stall, within):
    """A consumer ready 20, 50 or 90 % of the cycles by turns (each for 1 to 24 cycles),
    with two stalls of ``stall`` cycles that begin in the first ``within`` cycles."""
    odds = np.repeat(rng.choice([0.2, 0.5, 0.9], n), rng.integers(1, 25, n))[:n]
    ready = (rng.random(n) < odds).astype(np.int64)
    for at in rng.integers(0, max(1, within), 2):
        ready[at:at + stall] = 0
    return ready


def _plan(rng, depth, limit, timing):
    """The reads of one run: each count always ready, back to back, then each count twice
    with a stalling consumer."""
    counts = [1, 2, limit - 1, limit, limit + 1, 3 * limit + 5]
    table = _Table()
    table.idle(3, 1)
    # always ready: each read starts the first cycle the reader is idle again
    for count in counts + counts[::-1]:
        base = int(rng.integers(0, depth - count + 1))
        table.start(base, count, 1, always_ready=True)
        table.idle(read_cycles(count, **timing), 1)
    table.start(5, 0, 1)  # count 0: done at once, nothing read
    table.idle(4, 1)
    # ready at random; another start while busy, to be ignored
    for count in counts + counts:
        base = int(rng.integers(0, depth - count + 1))
        # stalls long enough for a whole burst to pile up in the FIFO, in the first half of
        # the read, when more bursts are still to be issued
        stall = 2 * limit * timing["clocks_per"] // timing["words_per"] + 30
        cycles = read_cycles(count, **timing)
        span = 4 * cycles + 3 * count + 2 * stall + 120
        ready = _stalling_ready(rng, span + 1, stall, cycles // 2)
        table.start(base, count, ready[0])
        table.idle(1, ready[1])
        table.start(int(rng.integers(0, depth)), int(rng.integers(1, 4)), ready[2],
                    record=False)
        table.idle(span - 2, ready[3:])
    table.idle(4, 1)
    return table


def _check_bus(trace, words_per, clocks_per, latency, limit):
    """The master holds a waiting command; the flash answers on time and without error."""
    read, wait = trace["read"], trace["waitrequest"]
    held = np.flatnonzero(read[:-1] & wait[:-1])
    for name in ("read", "address", "burstcount"):
        np.testing.assert_array_equal(trace[name][held + 1], trace[name][held],
                                      err_msg=f"{name} changed while waitrequest was high")
    accepted = np.flatnonzero(read & (1 - wait))
    want = []
    for a in accepted:
        b = int(trace["burstcount"][a])
        assert 1 <= b <= limit, f"burstcount {b} in cycle {a}"
        want += [a + burst_word_cycle(k, latency, words_per, clocks_per) for k in range(b)]
    np.testing.assert_array_equal(np.flatnonzero(trace["readdatavalid"]), want,
                                  err_msg="readdatavalid cycles")
    assert not trace["error"].any(), "the flash model flagged a bad command"


def _check_commands(trace, taken_at, reads, limit, fifo_depth):
    """Cycle by cycle, the reader's command is the one its issue rule gives: during a read
    of ``count`` words from ``base`` of which ``issued`` are requested, ``read`` is high
    exactly when words are left and the FIFO has room for the next burst besides the
    words requested and not taken (``reserved``), with ``address = base + issued`` and
    ``burstcount = min(count - issued, limit)``. Returns the cycles a command was held
    back for room while the flash was idle."""
    accepted = trace["read"] & (1 - trace["waitrequest"])
    # words accepted / taken before each cycle
    requested = np.concatenate([[0], np.cumsum(accepted * trace["burstcount"])])[:-1]
    reserved = requested - np.concatenate([[0], np.cumsum(taken_at)])[:-1]
    want_read = np.zeros_like(trace["read"])
    want_addr, want_size = np.zeros_like(want_read), np.zeros_like(want_read)
    held_back = 0
    ends = [s for s, *_ in reads[1:]] + [len(want_read)]
    for (s, base, count, _), end in zip(reads, ends):
        issued = requested[s + 1:end] - requested[s + 1]
        size = np.minimum(count - issued, limit)
        room = reserved[s + 1:end] + size <= fifo_depth
        want_read[s + 1:end] = (issued < count) & room
        want_addr[s + 1:end], want_size[s + 1:end] = base + issued, size
        held_back += int(((issued < count) & ~room & (trace["waitrequest"][s + 1:end] == 0))
                         .sum())
    np.testing.assert_array_equal(trace["read"], want_read, err_msg="read")
    on = want_read == 1
    np.testing.assert_array_equal(trace["address"][on], want_addr[on], err_msg="address")
    np.testing.assert_array_equal(trace["burstcount"][on], want_size[on],
                                  err_msg="burstcount")
    return held_back


@pytest.mark.parametrize(
    "limit, latency, words_per, clocks_per, fifo_depth",
    [(8, 1, 1, 1, 8), (8, 1, 4, 7, 9), (8, 5, 1, 1, 9), (8, 5, 4, 7, None),
     (8, 2, 3, 5, 16), (128, 5, 4, 7, None)],
    ids=["b8_l1_1of1_fifo8", "b8_l1_4of7_fifo9", "b8_l5_1of1_fifo9", "b8_l5_4of7",
         "b8_l2_3of5_fifo16", "b128_l5_4of7"])
def test_flash_reader(build_dir, limit, latency, words_per, clocks_per, fifo_depth):
    rng = np.random.default_rng(limit * 100 + latency * 10 + clocks_per)
    depth = 4 * limit + 40
    contents = rng.integers(0, 1 << 32, depth, dtype=np.uint64)
    contents[:4] = [0, 0xFFFFFFFF, 0x80000001, 0x7FFFFFFE]
    dut = FlashReadUnderTest([int(w) for w in contents], burst_limit=limit, latency=latency,
                             words_per=words_per, clocks_per=clocks_per,
                             fifo_depth=fifo_depth)
    timing = dict(latency=latency, burst_limit=limit, words_per=words_per,
                  clocks_per=clocks_per, fifo_depth=fifo_depth)
    table = _plan(rng, depth, limit, timing)
    sim = build(dut, build_dir)
    trace = run_cycles(sim, dut, table.rows,
                       ["o_stream__valid", "o_stream__payload", "busy", "done", "error",
                        *_BUS])
    _check_bus(trace, words_per, clocks_per, latency, limit)

    ready = np.array(table.rows["o_stream__ready"])
    taken_at = trace["o_stream__valid"] & ready
    taken = np.flatnonzero(taken_at)
    held_back = _check_commands(trace, taken_at, table.reads, limit, dut.fifo_depth)
    assert held_back > 100, f"the consumer held back commands in only {held_back} cycles"
    held = np.cumsum(trace["readdatavalid"]) - np.cumsum(taken_at)  # words in the FIFO
    assert held.max() <= dut.fifo_depth, f"{held.max()} words in the FIFO"
    busy, done = trace["busy"], trace["done"]
    ends = [s for s, *_ in table.reads[1:]] + [len(ready)]
    for (s, base, count, always), end in zip(table.reads, ends):
        mine = taken[(taken > s) & (taken < end)]
        what = f"read of {count} from {base} started in cycle {s}"
        if count == 0:
            assert len(mine) == 0 and not busy[s + 1:end].any() and done[s + 1:end].all()
            continue
        np.testing.assert_array_equal(trace["o_stream__payload"][mine].astype(np.uint64),
                                      contents[base:base + count], err_msg=what)
        last = int(mine[-1])
        assert busy[s + 1:last + 1].all() and not busy[last + 1], what
        assert not done[s + 1:last + 1].any() and done[last + 1:end].all(), what
        if always:
            assert last - s == read_cycles(count, **timing), what
