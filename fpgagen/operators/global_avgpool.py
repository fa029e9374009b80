"""Global average pooling (``GlobalAvgPool``): the last layer, streaming the class scores,
or the layer before the fully connected one, storing its ``(C, 1, 1)`` averages."""

import numpy as np

from ..errors import FpgagenError
from ..hw.isa import Opcode
from ..ir.ops import GlobalAvgPool
from ..ir.quant import AvgPoolQuant
from ..numerics.fixed_point import avgpool_multiplier
from ..numerics.lanes import rshift_round, saturate_bits
from ..numerics.primitives import global_sum, requantize
from .base import OperatorRules, register

__all__ = ["GlobalAvgPoolRules"]


@register
class GlobalAvgPoolRules(OperatorRules):
    """``y = sat(rshift_round(sum(x) * multiplier, shift))`` per channel."""

    op_type = GlobalAvgPool
    opcode = Opcode.GAP
    bounded_by_input = True

    def nonnegative(self, node, inputs_nonnegative):
        return all(inputs_nonnegative)

    def run_float(self, node, ins, params):
        return ins[0].mean(axis=(1, 2), keepdims=True, dtype=np.float32)

    def run_int(self, node, ins, lq, out_type):
        return requantize(global_sum(ins[0]) * lq.multiplier, lq.shift, out_type)

    def quantize(self, ctx, node, in_types, out_type):
        h, w = ctx.graph.in_shapes(node)[0][1:]
        mult, shift = avgpool_multiplier(h * w, in_types[0], out_type)
        return AvgPoolQuant(multiplier=mult, shift=shift)

    def lower(self, ctx, node):
        q = ctx.graph.quant.layers.get(node.name)
        if not isinstance(q, AvgPoolQuant):
            raise FpgagenError(f"global_avgpool node {node.name!r} has no integer parameters")
        src = node.inputs[0]
        inp = ctx.places[src]
        if ctx.layouts[src].positions != tuple(range(inp.channels)):
            raise FpgagenError(f"cannot map global_avgpool node {node.name!r}: its input "
                               f"{src!r} has unused lanes between its channels "
                               f"({ctx.describe(src)}: a concat of inputs whose channel counts "
                               f"are not multiples of {ctx.lanes}); the score stream needs "
                               f"contiguous channels")
        out = ctx.places.get(node.name)
        if out is None:  # the last node: the scores
            dest = dict(out_h=1, out_w=1, out_groups=inp.groups, out_channels=inp.channels)
        else:  # read by the fully connected conv: the averages into activation memory
            dest = dict(**ctx.write_fields(out), gap_store=1)
        return dict(op=Opcode.GAP, **ctx.out_type_fields(node), **ctx.read_fields(inp),
                    in_h=inp.h, in_w=inp.w, in_groups=1, in_pixel_groups=inp.pixel_groups,
                    depthwise=1, kh=inp.h, kw=inp.w, stride_h=1, stride_w=1, pad_h=0,
                    pad_w=0, **dest, multiplier=q.multiplier, shift=q.shift)

    def execute(self, eng, f):
        addr, valid, _ = eng.loop(f)
        total = eng.read(addr, valid).sum(axis=(1, 2, 3))  # (OG, L)
        v = rshift_round(total * f.multiplier, f.shift)
        v = saturate_bits(v, f.out_bits, f.out_signed)
        if f.gap_store:
            eng.write(f, v[:, None, :])
            return None
        return v.reshape(-1)[:f.out_channels]
