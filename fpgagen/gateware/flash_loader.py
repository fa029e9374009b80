"""The weight loader of a design with its weights in flash (``docs/hardware.md``, *Weights
in flash*): a :class:`~fpgagen.gateware.flash_reader.FlashReader` reads a chunk's block of
the flash image, a deserializer (a gearbox: the runs are bit-dense) assembles its memory
words and writes them, kind by kind (:data:`~fpgagen.schedule.flash_store.KINDS`), column
by column, word by word, into the staging RAMs of one half, and the chunk's codebook into
the codebook registers of that half; then (the schedule in flash) the reader reads the
chunk's segment, whose schedule words go to one half of the schedule staging buffer."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..hw.isa import ADDR_BITS, FLASH_ADDR_BITS, SEGMENT_BITS
from .flash_reader import AvalonReadSignature, FlashReader

__all__ = ["FlashLoader"]

_WORD = 32
#: Kinds in block order (``fpgagen.schedule.flash_store.KINDS``) and their write enables.
_BIAS, _CODEBOOK, _MASK, _WEIGHT = range(4)


def _slot(width: int) -> int:
    return max(int(width), _WORD)


class FlashLoader(wiring.Component):
    """Loads one chunk at a time into a half of the staging RAMs and codebook registers.

    ``launch`` (one cycle, only while ``idle``) takes ``base``, the per-column counts,
    ``codebook_bits`` (0: no codebook), ``direct`` and ``half``; in the next cycle the
    reader starts reading the block's flash words from ``base``: the codebook's
    ``ceil(2**codebook_bits / 4)`` words once, then per kind and column a run of
    ``ceil(count * s / 32)`` words, ``s`` the kind's word width (at least 32; a direct
    chunk's weight words are ``lanes * codebook_bits`` bits). Every flash word is taken as
    it comes; the one that completes a memory word writes it (``we[k * cols + c]`` for
    bias, mask, weight ``k = 0, 1, 2``; ``waddr = half * halves[kind] + index``,
    ``wdata``), or four codes (``cb_we``, ``cb_addr``: the index of the four, ``cb_data``,
    ``cb_half``), in the cycle it is taken. ``idle`` and ``ready[half]`` rise two cycles
    after the reader's last word (the cycle after its ``busy`` falls); ``ready[half]``
    falls in the cycle after a launch into that half.

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
        ``{kind: staging word width}`` and ``{kind: words of one staging half}`` for the
        kinds ``bias``, ``codebook``, ``mask`` and ``weight``.
    lanes, dense_bits : int
        A weight word of a dense (or compressed) chunk is ``lanes * dense_bits`` bits.
    direct_bits : tuple of int
        The index widths of the design's direct codebook chunks.
    burst_limit : int
        The reader's bursts.
    segment_bits : int
        Width of a schedule word.
    segment_depth : int
        Schedule words of one half of the schedule staging buffer.
    """

    def __init__(self, *, cols: int, widths: dict, halves: dict, burst_limit: int,
                 lanes: int, dense_bits: int, segment_bits: int, segment_depth: int,
                 direct_bits=()):
        self._cols, self._widths, self._halves = cols, dict(widths), dict(halves)
        self._burst_limit = burst_limit
        self._lanes, self._dense_bits = lanes, dense_bits
        self._direct_bits = tuple(sorted(set(direct_bits)))
        self._data_bits = max(widths[k] for k in ("bias", "mask", "weight"))
        if segment_depth < 1 or segment_depth >= 1 << SEGMENT_BITS:
            raise ValueError(f"segment_depth must be 1..{(1 << SEGMENT_BITS) - 1}, not "
                             f"{segment_depth!r}")
        self._seg_bits, self._seg_depth = segment_bits, segment_depth
        super().__init__({
            "launch": In(1), "base": In(FLASH_ADDR_BITS), "half": In(1),
            "bias_words": In(ADDR_BITS), "mask_words": In(ADDR_BITS),
            "weight_words": In(ADDR_BITS), "codebook_bits": In(4), "direct": In(1),
            "idle": Out(1), "ready": Out(2),
            "we": Out(3 * cols), "waddr": Out(ADDR_BITS), "wdata": Out(self._data_bits),
            "cb_we": Out(1), "cb_addr": Out(7), "cb_data": Out(_WORD), "cb_half": Out(1),
            "bus": Out(AvalonReadSignature(addr_bits=FLASH_ADDR_BITS, burst_limit=burst_limit,
                                           data_bits=_WORD)),
            "segment_base": In(FLASH_ADDR_BITS), "segment_words": In(SEGMENT_BITS),
            "swe": Out(1), "swaddr": Out(range(2 * segment_depth)), "swdata": Out(segment_bits),
        })

    def elaborate(self, platform):
        m = Module()
        cols = self._cols
        m.submodules.reader = reader = FlashReader(
            addr_bits=FLASH_ADDR_BITS, count_bits=FLASH_ADDR_BITS + 1,
            burst_limit=self._burst_limit)
        wiring.connect(m, wiring.flipped(self.bus), reader.bus)

        # the slot width of a weight word: dense, or lanes * index bits of a direct chunk
        dense_slot = _slot(self._lanes * self._dense_bits)
        direct_slots = {b: _slot(self._lanes * b) for b in self._direct_bits}

        def weight_slot(direct, bits):
            out = dense_slot
            for b, s in direct_slots.items():
                out = Mux(direct & (bits == b), s, out)
            return out

        # codebook flash words: ceil(2**bits / 4)
        def codebook_words(bits):
            out = 0
            for b in range(1, 9):
                out = Mux(bits == b, -(-(1 << b) // 4), out)
            return out

        def run_words(n, slot):
            return (n * slot + _WORD - 1) >> 5

        counts = [Signal(ADDR_BITS, name=f"n_{k}") for k in ("bias", "codebook", "mask",
                                                             "weight")]
        wslot = Signal(range(max([dense_slot] + list(direct_slots.values())) + 1))
        half = Signal()
        pending = Signal()
        base = Signal(FLASH_ADDR_BITS)
        total = Signal(FLASH_ADDR_BITS + 1)
        active = Signal()
        bias_slot, mask_slot = _slot(self._widths["bias"]), _slot(self._widths["mask"])
        ins = [self.bias_words, codebook_words(self.codebook_bits), self.mask_words,
               self.weight_words]
        in_wslot = weight_slot(self.direct, self.codebook_bits)
        with m.If(self.launch):
            m.d.sync += [c.eq(i) for c, i in zip(counts, ins)]
            m.d.sync += [half.eq(self.half), pending.eq(1), base.eq(self.base), active.eq(1),
                         wslot.eq(in_wslot),
                         total.eq(ins[1] + cols * (run_words(ins[0], bias_slot)
                                                   + run_words(ins[2], mask_slot)
                                                   + run_words(ins[3], in_wslot)))]
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

        # the gearbox: the flash words of a run as one bit stream, a memory word of
        # ``slot`` bits leaving with the flash word that completes it (at most one per
        # flash word, as every slot is at least 32 bits); a run's padding is dropped
        slots = sorted({bias_slot, _WORD, mask_slot, dense_slot, *direct_slots.values()})
        smax = max(slots)
        kind = Signal(2)
        col = Signal(range(max(cols, 2)))
        idx = Signal(ADDR_BITS)
        buf = Signal(smax + _WORD)
        nbits = Signal(range(smax + _WORD + 1))
        with m.If(self.launch):
            m.d.sync += [kind.eq(_BIAS), col.eq(0), idx.eq(0), buf.eq(0), nbits.eq(0)]
        m.d.comb += reader.o_stream.ready.eq(1)
        take = reader.o_stream.valid & ~in_seg
        word = reader.o_stream.payload
        slot = Signal(range(smax + 1), name="slot")
        m.d.comb += slot.eq(Mux(kind == _BIAS, bias_slot,
                                Mux(kind == _CODEBOOK, _WORD,
                                    Mux(kind == _MASK, mask_slot, wslot))))
        cat = Signal(smax + _WORD)
        m.d.comb += cat.eq(buf | (word << nbits))
        emit = Signal()
        m.d.comb += emit.eq(nbits + _WORD >= slot)
        rest, low = cat, 0
        for s in slots:  # the bits after the memory word, and the word alone
            rest = Mux(slot == s, cat >> s, rest)
            low = Mux(slot == s, cat[:s], low)
        n = Signal(ADDR_BITS)
        m.d.comb += n.eq(Mux(kind == _BIAS, counts[0], Mux(kind == _CODEBOOK, counts[1],
                                                           Mux(kind == _MASK, counts[2],
                                                               counts[3]))))
        run_cols = Mux(kind == _CODEBOOK, 1, cols)
        with m.If(take):
            with m.If(emit):
                with m.Switch(kind):
                    for k, bit in ((_BIAS, 0), (_MASK, 1), (_WEIGHT, 2)):
                        with m.Case(k):
                            m.d.comb += self.we.bit_select(bit * cols + col, 1).eq(1)
                    with m.Case(_CODEBOOK):
                        m.d.comb += self.cb_we.eq(1)
                with m.If(idx == n - 1):  # the run's last word: drop its padding
                    m.d.sync += [idx.eq(0), buf.eq(0), nbits.eq(0)]
                    with m.If(col == run_cols - 1):
                        m.d.sync += col.eq(0)
                        with m.Switch(kind):
                            with m.Case(_BIAS):
                                m.d.sync += kind.eq(Mux(counts[1] != 0, _CODEBOOK,
                                                        Mux(counts[2] != 0, _MASK, _WEIGHT)))
                            with m.Case(_CODEBOOK):
                                m.d.sync += kind.eq(Mux(counts[2] != 0, _MASK, _WEIGHT))
                            with m.Default():
                                m.d.sync += kind.eq(_WEIGHT)
                    with m.Else():
                        m.d.sync += col.eq(col + 1)
                with m.Else():
                    m.d.sync += [idx.eq(idx + 1), buf.eq(rest), nbits.eq(nbits + _WORD - slot)]
            with m.Else():
                m.d.sync += [buf.eq(cat), nbits.eq(nbits + _WORD)]
        hbase = Signal(ADDR_BITS)
        m.d.comb += hbase.eq(Mux(half, Mux(kind == _BIAS, self._halves["bias"],
                                           Mux(kind == _MASK, self._halves["mask"],
                                               self._halves["weight"])), 0))
        m.d.comb += [self.waddr.eq(hbase + idx), self.wdata.eq(low),
                     self.cb_addr.eq(idx), self.cb_data.eq(word), self.cb_half.eq(half)]

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
