"""The pooling unit of fused max pooling (a CONV with ``pool`` set): takes the convolution's
output words in loop order with the window events the address generator computed for their
pixel (:func:`fpgagen.hw.pooling.window_events` along both axes), keeps the partial maximum
of the open horizontal window in a register and those of the open vertical windows in the
pool-state memory, and writes every completed window once, ``POOL_LATENCY`` (3) cycles
after the conv output word that completes it."""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from ..hw.isa import ADDR_BITS
from ..hw.spec import ACT_LANE_BITS, check_lane_bits
from ..hw.timing import POOL_LATENCY

__all__ = ["AxisEvents", "PoolEvents", "PoolUnit", "POOL_LATENCY"]

#: The window events of one coordinate along one axis (:class:`fpgagen.hw.pooling.WindowEvents`
#: for one ``t``): ``a`` is the newest window touching it.
AxisEvents = data.StructLayout({
    "in_a": unsigned(1),  # window a exists (a < count)
    "starts": unsigned(1),  # window a starts here
    "ends_prev": unsigned(1),  # window a - 1 ends here
    "ends": unsigned(1),  # window a ends here
})

#: The events of one conv output pixel: ``h`` along its row (``t = ox``), ``v`` along the
#: conv output's column (``t = y``, the row in the whole conv output).
PoolEvents = data.StructLayout({"h": AxisEvents, "v": AxisEvents})


def _lane_max(m: Module, a, b, lanes: int, name: str, bits: int = ACT_LANE_BITS) -> Signal:
    """Lane-wise signed maximum of two words of ``lanes`` codes of ``bits`` bits
    (combinational)."""
    out = Signal(bits * lanes, name=name)
    parts = []
    for l in range(lanes):
        x = a.word_select(l, bits).as_signed()
        y = b.word_select(l, bits).as_signed()
        parts.append(Mux(x > y, x, y))
    m.d.comb += out.eq(Cat(*parts))
    return out


