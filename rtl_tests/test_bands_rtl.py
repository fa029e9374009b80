"""Row bands and rings on the generated hardware, bit-exact against the golden primitives:
a program assembled by hand (as ``test_conv_chain.py`` does) runs every layer in bands of
rows, interleaved, each tensor but the last held in a ring of fewer rows than it has:

- LOAD bands of 3 input rows into a ring of 6;
- CONV 3x3 stride 1 pad 1 in bands of 2 rows into a ring of 7 (the first and last bands
  read padding rows);
- CONV 3x3 stride 2 pad 1 with a fused 3x3/2 max pool (ceil mode, clipped last windows)
  in bands of 3 conv rows, so that vertical windows span two instructions (the pool-state
  memory carries them) and a band's first row ends the window of the band before, into a
  ring of 2 pooled rows;
- CONV 1x1 in bands of one row into the whole output.

A small scheduler runs, at every step, the last layer whose next band has its input rows
in its input ring and whose output rows overwrite only rows that are no longer needed, and
checks that this never stalls. The run must also take as many cycles per instruction as
:func:`fpgagen.hw.cost.instruction_cycles` predicts."""

import numpy as np
import pytest

from fpgagen.hw.cost import instruction_cycles
from fpgagen.hw.isa import Instr, Opcode, pack_instruction, unpack_instruction
from fpgagen.ir import QType
from fpgagen.ir.ops import pool_out_size
from fpgagen.numerics.primitives import conv2d_int, maxpool, requantize

from .hand_programs import build_hand_program, groups, lanes_of

#: Input channels, height, width.
INPUT = (3, 14, 17)
#: Per layer: (out_channels, kernel, stride, pad, relu, fused pool (kernel, stride) or
#: None, rows per band, rows of the output ring (None: the whole tensor)).
LAYERS = [
    (6, 3, 1, 1, True, None, 2, 7),
    (7, 3, 2, 1, False, (3, 2), 3, 2),
    (5, 1, 1, 0, True, None, 1, None),
]
#: Rows of the input ring and rows per LOAD band.
INPUT_RING, LOAD_BAND = 6, 3




class _Tensor:
    """A tensor in a ring of ``rows`` rows from word ``base``."""

    def __init__(self, codes, lanes, rows, base):
        self.codes, self.rows, self.base = codes, rows, base
        self.c, self.h, self.w = codes.shape
        self.groups = groups(self.c, lanes)
        self.produced = 0  # rows 0 .. produced - 1 have been written
        self.needed = 0  # lowest row its consumer still reads

    @property
    def words(self):
        return self.rows * self.w * self.groups


