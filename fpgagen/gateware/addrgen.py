"""The address generator: walks one instruction's loop nest (docs/hardware.md), one
iteration per cycle, and emits addresses and flags ``ADDRGEN_LATENCY`` (4) register stages
later."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..hw.timing import ADDRGEN_LATENCY
from ..hw.isa import ADDR_BITS, DIM_BITS, Instruction, Opcode

__all__ = ["AddressGenerator", "ADDRGEN_LATENCY"]


class AddressGenerator(wiring.Component):
    """Loop-nest walker.

    ``start`` (one cycle, with ``instr`` stable while ``busy``) begins the walk; ``busy``
    stays high until the last iteration has been issued. Outputs are valid when ``o_valid``
    and lag the iteration by :data:`ADDRGEN_LATENCY` cycles.
    """

    instr: In(Instruction)
    start: In(1)
    busy: Out(1)

    o_valid: Out(1)  #: an iteration occupies this pipeline slot
    o_tap_valid: Out(1)  #: the input position is inside the input (not padding / clipped)
    o_first: Out(1)  #: first iteration of an output pixel
    o_last: Out(1)  #: last iteration of an output pixel
    o_second: Out(1)  #: ADD: this iteration reads the second input
    o_act_addr: Out(ADDR_BITS)
    o_weight_addr: Out(ADDR_BITS)
    o_bias_addr: Out(ADDR_BITS)
    o_out_addr: Out(ADDR_BITS)
    o_og: Out(DIM_BITS)

    def elaborate(self, platform):
        m = Module()
        i = self.instr
        og, oy, ox = (Signal(DIM_BITS, name=n) for n in ("og", "oy", "ox"))
        # oy * stride_h and ox * stride_w, kept by addition (no multiplier in the loop).
        oys, oxs = Signal(DIM_BITS + 3, name="oys"), Signal(DIM_BITS + 3, name="oxs")
        ky, kx, g = Signal(4), Signal(4), Signal(DIM_BITS)
        w_og_base = Signal(ADDR_BITS)  # weight word of (og, tap 0, group 0)
        w_ofs = Signal(ADDR_BITS)      # offset within the pixel's taps and groups
        run = Signal()

        last_g = g == i.in_groups - 1
        last_kx = kx == i.kw - 1
        last_ky = ky == i.kh - 1
        last_ox = ox == i.out_w - 1
        last_oy = oy == i.out_h - 1
        last_og = og == i.out_groups - 1
        pixel_end = last_g & last_kx & last_ky
        first = (g == 0) & (kx == 0) & (ky == 0)

        m.d.comb += self.busy.eq(run)
        with m.If(self.start):
            m.d.sync += [run.eq(1), og.eq(0), oy.eq(0), ox.eq(0), ky.eq(0), kx.eq(0), g.eq(0),
                         oys.eq(0), oxs.eq(0), w_og_base.eq(i.weight_base), w_ofs.eq(0)]
        with m.Elif(run):
            m.d.sync += g.eq(g + 1), w_ofs.eq(w_ofs + 1)
            with m.If(last_g):
                m.d.sync += g.eq(0), kx.eq(kx + 1)
                with m.If(last_kx):
                    m.d.sync += kx.eq(0), ky.eq(ky + 1)
                    with m.If(last_ky):
                        m.d.sync += ky.eq(0), ox.eq(ox + 1), w_ofs.eq(0)
                        m.d.sync += oxs.eq(oxs + i.stride_w)
                        with m.If(last_ox):
                            m.d.sync += ox.eq(0), oy.eq(oy + 1), oxs.eq(0)
                            m.d.sync += oys.eq(oys + i.stride_h)
                            with m.If(last_oy):
                                m.d.sync += oy.eq(0), og.eq(og + 1), oys.eq(0)
                                m.d.sync += w_og_base.eq(w_og_base + w_ofs + 1)
                                with m.If(last_og):
                                    m.d.sync += run.eq(0)

        # Stage 1: input coordinates and flags.
        is_add = i.op == Opcode.ADD
        iy = Signal(signed(DIM_BITS + 6))
        ix = Signal(signed(DIM_BITS + 6))
        s1 = dict(valid=Signal(), first=Signal(), last=Signal(), second=Signal(),
                  grp=Signal(DIM_BITS), og=Signal(DIM_BITS), oy=Signal(DIM_BITS),
                  ox=Signal(DIM_BITS), w=Signal(ADDR_BITS))
        m.d.sync += [
            s1["valid"].eq(run), s1["first"].eq(first), s1["last"].eq(pixel_end),
            s1["second"].eq(is_add & (kx == 1)),
            s1["grp"].eq(Mux(i.depthwise, og, g)), s1["og"].eq(og), s1["oy"].eq(oy),
            s1["ox"].eq(ox), s1["w"].eq(w_og_base + w_ofs),
            iy.eq(Mux(is_add, oy, oys + ky - i.pad_h)),
            ix.eq(Mux(is_add, ox, oxs + kx - i.pad_w)),
        ]
        # Stage 2: pixel indices (one multiplier each).
        s2 = dict(valid=Signal(), first=Signal(), last=Signal(), second=Signal(),
                  inside=Signal(), grp=Signal(DIM_BITS), og=Signal(DIM_BITS),
                  w=Signal(ADDR_BITS), pixel=Signal(ADDR_BITS), out_pixel=Signal(ADDR_BITS))
        inside = (iy >= 0) & (iy < i.in_h) & (ix >= 0) & (ix < i.in_w)
        m.d.sync += [s2[k].eq(s1[k]) for k in ("valid", "first", "last", "second", "grp",
                                               "og", "w")]
        m.d.sync += [
            s2["inside"].eq(inside),
            s2["pixel"].eq(iy.as_unsigned()[:DIM_BITS * 2] * i.in_w
                           + ix.as_unsigned()[:DIM_BITS]),
            s2["out_pixel"].eq(s1["oy"] * i.out_w + s1["ox"]),
        ]
        # Stage 3: products (one multiplier each) and offsets.
        s3 = dict(valid=Signal(), first=Signal(), last=Signal(), second=Signal(),
                  inside=Signal(), og=Signal(DIM_BITS), w=Signal(ADDR_BITS),
                  act_prod=Signal(ADDR_BITS), act_ofs=Signal(ADDR_BITS),
                  out_prod=Signal(ADDR_BITS), out_ofs=Signal(ADDR_BITS),
                  bias=Signal(ADDR_BITS))
        base = Mux(s2["second"], i.in2_base, i.in_base)
        m.d.sync += [s3[k].eq(s2[k]) for k in ("valid", "first", "last", "second", "inside",
                                               "og", "w")]
        m.d.sync += [
            s3["act_prod"].eq(s2["pixel"] * i.in_pixel_groups),
            s3["act_ofs"].eq(base + s2["grp"]),
            s3["out_prod"].eq(s2["out_pixel"] * i.out_pixel_groups),
            s3["out_ofs"].eq(i.out_base + i.out_group_offset + s2["og"]),
            s3["bias"].eq(i.bias_base + s2["og"]),
        ]
        # Stage 4: addresses.
        m.d.sync += [
            self.o_valid.eq(s3["valid"]), self.o_first.eq(s3["first"]),
            self.o_last.eq(s3["last"]), self.o_second.eq(s3["second"]),
            self.o_tap_valid.eq(s3["inside"]),
            self.o_act_addr.eq(s3["act_prod"] + s3["act_ofs"]),
            self.o_weight_addr.eq(s3["w"]),
            self.o_bias_addr.eq(s3["bias"]),
            self.o_out_addr.eq(s3["out_prod"] + s3["out_ofs"]),
            self.o_og.eq(s3["og"]),
        ]
        return m
