"""The processing-element array: ``pe_cols`` columns of ``pe_rows`` int9 x int8
multipliers, an adder tree per column and a 32-bit accumulator per column."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["PEArray", "PE_ARRAY_LATENCY", "ACT_BITS", "WEIGHT_BITS", "ACC_WIDTH"]

ACT_BITS = 9
WEIGHT_BITS = 8
ACC_WIDTH = 32
#: Cycles from ``act``/``weights`` to the updated accumulators (``acc`` valid with ``done``).
PE_ARRAY_LATENCY = 3


class PEArray(wiring.Component):
    """Every column ``c`` computes ``sum_r act[r] * weights[c][r]`` each cycle (registered
    after the multipliers and after the adder tree) and accumulates it: ``first`` restarts
    the sum, ``last`` marks the pixel's final term; ``done`` pulses with ``acc`` holding the
    finished sums, :data:`PE_ARRAY_LATENCY` cycles after the ``last`` input.

    Parameters
    ----------
    pe_rows, pe_cols : int
        Array shape (keyword-only).
    """

    def __init__(self, *, pe_rows: int, pe_cols: int):
        if pe_rows < 1 or pe_cols < 1:
            raise ValueError(f"PE array shape must be positive, not {pe_rows}x{pe_cols}")
        self._rows, self._cols = pe_rows, pe_cols
        super().__init__({
            "valid": In(1), "first": In(1), "last": In(1),
            "act": In(signed(ACT_BITS)).array(pe_rows),
            "weights": In(signed(WEIGHT_BITS)).array(pe_rows).array(pe_cols),
            "done": Out(1),
            "acc": Out(signed(ACC_WIDTH)).array(pe_cols),
        })

    @property
    def pe_rows(self):
        return self._rows

    @property
    def pe_cols(self):
        return self._cols

    def elaborate(self, platform):
        m = Module()
        # Stage 1: products.
        v1, f1, l1 = Signal(), Signal(), Signal()
        m.d.sync += [v1.eq(self.valid), f1.eq(self.first), l1.eq(self.last)]
        sums = []
        for c in range(self._cols):
            prods = []
            for r in range(self._rows):
                p = Signal(signed(ACT_BITS + WEIGHT_BITS), name=f"p_{c}_{r}")
                m.d.sync += p.eq(self.act[r] * self.weights[c][r])
                prods.append(p)
            sums.append(prods)
        # Stage 2: adder trees.
        v2, f2, l2 = Signal(), Signal(), Signal()
        m.d.sync += [v2.eq(v1), f2.eq(f1), l2.eq(l1)]
        trees = []
        for c, prods in enumerate(sums):
            t = Signal(signed(ACT_BITS + WEIGHT_BITS + self._rows.bit_length()), name=f"t_{c}")
            total = prods[0]
            for p in prods[1:]:
                total = total + p
            m.d.sync += t.eq(total)
            trees.append(t)
        # Stage 3: accumulate.
        m.d.sync += self.done.eq(v2 & l2)
        for c, t in enumerate(trees):
            with m.If(v2):
                m.d.sync += self.acc[c].eq(Mux(f2, t, self.acc[c] + t))
        return m
