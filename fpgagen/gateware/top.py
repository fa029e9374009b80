"""The accelerator top level: sequencer, address generator, memories, PE array,
post-processing, pooling unit, vector unit, input and output streams."""

import dataclasses
from dataclasses import dataclass

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..hw.isa import (ADDR_BITS, DIM_BITS, FLASH_ADDR_BITS, INSTRUCTION_BITS,
                      LOAD_FIELDS_BITS, Instruction, LoadLayout, Opcode)
from ..hw.spec import (BIAS_WORD, CYCLE_LOG_BITS, SCORE_BITS, WEIGHT_BITS, check_lane_bits,
                       check_weight_bits, lane_code_bits, weight_operand_bits)
from ..hw.timing import (ADDRGEN_LATENCY, DECODE_RELEASE_LAG, DRAIN_CYCLES, MEMORY_LATENCY,
                         PE_ARRAY_LATENCY, POOL_LATENCY, POSTPROC_LATENCY, VECTOR_LATENCY)
from .addrgen import AddressGenerator
from .flash_loader import FlashLoader
from .flash_model import FlashModel
from .flash_reader import AvalonReadSignature
from .pe_array import PEArray
from .pool_unit import PoolUnit
from .postproc import PostProcessor
from ..schedule.memory_map import LogicalMemory, MemoryMap, MemoryRole
from .ram import ram_instance
from .rom import banked_rom, part_image
from .schedule_buffer import ScheduleBuffer
from .vector_unit import VectorUnit
from .weight_decoder import ColumnDecoder
from ..hw.weight_stream import STREAM_START
from ..hw.direct_codebook import CODE_BITS, CODES_PER_FLASH_WORD, is_direct
from ..ir.quant import MAX_INDEX_BITS

__all__ = ["AcceleratorConfig", "FlashDesign", "Accelerator", "DRAIN_CYCLES"]


@dataclass(frozen=True)
class FlashDesign:
    """The flash side of a design with its weights in flash.

    Attributes
    ----------
    image : tuple of int
        The flash image (32-bit words), for the simulation model of the flash.
    timing : FlashTiming
    halves, widths : dict
        Per kind, words of a staging half and the memory word width
        (:class:`~fpgagen.schedule.flash_store.FlashStore`).
    bus_port : bool
        Expose the loader's Avalon-MM master as top-level ports ``bus__address``,
        ``bus__read``, ``bus__burstcount`` (outputs), ``bus__waitrequest``,
        ``bus__readdata``, ``bus__readdatavalid`` (inputs), for Intel's On-Chip Flash IP,
        instead of the simulation model holding ``image``.
    boot : LoadFields or None
        The boot load the start pulse launches (the schedule in flash: the only schedule
        facts in logic).
    segment_depth : int
        Schedule words of one half of the schedule staging buffer.
    dense_bits : int
        Lane width of a dense chunk's weight words (the program's ``weight_bits``).
    direct_bits : tuple of int
        Index widths of the direct codebook chunks (:mod:`fpgagen.hw.direct_codebook`):
        the array looks their lanes up in the codebook registers.
    """

    image: tuple
    timing: object
    halves: dict
    widths: dict
    bus_port: bool = False
    boot: object = None
    segment_depth: int = 1
    dense_bits: int = 8
    direct_bits: tuple = ()

    @property
    def codebook_slots(self) -> int:
        """Codes of one half of the codebook registers (0: no codebook layers)."""
        return CODES_PER_FLASH_WORD * int(self.halves.get("codebook", 0))