def _assemble(lanes, rng):
    """The layers' tensors, instruction field dicts in execution order, the banks and the
    pool-state words used."""
    x = rng.integers(-255, 256, size=INPUT)
    tensors = [_Tensor(x, lanes, INPUT_RING, 0)]
    wbank, bbank, sbank = ([] for _ in range(3))
    layers, pool_depth = [], 0
    cur = x
    for oc, k, s, p, relu, pool, band, ring in LAYERS:
        src = tensors[-1]
        ig, og = src.groups, groups(oc, lanes)
        wt = rng.integers(-128, 128, size=(oc, src.c, k, k)).astype(np.int8)
        b = rng.integers(-3000, 3000, size=oc)
        shift = rng.integers(4, 9, size=oc)
        y = requantize(conv2d_int(cur, wt, b, (s, s), (p, p)), shift[:, None, None],
                       QType(8, 0, not relu), relu=relu)
        conv_h, conv_w = y.shape[1:]
        wbase, bbase = len(wbank), len(bbank)
        for g_out in range(og):
            for tap in range(k * k):
                for g in range(ig):
                    word = np.zeros((lanes, lanes), np.int8)  # (column, lane)
                    for col in range(lanes):
                        o = g_out * lanes + col
                        for r in range(lanes):
                            ch = g * lanes + r
                            if o < oc and ch < src.c:
                                word[col, r] = wt[o, ch, tap // k, tap % k]
                    wbank.append(word)
            bbank.append([int(b[o]) if (o := g_out * lanes + c) < oc else 0
                          for c in range(lanes)])
            sbank.append([int(shift[o]) if (o := g_out * lanes + c) < oc else 0
                          for c in range(lanes)])
        fields = dict(op=Opcode.CONV, relu=int(relu), out_bits=8, out_signed=int(not relu),
                      in_base=src.base, in_h=src.h, in_w=src.w, in_groups=ig,
                      in_pixel_groups=ig, kh=k, kw=k, stride_h=s, stride_w=s, pad_h=p,
                      pad_w=p, out_w=conv_w, out_groups=og, out_pixel_groups=og,
                      weight_base=wbase, bias_base=bbase, in_rows=src.rows)
        if pool:
            pk, ps = pool
            y = maxpool(y, (pk, pk), (ps, ps), (0, 0), True)
            assert y.shape[2] == pool_out_size(conv_w, pk, ps, 0, True)
            fields.update(pool=1, pool_s=ps, pool_overlap=pk - ps, pool_w=y.shape[2],
                          pool_h=y.shape[1], pool_base=pool_depth)
            pool_depth += og * y.shape[2]
        base = tensors[-1].base + tensors[-1].words
        out = _Tensor(y, lanes, ring or y.shape[1], base)
        tensors.append(out)
        layers.append(dict(fields=fields, src=src, dst=out, k=k, s=s, p=p, pool=pool,
                           band=band, loop_h=conv_h, next=0))
        cur = y
    banks = (np.array(wbank).transpose(1, 0, 2), np.array(bbank).T, np.array(sbank).T)
    return tensors, layers, banks, pool_depth


def _written_rows(layer, y, n):
    """Rows of the output tensor a band of loop rows ``y .. y + n - 1`` writes."""
    if not layer["pool"]:
        return list(range(y, y + n))
    pk, ps = layer["pool"]
    h = layer["dst"].h
    ends = [min(j * ps + pk - 1, layer["loop_h"] - 1) for j in range(h)]
    return [j for j in range(h) if y <= ends[j] < y + n]


def _schedule(tensors, layers):
    """Instruction field dicts in execution order (see the module docstring)."""
    x = tensors[0]
    load = dict(next=0)
    out = []

    def input_rows(layer, y, n):
        lo = y * layer["s"] - layer["p"]
        hi = (y + n - 1) * layer["s"] - layer["p"] + layer["k"] - 1
        return max(lo, 0), min(hi, layer["src"].h - 1)

    def can_write(t, rows):
        return all(r - t.rows < t.needed for r in rows)

    while load["next"] < x.h or any(l["next"] < l["loop_h"] for l in layers):
        for layer in reversed(layers):
            y = layer["next"]
            n = min(layer["band"], layer["loop_h"] - y)
            if n <= 0:
                continue
            lo, hi = input_rows(layer, y, n)
            src, dst = layer["src"], layer["dst"]
            rows = _written_rows(layer, y, n)
            if hi < src.produced and lo >= src.produced - src.rows and can_write(dst, rows):
                break
        else:
            y = load["next"]
            n = min(LOAD_BAND, x.h - y)
            assert n > 0 and can_write(x, range(y, y + n)), "the schedule stalls"
            out.append(dict(op=Opcode.LOAD, in_base=x.base, in_h=x.h, in_w=x.w,
                            in_groups=x.groups, in_pixel_groups=x.groups, kh=1, kw=1,
                            stride_h=1, stride_w=1, out_h=n, out_w=x.w, out_groups=1,
                            in_y0=y, in_rows=x.rows, in_slot0=y % x.rows))
            load["next"] = x.produced = y + n
            continue
        f = dict(layer["fields"], out_base=dst.base, out_h=n, out_rows=dst.rows,
                 in_y0=y * layer["s"], in_slot0=(y * layer["s"] - layer["p"]) % src.rows,
                 out_slot0=y % dst.rows)
        if layer["pool"]:
            ps = layer["pool"][1]
            f.update(pool_a0=y // ps, pool_phase0=y % ps,
                     pool_last=int(y + n == layer["loop_h"]), out_slot0=(y // ps) % dst.rows)
        out.append(f)
        layer["next"] = y + n
        if rows:
            dst.produced = rows[-1] + 1
        src.needed = (y + n) * layer["s"] - layer["p"]
    out[-1]["last"] = 1
    return out


@pytest.mark.parametrize("lanes", [4, 8])
def test_bands_and_rings_bit_exact(build_dir, lanes):
    rng = np.random.default_rng(100 + lanes)
    tensors, layers, banks, pool_depth = _assemble(lanes, rng)
    prog = _schedule(tensors, layers)
    ops = [f["op"] for f in prog]
    assert ops.count(Opcode.LOAD) == 5 and len(prog) == 18, ops
    assert any(f.get("pool") and f["pool_phase0"] for f in prog), "a band starts mid-window"
    words = tuple(pack_instruction(Instr(**f)) for f in prog)
    depth = tensors[-1].base + tensors[-1].words
    sim = build_hand_program(words, banks, lanes=lanes, act_depth=depth,
                             pool_depth=pool_depth, bank_depth=64,
                             build_dir=build_dir)
    result = sim.run(lanes_of(tensors[0].codes, lanes),
                     regions=[(t.base, t.words) for t in tensors])
    for i, (t, got) in enumerate(zip(tensors, result.regions)):
        # the ring holds the last `rows` rows of the tensor, row r in slot r mod rows
        rows = np.arange(t.h - t.rows, t.h)
        want = lanes_of(t.codes, lanes).reshape(t.h, -1, lanes)[rows]
        got = got.reshape(t.rows, -1, lanes)[rows % t.rows]
        np.testing.assert_array_equal(got, want, err_msg=f"tensor {i}")
    predicted = [instruction_cycles(unpack_instruction(f)) for f in words]
    np.testing.assert_array_equal(result.instruction_cycles, predicted)
