"""The processing-element array: ``pe_cols`` columns of ``pe_rows`` int9 x int8
multipliers (``act_bits`` x :func:`~fpgagen.hw.spec.weight_operand_bits` with wider
codes), an adder tree per column and a 32-bit accumulator per column."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..hw.spec import (ACC_BITS, ACT_LANE_BITS, WEIGHT_BITS, check_lane_bits,
                       check_weight_bits, weight_operand_bits)
from ..hw.timing import PE_ARRAY_LATENCY

__all__ = ["PEArray", "PE_ARRAY_LATENCY"]
#: Products summed in the first adder-tree stage (the second sums the partial sums).
_PARTIAL = 4


class PEArray(wiring.Component):
    """Every column ``c`` computes ``sum_r act[r] * weights[c][r]`` each cycle and
    accumulates it (registered at the inputs, after the multipliers, after partial sums of
    four products, after the column sum, and in the accumulator): ``first`` restarts
    the sum, ``last`` marks the pixel's final term; ``done`` pulses with ``acc`` holding the
    finished sums, :data:`PE_ARRAY_LATENCY` cycles after the ``last`` input.

    Parameters
    ----------
    pe_rows, pe_cols : int
        Array shape (keyword-only).
    act_bits : int
        Width of an activation lane, the activation operand (keyword-only; default
        :data:`~fpgagen.hw.spec.ACT_LANE_BITS`).
    weight_bits : int
        The design's weight code width; the weight operands are
        :func:`~fpgagen.hw.spec.weight_operand_bits` wide (keyword-only, default 8).
    """

    def __init__(self, *, pe_rows: int, pe_cols: int, act_bits: int = ACT_LANE_BITS,
                 weight_bits: int = WEIGHT_BITS):
        if pe_rows < 1 or pe_cols < 1:
            raise ValueError(f"PE array shape must be positive, not {pe_rows}x{pe_cols}")
        check_lane_bits(act_bits)
        check_weight_bits(weight_bits)
        self._rows, self._cols, self._act_bits = pe_rows, pe_cols, act_bits
        self._wbits = wbits = weight_operand_bits(weight_bits)
        super().__init__({
            "valid": In(1), "first": In(1), "last": In(1),
            "act": In(signed(act_bits)).array(pe_rows),
            "weights": In(signed(wbits)).array(pe_rows).array(pe_cols),
            "done": Out(1),
            "acc": Out(signed(ACC_BITS)).array(pe_cols),
        })

    @property
    def pe_rows(self):
        return self._rows

    @property
    def pe_cols(self):
        return self._cols

    @property
    def act_bits(self) -> int:
        """Width of an activation operand (a lane)."""
        return self._act_bits

    @property
    def weight_operand_bits(self) -> int:
        """Width of a weight operand."""
        return self._wbits

    def elaborate(self, platform):
        m = Module()
        rows, cols, A, wbits = self._rows, self._cols, self._act_bits, self._wbits
        # Stage 0: input registers (they fold into the multipliers' input registers and cut
        # the fan-out of the activation lanes from the memory's output multiplexer).
        v0, f0, l0 = Signal(), Signal(), Signal()
        m.d.sync += [v0.eq(self.valid), f0.eq(self.first), l0.eq(self.last)]
        act = [Signal(signed(A), name=f"a_{r}") for r in range(rows)]
        m.d.sync += [a.eq(self.act[r]) for r, a in enumerate(act)]
        weights = [[Signal(signed(wbits), name=f"w_{c}_{r}") for r in range(rows)]
                   for c in range(cols)]
        for c in range(cols):
            m.d.sync += [w.eq(self.weights[c][r]) for r, w in enumerate(weights[c])]
        # Stage 1: products.
        v1, f1, l1 = Signal(), Signal(), Signal()
        m.d.sync += [v1.eq(v0), f1.eq(f0), l1.eq(l0)]
        prods = []
        for c in range(cols):
            col = []
            for r in range(rows):
                p = Signal(signed(A + wbits), name=f"p_{c}_{r}")
                m.d.sync += p.eq(act[r] * weights[c][r])
                col.append(p)
            prods.append(col)
        # Stage 2: partial sums of up to four products.
        v2, f2, l2 = Signal(), Signal(), Signal()
        m.d.sync += [v2.eq(v1), f2.eq(f1), l2.eq(l1)]
        partials = []
        for c, col in enumerate(prods):
            parts = []
            for k in range(0, rows, _PARTIAL):
                ps = Signal(signed(A + wbits + 2), name=f"ps_{c}_{k // _PARTIAL}")
                m.d.sync += ps.eq(sum(col[k:k + _PARTIAL]))
                parts.append(ps)
            partials.append(parts)
        # Stage 3: column sums.
        v3, f3, l3 = Signal(), Signal(), Signal()
        m.d.sync += [v3.eq(v2), f3.eq(f2), l3.eq(l2)]
        trees = []
        for c, parts in enumerate(partials):
            t = Signal(signed(A + wbits + rows.bit_length()), name=f"t_{c}")
            m.d.sync += t.eq(sum(parts))
            trees.append(t)
        # Stage 4: accumulate.
        m.d.sync += self.done.eq(v3 & l3)
        for c, t in enumerate(trees):
            with m.If(v3):
                m.d.sync += self.acc[c].eq(Mux(f3, t, self.acc[c] + t))
        return m
