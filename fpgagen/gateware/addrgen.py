"""The address generator: walks one instruction's loop nest (docs/hardware.md), one
iteration per cycle, and emits addresses and flags ``ADDRGEN_LATENCY`` (4) register stages
later."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..hw.timing import ADDRGEN_LATENCY
from ..hw.isa import ADDR_BITS, DIM_BITS, Instruction, Opcode
from .pool_unit import PoolEvents

__all__ = ["AddressGenerator", "ADDRGEN_LATENCY"]


def _inc_wrap(value, size):
    """``value + 1``, back to 0 at ``size`` (a ring slot)."""
    return Mux(value == size - 1, 0, value + 1)


class AddressGenerator(wiring.Component):
    """Loop-nest walker.

    ``start`` (one cycle, with ``instr`` stable while ``busy``) begins the walk; ``busy``
    stays high until the last iteration has been issued. Outputs are valid when ``o_valid``
    and lag the iteration by :data:`ADDRGEN_LATENCY` cycles.

    Rows are read from and written to rings: input row ``iy`` (from ``in_y0``) lives in
    slot ``iy mod in_rows``, output row ``oy`` in slot ``(out_slot0 + oy) mod out_rows``;
    the slots are kept by addition (which needs ``stride_h <= in_rows``). For a CONV with
    ``pool`` set, ``o_out_addr`` is the address of the pooled word the pixel completes,
    ``o_pool_addr`` the pool-state word of its horizontal window and ``o_pool_events`` the
    window events of the pixel (:func:`fpgagen.hw.pooling.window_events`); like the output
    address, they matter on a pixel's last iteration. For LOAD, an iteration is issued only
    in cycles with ``advance`` high (the input stream has a word); a cycle without one is a
    bubble (``o_valid`` low ``ADDRGEN_LATENCY`` cycles later). Other opcodes ignore
    ``advance``. For a compressed CONV, the first iteration of output group ``og`` waits
    until ``tiles_ready > og`` (its weights are decoded); ``o_tile_addr`` addresses them
    in the tile buffer (the even groups' tile at 0, the odd ones' after it).
    """

    instr: In(Instruction)
    start: In(1)
    advance: In(1)  #: LOAD: the input stream has a word this cycle
    tiles_ready: In(DIM_BITS + 1)  #: compressed CONV: tiles of decoded weights ready
    busy: Out(1)
    ogs_started: Out(DIM_BITS + 1)  #: output groups whose first iteration was issued

    o_valid: Out(1)  #: an iteration occupies this pipeline slot
    o_tap_valid: Out(1)  #: the input position is inside the input (not padding / clipped)
    o_first: Out(1)  #: first iteration of an output pixel
    o_last: Out(1)  #: last iteration of an output pixel
    o_second: Out(1)  #: ADD: this iteration reads the second input
    o_act_addr: Out(ADDR_BITS)
    o_weight_addr: Out(ADDR_BITS)
    o_tile_addr: Out(ADDR_BITS)  #: compressed CONV: the word in the decoder's tile buffer
    o_bias_addr: Out(ADDR_BITS)
    o_out_addr: Out(ADDR_BITS)
    o_og: Out(DIM_BITS)
    o_pool_addr: Out(ADDR_BITS)  #: pooled CONV: pool-state word of the horizontal window
    o_pool_events: Out(PoolEvents)  #: pooled CONV: window events of the pixel

    def elaborate(self, platform):
        m = Module()
        i = self.instr
        og, oy, ox = (Signal(DIM_BITS, name=n) for n in ("og", "oy", "ox"))
        # in_y0 + oy * stride_h and ox * stride_w, kept by addition (no multiplier in the
        # loop).
        oys, oxs = Signal(DIM_BITS + 3, name="oys"), Signal(DIM_BITS + 3, name="oxs")
        ky, kx, g = Signal(4), Signal(4), Signal(DIM_BITS)
        w_og_base = Signal(ADDR_BITS)  # weight word of (og, tap 0, group 0)
        w_ofs = Signal(ADDR_BITS)      # offset within the pixel's taps and groups
        t_base = Signal(ADDR_BITS)     # tile buffer word of (og, tap 0, group 0)
        run = Signal()
        # Ring slots: of the input row of (oy, ky = 0), of the input row of (oy, ky), of
        # the output row (pooled: of vertical window va, and of va - 1).
        row_slot_base, row_slot = Signal(DIM_BITS), Signal(DIM_BITS)
        out_slot, out_slot_prev = Signal(DIM_BITS), Signal(DIM_BITS)
        # stride_h - in_rows, registered at start: wrap(base + stride_h) is base + stride_h
        # or, when that is not negative, base + (stride_h - in_rows).
        stride_wrap = Signal(signed(DIM_BITS + 2))
        # Words per output row: pooled, a row of windows (registered at start: no
        # multiplexer in front of the multiplier).
        out_width = Signal(DIM_BITS)
        # Fused pooling: the newest window and the phase along the row (ha, hph) and along
        # the conv output's column (va, vph); pool-state word of (og, px 0).
        ha, va = Signal(DIM_BITS), Signal(DIM_BITS)
        hph, vph = Signal(2), Signal(2)
        pool_row = Signal(ADDR_BITS)

        last_g = g == i.in_groups - 1
        last_kx = kx == i.kw - 1
        last_ky = ky == i.kh - 1
        last_ox = ox == i.out_w - 1
        last_oy = oy == i.out_h - 1
        last_og = og == i.out_groups - 1
        pixel_end = last_g & last_kx & last_ky
        first = (g == 0) & (kx == 0) & (ky == 0)
        og_first = first & (oy == 0) & (ox == 0)
        wait_tile = i.compressed & og_first & (self.tiles_ready <= og)
        # LOAD issues an iteration only when the input stream has a word.
        step = run & ((i.op != Opcode.LOAD) | self.advance) & ~wait_tile
        with m.If(step & og_first):
            m.d.sync += self.ogs_started.eq(self.ogs_started + 1)

        next_base = Signal(DIM_BITS)
        wrapped = row_slot_base + stride_wrap
        m.d.comb += next_base.eq(Mux(wrapped >= 0, wrapped, row_slot_base + i.stride_h))
        h_wrap = hph == i.pool_s - 1
        v_wrap = vph == i.pool_s - 1
        # The output slot follows oy, or (pooled) the vertical window.
        out_adv = Mux(i.pool, v_wrap, 1)
        first_prev_slot = Mux(i.out_slot0 == 0, i.out_rows - 1, i.out_slot0 - 1)

        def per_og_reset():
            return [oys.eq(i.in_y0), row_slot_base.eq(i.in_slot0), row_slot.eq(i.in_slot0),
                    out_slot.eq(i.out_slot0), out_slot_prev.eq(first_prev_slot),
                    va.eq(i.pool_a0), vph.eq(i.pool_phase0)]

        m.d.comb += self.busy.eq(run)
        with m.If(self.start):
            m.d.sync += [run.eq(1), og.eq(0), oy.eq(0), ox.eq(0), ky.eq(0), kx.eq(0), g.eq(0),
                         oxs.eq(0), w_og_base.eq(i.weight_base), w_ofs.eq(0),
                         t_base.eq(0), self.ogs_started.eq(0),
                         stride_wrap.eq(i.stride_h - i.in_rows), ha.eq(0), hph.eq(0),
                         out_width.eq(Mux(i.pool, i.pool_w, i.out_w)),
                         pool_row.eq(i.pool_base)]
            m.d.sync += per_og_reset()
        with m.Elif(step):
            m.d.sync += g.eq(g + 1), w_ofs.eq(w_ofs + 1)
            with m.If(last_g):
                m.d.sync += g.eq(0), kx.eq(kx + 1)
                with m.If(last_kx):
                    m.d.sync += kx.eq(0), ky.eq(ky + 1)
                    m.d.sync += row_slot.eq(_inc_wrap(row_slot, i.in_rows))
                    with m.If(last_ky):
                        m.d.sync += ky.eq(0), ox.eq(ox + 1), w_ofs.eq(0)
                        m.d.sync += oxs.eq(oxs + i.stride_w), row_slot.eq(row_slot_base)
                        m.d.sync += hph.eq(Mux(h_wrap, 0, hph + 1)), ha.eq(ha + h_wrap)
                        with m.If(last_ox):
                            m.d.sync += ox.eq(0), oy.eq(oy + 1), oxs.eq(0)
                            m.d.sync += oys.eq(oys + i.stride_h)
                            m.d.sync += row_slot_base.eq(next_base), row_slot.eq(next_base)
                            m.d.sync += ha.eq(0), hph.eq(0)
                            m.d.sync += vph.eq(Mux(v_wrap, 0, vph + 1)), va.eq(va + v_wrap)
                            with m.If(out_adv):
                                m.d.sync += out_slot.eq(_inc_wrap(out_slot, i.out_rows))
                                m.d.sync += out_slot_prev.eq(out_slot)
                            with m.If(last_oy):
                                m.d.sync += oy.eq(0), og.eq(og + 1)
                                m.d.sync += per_og_reset()
                                m.d.sync += w_og_base.eq(w_og_base + w_ofs + 1)
                                m.d.sync += t_base.eq(Mux(t_base == 0, w_ofs + 1, 0))
                                m.d.sync += pool_row.eq(pool_row + i.pool_w)
                                with m.If(last_og):
                                    m.d.sync += run.eq(0)

        # Stage 1: input coordinates and flags; the window events of the pixel.
        is_add = i.op == Opcode.ADD
        iy = Signal(signed(DIM_BITS + 6))
        ix = Signal(signed(DIM_BITS + 6))
        s1 = dict(valid=Signal(), first=Signal(), last=Signal(), second=Signal(),
                  grp=Signal(DIM_BITS), og=Signal(DIM_BITS), slot=Signal(DIM_BITS),
                  out_row=Signal(DIM_BITS), out_col=Signal(DIM_BITS), w=Signal(ADDR_BITS),
                  tw=Signal(ADDR_BITS),
                  pool_row=Signal(ADDR_BITS), px=Signal(DIM_BITS),
                  events=Signal(PoolEvents))
        m.d.sync += [
            s1["valid"].eq(step), s1["first"].eq(first), s1["last"].eq(pixel_end),
            s1["second"].eq(is_add & (kx == 1)),
            s1["grp"].eq(Mux(i.depthwise, og, g)), s1["og"].eq(og),
            s1["slot"].eq(row_slot), s1["w"].eq(w_og_base + w_ofs),
            s1["tw"].eq(t_base + w_ofs),
            s1["pool_row"].eq(pool_row),
            iy.eq(oys + ky - i.pad_h),
            ix.eq(Mux(is_add, ox, oxs + kx - i.pad_w)),
        ]
        # window_events along the row (t = ox) and the conv output's column (t = y).
        k_last = i.pool_s + i.pool_overlap - 1  # phase at which a window ends
        ev = s1["events"]
        for axis, a, ph, count, last in (("h", ha, hph, i.pool_w, last_ox),
                                         ("v", va, vph, i.pool_h, i.pool_last & last_oy)):
            in_a = a < count
            e = getattr(ev, axis)
            m.d.sync += [e.in_a.eq(in_a), e.starts.eq((ph == 0) & in_a),
                         e.ends_prev.eq(i.pool_overlap & (ph == 0) & (a >= 1) & (a <= count)),
                         e.ends.eq(in_a & ((ph == k_last) | last))]
        h_prev = i.pool_overlap & (hph == 0) & (ha >= 1)
        v_prev = i.pool_overlap & (vph == 0) & (va >= 1)
        px = Mux(h_prev, ha - 1, ha)  # the horizontal window completed here
        m.d.sync += [
            s1["px"].eq(px),
            s1["out_row"].eq(Mux(i.pool, Mux(v_prev, out_slot_prev, out_slot), out_slot)),
            s1["out_col"].eq(Mux(i.pool, px, ox)),
        ]
        # Stage 2: pixel indices (one multiplier each); the pool-state word.
        s2 = dict(valid=Signal(), first=Signal(), last=Signal(), second=Signal(),
                  inside=Signal(), grp=Signal(DIM_BITS), og=Signal(DIM_BITS),
                  w=Signal(ADDR_BITS), tw=Signal(ADDR_BITS), pixel=Signal(ADDR_BITS),
                  out_pixel=Signal(ADDR_BITS),
                  pool_addr=Signal(ADDR_BITS), events=Signal(PoolEvents))
        inside = (iy >= 0) & (iy < i.in_h) & (ix >= 0) & (ix < i.in_w)
        m.d.sync += [s2[k].eq(s1[k]) for k in ("valid", "first", "last", "second", "grp",
                                               "og", "w", "tw", "events")]
        m.d.sync += [
            s2["inside"].eq(inside),
            s2["pixel"].eq(s1["slot"] * i.in_w + ix.as_unsigned()[:DIM_BITS]),
            s2["out_pixel"].eq(s1["out_row"] * out_width + s1["out_col"]),
            s2["pool_addr"].eq(s1["pool_row"] + s1["px"]),
        ]
        # Stage 3: products (one multiplier each) and offsets.
        s3 = dict(valid=Signal(), first=Signal(), last=Signal(), second=Signal(),
                  inside=Signal(), og=Signal(DIM_BITS), w=Signal(ADDR_BITS),
                  tw=Signal(ADDR_BITS), act_prod=Signal(ADDR_BITS), act_ofs=Signal(ADDR_BITS),
                  out_prod=Signal(ADDR_BITS), out_ofs=Signal(ADDR_BITS),
                  bias=Signal(ADDR_BITS), pool_addr=Signal(ADDR_BITS),
                  events=Signal(PoolEvents))
        base = Mux(s2["second"], i.in2_base, i.in_base)
        m.d.sync += [s3[k].eq(s2[k]) for k in ("valid", "first", "last", "second", "inside",
                                               "og", "w", "tw", "pool_addr", "events")]
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
            self.o_tile_addr.eq(s3["tw"]),
            self.o_bias_addr.eq(s3["bias"]),
            self.o_out_addr.eq(s3["out_prod"] + s3["out_ofs"]),
            self.o_og.eq(s3["og"]),
            self.o_pool_addr.eq(s3["pool_addr"]),
            self.o_pool_events.eq(s3["events"]),
        ]
        return m
