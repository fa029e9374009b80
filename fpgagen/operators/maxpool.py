"""Max pooling (``MaxPool``): lane-wise maximum over the valid taps, in the vector unit."""

import numpy as np

from ..errors import FpgagenError
from ..hw.isa import Opcode
from ..ir.ops import MaxPool
from ..numerics.primitives import maxpool
from .base import OperatorRules, register

__all__ = ["MaxPoolRules"]


@register
class MaxPoolRules(OperatorRules):
    """Windows clipped at the edge (padding never wins); input and output share a type."""

    op_type = MaxPool
    opcode = Opcode.MAXPOOL
    shares_input_type = True
    writes_in_place = True

    def nonnegative(self, node, inputs_nonnegative):
        return all(inputs_nonnegative)

    def run_float(self, node, ins, params):
        op = node.op
        return maxpool(ins[0], op.kernel, op.stride, op.padding, op.ceil_mode)

    def run_int(self, node, ins, lq, out_type):
        return self.run_float(node, ins, None)

    def lower(self, ctx, node):
        op: MaxPool = node.op
        inp, out = ctx.places[node.inputs[0]], ctx.places[node.name]
        return dict(op=Opcode.MAXPOOL, **ctx.out_type_fields(node), **ctx.read_fields(inp),
                    in_h=inp.h, in_w=inp.w, in_groups=1, in_pixel_groups=inp.pixel_groups,
                    depthwise=1, kh=op.kernel[0], kw=op.kernel[1], stride_h=op.stride[0],
                    stride_w=op.stride[1], pad_h=op.padding[0], pad_w=op.padding[1],
                    **ctx.write_fields(out))

    def execute(self, eng, f):
        addr, valid, _ = eng.loop(f)
        vals = eng.read(addr, valid)  # (OG, P, KK, IG, L)
        empty = ~valid.any(axis=(2, 3))
        if empty.any():
            raise FpgagenError(f"instruction {eng.pc} (MAXPOOL) has a window without a "
                               "valid tap")
        low = -(1 << eng.lane_bits)
        vals = np.where(valid[..., None], vals, low)
        eng.write(f, vals.max(axis=(2, 3)))
