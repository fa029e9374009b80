"""Convolution (``Conv2d``, with a fused ReLU): multiply-accumulate on the PE array."""

import logging

import numpy as np

from ..errors import FpgagenError
from ..hw.isa import Opcode
from ..hw.spec import ACC_BITS, BIAS_BITS, SHIFT_BITS, lane_range
from ..ir.ops import Conv2d
from ..ir.quant import ConvQuant
from ..ir.types import QType
from ..numerics.codebook import integer_codebook
from ..numerics.fixed_point import (SHIFT_CLAMP_LEFT, SHIFT_CLAMP_RIGHT, accumulator_bits,
                                    choose_frac)
from ..numerics.lanes import rshift_round, saturate_bits, wrap
from ..numerics.primitives import conv2d_float, conv2d_int, requantize
from .base import OperatorRules, register
from .conv_groups import block_diagonal, group_split, grouped_word_layout

__all__ = ["ConvRules", "PADDING_SHIFT"]

log = logging.getLogger(__name__)

#: The rounding shift of an output channel a direct codebook layer does not have
#: (:mod:`fpgagen.hw.direct_codebook`): ``rshift_round`` of any accumulator plus a zero
#: bias by it is 0.
PADDING_SHIFT = SHIFT_CLAMP_RIGHT


@register
class ConvRules(OperatorRules):
    """``y = sat(relu?(rshift_round(sum(x * w) + bias, shift)))`` per output channel."""

    op_type = Conv2d
    opcode = Opcode.CONV
    writes_in_place = True

    def run_float(self, node, ins, params):
        op = node.op
        p = params[node.name]
        y = conv2d_float(ins[0], p["weight"], p["bias"], op.stride, op.padding,
                         op.groups)
        return np.maximum(y, 0) if op.relu else y

    def run_int(self, node, ins, lq, out_type):
        op = node.op
        acc = conv2d_int(ins[0], lq.weight, lq.bias, op.stride, op.padding,
                         op.groups)
        return requantize(acc, lq.shift[:, None, None], out_type, relu=op.relu)

    def nonnegative(self, node, inputs_nonnegative):
        return node.op.relu

    def quantize(self, ctx, node, in_types, out_type):
        """The layer's weight codes in its format (dense: per-channel, or per-layer,
        power-of-two scales; codebook / pruned: shared values, one scale for the layer, see
        :mod:`fpgagen.numerics.codebook`), the bias at accumulator scale, the rounding shift
        to the output scale (clamped, see :mod:`fpgagen.numerics.fixed_point`); refuses a
        layer whose worst-case accumulator exceeds the hardware's."""
        t_in = in_types[0]
        wb = ctx.config.weight_bits
        fmt = ctx.config.format_of(node.name)
        p = ctx.graph.params[node.name]
        w, b = p["weight"].astype(np.float64), p["bias"].astype(np.float64)
        compressed = {}
        if fmt.compressed:
            cb = integer_codebook(w, fmt.index_bits, fmt.pruned, wb)
            w_frac = np.full(w.shape[0], cb.frac, dtype=np.int64)
            w_int = cb.decoded()
            compressed = dict(codebook=cb.codes, index=cb.index, index_bits=fmt.index_bits)
            log.info("%s: %s, %d entries (%s), frac %d, %d of %d weights stored", node.name,
                     fmt, len(cb.codes), "the weights' own values" if cb.kept else "k-means",
                     cb.frac, int((cb.index >= 0).sum()), cb.index.size)
        else:
            qmax = (1 << (wb - 1)) - 1
            if ctx.config.per_channel:
                maxima = np.abs(w).reshape(w.shape[0], -1).max(axis=1)
            else:
                maxima = np.full(w.shape[0], np.abs(w).max())
            w_frac = np.array([choose_frac(float(m), qmax) for m in maxima], dtype=np.int64)
            scale = 2.0 ** w_frac.astype(np.float64)
            w_int = np.clip(np.round(w * scale[:, None, None, None]), -qmax - 1, qmax)
        acc_frac = t_in.frac + w_frac
        b_int = np.round(b * 2.0 ** acc_frac.astype(np.float64)).astype(np.int64)
        terms = int(np.prod(w.shape[1:]))
        acc = accumulator_bits(terms, t_in, QType(wb, 0, True),
                               int(np.abs(b_int).max(initial=0)))
        if acc > ACC_BITS:
            raise FpgagenError(f"layer {node.name!r}: worst-case accumulator needs {acc} bits "
                               f"(> {ACC_BITS}); its bias or reduction length is too large")
        # Shifts beyond these bounds give the same codes (0, or saturation) for any 32-bit
        # accumulator, and keep both the golden model's int64 shifts and the hardware's
        # 6-bit shifter well defined.
        shift = np.clip(acc_frac - out_type.frac, -SHIFT_CLAMP_LEFT, SHIFT_CLAMP_RIGHT)
        return ConvQuant(weight=w_int.astype(np.int16), weight_bits=wb, weight_frac=w_frac,
                         bias=b_int, shift=shift, acc_bits=acc, **compressed)

    def lower(self, ctx, node):
        """Weights laid out per PE column (``docs/hardware.md``, *Weight layout*), bias and
        shift per output channel; the first convolution of an im2col program as 1x1. A
        group convolution per group (its split recorded in ``ctx.group_splits``: the
        fields are those of one group's input groups) or block-diagonal
        (:mod:`fpgagen.operators.conv_groups`)."""
        op: Conv2d = node.op
        q = ctx.graph.quant.layers.get(node.name)
        if not isinstance(q, ConvQuant):
            raise FpgagenError(f"conv2d node {node.name!r} has no integer parameters")
        src = node.inputs[0]
        inp, out = ctx.places[src], ctx.places[node.name]
        in_lay, out_lay = ctx.layouts[src], ctx.layouts[node.name]
        weight = np.asarray(q.weight)
        kernel, stride, padding = op.kernel, op.stride, op.padding
        lanes, cols = ctx.lanes, ctx.banks.hw.pe_cols
        og, ig = out_lay.groups, in_lay.groups
        im2col = ctx.im2col is not None and ctx.im2col.conv == node.name
        groups = op.groups
        if im2col:
            # Input channel (ky * kw + kx) * C + c of the packed input.
            kernel, stride, padding = (1, 1), (1, 1), (0, 0)
        split = (None if im2col else
                 group_split(groups, in_lay.positions, ig, out_lay.positions, og, lanes, cols))
        if split is not None:
            ctx.group_splits[node.name] = split
            ig = split.in_groups
        kh, kw = kernel

        def word_layout(values, fill):
            """``(O, C / groups, kh, kw)`` values as the banks' words ``(cols, og * taps *
            ig, lanes)``; lanes of no channel (and, block-diagonal, weights between
            channels of different groups) hold ``fill``."""
            g = groups
            if im2col:
                values = block_diagonal(values, g, fill) if g > 1 else values
                values = values.transpose(0, 2, 3, 1).reshape(values.shape[0], -1, 1, 1)
                g = 1
            return grouped_word_layout(values, g, in_lay.positions, in_lay.groups,
                                       out_lay.positions, og, lanes, cols, split, fill)

        out_pos = np.asarray(out_lay.positions)
        bias = np.zeros(og * cols, dtype=np.int64)
        shift = np.zeros(og * cols, dtype=np.int64)
        bias[out_pos] = np.asarray(q.bias, dtype=np.int64)
        shift[out_pos] = np.asarray(q.shift, dtype=np.int64)
        for what, values, bits in (("bias", bias, BIAS_BITS), ("shift", shift, SHIFT_BITS)):
            lo, hi = lane_range(bits)
            bad = values[(values < lo) | (values > hi)]
            if bad.size:
                raise FpgagenError(f"cannot map conv2d node {node.name!r}: {what} "
                                   f"{int(bad[0])} does not fit the {bits}-bit {what} field "
                                   f"of the bias banks")
        bias_cols = bias.reshape(og, cols).T.copy()
        shift_cols = shift.reshape(og, cols).T.copy()
        compressed = {}
        # block-diagonal, the weights between groups are not stored: masks, not direct
        direct = (q.compressed and ctx.banks.hw.in_flash and (groups == 1 or split is not None)
                  and bool((np.asarray(q.index) >= 0).all()))
        if direct:
            # a direct codebook layer (weights in flash, every weight stored): index
            # words laid out as dense words; padding output channels give code 0
            pad = np.ones(og * cols, dtype=bool)
            pad[out_pos] = False
            shift_cols[pad.reshape(og, cols).T] = PADDING_SHIFT
            index = word_layout(np.asarray(q.index, dtype=np.int64), 0)
            weight_base, bias_base, cb_base = ctx.banks.add_direct(
                index, q.index_bits, np.asarray(q.codebook, dtype=np.int64), bias_cols,
                shift_cols)
            compressed = dict(index_bits=q.index_bits, codebook_base=cb_base)
        elif q.compressed:
            index = word_layout(np.asarray(q.index, dtype=np.int64), -1)
            weight_base, bias_base, cb_base = ctx.banks.add_compressed(
                index, og, q.index_bits, np.asarray(q.codebook, dtype=np.int64), bias_cols,
                shift_cols)
            compressed = dict(compressed=1, index_bits=q.index_bits, codebook_base=cb_base)
        else:
            words = word_layout(weight, 0).astype(np.int16)
            weight_base, bias_base = ctx.banks.add(words, bias_cols, shift_cols)
        return dict(op=Opcode.CONV, relu=int(op.relu), **ctx.out_type_fields(node),
                    **ctx.read_fields(inp), in_h=inp.h, in_w=inp.w, in_groups=ig,
                    in_pixel_groups=inp.pixel_groups, depthwise=0, kh=kh, kw=kw,
                    stride_h=stride[0], stride_w=stride[1], pad_h=padding[0],
                    pad_w=padding[1], **ctx.write_fields(out), weight_base=weight_base,
                    bias_base=bias_base, **compressed)

    def execute(self, eng, f):
        addr, valid, tap = eng.loop(f)
        og_n, ig, kk = f.out_groups, f.in_groups, len(tap)
        act = eng.read(addr, valid)  # (OG', P, KK, IG, L)
        k = kk * ig * eng.lanes
        a = act.reshape(act.shape[0], act.shape[1], k).astype(np.float64)
        og = np.arange(og_n)
        w = eng.weight_words(f).reshape(eng.cols, og_n, k)
        w = w.transpose(1, 2, 0).astype(np.float64)  # (OG, K, cols)
        # Exact: |products| < 2**24 (13-bit lanes x 12-bit weights) and K < 2**20 terms
        # keep every sum below 2**53.
        if a.shape[0] == 1:  # one product for all output groups
            acc = (a[0] @ w.transpose(1, 0, 2).reshape(k, og_n * eng.cols))
            acc = acc.reshape(-1, og_n, eng.cols).transpose(1, 0, 2)
        else:
            acc = np.matmul(a, w)
        acc = wrap(acc.astype(np.int64), ACC_BITS)  # (OG, P, cols)
        baddr = f.bias_base + og
        if baddr.max() >= eng.bias.shape[1]:
            raise FpgagenError(f"instruction {eng.pc} reads bias entry {baddr.max()} beyond "
                               f"the banks ({eng.bias.shape[1]} entries)")
        bias = eng.bias[:, baddr].T[:, None, :]
        shift = eng.shift[:, baddr].T[:, None, :]
        v = rshift_round(acc + bias, shift)
        if f.relu:
            v = np.maximum(v, 0)
        eng.write(f, saturate_bits(v, f.out_bits, f.out_signed))
