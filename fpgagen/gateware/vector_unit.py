"""Lane-wise unit for max pooling, global average pooling and bypass addition."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..hw.isa import Instruction, Opcode
from ..hw.spec import (ACC_BITS, ACT_LANE_BITS, GAP_MULTIPLIER_BITS, LANE_OUT_BITS,
                       check_lane_bits, gap_sum_bits, lane_code_bits, output_code_bits)
from ..hw.timing import VECTOR_LATENCY
from .arith import add_rounding_half, apply_shift, rounding_half, saturate

__all__ = ["VectorUnit", "VECTOR_LATENCY"]

#: Width of a lane's running sum or maximum.
_SUM_BITS = ACC_BITS
#: Shapes of the instruction fields the unit takes.
_SHAPE = {name: f.shape for name, f in Instruction}


class VectorUnit(wiring.Component):
    """Per lane: MAXPOOL keeps the maximum of the valid taps; GAP sums every input; ADD
    forms ``(a << shift_a) + (b << shift_b)``. After a pixel's ``last`` input the lane
    result is finished in four registered stages (GAP: times ``multiplier``; GAP and
    ADD: ``rshift_round`` by ``shift``; ADD with ``relu``: negative results become 0;
    saturate) and appears on ``out`` with ``done``,
    :data:`VECTOR_LATENCY` cycles after the last input.

    ``lane_bits`` is the width of an activation lane (keyword-only, default
    :data:`~fpgagen.hw.spec.ACT_LANE_BITS`); results saturate to codes one bit narrower or
    to 16-bit codes."""

    def __init__(self, *, lanes: int, lane_bits: int = ACT_LANE_BITS):
        self._lanes, self._lane_bits = lanes, check_lane_bits(lane_bits)
        super().__init__({
            "op": In(Opcode), "valid": In(1), "first": In(1), "last": In(1),
            "tap_valid": In(1), "second": In(1),
            "act": In(signed(lane_bits)).array(lanes),
            "shift": In(_SHAPE["shift"]), "shift_a": In(_SHAPE["shift_a"]),
            "shift_b": In(_SHAPE["shift_b"]), "multiplier": In(_SHAPE["multiplier"]),
            "out_bits": In(_SHAPE["out_bits"]), "out_signed": In(_SHAPE["out_signed"]),
            "relu": In(_SHAPE["relu"]),
            "done": Out(1), "out": Out(signed(LANE_OUT_BITS)).array(lanes),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, A = self._lanes, self._lane_bits
        codes = output_code_bits(lane_code_bits(A))
        acc = [Signal(signed(_SUM_BITS), name=f"lane_acc_{l}") for l in range(lanes)]
        # Stage T: each input becomes a registered term (MAXPOOL: padding reads as the
        # lowest value; ADD: shifted), with its flags.
        v_t, f_t, l_t, max_t = Signal(), Signal(), Signal(), Signal()
        m.d.sync += [v_t.eq(self.valid), f_t.eq(self.first), l_t.eq(self.last),
                     max_t.eq(self.op == Opcode.MAXPOOL)]
        # A pixel's result then moves through four finishing stages after its last term
        # has been accumulated; the controls travel with it.
        last1, last2, last3, last4 = Signal(), Signal(), Signal(), Signal()
        m.d.sync += [last1.eq(v_t & l_t), last2.eq(last1), last3.eq(last2), last4.eq(last3),
                     self.done.eq(last4)]
        ctl = [dict(op=Signal(Opcode, name=f"op_{k}"),
                    shift=Signal(_SHAPE["shift"], name=f"sh_{k}"),
                    half=Signal(64, name=f"half_{k}"),
                    mult=Signal(_SHAPE["multiplier"], name=f"mult_{k}"),
                    bits=Signal(_SHAPE["out_bits"], name=f"bits_{k}"),
                    sgn=Signal(name=f"sgn_{k}"), relu=Signal(name=f"relu_{k}"))
               for k in range(5)]
        # MAXPOOL results pass the rounding stages unchanged (shift 0).
        shift = Mux(self.op == Opcode.MAXPOOL, 0, self.shift)
        m.d.sync += [ctl[0]["op"].eq(self.op), ctl[0]["shift"].eq(shift),
                     ctl[0]["half"].eq(rounding_half(shift)),
                     ctl[0]["mult"].eq(self.multiplier), ctl[0]["bits"].eq(self.out_bits),
                     ctl[0]["sgn"].eq(self.out_signed),
                     ctl[0]["relu"].eq((self.op == Opcode.ADD) & self.relu)]
        for k in range(1, len(ctl)):
            m.d.sync += [ctl[k][n].eq(ctl[k - 1][n]) for n in ctl[k]]
        ctl = ctl[1:]  # ctl[k]: the controls of the pixel in finishing stage k + 1
        low = -(1 << (A - 1)) - 1
        for l in range(lanes):
            a = self.act[l]
            term = Signal(signed(A + 16), name=f"term_{l}")
            with m.Switch(self.op):
                with m.Case(Opcode.MAXPOOL):
                    m.d.sync += term.eq(Mux(self.tap_valid, a, low))
                with m.Case(Opcode.GAP):
                    m.d.sync += term.eq(a)
                with m.Case(Opcode.ADD):
                    m.d.sync += term.eq(Mux(self.second, a << self.shift_b, a << self.shift_a))
                with m.Default():  # CONV (not the vector unit's) and opcodes without an operator
                    m.d.sync += term.eq(0)
            # Stage A: accumulate (maximum or sum).
            with m.If(v_t):
                m.d.sync += acc[l].eq(Mux(f_t, term, Mux(max_t, Mux(term > acc[l], term,
                                                                    acc[l]),
                                                        acc[l] + term)))
            # Finishing stage 1: GAP's reciprocal multiplier. A GAP sum has at most 15 x 15
            # terms of 9 bits (|sum| < 2**17), so 18 bits of it feed one 18x18 multiplier
            # (wider lanes: gap_sum_bits).
            scaled = Signal(signed(_SUM_BITS + GAP_MULTIPLIER_BITS + 1), name=f"scaled_{l}")
            m.d.sync += scaled.eq(Mux(ctl[0]["op"] == Opcode.GAP,
                                      acc[l][:gap_sum_bits(A)].as_signed() * ctl[0]["mult"],
                                      acc[l]))
            # Stage 2: plus the rounding half (MAXPOOL: shift 0, unchanged).
            rounded = Signal(signed(64), name=f"rounded_{l}")
            m.d.sync += rounded.eq(add_rounding_half(scaled, ctl[1]["half"]))
            # Stage 3: the shift.
            shifted = Signal(signed(64), name=f"shifted_{l}")
            m.d.sync += shifted.eq(apply_shift(rounded, ctl[2]["shift"]))
            # Stage 4: ReLU (ADD with relu), then saturation.
            clipped = Mux(ctl[3]["relu"] & shifted[-1], 0, shifted)  # the sign bit
            with m.If(last4):
                m.d.sync += self.out[l].eq(saturate(clipped, ctl[3]["bits"], ctl[3]["sgn"],
                                                    codes))
        return m
