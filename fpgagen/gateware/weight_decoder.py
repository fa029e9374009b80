"""The weight decoder of compressed layers (:mod:`fpgagen.hw.weight_stream`): per PE column,
masks and codebook indices streamed from the column's memories, decoded one stored weight
per cycle into a tile buffer of two tiles, which the array reads as it reads a dense
weight bank.

Timing (``docs/hardware.md``, *Compressed weights*; mirrored by
:func:`fpgagen.hw.cost.compressed_stall`): after the instruction starts, the control loads
the layer's codebook into every column (``2**index_bits`` cycles) while the columns
prefetch their streams and skip to their start item; then it starts tile after tile with
``go``: a column spends :func:`~fpgagen.hw.weight_stream.tile_cycles` cycles on a tile;
when every column is done the tile is ready for the array, and the next may start as soon
as its buffer half is free (the array has started the group before it).
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ..hw.isa import ADDR_BITS, DIM_BITS
from ..hw.spec import WEIGHT_BITS, check_weight_bits, weight_operand_bits
from ..hw.timing import MEMORY_LATENCY
from ..hw.weight_stream import STREAM_ITEM_BITS
from ..ir.quant import MAX_INDEX_BITS, MIN_INDEX_BITS

__all__ = ["ColumnDecoder"]


class _Prefetch:
    """Sequential reads from a memory of fixed read latency (:data:`MEMORY_LATENCY`) into a
    FIFO of ``depth`` words: ``restart`` (with ``restart_addr``) empties it and reads from
    there on; ``head`` is the oldest word, valid when ``ready``; ``pop`` takes it."""

    def __init__(self, m: Module, name: str, width: int, depth: int, data_in):
        self.addr = Signal(ADDR_BITS, name=f"{name}_addr")
        self.restart = Signal(name=f"{name}_restart")
        self.restart_addr = Signal(ADDR_BITS, name=f"{name}_restart_addr")
        self.pop = Signal(name=f"{name}_pop")
        self.ready = Signal(name=f"{name}_ready")
        self.head = Signal(width, name=f"{name}_head")
        abits = max(1, (depth - 1).bit_length())
        store = Array(Signal(width, name=f"{name}_q{k}") for k in range(depth))
        rd, wr = Signal(abits, name=f"{name}_rd"), Signal(abits, name=f"{name}_wr")
        count = Signal(range(depth + 1), name=f"{name}_count")
        pending = Signal(range(depth + 1), name=f"{name}_pending")  # count + in flight
        flight = Signal(MEMORY_LATENCY, name=f"{name}_flight")
        running = Signal(name=f"{name}_running")
        issue = running & (pending < depth) & ~self.restart
        arrive = flight[-1]
        pop = self.pop & self.ready
        m.d.comb += [self.ready.eq(count != 0), self.head.eq(store[rd])]
        with m.If(self.restart):
            m.d.sync += [running.eq(1), self.addr.eq(self.restart_addr), rd.eq(0), wr.eq(0),
                         count.eq(0), pending.eq(0), flight.eq(0)]
        with m.Else():
            m.d.sync += flight.eq(Cat(issue, flight[:-1]))
            with m.If(issue):
                m.d.sync += self.addr.eq(self.addr + 1)
            m.d.sync += pending.eq(pending + issue - pop)
            m.d.sync += count.eq(count + arrive - pop)
            with m.If(arrive):
                m.d.sync += [store[wr].eq(data_in), wr.eq(wr + 1)]
            with m.If(pop):
                m.d.sync += rd.eq(rd + 1)


def _fifo_depth(word_bits: int) -> int:
    """Index words to prefetch so that one item per cycle never waits: enough for the read
    latency at the fewest items per word."""
    fewest = max(1, word_bits // MAX_INDEX_BITS)
    need = -(-(MEMORY_LATENCY + 2) // fewest) + 1
    return 1 << (need - 1).bit_length()


class ColumnDecoder(wiring.Component):
    """One PE column's decoder and tile buffer.

    Parameters
    ----------
    lanes : int
        Weights per tile word (``pe_rows``).
    word_bits : int
        Width of a weight-memory word (the index stream's words).
    tile_depth : int
        Words of the largest tile; the buffer holds two.
    weight_bits : int
        The design's weight code width: codebook entries and tile lanes are
        :func:`~fpgagen.hw.spec.weight_operand_bits` wide (default 8).

    Ports
    -----
    start
        The instruction starts (one cycle): prefetch masks from ``mask_base``.
    stream_valid, stream_word, stream_item
        Where the index stream starts (one cycle, after ``start``): prefetch from there and
        skip ``stream_item`` items; ``primed`` rises when done.
    index_bits, tile_words
        Of the running instruction (stable while it runs).
    go, parity
        Decode the next tile into buffer half ``parity`` (one cycle, ``primed`` high and
        the previous tile ``done``); ``done`` rises when its last word is written.
    cb_we, cb_addr, cb_data
        Write the codebook slot ``cb_addr`` (every column's at once).
    mask_addr, mask_data, index_addr, index_data
        The mask and weight memories' read ports (data :data:`MEMORY_LATENCY` cycles after
        the address).
    tile_addr, tile_data
        The array's read port of the tile buffer (data one cycle after the address).
    """

    def __init__(self, *, lanes: int, word_bits: int, tile_depth: int,
                 weight_bits: int = WEIGHT_BITS):
        if lanes < 1 or tile_depth < 1 or word_bits < MAX_INDEX_BITS:
            raise ValueError(f"bad decoder shape: {lanes} lanes, {word_bits}-bit words, "
                             f"tiles of {tile_depth}")
        self._lanes, self._word_bits, self._tile_depth = lanes, word_bits, tile_depth
        self._code_bits = cbits = weight_operand_bits(check_weight_bits(weight_bits))
        tbits = max(1, (2 * tile_depth - 1).bit_length())
        super().__init__({
            "start": In(1), "stream_valid": In(1), "stream_word": In(ADDR_BITS),
            "stream_item": In(STREAM_ITEM_BITS), "mask_base": In(ADDR_BITS),
            "index_bits": In(4), "tile_words": In(DIM_BITS),
            "go": In(1), "parity": In(1), "primed": Out(1), "done": Out(1),
            "cb_we": In(1), "cb_addr": In(MAX_INDEX_BITS), "cb_data": In(cbits),
            "mask_addr": Out(ADDR_BITS), "mask_data": In(lanes),
            "index_addr": Out(ADDR_BITS), "index_data": In(word_bits),
            "tile_addr": In(tbits), "tile_data": Out(cbits * lanes),
        })

    def elaborate(self, platform):
        m = Module()
        L, wbits, cbits = self._lanes, self._word_bits, self._code_bits
        b = self.index_bits

        masks = _Prefetch(m, "mask", L, 8, self.mask_data)
        index = _Prefetch(m, "index", wbits, _fifo_depth(wbits), self.index_data)
        m.d.comb += [self.mask_addr.eq(masks.addr), self.index_addr.eq(index.addr),
                     masks.restart.eq(self.start), masks.restart_addr.eq(self.mask_base),
                     index.restart.eq(self.stream_valid),
                     index.restart_addr.eq(self.stream_word)]

        # --- the index shift register: item = its low index_bits bits ----------------------
        sr = Signal(wbits)
        left = Signal(range(wbits + 1))  # items left in sr
        skip = Signal(STREAM_ITEM_BITS)
        per_word = Signal(range(wbits + 1))
        with m.Switch(b):
            for k in range(MIN_INDEX_BITS, MAX_INDEX_BITS + 1):
                with m.Case(k):
                    m.d.comb += per_word.eq(wbits // k)
        take = Signal()  # consume the item at the bottom of sr this cycle
        item = Signal(MAX_INDEX_BITS)
        m.d.comb += item.eq(sr[:MAX_INDEX_BITS] & ((Const(1, 9) << b) - 1)[:MAX_INDEX_BITS])
        primed = Signal()
        m.d.comb += self.primed.eq(primed)
        with m.If(self.stream_valid):
            m.d.sync += [left.eq(0), skip.eq(self.stream_item), primed.eq(0)]
        with m.Elif((left == 0) & index.ready):  # load the first word
            m.d.comb += index.pop.eq(1)
            m.d.sync += [sr.eq(index.head), left.eq(per_word)]
            m.d.sync += primed.eq(skip == 0)
        with m.Elif(take | ((left != 0) & (skip != 0))):
            with m.If(left == 1):
                m.d.comb += index.pop.eq(1)
                m.d.sync += [sr.eq(index.head), left.eq(per_word)]
            with m.Else():
                with m.Switch(b):
                    for k in range(MIN_INDEX_BITS, MAX_INDEX_BITS + 1):
                        with m.Case(k):
                            m.d.sync += sr.eq(sr >> k)
                m.d.sync += left.eq(left - 1)
            with m.If(skip != 0):
                m.d.sync += skip.eq(skip - 1)
                m.d.sync += primed.eq(skip == 1)

        # --- the codebook (written by the control, read one cycle after the item) ----------
        m.submodules.codebook = cb = memory.Memory(shape=unsigned(cbits),
                                                   depth=1 << MAX_INDEX_BITS, init=[])
        cb_w = cb.write_port()
        cb_r = cb.read_port()
        m.d.comb += [cb_w.addr.eq(self.cb_addr), cb_w.data.eq(self.cb_data),
                     cb_w.en.eq(self.cb_we), cb_r.addr.eq(item)]

        # --- stage A: one mask bit (or one empty word) per cycle -----------------------------
        active, have, parity = Signal(), Signal(), Signal()
        cur = Signal(L)
        t = Signal(DIM_BITS)
        m_eff = Signal(L)
        m.d.comb += m_eff.eq(Mux(have, cur, masks.head))
        low = Signal(L)
        m.d.comb += low.eq(m_eff & (~m_eff + 1))
        rest = m_eff & ~low
        empty = m_eff == 0
        word_end = empty | (rest == 0)
        # stage B registers
        b_valid, b_fresh, b_end = Signal(), Signal(), Signal()
        b_low = Signal(L)
        b_t = Signal(DIM_BITS)
        b_parity = Signal()
        m.d.sync += b_valid.eq(0)
        with m.If(self.go):
            m.d.sync += [active.eq(1), have.eq(0), t.eq(0), parity.eq(self.parity),
                         self.done.eq(0)]
        with m.Elif(active):
            m.d.comb += masks.pop.eq(~have)
            m.d.comb += take.eq(~empty)
            m.d.sync += [b_valid.eq(1), b_fresh.eq(~have), b_end.eq(word_end),
                         b_low.eq(Mux(empty, 0, low)), b_t.eq(t), b_parity.eq(parity)]
            with m.If(word_end):
                m.d.sync += [have.eq(0), t.eq(t + 1)]
                with m.If(t == self.tile_words - 1):
                    m.d.sync += active.eq(0)
            with m.Else():
                m.d.sync += [have.eq(1), cur.eq(rest)]

        # --- stage B: the codebook value into its lane; a finished word into the buffer ------
        word = Signal(cbits * L)
        lanes = []
        for l in range(L):
            old = Mux(b_fresh, 0, word.word_select(l, cbits))
            lanes.append(Mux(b_low[l], cb_r.data, old))
        new_word = Cat(*lanes)  # lanes of two's complement codes, cbits each
        m.submodules.tiles = tiles = memory.Memory(
            shape=unsigned(cbits * L), depth=2 * self._tile_depth, init=[])
        t_w = tiles.write_port()
        t_r = tiles.read_port()
        m.d.comb += [t_r.addr.eq(self.tile_addr), self.tile_data.eq(t_r.data)]
        m.d.comb += [t_w.addr.eq(Mux(b_parity, self.tile_words, 0) + b_t),
                     t_w.data.eq(new_word), t_w.en.eq(b_valid & b_end)]
        with m.If(b_valid):
            m.d.sync += word.eq(new_word)
            with m.If(b_end & (b_t == self.tile_words - 1)):
                m.d.sync += self.done.eq(1)
        return m
