"""Post-processing of accumulators: bias, rounding shift, ReLU, saturation (numerics.md)."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .arith import rshift_round, saturate
from .pe_array import ACC_WIDTH

__all__ = ["PostProcessor"]


class PostProcessor(wiring.Component):
    """One column's requantization, registered: ``out = sat(relu?(rshift_round(acc + bias,
    shift)))`` one cycle after the inputs."""

    acc: In(signed(ACC_WIDTH))
    bias: In(signed(32))
    shift: In(signed(8))
    relu: In(1)
    out_bits: In(5)
    out_signed: In(1)
    out: Out(signed(18))

    def elaborate(self, platform):
        m = Module()
        total = (self.acc + self.bias).as_signed()
        v = rshift_round(total, self.shift)
        v = Mux(self.relu & (v < 0), 0, v)
        m.d.sync += self.out.eq(saturate(v, self.out_bits, self.out_signed))
        return m
