"""The weight loader of a design with its weights in flash (``docs/hardware.md``, *Weights
in flash*): a :class:`~fpgagen.gateware.flash_reader.FlashReader` reads a chunk's block of
the flash image, a deserializer assembles its memory words and writes them, kind by kind
(:data:`~fpgagen.schedule.flash_store.KINDS`), column by column, word by word, into the
staging RAMs of one half; then (the schedule in flash) the reader reads the chunk's
segment, whose schedule words go to one half of the schedule staging buffer."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..hw.isa import ADDR_BITS, FLASH_ADDR_BITS, SEGMENT_BITS
from .flash_reader import AvalonReadSignature, FlashReader

__all__ = ["FlashLoader"]

_WORD = 32


class FlashLoader(wiring.Component):
    """Loads one chunk at a time into a half of the staging RAMs.

    ``launch`` (one cycle, only while ``idle``) takes ``base``, the per-column counts and
    ``half``; in the next cycle the reader starts reading ``cols * sum(count_k * per_k)``
    flash words from ``base`` (``per_k = ceil(width_k / 32)``). Every flash word is taken
    as it comes; the last one of a memory word writes it (``we[k * cols + c]``, ``waddr =
    half * halves[k] + index``, ``wdata``) in the cycle it is taken. ``idle`` and
    ``ready[half]`` rise two cycles after the reader's last word (the cycle after its
    ``busy`` falls); ``ready[half]`` falls in the cycle after a launch into that half.

    The schedule in flash: a launch also takes ``segment_base`` and ``segment_words``.
    Two cycles after the block's last word (:data:`~fpgagen.hw.timing.FLASH_SEGMENT_GAP`)
    the reader starts reading the segment's ``segment_words * per_s`` flash words (``per_s
    = ceil(segment_bits / 32)``), from the launch's next cycle on when the block is empty
    (all counts 0: the boot segment); the last flash word of each schedule word writes it
    (``swe``, ``swaddr = half * segment_depth + index``, ``swdata``) in the cycle it is
    taken, and ``idle`` and ``ready[half]`` rise two cycles after the segment's last word.

    Parameters
    ----------
    cols : int
        PE columns.
    widths, halves : dict
        ``{kind: memory word width}`` and ``{kind: words of one staging half}`` for the
        kinds ``bias``, ``mask`` and ``weight``.
    burst_limit : int
        The reader's bursts.
    segment_bits : int
        Width of a schedule word.
    segment_depth : int
        Schedule words of one half of the schedule staging buffer.
    """

    KINDS = ("bias", "mask", "weight")

    def __init__(self, *, cols: int, widths: dict, halves: dict, burst_limit: int,
                 segment_bits: int, segment_depth: int):
        self._cols, self._widths, self._halves = cols, dict(widths), dict(halves)
        self._burst_limit = burst_limit
        self._data_bits = max(widths.values())
        if segment_depth < 1 or segment_depth >= 1 << SEGMENT_BITS:
            raise ValueError(f"segment_depth must be 1..{(1 << SEGMENT_BITS) - 1}, not "
                             f"{segment_depth!r}")
        self._seg_bits, self._seg_depth = segment_bits, segment_depth
        super().__init__({
            "launch": In(1), "base": In(FLASH_ADDR_BITS), "half": In(1),
            "bias_words": In(ADDR_BITS), "mask_words": In(ADDR_BITS),
            "weight_words": In(ADDR_BITS),
            "idle": Out(1), "ready": Out(2),
            "we": Out(3 * cols), "waddr": Out(ADDR_BITS), "wdata": Out(self._data_bits),
            "bus": Out(AvalonReadSignature(addr_bits=FLASH_ADDR_BITS, burst_limit=burst_limit,
                                           data_bits=_WORD)),
            "segment_base": In(FLASH_ADDR_BITS), "segment_words": In(SEGMENT_BITS),
            "swe": Out(1), "swaddr": Out(range(2 * segment_depth)), "swdata": Out(segment_bits),
        })

    def elaborate(self, platform):
        m = Module()
        cols = self._cols
        per = [-(-self._widths[k] // _WORD) for k in self.KINDS]
        m.submodules.reader = reader = FlashReader(
            addr_bits=FLASH_ADDR_BITS, count_bits=FLASH_ADDR_BITS + 1,
            burst_limit=self._burst_limit)
        wiring.connect(m, wiring.flipped(self.bus), reader.bus)

        counts = [Signal(ADDR_BITS, name=f"n_{k}") for k in self.KINDS]
        half = Signal()
        pending = Signal()
        base = Signal(FLASH_ADDR_BITS)
        total = Signal(FLASH_ADDR_BITS + 1)
        active = Signal()
        ins = [self.bias_words, self.mask_words, self.weight_words]
        with m.If(self.launch):
            m.d.sync += [c.eq(i) for c, i in zip(counts, ins)]
            m.d.sync += [half.eq(self.half), pending.eq(1), base.eq(self.base), active.eq(1),
                         total.eq(cols * sum(i * p for i, p in zip(ins, per)))]
            m.d.sync += self.ready.bit_select(self.half, 1).eq(0)
        with m.Else():
            m.d.sync += pending.eq(0)
        # the segment's read follows the block's (or is the only one)
        seg_per = -(-self._seg_bits // _WORD)
        seg_base = Signal(FLASH_ADDR_BITS)
        seg_total = Signal(FLASH_ADDR_BITS + 1)
        in_seg = Signal()  # the reader reads the segment
        with m.If(self.launch):
            m.d.sync += [seg_base.eq(self.segment_base),
                         seg_total.eq(self.segment_words * seg_per),
                         in_seg.eq(sum(ins) == 0)]
        m.d.comb += [reader.start.eq(pending), reader.base.eq(Mux(in_seg, seg_base, base)),
                     reader.count.eq(Mux(in_seg, seg_total, total))]
        prev_busy = Signal()
        m.d.sync += prev_busy.eq(reader.busy)
        with m.If(prev_busy & ~reader.busy):
            with m.If(~in_seg & (seg_total != 0)):
                m.d.sync += [in_seg.eq(1), pending.eq(1)]
            with m.Else():
                m.d.sync += [active.eq(0), self.ready.bit_select(half, 1).eq(1)]
        m.d.comb += self.idle.eq(~active)

        # the deserializer
        kind = Signal(2)
        col = Signal(range(max(cols, 2)))
        idx = Signal(ADDR_BITS)
        part = Signal(range(max(per) + 1))
        acc = Signal(_WORD * max(max(per) - 1, 1))
        with m.If(self.launch):
            m.d.sync += [kind.eq(0), col.eq(0), idx.eq(0), part.eq(0)]
        m.d.comb += reader.o_stream.ready.eq(1)
        take = reader.o_stream.valid & ~in_seg
        word = reader.o_stream.payload
        last_part = Signal()
        m.d.comb += last_part.eq(part == Mux(kind == 0, per[0],
                                             Mux(kind == 1, per[1], per[2])) - 1)
        n = Signal(ADDR_BITS)
        m.d.comb += n.eq(Mux(kind == 0, counts[0], Mux(kind == 1, counts[1], counts[2])))
        with m.If(take):
            with m.If(last_part):
                m.d.sync += part.eq(0)
                m.d.comb += self.we.bit_select(kind * cols + col, 1).eq(1)
                with m.If(idx == n - 1):
                    m.d.sync += idx.eq(0)
                    with m.If(col == cols - 1):
                        m.d.sync += col.eq(0)
                        with m.If(kind == 0):
                            m.d.sync += kind.eq(Mux(counts[1] != 0, 1, 2))
                        with m.Else():
                            m.d.sync += kind.eq(2)
                    with m.Else():
                        m.d.sync += col.eq(col + 1)
                with m.Else():
                    m.d.sync += idx.eq(idx + 1)
            with m.Else():
                m.d.sync += acc.word_select(part, _WORD).eq(word)
                m.d.sync += part.eq(part + 1)
        hbase = Signal(ADDR_BITS)
        m.d.comb += hbase.eq(Mux(half, Mux(kind == 0, self._halves["bias"],
                                           Mux(kind == 1, self._halves["mask"],
                                               self._halves["weight"])), 0))
        m.d.comb += self.waddr.eq(hbase + idx)
        datas = [Cat(acc[:_WORD * (p - 1)], word) if p > 1 else word for p in per]
        m.d.comb += self.wdata.eq(Mux(kind == 0, datas[0], Mux(kind == 1, datas[1], datas[2])))

        # the segment's deserializer: schedule words, one after another
        s_idx = Signal(SEGMENT_BITS)
        s_part = Signal(range(seg_per + 1))
        s_acc = Signal(_WORD * max(seg_per - 1, 1))
        with m.If(self.launch):
            m.d.sync += [s_idx.eq(0), s_part.eq(0)]
        with m.If(reader.o_stream.valid & in_seg):
            with m.If(s_part == seg_per - 1):
                m.d.comb += self.swe.eq(1)
                m.d.sync += [s_part.eq(0), s_idx.eq(s_idx + 1)]
            with m.Else():
                m.d.sync += [s_acc.word_select(s_part, _WORD).eq(word), s_part.eq(s_part + 1)]
        m.d.comb += [self.swaddr.eq(Mux(half, self._seg_depth, 0) + s_idx),
                     self.swdata.eq(Cat(s_acc[:_WORD * (seg_per - 1)], word)
                                    if seg_per > 1 else word)]
        return m
