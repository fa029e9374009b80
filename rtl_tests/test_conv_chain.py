"""A chain of LOAD, CONV and MAXPOOL instructions on the generated hardware, bit-exact
against the golden primitives: kernels 1/3/5/7, strides 1/2, padding 0/1/2/3, channel
counts that are and are not multiples of the array size, a CONV with fused 3x3/2 max
pooling (clipped last windows), on two array shapes. Every tensor is whole (a ring of all
its rows); the input comes in through a LOAD.

The program is assembled here by hand (word layout of docs/hardware.md), so this tests the
engine independently of the compiler's lowering."""

import numpy as np
import pytest

from fpgagen.numerics.primitives import conv2d_int, maxpool, requantize
from fpgagen.ir import QType
from fpgagen.ir.ops import pool_out_size
from fpgagen.hw.cost import instruction_cycles
from fpgagen.hw.isa import Instr, Opcode, pack_instruction, unpack_instruction

from .hand_programs import build_hand_program, groups, lanes_of

# (kind, out_channels, kernel, stride, pad, relu); conv_pool: a fused 3x3/2 max pool
CHAIN = [
    ("conv", 6, 3, 1, 1, True),
    ("conv", 11, 1, 1, 0, True),
    ("pool", None, 3, 2, 0, None),
    ("conv_pool", 7, 3, 1, 1, False),
    ("conv", 5, 5, 2, 2, False),
    ("conv", 9, 7, 1, 3, True),
]



def _assemble(x_shape, lanes, rng):
    """Program, weight/bias banks, expected tensors and their placements."""
    c, h, w = x_shape
    x = rng.integers(-255, 256, size=x_shape)
    regions, prog, expected = [], [], []
    wbank = [[] for _ in range(lanes)]
    bbank = [[] for _ in range(lanes)]
    sbank = [[] for _ in range(lanes)]
    in_base, in_groups = 0, groups(c, lanes)
    cur, cur_type = x, QType(9, 0, True)
    next_base = h * w * in_groups
    prog.append(dict(op=Opcode.LOAD, in_base=0, in_h=h, in_w=w, in_groups=in_groups,
                     in_pixel_groups=in_groups, kh=1, kw=1, stride_h=1, stride_w=1,
                     out_h=h, out_w=w, out_groups=1, in_rows=h))
    pool_depth = 0
    for kind, oc, k, s, p, relu in CHAIN:
        ci, hi, wi = cur.shape
        ig = groups(ci, lanes)
        if kind == "pool":
            y = maxpool(cur, (k, k), (s, s), (p, p), True)
            og, fields = ig, dict(op=Opcode.MAXPOOL, depthwise=1, in_groups=1,
                                  out_bits=8, out_signed=int(cur_type.signed))
        else:
            wt = rng.integers(-128, 128, size=(oc, ci, k, k)).astype(np.int8)
            b = rng.integers(-3000, 3000, size=oc)
            shift = rng.integers(4, 9, size=oc)
            out_type = QType(8, 0, not relu)
            y = requantize(conv2d_int(cur, wt, b, (s, s), (p, p)), shift[:, None, None],
                           out_type, relu=relu)
            conv_h, conv_w = y.shape[1:]
            og = groups(oc, lanes)
            wbase, bbase = len(wbank[0]), len(bbank[0])
            for col in range(lanes):
                for g_out in range(og):
                    o = g_out * lanes + col
                    for tap in range(k * k):
                        for g in range(ig):
                            word = np.zeros(lanes, np.int8)
                            for r in range(lanes):
                                ch = g * lanes + r
                                if o < oc and ch < ci:
                                    word[r] = wt[o, ch, tap // k, tap % k]
                            wbank[col].append(word)
                    bbank[col].append(int(b[o]) if o < oc else 0)
                    sbank[col].append(int(shift[o]) if o < oc else 0)
            fields = dict(op=Opcode.CONV, in_groups=ig, relu=int(relu), out_bits=8,
                          out_signed=int(not relu), weight_base=wbase, bias_base=bbase)
            cur_type = out_type
            if kind == "conv_pool":
                y = maxpool(y, (3, 3), (2, 2), (0, 0), True)
                pw = pool_out_size(conv_w, 3, 2, 0, True)
                assert pw == y.shape[2]
                fields.update(pool=1, pool_s=2, pool_overlap=1, pool_w=pw, pool_h=y.shape[1],
                              pool_last=1, pool_base=pool_depth)
                pool_depth += og * pw
        _, ho, wo = y.shape
        if kind == "conv_pool":  # the loop nest runs over the conv output
            ho_loop, wo_loop = conv_h, conv_w
        else:
            ho_loop, wo_loop = ho, wo
        fields.update(in_base=in_base, in_h=hi, in_w=wi, in_pixel_groups=ig, kh=k, kw=k,
                      stride_h=s, stride_w=s, pad_h=p, pad_w=p, out_base=next_base,
                      out_h=ho_loop, out_w=wo_loop, out_groups=og, out_pixel_groups=og,
                      in_rows=hi, in_slot0=(-p) % hi, out_rows=ho)
        prog.append(fields)
        regions.append((next_base, ho * wo * og))
        expected.append(y)
        in_base, next_base = next_base, next_base + ho * wo * og
        cur = y
    prog[-1]["last"] = 1
    words = tuple(pack_instruction(Instr(**f)) for f in prog)
    banks = (np.array(wbank), np.array(bbank), np.array(sbank))
    return x, words, banks, regions, expected, next_base, pool_depth



@pytest.mark.parametrize("lanes", [4, 8])
def test_layer_chain_bit_exact(build_dir, lanes):
    rng = np.random.default_rng(lanes)
    x, words, banks, regions, expected, depth, pool_depth = _assemble((3, 13, 11), lanes, rng)
    sim = build_hand_program(words, banks, lanes=lanes, act_depth=depth,
                             pool_depth=pool_depth, bank_depth=512,
                             build_dir=build_dir)
    result = sim.run(lanes_of(x, lanes), regions=regions)
    for (kind, *_), want, got in zip(CHAIN, expected, result.regions):
        np.testing.assert_array_equal(got, lanes_of(want, lanes), err_msg=kind)
    predicted = [instruction_cycles(unpack_instruction(f)) for f in words]
    print(f"{lanes}x{lanes}: simulated cycles per instruction "
          f"{result.instruction_cycles.tolist()}, predicted {predicted}")
    np.testing.assert_array_equal(result.instruction_cycles, predicted)
    assert result.cycles == sum(predicted)
