"""Post-processing of accumulators: bias, rounding shift, ReLU, saturation (numerics.md)."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..hw.timing import POSTPROC_LATENCY
from .arith import add_rounding_half, apply_shift, rounding_half, saturate
from ..hw.isa import Instruction
from ..hw.spec import (ACC_BITS, BIAS_WORD, LANE_OUT_BITS, OUTPUT_CODE_BITS,
                       check_activation_bits, output_code_bits)

__all__ = ["PostProcessor", "POSTPROC_LATENCY"]


class PostProcessor(wiring.Component):
    """One column's requantization, pipelined: ``out = sat(relu?(rshift_round(acc + bias,
    shift)))`` :data:`POSTPROC_LATENCY` (4) cycles after the inputs (stages: the sum, plus
    the rounding half, the shift, ReLU and saturation). Every input is taken in the same cycle.

    ``code_bits`` (keyword-only, default 8) is the design's activation code width: results
    saturate to it or to 16-bit codes (``out_bits``)."""

    acc: In(signed(ACC_BITS))
    bias: In(signed(BIAS_WORD["bias"].bits))
    shift: In(signed(BIAS_WORD["shift"].bits))
    relu: In(1)
    out_bits: In(dict(iter(Instruction))["out_bits"].shape)
    out_signed: In(1)
    out: Out(signed(LANE_OUT_BITS))

    def __init__(self, *, code_bits: int = OUTPUT_CODE_BITS[0]):
        self._code_bits = check_activation_bits(code_bits)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        # Stage 1: acc + bias (33 bits), with the controls and the shift's rounding half.
        total = Signal(signed(ACC_BITS + 1))
        shift1 = Signal(signed(8))
        half1 = Signal(64)
        relu1, bits1, signed1 = Signal(), Signal(5), Signal()
        m.d.sync += [total.eq(self.acc + self.bias), shift1.eq(self.shift),
                     half1.eq(rounding_half(self.shift)),
                     relu1.eq(self.relu), bits1.eq(self.out_bits),
                     signed1.eq(self.out_signed)]
        # Stage 2: plus the rounding half.
        rounded = Signal(signed(64))
        shift2 = Signal(signed(8))
        relu2, bits2, signed2 = Signal(), Signal(5), Signal()
        m.d.sync += [rounded.eq(add_rounding_half(total, half1)), shift2.eq(shift1),
                     relu2.eq(relu1), bits2.eq(bits1), signed2.eq(signed1)]
        # Stage 3: the shift.
        shifted = Signal(signed(64))
        relu3, bits3, signed3 = Signal(), Signal(5), Signal()
        m.d.sync += [shifted.eq(apply_shift(rounded, shift2)), relu3.eq(relu2),
                     bits3.eq(bits2), signed3.eq(signed2)]
        # Stage 4: ReLU and saturation.
        v = Mux(relu3 & (shifted < 0), 0, shifted)
        m.d.sync += self.out.eq(saturate(v, bits3, signed3, output_code_bits(self._code_bits)))
        return m
