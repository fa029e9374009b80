"""Element-wise addition (``Add``, the bypass connections): in the vector unit."""

import numpy as np

from ..errors import FpgagenError
from ..hw.isa import Opcode
from ..ir.ops import Add
from ..ir.quant import AddQuant
from ..numerics.lanes import rshift_round, saturate_bits
from ..numerics.primitives import requantize
from ..numerics.primitives import rshift_round as rshift_round_codes
from .base import OperatorRules, register

__all__ = ["AddRules"]


@register
class AddRules(OperatorRules):
    """``y = sat(relu?(rshift_round((a << la) + (b << lb), shift)))``, both inputs aligned
    to the finer of their scales (``relu``: the fused ReLU after the sum)."""

    op_type = Add
    opcode = Opcode.ADD
    writes_in_place = True

    def nonnegative(self, node, inputs_nonnegative):
        return node.op.relu or all(inputs_nonnegative)

    def run_float(self, node, ins, params):
        y = ins[0] + ins[1]
        return np.maximum(y, 0) if node.op.relu else y

    def run_int(self, node, ins, lq, out_type):
        total = rshift_round_codes(ins[0], -lq.left_a) + rshift_round_codes(ins[1], -lq.left_b)
        return requantize(total, lq.shift, out_type, relu=node.op.relu)

    def quantize(self, ctx, node, in_types, out_type):
        fine = max(t.frac for t in in_types)
        return AddQuant(fine - in_types[0].frac, fine - in_types[1].frac,
                        fine - out_type.frac)

    def lower(self, ctx, node):
        q = ctx.graph.quant.layers.get(node.name)
        if not isinstance(q, AddQuant):
            raise FpgagenError(f"add node {node.name!r} has no integer parameters")
        a, b = (ctx.places[i] for i in node.inputs)
        out = ctx.places[node.name]
        if a.pixel_groups != b.pixel_groups:
            raise FpgagenError(f"cannot map add node {node.name!r}: its inputs {a.name!r} and "
                               f"{b.name!r} live in buffers of {a.pixel_groups} and "
                               f"{b.pixel_groups} words per pixel; ADD reads both with one "
                               "stride")
        return dict(op=Opcode.ADD, relu=int(node.op.relu), **ctx.out_type_fields(node),
                    **ctx.read_fields(a), **ctx.read_fields(b, "in2"), in_h=a.h, in_w=a.w,
                    in_groups=1, in_pixel_groups=a.pixel_groups, depthwise=1, kh=1, kw=2,
                    stride_h=1, stride_w=1, pad_h=0, pad_w=0, **ctx.write_fields(out),
                    shift_a=q.left_a, shift_b=q.left_b, shift=q.shift)

    def execute(self, eng, f):
        addr, valid, tap = eng.loop(f)
        vals = eng.read(addr, valid)  # (OG, P, 2, IG, L)
        shifts = np.where(tap == 1, f.shift_b, f.shift_a)[None, None, :, None, None]
        total = (vals << shifts).sum(axis=(2, 3))
        v = rshift_round(total, f.shift)
        if f.relu:
            v = np.maximum(v, 0)
        eng.write(f, saturate_bits(v, f.out_bits, f.out_signed))