@dataclass(frozen=True)
class AcceleratorConfig:
    """What the top level needs: the packed program and the memory map with its bank
    depths chosen (no weights: the ROMs read them from image files). The input is not
    part of it: the program's LOAD instructions take it from the input stream.

    Attributes
    ----------
    program : tuple of int
        The packed instructions (the schedule ROM's contents; with the weights in flash
        the design has no schedule ROM and reads them from the flash image, and only their
        count sizes the cycle log).
    score_groups : int
        Words of ``pe_rows`` scores the program's GAP writes (0: no scores).
    memories : MemoryMap
        Every memory of the design (:func:`fpgagen.schedule.memory_map.memory_map`), each
        banked one with its ``bank_depth`` (a power of two: one row of the device's blocks).
    image_dir : str
        The folder the Verilog names the ROM images in; ``""``: bare file names (the tools
        run in the RTL folder, which can then move as a whole).
    image_suffix : str
        ``.hex`` (``$readmemh``) or ``.mif`` (Quartus ``ram_init_file``).
    """

    program: tuple[int, ...]
    score_groups: int
    memories: MemoryMap
    image_dir: str = ""
    image_suffix: str = ".hex"
    #: the flash side, for a design with its weights in flash (None: weights in ROM banks)
    flash: FlashDesign | None = None

    def __post_init__(self):
        for mem in self.memories:
            if mem.banked and mem.bank_depth is None:
                raise ValueError(f"memory {mem.name!r} has no bank depth; choose them with "
                                 "MemoryMap.with_bank_depths")
        # the map must be the design's own (as the RTL declares it), not a view narrowed
        # by synthesis: widths and depths are what the top level builds
        w = self.memories.one(MemoryRole.WEIGHTS)
        declared = MemoryMap.build(
            pe_rows=self.pe_rows, pe_cols=self.pe_cols, weight_bits=self.weight_bits,
            weight_depth=w.depth, bias_depth=self.memories.one(MemoryRole.BIAS).depth,
            act_depth=self.memories.one(MemoryRole.ACTIVATIONS).depth,
            instructions=len(self.program), score_groups=self.score_groups,
            pool_depth=self.memories.one(MemoryRole.POOL_STATE).depth,
            **self._compressed_depths(), staging=self.flash is not None,
            segment_depth=self.flash.segment_depth if self.flash is not None else 1,
            act_lane_bits=self.act_lane_bits)
        for got, want in zip(self.memories, declared, strict=True):
            if dataclasses.replace(got, bank_depth=None) != want:
                raise ValueError(f"memory {got.name!r} is {got.depth} x {got.width}, the top "
                                 f"level declares {want.name!r} as {want.depth} x {want.width}")

    def _compressed_depths(self) -> dict:
        if not self.memories.compressed:
            return {}
        rom = self.memories.of(MemoryRole.CODEBOOK)  # none in a flash design
        return dict(mask_depth=self.memories.one(MemoryRole.MASKS).depth,
                    codebook_depth=rom[0].depth if rom else 0,
                    tile_depth=self.tile_depth)

    @property
    def tile_depth(self) -> int:
        """Words of one tile of decoded weights (0: no compressed weights)."""
        if not self.memories.compressed:
            return 0
        return self.memories.one(MemoryRole.TILES).depth // 2

    @classmethod
    def for_program(cls, program, memories: MemoryMap, *, image_dir: str = "",
                    image_suffix: str = ".hex", flash_bus_port: bool = False
                    ) -> "AcceleratorConfig":
        """The configuration of a compiled :class:`~fpgagen.schedule.program.Program` with
        its memory map ``memories`` (bank depths chosen); with its weights in flash, the
        loader reads a model of the flash, or with ``flash_bus_port`` the ``bus__*``
        ports."""
        flash = None
        if program.flash is not None:
            st = program.flash
            flash = FlashDesign(image=tuple(st.image), timing=program.hw.flash,
                                halves=dict(st.halves), widths=dict(st.widths),
                                bus_port=flash_bus_port, boot=st.boot,
                                segment_depth=st.segment_depth,
                                dense_bits=int(program.weight_bits),
                                direct_bits=tuple(sorted({f.index_bits
                                                          for f in program.instructions
                                                          if is_direct(f)})))
        return cls(program=tuple(program.words()), score_groups=program.score_groups,
                   memories=memories, image_dir=str(image_dir), image_suffix=image_suffix,
                   flash=flash)

    @property
    def pe_cols(self) -> int:
        """Output channels per cycle: one weight bank per column."""
        return len(self.memories.of(MemoryRole.WEIGHTS))

    @property
    def pe_rows(self) -> int:
        """Lanes of an activation word (scores of a score memory word)."""
        return self.memories.pe_rows

    @property
    def act_lane_bits(self) -> int:
        """Width of an activation lane (the activation memory's width // ``pe_rows``)."""
        return self.memories.act_lane_bits

    @property
    def activation_bits(self) -> int:
        """Width of the activation codes the lanes saturate to (one less than a lane)."""
        return lane_code_bits(self.act_lane_bits)

    @property
    def weight_bits(self) -> int:
        """Stored weight width (sign-extended on read)."""
        return self.memories.one(MemoryRole.WEIGHTS).width // self.pe_rows

    def images(self, mem: LogicalMemory) -> list[str]:
        """The image file of every part of the ROM ``mem``, as the Verilog names them."""
        names = [part_image(mem.name, k, self.image_suffix) for k in range(mem.parts)]
        return [f"{self.image_dir}/{n}" if self.image_dir else n for n in names]


@dataclass
class _Decoders:
    """The column decoders of a design with compressed weights."""

    cols: list


@dataclass
class _Port:
    """Signals of one memory port."""

    addr: Signal
    data: Signal
    en: Signal | None = None


