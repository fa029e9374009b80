"""Lane-wise unit for max pooling, global average pooling and bypass addition."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..schedule.isa import Opcode
from .arith import rshift_round, saturate
from .pe_array import ACT_BITS

__all__ = ["VectorUnit", "VECTOR_LATENCY"]

_SUM_BITS = 32
#: Cycles from a ``last`` input to ``done`` with the results in ``out``.
VECTOR_LATENCY = 2


class VectorUnit(wiring.Component):
    """Per lane: MAXPOOL keeps the maximum of the valid taps; GAP sums every input; ADD
    forms ``(a << shift_a) + (b << shift_b)``. On a pixel's ``last`` input the lane result
    is finished (GAP: times ``multiplier``; GAP and ADD: ``rshift_round`` by ``shift``,
    saturate) and appears on ``out`` with ``done``."""

    def __init__(self, *, lanes: int):
        self._lanes = lanes
        super().__init__({
            "op": In(Opcode), "valid": In(1), "first": In(1), "last": In(1),
            "tap_valid": In(1), "second": In(1),
            "act": In(signed(ACT_BITS)).array(lanes),
            "shift": In(signed(8)), "shift_a": In(4), "shift_b": In(4),
            "multiplier": In(16), "out_bits": In(5), "out_signed": In(1),
            "done": Out(1), "out": Out(signed(18)).array(lanes),
        })

    def elaborate(self, platform):
        m = Module()
        acc = [Signal(signed(_SUM_BITS), name=f"lane_acc_{l}") for l in range(self._lanes)]
        last1 = Signal()
        m.d.sync += last1.eq(self.valid & self.last)
        m.d.sync += self.done.eq(last1)
        low = -(1 << (ACT_BITS - 1)) - 1
        for l in range(self._lanes):
            a = self.act[l]
            term = Signal(signed(_SUM_BITS), name=f"term_{l}")
            start = Signal(signed(_SUM_BITS), name=f"start_{l}")
            with m.Switch(self.op):
                with m.Case(Opcode.MAXPOOL):
                    m.d.comb += term.eq(Mux(self.tap_valid, a, low))
                    m.d.comb += start.eq(Mux(term > acc[l], term, acc[l]))
                with m.Case(Opcode.GAP):
                    m.d.comb += term.eq(a)
                    m.d.comb += start.eq(acc[l] + term)
                with m.Default():  # ADD
                    m.d.comb += term.eq(Mux(self.second, a << self.shift_b, a << self.shift_a))
                    m.d.comb += start.eq(acc[l] + term)
            with m.If(self.valid):
                m.d.sync += acc[l].eq(Mux(self.first, term, start))
            # Finish one cycle after the last term.
            scaled = Mux(self.op == Opcode.GAP, acc[l] * self.multiplier, acc[l])
            finished = Mux(self.op == Opcode.MAXPOOL, acc[l],
                           rshift_round(scaled, self.shift))
            with m.If(last1):
                m.d.sync += self.out[l].eq(saturate(finished, self.out_bits, self.out_signed))
        return m