class PoolUnit(wiring.Component):
    """Max pooling of the conv output words, lane by lane (codes compared as signed
    ``lane_bits`` values).

    Parameters
    ----------
    lanes : int
        Lanes of an activation word (``pe_rows``).
    depth : int
        Words of the pool-state memory (the memory map's ``POOL_STATE`` entry; at least 2).
    lane_bits : int
        Width of an activation lane (default :data:`~fpgagen.hw.spec.ACT_LANE_BITS`).

    Ports
    -----
    valid, word, events, state_addr, out_addr
        A conv output word (``valid``), the events of its pixel, the pool-state word of the
        horizontal window it completes (``pool_base + og * pool_w + px``) and the address
        of the pooled word that window completes.
    o_we, o_addr, o_data
        A pooled word to write to the activation memory, :data:`POOL_LATENCY` cycles after
        the conv output word that completes it.

    Per lane, with ``v`` the conv output: ``new = v if h.starts else max(hpart, v)``; the
    horizontal result is ``max(hpart, v)`` when ``h.ends_prev``, else ``new``; ``hpart``
    takes ``new`` when ``h.in_a``. A horizontal completion (``h.ends_prev | h.ends``) with
    ``state`` the pool-state word: ``vnew = h if v.starts else max(state, h)``, the pooled
    value ``vout = max(state, h)`` when ``v.ends_prev``, else ``vnew``; ``state`` takes
    ``vnew`` when ``v.in_a``; ``vout`` is written when ``v.ends_prev | v.ends``.

    Stages: (1) the horizontal window and its register, the pool-state read issued; (2)
    the state word registered after the memory's own read register (no logic behind the
    block RAM); (3) the vertical window, the state write and the pooled word's register.
    The state word of a column is read in the cycle of its conv word and written two cycles
    later; the same word is read again only for the next conv output row, at least ``out_w
    >= 4`` (:data:`fpgagen.hw.pooling.MIN_FUSED_WIDTH`) words and so cycles later, after
    the write (which needs 3), so no read ever needs a write still in flight (no
    forwarding).
    """

    def __init__(self, *, lanes: int, depth: int, lane_bits: int = ACT_LANE_BITS):
        problem = None
        if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1:
            problem = f"lanes must be a positive integer, not {lanes!r}"
        elif isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
            problem = f"the pool-state depth must be an integer of at least 2, not {depth!r}"
        else:
            try:
                check_lane_bits(lane_bits)
            except ValueError as e:
                problem = str(e)
        if problem:
            self._MustUse__silence = True  # refused: no "created but never used" warning
            raise ValueError(problem)
        self._lanes, self._depth, self._lane_bits = lanes, depth, lane_bits
        word = unsigned(lane_bits * lanes)
        super().__init__({
            "valid": In(1), "word": In(word), "events": In(PoolEvents),
            "state_addr": In(ADDR_BITS), "out_addr": In(ADDR_BITS),
            "o_we": Out(1), "o_addr": Out(ADDR_BITS), "o_data": Out(word),
        })

    @property
    def lanes(self) -> int:
        """Lanes of a word."""
        return self._lanes

    @property
    def depth(self) -> int:
        """Words of the pool-state memory."""
        return self._depth

    def elaborate(self, platform):
        m = Module()
        L = self._lanes
        A = self._lane_bits
        width = A * L
        abits = (self._depth - 1).bit_length()
        # Partial maxima of the open vertical windows, one word per (og, px). A read never
        # meets a write of the same word (see the class docstring), so synthesis needs no
        # collision logic behind the block RAM.
        m.submodules.state = state = memory.Memory(
            shape=unsigned(width), depth=self._depth, init=[], attrs={"no_rw_check": 1})
        rd = state.read_port()
        wr = state.write_port()

        # Stage 1 (the conv word): the horizontal window; the pool-state read.
        m.d.comb += rd.addr.eq(self.state_addr[:abits])
        h = self.events.h
        hpart = Signal(width)
        hmax = _lane_max(m, hpart, self.word, L, "hmax", A)
        hnew = Mux(h.starts, self.word, hmax)
        with m.If(self.valid & h.in_a):
            m.d.sync += hpart.eq(hnew)
        s1_valid, s1_h = Signal(), Signal(width)
        s1_v = Signal(AxisEvents)
        s1_state, s1_out = Signal(abits), Signal(ADDR_BITS)
        m.d.sync += [s1_valid.eq(self.valid & (h.ends_prev | h.ends)),
                     s1_h.eq(Mux(h.ends_prev, hmax, hnew)), s1_v.eq(self.events.v),
                     s1_state.eq(self.state_addr[:abits]), s1_out.eq(self.out_addr)]

        # Stage 2: the state word, registered (no enable or reset: a block RAM's output
        # register).
        state_word = Signal(width, reset_less=True)
        m.d.sync += state_word.eq(rd.data)
        s2_valid, s2_h = Signal(), Signal(width)
        s2_v = Signal(AxisEvents)
        s2_state, s2_out = Signal(abits), Signal(ADDR_BITS)
        m.d.sync += [s2_valid.eq(s1_valid), s2_h.eq(s1_h), s2_v.eq(s1_v),
                     s2_state.eq(s1_state), s2_out.eq(s1_out)]

        # Stage 3: the vertical window; the state write and the pooled word.
        v = s2_v
        vmax = _lane_max(m, state_word, s2_h, L, "vmax", A)
        vnew = Mux(v.starts, s2_h, vmax)
        m.d.comb += [wr.addr.eq(s2_state), wr.data.eq(vnew), wr.en.eq(s2_valid & v.in_a)]
        m.d.sync += [self.o_we.eq(s2_valid & (v.ends_prev | v.ends)),
                     self.o_data.eq(Mux(v.ends_prev, vmax, vnew)),
                     self.o_addr.eq(s2_out)]
        return m