def _delay(m: Module, value, cycles: int, name: str):
    """``value`` delayed by ``cycles`` registers (``cycles`` may be 0)."""
    for k in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{k + 1}") if isinstance(value, Signal) \
            else Signal(len(value), name=f"{name}_d{k + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


class Accelerator(wiring.Component):
    """The whole accelerator. After a ``start`` pulse it runs the program, taking the words
    of ``i_stream`` while a LOAD instruction runs (``ready`` is high exactly in the cycles a
    LOAD iteration can be issued; a cycle without ``valid`` is a bubble), streams the class
    scores on ``o_stream`` (16-bit codes, channel order) and raises ``done``. ``cycles``
    counts the cycles of the program run (from the first instruction fetch to the end of
    the last instruction; with the schedule in flash the start pulse launches the boot
    load, and the first instruction of every segment waits for its half of the schedule
    staging buffer); at the end of instruction ``k`` the running count is logged, so
    the per-instruction cycles can be read back. While idle, ``dbg_addr`` reads the
    activation memory on ``dbg_data`` and entry ``dbg_addr`` of the cycle log on
    ``dbg_perf`` (``MEMORY_LATENCY`` cycles later).
    """

    def __init__(self, config: AcceleratorConfig):
        if config.pe_cols < 1 or config.pe_rows < 1:
            raise ValueError("the memory map has no weight banks or activation memory")
        check_weight_bits(config.weight_bits)
        if config.flash is not None and config.weight_bits > WEIGHT_BITS:
            raise ValueError(f"a design with its weights in flash takes codes of at most "
                             f"{WEIGHT_BITS} bits, not {config.weight_bits}")
        if config.pe_rows != config.pe_cols:
            raise ValueError(f"the array must be square for now, not "
                             f"{config.pe_rows}x{config.pe_cols}")
        check_lane_bits(config.act_lane_bits)
        self._cfg = config
        word = unsigned(config.act_lane_bits * config.pe_rows)
        ports = {
            "start": In(1), "done": Out(1), "busy": Out(1), "cycles": Out(CYCLE_LOG_BITS),
            "i_stream": In(stream.Signature(word)),
            "o_stream": Out(stream.Signature(unsigned(SCORE_BITS))),
            "dbg_addr": In(ADDR_BITS), "dbg_data": Out(word), "dbg_perf": Out(CYCLE_LOG_BITS),
        }
        if config.flash is not None and config.flash.bus_port:
            ports["bus"] = Out(AvalonReadSignature(addr_bits=FLASH_ADDR_BITS,
                                                   burst_limit=config.flash.timing.burst_limit,
                                                   data_bits=32))
        super().__init__(ports)
        self._loader_unit = None

    @property
    def config(self):
        return self._cfg

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        L, C = cfg.pe_rows, cfg.pe_cols
        A = cfg.act_lane_bits  # width of an activation lane

        # --- memories -------------------------------------------------------------------
        # The activation memory: a templated RAM (no initial contents to emit).
        act = cfg.memories.one(MemoryRole.ACTIVATIONS)
        act_depth = act.depth
        act_abits = (act_depth - 1).bit_length()
        act_rd = _Port(addr=Signal(ADDR_BITS, name="act_raddr"),
                       data=Signal(A * L, name="act_rdata"))
        act_wr = _Port(addr=Signal(ADDR_BITS, name="act_waddr"),
                       data=Signal(A * L, name="act_wdata"), en=Signal(name="act_we"))
        m.submodules.act_mem = ram_instance(
            depth=act_depth, waddr=act_wr.addr[:act_abits], wdata=act_wr.data, we=act_wr.en,
            raddr=act_rd.addr[:act_abits], rdata=act_rd.data, bank_depth=act.bank_depth)
        flash = cfg.flash
        if flash is None:
            m.submodules.rom = rom = memory.Memory(
                shape=unsigned(INSTRUCTION_BITS), depth=len(cfg.program),
                init=list(cfg.program))
            rom_rd = rom.read_port()
        else:
            # the schedule in flash: the loads fill the schedule staging buffer
            m.submodules.schedule = sbuf = ScheduleBuffer(
                width=INSTRUCTION_BITS + LOAD_FIELDS_BITS, segment_depth=flash.segment_depth)
        # Written during the run (GAP, or the fully connected CONV), read only while
        # streaming after it: a read never meets a write, so synthesis needs no collision
        # logic behind the block RAM.
        m.submodules.scores = scores = memory.Memory(
            shape=unsigned(SCORE_BITS * L), depth=cfg.memories.one(MemoryRole.SCORES).depth,
            init=[],
            attrs={"no_rw_check": 1})
        score_rd = scores.read_port()
        score_wr = scores.write_port()
        m.submodules.perf = perf = memory.Memory(
            shape=unsigned(CYCLE_LOG_BITS),
            depth=cfg.memories.one(MemoryRole.CYCLE_LOG).depth, init=[])
        perf_rd = perf.read_port()
        perf_wr = perf.write_port()
        # Read like the activation memory (MEMORY_LATENCY cycles).
        m.d.comb += perf_rd.addr.eq(self.dbg_addr)
        m.d.comb += self.dbg_perf.eq(_delay(m, perf_rd.data, MEMORY_LATENCY - 1, "perf_data"))

        m.submodules.addrgen = ag = AddressGenerator()
        m.submodules.pool = pool = PoolUnit(
            lanes=L, depth=cfg.memories.one(MemoryRole.POOL_STATE).depth, lane_bits=A)
        m.submodules.pe = pe = PEArray(pe_rows=L, pe_cols=C, act_bits=A,
                                       weight_bits=cfg.weight_bits)
        m.submodules.vec = vec = VectorUnit(lanes=L, lane_bits=A)
        posts = []
        for c in range(C):
            post = PostProcessor(code_bits=cfg.activation_bits)
            m.submodules[f"post_{c}"] = post
            posts.append(post)

        instr = Signal(Instruction)
        m.d.comb += ag.instr.eq(instr)
        ld = Signal(LoadLayout)
        loader = None
        self._codebook = None
        if flash is not None:
            loader = self._loader(m)
            self._codebook = _codebook_registers(m, loader, flash.codebook_slots, ld.wait_half)

        compressed = cfg.memories.compressed
        weights = []
        direct_words = []
        biases = []
        bias_addr = Signal(ADDR_BITS, name="bias_addr")
        m.d.comb += bias_addr.eq(ag.o_bias_addr)
        if compressed:
            dec = self._decoders(m, instr, ag, bias_addr)
        banks = zip(cfg.memories.of(MemoryRole.WEIGHTS), cfg.memories.of(MemoryRole.BIAS))
        for c, (wmem, bmem) in enumerate(banks):
            w = Signal(wmem.width, name=f"wdata_{c}")
            b = Signal(bmem.width, name=f"bdata_{c}")
            w_addr = ag.o_weight_addr
            if compressed:
                w_addr = Signal(ADDR_BITS, name=f"waddr_{c}")
                m.d.comb += w_addr.eq(Mux(instr.compressed, dec.cols[c].index_addr,
                                          ag.o_weight_addr))
                m.d.comb += dec.cols[c].index_data.eq(w)
            for k, (name, addr, data, mem) in enumerate(((f"wbank_{c}", w_addr, w, wmem),
                                                         (f"bbank_{c}", bias_addr, b, bmem))):
                abits = max(1, (mem.depth - 1).bit_length())
                if loader is not None:
                    lookup = None
                    if k == 0 and flash.direct_bits:
                        # a direct codebook layer's lanes, looked up after the RAM's
                        # first register, in the cycle of the second (no added latency)
                        dw = Signal(CODE_BITS * L, name=f"direct_{c}")
                        direct_words.append(dw)
                        lookup = (dw, lambda q: _lookup(q, L, flash.direct_bits,
                                                        instr.index_bits, self._codebook))
                    _staging_ram(m, name, addr[:abits], data, mem.depth, loader,
                                 (2, 0)[k] * C + c, lookup)
                else:
                    banked_rom(m, name, addr[:abits], data, mem.depth, mem.bank_depth,
                               cfg.images(mem))
            weights.append(w)
            biases.append(b[:BIAS_WORD.bits])
            if compressed:
                start = b[BIAS_WORD.bits:]
                m.d.comb += [dec.cols[c].stream_word.eq(start[STREAM_START["word"].offset:
                                                              STREAM_START["word"].end]),
                             dec.cols[c].stream_item.eq(start[STREAM_START["item"].offset:
                                                              STREAM_START["item"].end])]

        # --- read stage: controls wait MEMORY_LATENCY cycles for the memories' data ---------
        r_valid, r_first, r_last, r_tap, r_second = (
            _delay(m, sig, MEMORY_LATENCY, name) for sig, name in (
                (ag.o_valid, "r_valid"), (ag.o_first, "r_first"), (ag.o_last, "r_last"),
                (ag.o_tap_valid, "r_tap"), (ag.o_second, "r_second")))
        r_out_addr = _delay(m, ag.o_out_addr, MEMORY_LATENCY, "r_out_addr")
        running = Signal()
        m.d.comb += act_rd.addr.eq(Mux(running, ag.o_act_addr, self.dbg_addr))
        m.d.comb += self.dbg_data.eq(act_rd.data)
        lanes = [act_rd.data.word_select(l, A).as_signed() for l in range(L)]
        is_conv = instr.op == Opcode.CONV
        is_vec = ((instr.op == Opcode.MAXPOOL) | (instr.op == Opcode.GAP)
                  | (instr.op == Opcode.ADD))
        m.d.comb += [pe.valid.eq(r_valid & is_conv), pe.first.eq(r_first), pe.last.eq(r_last)]
        for l in range(L):
            m.d.comb += pe.act[l].eq(Mux(r_tap, lanes[l], 0))
            m.d.comb += vec.act[l].eq(lanes[l])
        is_direct_instr = Signal(name="direct")
        m.d.comb += is_direct_instr.eq(~instr.compressed & (instr.index_bits != 0))
        for c in range(C):
            tile_word = None
            if compressed:
                # tile buffer: address register, read, two registers (MEMORY_LATENCY)
                t_addr = Signal.like(dec.cols[c].tile_addr, name=f"tile_addr_{c}")
                m.d.sync += t_addr.eq(ag.o_tile_addr)
                m.d.comb += dec.cols[c].tile_addr.eq(t_addr)
                tile_word = _delay(m, dec.cols[c].tile_data, MEMORY_LATENCY - 2,
                                   f"tile_data_{c}")
            for r in range(L):
                wb = flash.dense_bits if flash is not None else cfg.weight_bits
                if wb * (r + 1) <= len(weights[c]):
                    dense = weights[c][wb * r:wb * (r + 1)].as_signed()
                else:  # a staging word narrower than dense: every layer is direct
                    dense = Const(0, weight_operand_bits(cfg.weight_bits))
                if direct_words:
                    looked_up = direct_words[c].word_select(r, CODE_BITS).as_signed()
                    dense = Mux(is_direct_instr, looked_up, dense)
                if tile_word is None:
                    m.d.comb += pe.weights[c][r].eq(dense)
                else:
                    decoded = tile_word.word_select(
                        r, weight_operand_bits(cfg.weight_bits)).as_signed()
                    m.d.comb += pe.weights[c][r].eq(Mux(instr.compressed, decoded, dense))
        m.d.comb += [vec.op.eq(instr.op), vec.valid.eq(r_valid & is_vec),
                     vec.first.eq(r_first), vec.last.eq(r_last), vec.tap_valid.eq(r_tap),
                     vec.second.eq(r_second), vec.shift.eq(instr.shift),
                     vec.shift_a.eq(instr.shift_a), vec.shift_b.eq(instr.shift_b),
                     vec.multiplier.eq(instr.multiplier), vec.out_bits.eq(instr.out_bits),
                     vec.out_signed.eq(instr.out_signed), vec.relu.eq(instr.relu)]

        # Bias and output address follow the PE pipeline to the post-processors, and the
        # output address follows the post-processors to the write port.
        bias_at_acc = _delay(m, Cat(*biases), PE_ARRAY_LATENCY, "bias")
        for c, post in enumerate(posts):
            word = bias_at_acc.word_select(c, BIAS_WORD.bits)
            bias, shift = BIAS_WORD["bias"], BIAS_WORD["shift"]
            m.d.comb += [post.acc.eq(pe.acc[c]),
                         post.bias.eq(word[bias.offset:bias.end]),
                         post.shift.eq(word[shift.offset:shift.end]),
                         post.relu.eq(instr.relu), post.out_bits.eq(instr.out_bits),
                         post.out_signed.eq(instr.out_signed)]
        conv_done = _delay(m, pe.done, POSTPROC_LATENCY, "conv_done")
        conv_addr = _delay(m, r_out_addr, PE_ARRAY_LATENCY + POSTPROC_LATENCY, "conv_addr")
        # Fused pooling: the pixel's window events and pool-state word travel beside the
        # output address to the conv write-back, and into the pooling unit.
        conv_lag = MEMORY_LATENCY + PE_ARRAY_LATENCY + POSTPROC_LATENCY
        pool_ev = _delay(m, ag.o_pool_events.as_value(), conv_lag, "pool_ev")
        pool_abits = (pool.depth - 1).bit_length()
        pool_addr = _delay(m, ag.o_pool_addr[:pool_abits], conv_lag, "pool_addr")
        vec_addr = _delay(m, r_out_addr, VECTOR_LATENCY, "vec_addr")
        vec_og_count = Signal(16)

        # --- write back ----------------------------------------------------------------------
        post_word = Cat(*[p.out[:A] for p in posts])
        vec_word = Cat(*[vec.out[l][:A] for l in range(L)])
        m.d.comb += [pool.valid.eq(conv_done & instr.pool), pool.word.eq(post_word),
                     pool.events.eq(pool_ev), pool.state_addr.eq(pool_addr),
                     pool.out_addr.eq(conv_addr)]
        # LOAD: an iteration is issued in each cycle the stream has a word, which is written
        # at the iteration's input address ADDRGEN_LATENCY cycles later.
        is_load = instr.op == Opcode.LOAD
        m.d.comb += [self.i_stream.ready.eq(ag.busy & is_load),
                     ag.advance.eq(self.i_stream.valid)]
        load_word = _delay(m, self.i_stream.payload, ADDRGEN_LATENCY, "load_word")
        with m.If(ag.o_valid & is_load):
            m.d.comb += [act_wr.addr.eq(ag.o_act_addr), act_wr.data.eq(load_word),
                         act_wr.en.eq(1)]
        with m.Elif(pool.o_we):  # a fused conv writes nothing else
            m.d.comb += [act_wr.addr.eq(pool.o_addr), act_wr.data.eq(pool.o_data),
                         act_wr.en.eq(1)]
        with m.Elif(conv_done & ~instr.pool & ~instr.to_scores):
            m.d.comb += [act_wr.addr.eq(conv_addr), act_wr.data.eq(post_word), act_wr.en.eq(1)]
        with m.Elif(vec.done & ((instr.op != Opcode.GAP) | instr.gap_store)):
            m.d.comb += [act_wr.addr.eq(vec_addr), act_wr.data.eq(vec_word),
                         act_wr.en.eq(1)]
        # Scores: a GAP's (unless it stores to the activation memory), one word per output
        # group in order; or a CONV's with to_scores (the fully connected layer), at its
        # output address (out_base 0: word out_group_offset + og).
        gap_scores = vec.done & (instr.op == Opcode.GAP) & ~instr.gap_store
        conv_scores = conv_done & instr.to_scores
        with m.If(conv_scores):
            m.d.comb += [score_wr.addr.eq(conv_addr),
                         score_wr.data.eq(Cat(*[p.out[:SCORE_BITS] for p in posts]))]
        with m.Else():
            m.d.comb += [score_wr.addr.eq(vec_og_count),
                         score_wr.data.eq(Cat(*[vec.out[l][:SCORE_BITS] for l in range(L)]))]
        m.d.comb += score_wr.en.eq(gap_scores | conv_scores)
        with m.If(gap_scores):
            m.d.sync += vec_og_count.eq(vec_og_count + 1)

        # --- sequencer -----------------------------------------------------------------------
        pc = Signal(range(max(len(cfg.program), 2)))
        drain = Signal(range(DRAIN_CYCLES + POOL_LATENCY + 1))
        out_channels = Signal(16)
        stream_idx = Signal(16)
        if loader is None:
            m.d.comb += rom_rd.addr.eq(pc)
        else:
            # the fetch: half and offset in the running segment; a new segment's first
            # word waits (in DECODE) for the load of that half
            seg_half = Signal(name="seg_half")
            seg_off = Signal(range(max(flash.segment_depth, 2)), name="seg_off")
            seg_new = Signal(name="seg_new")
            m.d.comb += [sbuf.raddr.eq(Mux(seg_half, flash.segment_depth, 0) + seg_off),
                         sbuf.we.eq(loader.swe), sbuf.waddr.eq(loader.swaddr),
                         sbuf.wdata.eq(loader.swdata)]
        lane_bits = (L - 1).bit_length()
        lane = stream_idx[:lane_bits] if lane_bits else Const(0)
        phase = Signal(2)
        payload = Signal(SCORE_BITS)
        score_word = Signal(SCORE_BITS * L, reset_less=True)
        # the score memory's word goes straight into a register (no enable or reset, so
        # the ECP5 flow packs it into the block RAM); the lane is chosen from it a cycle
        # later
        m.d.sync += score_word.eq(score_rd.data)
        out_valid = Signal()
        m.d.comb += [self.o_stream.payload.eq(payload), self.o_stream.valid.eq(out_valid)]
        count = Signal()
        with m.If(count):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        launched = Signal()
        boot_launch = Signal()  # the start pulse launches the boot load
        if loader is not None:
            boot = flash.boot
            m.d.comb += [loader.base.eq(Mux(boot_launch, boot.load_base, ld.load_base)),
                         loader.half.eq(Mux(boot_launch, boot.load_half, ld.load_half))]
            for name in ("bias_words", "mask_words", "weight_words", "segment_base",
                         "segment_words", "codebook_bits", "direct"):
                m.d.comb += getattr(loader, name).eq(Mux(
                    boot_launch, getattr(boot, f"load_{name}"), getattr(ld, f"load_{name}")))
        with m.FSM(name="seq"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [self.done.eq(0), self.cycles.eq(0), pc.eq(0),
                                 vec_og_count.eq(0)]
                    if loader is not None:
                        m.d.comb += [boot_launch.eq(1), loader.launch.eq(1)]
                        m.d.sync += [seg_half.eq(flash.boot.load_half), seg_off.eq(0),
                                     seg_new.eq(1)]
                    m.next = "FETCH"
            with m.State("FETCH"):  # ROM address is pc; data next cycle
                m.d.comb += [count.eq(1), self.busy.eq(1), running.eq(1)]
                m.next = "DECODE"
            with m.State("DECODE"):
                m.d.comb += [count.eq(1), self.busy.eq(1), running.eq(1)]
                if loader is None:
                    m.d.sync += instr.eq(rom_rd.data[:INSTRUCTION_BITS])
                    m.next = "ISSUE"
                else:
                    m.d.sync += [instr.eq(sbuf.rdata[:INSTRUCTION_BITS]),
                                 ld.eq(sbuf.rdata[INSTRUCTION_BITS:]), launched.eq(0)]
                    with m.If(~seg_new | loader.ready.bit_select(seg_half, 1)):
                        m.d.sync += seg_new.eq(0)
                        m.next = "ISSUE"
            with m.State("ISSUE"):
                m.d.comb += [count.eq(1), self.busy.eq(1), running.eq(1)]
                if loader is None:
                    m.d.comb += ag.start.eq(1)
                    m.next = "RUN"
                else:
                    # a load starts once the loader is idle; the instruction once its load
                    # is launched and, when it waits, its half is loaded
                    need = ld.load & ~launched
                    with m.If(need & loader.idle):
                        m.d.comb += loader.launch.eq(1)
                        m.d.sync += launched.eq(1)
                    with m.If(~need & (~ld.wait_load
                                       | loader.ready.bit_select(ld.wait_half, 1))):
                        m.d.comb += ag.start.eq(1)
                        m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [count.eq(1), self.busy.eq(1), running.eq(1)]
                with m.If(~ag.busy):
                    # a fused pool's last word leaves the pooling unit POOL_LATENCY later
                    m.d.sync += drain.eq(Mux(instr.pool, DRAIN_CYCLES + POOL_LATENCY,
                                             DRAIN_CYCLES))
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.comb += [count.eq(1), self.busy.eq(1), running.eq(1)]
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 0):
                    # Cycle log: the count including this cycle.
                    m.d.comb += [perf_wr.addr.eq(pc), perf_wr.data.eq(self.cycles + 1),
                                 perf_wr.en.eq(1)]
                    with m.If(instr.last):
                        m.d.sync += [stream_idx.eq(0), out_channels.eq(instr.out_channels),
                                     phase.eq(0)]
                        m.next = "STREAM" if cfg.score_groups else "DONE"
                    with m.Else():
                        m.d.sync += pc.eq(pc + 1)
                        if loader is not None:
                            with m.If(ld.segment_end):
                                m.d.sync += [seg_half.eq(~seg_half), seg_off.eq(0),
                                             seg_new.eq(1)]
                            with m.Else():
                                m.d.sync += seg_off.eq(seg_off + 1)
                        m.next = "FETCH"
            with m.State("STREAM"):
                # One score per beat, from word idx // L, lane idx % L: address, word,
                # lane, then hold the registered payload until it is accepted.
                m.d.comb += self.busy.eq(1)
                m.d.comb += score_rd.addr.eq(stream_idx >> lane_bits)
                with m.Switch(phase):
                    with m.Case(0):
                        with m.If(stream_idx == out_channels):
                            m.next = "DONE"
                        with m.Else():
                            m.d.sync += phase.eq(1)
                    with m.Case(1):
                        m.d.sync += phase.eq(2)  # the word reaches score_word
                    with m.Case(2):
                        m.d.sync += [payload.eq(score_word.word_select(lane, SCORE_BITS)),
                                     out_valid.eq(1), phase.eq(3)]
                    with m.Default():
                        with m.If(self.o_stream.ready):
                            m.d.sync += [out_valid.eq(0), stream_idx.eq(stream_idx + 1),
                                         phase.eq(0)]
            with m.State("DONE"):
                m.d.sync += self.done.eq(1)
                m.next = "IDLE"
        return m

    def _decoders(self, m: Module, instr, ag, bias_addr) -> _Decoders:
        """The column decoders of compressed weights and their control: the codebook load,
        the stream starts read from the bias banks, tile after tile (see
        :mod:`fpgagen.gateware.weight_decoder`)."""
        cfg = self._cfg
        L, C = cfg.pe_rows, cfg.pe_cols
        wmem = cfg.memories.one(MemoryRole.WEIGHTS)
        cols = []
        word_bits = wmem.width if cfg.flash is None else L * cfg.flash.dense_bits
        for c in range(C):
            col = ColumnDecoder(lanes=L, word_bits=word_bits, tile_depth=cfg.tile_depth,
                                weight_bits=cfg.weight_bits)
            m.submodules[f"decoder_{c}"] = col
            cols.append(col)
        start = Signal(name="dec_start")
        m.d.comb += start.eq(ag.start & instr.compressed)
        # the stream starts: the bias entry of og 0, read while the array waits for tile 0
        with m.If(start):
            m.d.comb += bias_addr.eq(instr.bias_base)
        stream_valid = _delay(m, start, MEMORY_LATENCY, "stream_valid")
        tile_words = Signal(DIM_BITS, name="tile_words")
        m.d.comb += tile_words.eq(instr.kh * instr.kw * instr.in_groups)
        # the codebook: 2**index_bits slots read from the ROM (with weights in flash: the
        # codebook registers of the chunk's half, as late as the ROM) into every column
        cb_i = Signal(MAX_INDEX_BITS + 1, name="cb_i")
        loading = Signal(name="cb_loading")
        cb_data = Signal(weight_operand_bits(cfg.weight_bits), name="cb_data")
        if self._codebook is not None:
            regs = self._codebook
            slot = Signal(CODE_BITS, name="cb_slot")
            m.d.comb += slot.eq(_select(regs, cb_i[:max(1, (len(regs) - 1).bit_length())]))
            m.d.comb += cb_data.eq(_delay(m, slot, MEMORY_LATENCY, "cb_slot"))
        else:
            cbmem = cfg.memories.one(MemoryRole.CODEBOOK)
            cb_addr = Signal(ADDR_BITS, name="cb_addr")
            m.d.comb += cb_addr.eq(instr.codebook_base + cb_i)
            banked_rom(m, "codebook_rom", cb_addr[:max(1, (cbmem.depth - 1).bit_length())],
                       cb_data, cbmem.depth, cbmem.bank_depth, cfg.images(cbmem))
        slots = Signal(MAX_INDEX_BITS + 1, name="cb_slots")
        m.d.comb += slots.eq(Const(1, MAX_INDEX_BITS + 1) << instr.index_bits)
        with m.If(start):
            m.d.sync += [cb_i.eq(0), loading.eq(1)]
        with m.Elif(loading):
            m.d.sync += cb_i.eq(cb_i + 1)
            with m.If(cb_i == slots - 1):
                m.d.sync += loading.eq(0)
        we = _delay(m, loading, MEMORY_LATENCY, "cb_we")
        waddr = _delay(m, cb_i, MEMORY_LATENCY, "cb_waddr")
        cb_last = _delay(m, loading & (cb_i == slots - 1), MEMORY_LATENCY, "cb_last")
        cb_done = Signal(name="cb_done")
        with m.If(start):
            m.d.sync += cb_done.eq(0)
        with m.Elif(cb_last):
            m.d.sync += cb_done.eq(1)
        # tiles: start the next when every column is primed and done with the last, and
        # its buffer half is free (the array has started the group before it)
        tile = Signal(DIM_BITS + 1, name="dec_tile")
        ready = Signal(DIM_BITS + 1, name="dec_ready")
        busy = Signal(name="dec_busy")
        all_primed = Cat(*[col.primed for col in cols]).all()
        all_done = Cat(*[col.done for col in cols]).all()
        # the groups the array has started, seen late enough that their last reads of the
        # buffer half the next tile overwrites are done (DECODE_RELEASE_LAG)
        started = _delay(m, ag.ogs_started, DECODE_RELEASE_LAG - 1, "ogs_started")
        free = (tile < 2) | (tile <= started)
        go = Signal(name="dec_go")
        m.d.comb += go.eq(instr.compressed & cb_done & all_primed & ~busy
                          & (tile < instr.out_groups) & free & ~start)
        with m.If(start):
            m.d.sync += [tile.eq(0), ready.eq(0), busy.eq(0)]
        with m.Else():
            with m.If(go):
                m.d.sync += [busy.eq(1), tile.eq(tile + 1)]
            with m.If(busy & all_done):
                m.d.sync += [busy.eq(0), ready.eq(ready + 1)]
        m.d.comb += ag.tiles_ready.eq(ready)
        for c, col in enumerate(cols):
            m.d.comb += [col.start.eq(start), col.stream_valid.eq(stream_valid),
                         col.mask_base.eq(instr.weight_base),
                         col.index_bits.eq(instr.index_bits), col.tile_words.eq(tile_words),
                         col.go.eq(go), col.parity.eq(tile[0]), col.cb_we.eq(we),
                         col.cb_addr.eq(waddr), col.cb_data.eq(cb_data)]
            mask = cfg.memories.of(MemoryRole.MASKS)[c]
            abits = max(1, (mask.depth - 1).bit_length())
            if self._loader_unit is not None:
                _staging_ram(m, f"mbank_{c}", col.mask_addr[:abits], col.mask_data,
                             mask.depth, self._loader_unit, C + c)
            else:
                banked_rom(m, f"mbank_{c}", col.mask_addr[:abits], col.mask_data,
                           mask.depth, mask.bank_depth, cfg.images(mask))
        return _Decoders(cols)

    def _loader(self, m: Module) -> FlashLoader:
        """The weight loader and the flash it reads: the simulation model holding the
        image, or the ``bus`` ports."""
        flash = self._cfg.flash
        t = flash.timing
        loader = FlashLoader(cols=self._cfg.pe_cols, widths=flash.widths,
                             halves=flash.halves, burst_limit=t.burst_limit,
                             segment_bits=INSTRUCTION_BITS + LOAD_FIELDS_BITS,
                             segment_depth=flash.segment_depth,
                             lanes=self._cfg.pe_rows, dense_bits=flash.dense_bits,
                             direct_bits=flash.direct_bits)
        m.submodules.loader = loader
        if flash.bus_port:
            wiring.connect(m, loader.bus, wiring.flipped(self.bus))
        else:
            m.submodules.flash = model = FlashModel(
                flash.image, latency=t.latency, burst_limit=t.burst_limit,
                words_per=t.words_per, clocks_per=t.clocks_per, addr_bits=FLASH_ADDR_BITS)
            wiring.connect(m, loader.bus, model.bus)
        self._loader_unit = loader
        return loader


def _staging_ram(m: Module, name: str, addr, data: Signal, depth: int, loader, we_bit: int,
                 lookup=None):
    """A staging RAM of ``depth`` words written by ``loader`` (its write enable ``we_bit``)
    and read into ``data`` :data:`MEMORY_LATENCY` cycles after ``addr``, as the ROM it
    replaces. ``lookup``: ``(signal, function)``, the signal receiving, as late as
    ``data``, the function of the word after its first register (a codebook lookup)."""
    mem = memory.Memory(shape=unsigned(len(data)), depth=max(depth, 2), init=[])
    m.submodules[name] = mem
    wr = mem.write_port()
    rd = mem.read_port()
    abits = len(rd.addr)
    m.d.comb += [wr.en.eq(loader.we[we_bit]), wr.addr.eq(loader.waddr[:abits]),
                 wr.data.eq(loader.wdata[:len(data)]), rd.addr.eq(addr[:abits])]
    q1 = _delay(m, rd.data, 1, f"{name}_q")
    m.d.comb += data.eq(_delay(m, q1, MEMORY_LATENCY - 2, f"{name}_r"))
    if lookup is not None:
        sig, fn = lookup
        value = Signal(len(sig), name=f"{name}_lookup")
        m.d.comb += value.eq(fn(q1))
        m.d.comb += sig.eq(_delay(m, value, MEMORY_LATENCY - 2, f"{name}_l"))


def _codebook_registers(m: Module, loader, slots: int, half) -> list | None:
    """The codebook registers of the two staging halves (``slots`` 8-bit codes each),
    written four codes at a time by ``loader``; returns the codes of half ``half`` (a
    multiplexer per slot), or ``None`` without codebook layers."""
    if slots == 0:
        return None
    regs = [[Signal(CODE_BITS, name=f"codebook_{h}_{s}") for s in range(slots)]
            for h in range(2)]
    for h in range(2):
        for s in range(slots):
            with m.If(loader.cb_we & (loader.cb_half == h)
                      & (loader.cb_addr == s // CODES_PER_FLASH_WORD)):
                m.d.sync += regs[h][s].eq(
                    loader.cb_data.word_select(s % CODES_PER_FLASH_WORD, CODE_BITS))
    out = []
    for s in range(slots):
        code = Signal(CODE_BITS, name=f"codebook_{s}")
        m.d.comb += code.eq(Mux(half, regs[1][s], regs[0][s]))
        out.append(code)
    return out


def _select(codes: list, index):
    """``codes[index]`` (a multiplexer tree; 0 beyond the list)."""
    return Array(codes + [Const(0, CODE_BITS)] * ((1 << len(index)) - len(codes)))[index]


def _lookup(word, lanes: int, bits: tuple, index_bits, codes: list):
    """The ``lanes`` codes of a direct codebook word: lane ``r``'s index at bits
    ``[r*B + B-1 : r*B]`` (``B = index_bits``, one of ``bits``) looked up in ``codes``."""
    ibits = max(1, (len(codes) - 1).bit_length())
    out = []
    for r in range(lanes):
        index = Const(0, ibits)
        for b in bits:
            field = word[r * b:(r + 1) * b]
            index = Mux(index_bits == b, field, index)
        out.append(_select(codes, index[:ibits] if len(index) >= ibits else index))
    return Cat(*out)
