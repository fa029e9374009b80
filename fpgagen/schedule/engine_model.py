"""A word-level model of the accelerator: runs a :class:`Program` on NumPy memories exactly
as ``docs/hardware.md`` describes the engine.

The model decodes the *packed* instruction words (so it checks the encoding too), walks
each instruction's loop nest with index arithmetic (all iterations of an instruction at
once), reads activation words, weight words and bias entries at the addresses the spec
gives, and writes whole output words. Its results must equal the golden model's, bit for
bit; the RTL must equal this model's memory image and score stream.
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import FpgagenError
from ..hw.cost import PIPELINE_OVERHEAD, instruction_cycles
from ..hw.isa import Instr, Instruction, Opcode, unpack_flash_instruction, unpack_instruction
from ..hw.pooling import MIN_FUSED_WIDTH, window_events
from ..hw.spec import lane_range
from ..numerics.lanes import wrap
from ..operators import rules_for_opcode
from ..hw.weight_stream import decode_words
from .pack import unpack_rows
from ..hw.spec import BIAS_WORD
from ..hw.weight_stream import STREAM_START
from ..hw.cost import flash_stalls
from ..hw.direct_codebook import CODE_BITS, CODES_PER_FLASH_WORD, is_direct
from .flash_store import read_load, read_segment
from .program import CompressedWeights, Program

__all__ = ["EngineResult", "run_program"]

_OP_FIELD = dict(iter(Instruction))["op"]


@dataclass
class EngineResult:
    """What a program run leaves behind.

    Attributes
    ----------
    act_mem : np.ndarray
        int64 ``(act_depth, pe_rows)``: the activation memory image after the run, lane
        codes as signed lane-wide values (9 bits by default).
    scores : np.ndarray
        int64 codes streamed out by GAP instructions, in order.
    cycles : list of int
        Cycles of every executed instruction (:func:`fpgagen.hw.cost.instruction_cycles`
        of the decoded fields, plus a compressed CONV's
        :meth:`~fpgagen.schedule.program.CompressedWeights.stall`).
    tensors : dict
        With ``capture=True``: ``{tensor: (C, H, W) codes}`` read back from the memory
        right after the instruction that completes each tensor (before later
        instructions reuse its words).
    """

    act_mem: np.ndarray
    scores: np.ndarray
    cycles: list[int]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def total_cycles(self) -> int:
        """Cycles of the whole run."""
        return sum(self.cycles)


class _Engine:
    """The memories, the loop nest and the memory accesses every opcode shares; what an
    opcode does with the words is its operator's rule
    (:meth:`fpgagen.operators.OperatorRules.execute`)."""

    def __init__(self, program: Program, input_words: np.ndarray):
        hw = program.hw
        self.lanes, self.cols = hw.pe_rows, hw.pe_cols
        words = np.asarray(input_words)
        want = (program.input_words, self.lanes)
        if words.shape != want or not np.issubdtype(words.dtype, np.integer):
            raise FpgagenError(f"input words must be integers of shape {want}, got "
                               f"{words.dtype} {words.shape}")
        #: width of an activation lane (two's complement)
        self.lane_bits = int(program.act_lane_bits)
        lo, hi = lane_range(self.lane_bits)
        if words.size and (words.min() < lo or words.max() > hi):
            raise FpgagenError(f"input codes must fit {self.lane_bits}-bit lanes ({lo}..{hi}), "
                               f"got {words.min()}..{words.max()}")
        self.mem = np.zeros((program.act_depth, self.lanes), dtype=np.int64)
        self.stream = words  # the input words, taken by LOAD instructions in order
        self.streamed = 0
        self.pool_state = np.zeros((max(program.pool_depth, 1), self.lanes), dtype=np.int64)
        self.weights = program.weight_banks
        self.compressed = program.compressed
        self.weight_bits = int(program.weight_bits)
        self._packed = {}  # column -> the weight bank's words as integers (index streams)
        self.bias = program.bias_banks
        self.shift = program.shift_banks
        self.pc = 0
        self.flash = program.flash
        self.score_words = []  # words a CONV with to_scores wrote, not yet streamed
        self.score_next = 0  # the score memory word such a CONV writes next
        #: the codebook registers of the two staging halves (weights in flash)
        self.codebooks = [np.zeros(0, np.int64), np.zeros(0, np.int64)]
        self.direct_codebook = program.direct_codebook
        if self.flash is not None:  # the staging memories, written by the loads
            st = self.flash
            self.weights = np.zeros((self.cols, st.depth("weight"), self.lanes), np.int16)
            self.bias = np.zeros((self.cols, st.depth("bias")), np.int64)
            self.shift = np.zeros((self.cols, st.depth("bias")), np.int64)
            if program.compressed is not None:
                self.compressed = CompressedWeights(
                    masks=np.zeros((self.cols, st.depth("mask")), np.int64),
                    starts=np.zeros((self.cols, st.depth("bias"), 2), np.int64),
                    codebook=program.compressed.codebook,
                    tile_depth=program.compressed.tile_depth)

    # --- weights in flash ------------------------------------------------------------------
    def flash_load(self, load):
        """Write the chunk ``load`` reads from the flash image into its staging half, as
        the loader does (:func:`fpgagen.schedule.flash_store.read_load`)."""
        st = self.flash
        got = read_load(st, load, self.cols)
        half = load.load_half
        wb = load.load_codebook_bits if load.load_direct else self.weight_bits
        codes = [(w >> (CODE_BITS * k)) & ((1 << CODE_BITS) - 1)
                 for w in got["codebook"][0] for k in range(CODES_PER_FLASH_WORD)]
        self.codebooks[half] = np.array([v - ((v >> (CODE_BITS - 1)) << CODE_BITS)
                                         for v in codes], dtype=np.int64)
        for c in range(self.cols):
            lo = half * st.halves["weight"]
            for k, w in enumerate(got["weight"][c]):
                codes = [(w >> (l * wb)) & ((1 << wb) - 1) for l in range(self.lanes)]
                self.weights[c, lo + k] = [v - ((v >> (wb - 1)) << wb) for v in codes]
            lo = half * st.halves["bias"]
            for k, w in enumerate(got["bias"][c]):
                fields = {f.name: (w >> f.offset) & ((1 << f.bits) - 1)
                          for f in BIAS_WORD.fields}
                b, sh = fields["bias"], fields["shift"]
                self.bias[c, lo + k] = b - ((b >> (BIAS_WORD["bias"].bits - 1))
                                            << BIAS_WORD["bias"].bits)
                self.shift[c, lo + k] = sh - ((sh >> (BIAS_WORD["shift"].bits - 1))
                                              << BIAS_WORD["shift"].bits)
                if self.compressed is not None:
                    top = w >> BIAS_WORD.bits
                    self.compressed.starts[c, lo + k] = [
                        (top >> STREAM_START[n].offset) & ((1 << STREAM_START[n].bits) - 1)
                        for n in ("word", "item")]
            lo = half * st.halves["mask"]
            for k, w in enumerate(got["mask"][c]):
                self.compressed.masks[c, lo + k] = w
        self._packed = {}
        if load.load_segment_words:  # the schedule staging buffer's half
            self.segment_words[half] = read_segment(st.image, load)

    def boot(self):
        """The boot load, and the fetch at the boot segment's first word."""
        self.segment_words = [[], []]
        self.flash_load(self.flash.boot)
        self.segment = [self.flash.boot.load_half, 0]  # half, offset

    def fetch(self) -> int:
        """The schedule word of instruction ``pc``, from the schedule staging buffer (the
        caller has checked the segment's load, then steps with :meth:`next_fetch`)."""
        half, off = self.segment
        if off >= len(self.segment_words[half]):
            raise FpgagenError(f"instruction {self.pc} is word {off} of a segment of "
                               f"{len(self.segment_words[half])} in schedule half {half}")
        return self.segment_words[half][off]

    def next_fetch(self, load):
        """Step the fetch past an instruction with load fields ``load``."""
        half, off = self.segment
        self.segment = [half ^ 1, 0] if load.segment_end else [half, off + 1]

    # --- the loop nest ---------------------------------------------------------------------
    def loop(self, f: Instr):
        """Input word addresses and validity of every iteration, ``(OG', P, KK, IG)``
        (``OG'`` is ``out_groups`` for depthwise instructions, else 1: the reads do not
        depend on ``og``), and the taps ``(KK,)``.

        Rows are read from the input's ring as the hardware keeps its slots: from
        ``in_slot0``, adding the stride per output row and one per kernel row, modulo
        ``in_rows`` (which needs ``stride_h <= in_rows``)."""
        out_h, out_w, kh, kw = f.out_h, f.out_w, f.kh, f.kw
        if not 1 <= f.stride_h <= f.in_rows:
            raise FpgagenError(f"instruction {self.pc} reads a ring of {f.in_rows} rows with "
                               f"stride {f.stride_h} (the stride must be 1..in_rows)")
        if f.in_slot0 >= f.in_rows:
            raise FpgagenError(f"instruction {self.pc}: in_slot0 {f.in_slot0} is not a slot "
                               f"of a {f.in_rows}-row ring")
        pix = np.arange(out_h * out_w)
        oy, ox = pix // out_w, pix % out_w
        tap = np.arange(kh * kw)
        ky, kx = tap // kw, tap % kw
        if f.op in (Opcode.ADD, Opcode.LOAD):  # every tap reads (oy, ox); ADD's tap 1 in2
            # the hardware computes rows (and, for LOAD, columns) with stride and padding
            # like every opcode: these read (oy, ox) only when they are 1 and 0
            plain = (f.stride_h, f.pad_h) == (1, 0) and (
                f.op == Opcode.ADD or (f.stride_w, f.pad_w) == (1, 0))
            if not plain:
                raise FpgagenError(f"instruction {self.pc} ({f.op.name}) has stride "
                                   f"{f.stride_h}x{f.stride_w} and padding "
                                   f"{f.pad_h}x{f.pad_w}; it must read with stride 1 and no "
                                   "padding")
            iy = np.broadcast_to(f.in_y0 + oy[:, None], (len(pix), len(tap)))
            ix = np.broadcast_to(ox[:, None], (len(pix), len(tap)))
            slot = np.broadcast_to((f.in_slot0 + oy[:, None]) % f.in_rows, iy.shape)
            base = np.where(tap == 1, f.in2_base, f.in_base)[None, :]
        else:
            iy = f.in_y0 + oy[:, None] * f.stride_h + ky[None, :] - f.pad_h
            ix = ox[:, None] * f.stride_w + kx[None, :] - f.pad_w
            slot = (f.in_slot0 + oy[:, None] * f.stride_h + ky[None, :]) % f.in_rows
            base = np.full((1, len(tap)), f.in_base)
        valid = (iy >= 0) & (iy < f.in_h) & (ix >= 0) & (ix < f.in_w)
        iy = slot
        g = np.arange(f.in_groups)
        if f.depthwise:
            grp = np.arange(f.out_groups)[:, None, None, None] + 0 * g
        else:
            grp = g[None, None, None, :]
        addr = (base + (iy * f.in_w + ix) * f.in_pixel_groups)[None, :, :, None] + grp
        valid = np.broadcast_to(valid[None, :, :, None], addr.shape)
        return addr, valid, tap

    def weight_words(self, f: Instr) -> np.ndarray:
        """The weight words ``(cols, out_groups * taps * in_groups, L)`` a CONV multiplies
        with, group after group: read from the weight banks, or for a compressed
        instruction decoded as its tile buffers receive them."""
        tile = f.kh * f.kw * f.in_groups
        n = f.out_groups * tile
        if not f.compressed:
            if f.weight_base + n > self.weights.shape[1]:
                raise FpgagenError(f"instruction {self.pc} reads weight word "
                                   f"{f.weight_base + n - 1} beyond the banks "
                                   f"({self.weights.shape[1]} words)")
            words = self.weights[:, f.weight_base:f.weight_base + n, :]
            if not is_direct(f):
                return words
            # a direct codebook layer: every lane's index looked up in the codebook
            index = words.astype(np.int64) & ((1 << f.index_bits) - 1)
            return self.codebook_of(f)[index]
        cw = self.compressed
        if cw is None:
            raise FpgagenError(f"instruction {self.pc} is compressed, but the program has "
                               "no compressed weights")
        if f.weight_base + n > cw.mask_depth or f.bias_base >= cw.starts.shape[1]:
            raise FpgagenError(f"instruction {self.pc} reads masks {f.weight_base}.."
                               f"{f.weight_base + n - 1} or stream start {f.bias_base} "
                               f"beyond the banks ({cw.mask_depth} masks)")
        cb = self.codebook_of(f)
        word_bits = self.lanes * self.weight_bits
        out = np.zeros((self.cols, n, self.lanes), dtype=np.int64)
        for c in range(self.cols):
            word, item = cw.starts[c, f.bias_base]
            out[c] = decode_words(cw.masks[c, f.weight_base:f.weight_base + n],
                                  self.packed_words(c), int(word), int(item), f.index_bits,
                                  word_bits, cb, self.lanes)
        return out

    def codebook_of(self, f: Instr) -> np.ndarray:
        """The ``2**index_bits`` codes ``f`` looks its indices up in: with weights in
        flash, the codebook registers of its staging half (loaded with its chunk), else
        the program's codebook at ``codebook_base``."""
        slots = 1 << f.index_bits
        if self.flash is not None:
            cb = self.codebooks[self.flash.loads[self.pc].wait_half]
        else:
            table = self.compressed.codebook if f.compressed else self.direct_codebook
            cb = table[f.codebook_base:f.codebook_base + slots]
        if len(cb) < slots:
            raise FpgagenError(f"instruction {self.pc} looks up {slots} codes, but its "
                               f"codebook holds {len(cb)}")
        return np.asarray(cb[:slots], dtype=np.int64)

    def packed_words(self, c: int) -> list:
        """Column ``c``'s weight bank words as integers (lane ``l`` at bits ``l * wb``)."""
        if c not in self._packed:
            wb = self.weight_bits
            lanes = self.weights[c].astype(np.int64) & ((1 << wb) - 1)
            self._packed[c] = [sum(int(v) << (l * wb) for l, v in enumerate(row))
                               for row in lanes]
        return self._packed[c]

    def read(self, addr: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Activation words at the valid addresses (invalid reads give 0), ``(..., L)``."""
        a = np.where(valid, addr, 0)
        if a.size and (a.min() < 0 or a.max() >= len(self.mem)):
            bad = a[(a < 0) | (a >= len(self.mem))][0]
            raise FpgagenError(f"instruction {self.pc} reads word {bad} outside the "
                               f"activation memory ({len(self.mem)} words)")
        return np.where(valid[..., None], self.mem[a], 0)

    def write(self, f: Instr, values: np.ndarray):
        """Write output words ``values`` ``(out_groups, P, L)``: output row ``oy`` to slot
        ``(out_slot0 + oy) mod out_rows`` of the output ring."""
        if f.pool:
            self.pool(f, values)
            return
        if f.to_scores:  # the fully connected layer: score memory words, in group order
            first = f.out_base + f.out_group_offset
            if first != self.score_next or f.out_h * f.out_w != 1:
                raise FpgagenError(f"instruction {self.pc} writes {f.out_h}x{f.out_w} pixels "
                                   f"of scores from word {first}; the score memory takes "
                                   f"one pixel's words in order (next word "
                                   f"{self.score_next})")
            self.score_words.extend(values.reshape(f.out_groups, -1))
            self.score_next += f.out_groups
            return
        og = np.arange(f.out_groups)[:, None]
        pix = np.arange(f.out_h * f.out_w)
        slot = (f.out_slot0 + pix // f.out_w) % max(f.out_rows, 1)
        pix = (slot * f.out_w + pix % f.out_w)[None, :]
        self.store(f, f.out_base + pix * f.out_pixel_groups + f.out_group_offset + og, values)

    def store(self, f: Instr, addr: np.ndarray, values: np.ndarray):
        """Write ``values`` at word addresses ``addr`` (any shape, values ``(..., L)``)."""
        if addr.size and addr.max() >= len(self.mem):
            raise FpgagenError(f"instruction {self.pc} writes word {addr.max()} outside the "
                               f"activation memory ({len(self.mem)} words)")
        self.mem[addr] = wrap(values, self.lane_bits)

    def pool(self, f: Instr, values: np.ndarray):
        """The pooling unit: conv output words ``(out_groups, out_h * out_w, L)`` in loop
        order, combined by the window rule of :mod:`fpgagen.hw.pooling` horizontally (a
        register per row) and vertically (the pool-state memory), each completed window
        written to its pooled word."""
        if f.out_w < MIN_FUSED_WIDTH:
            raise FpgagenError(f"instruction {self.pc} fuses pooling into a conv output "
                               f"{f.out_w} wide (at least {MIN_FUSED_WIDTH})")
        s, ov = f.pool_s, f.pool_overlap
        if s < 1:
            raise FpgagenError(f"instruction {self.pc}: pooling stride {s}")
        og_n, lanes = f.out_groups, values.shape[-1]
        v = values.reshape(og_n, f.out_h, f.out_w, lanes)
        x = np.arange(f.out_w)
        hev = window_events(x, x == f.out_w - 1, s, ov, f.pool_w)
        # horizontal: one register per (og, row); completed windows in px order
        hout = np.zeros((og_n, f.out_h, max(f.pool_w, 1), lanes), dtype=np.int64)
        part = np.zeros((og_n, f.out_h, lanes), dtype=np.int64)
        for t in range(f.out_w):
            new = v[:, :, t] if hev.starts[t] else np.maximum(part, v[:, :, t])
            if hev.ends_prev[t]:
                hout[:, :, hev.a[t] - 1] = np.maximum(part, v[:, :, t])
            elif hev.ends[t]:
                hout[:, :, hev.a[t]] = new
            if hev.in_a[t]:
                part = new
        # vertical: the pool-state word of (og, px) holds the open window's partial
        og = np.arange(og_n)[:, None]
        px = np.arange(f.pool_w)[None, :]
        state_addr = f.pool_base + og * f.pool_w + px
        if state_addr.size and state_addr.max() >= len(self.pool_state):
            raise FpgagenError(f"instruction {self.pc} uses pool-state word "
                               f"{state_addr.max()} beyond the memory "
                               f"({len(self.pool_state)} words)")
        y0 = f.pool_a0 * s + f.pool_phase0
        for oy in range(f.out_h):
            ev = window_events(y0 + oy, bool(f.pool_last) and oy == f.out_h - 1, s, ov,
                               f.pool_h)
            h = hout[:, oy, :f.pool_w]
            state = self.pool_state[state_addr]
            new = h if ev.starts else np.maximum(state, h)
            done = None
            if ev.ends_prev:
                done, j = np.maximum(state, h), int(ev.a) - 1
            elif ev.ends:
                done, j = new, int(ev.a)
            if ev.in_a:
                self.pool_state[state_addr] = new
            if done is not None:
                if j < f.pool_a0 - (1 if ov else 0) or j >= f.pool_h:
                    raise FpgagenError(f"instruction {self.pc} completes pooled row {j}")
                slot = (f.out_slot0 + (j - f.pool_a0)) % max(f.out_rows, 1)
                addr = (f.out_base + (slot * f.pool_w + px) * f.out_pixel_groups
                        + f.out_group_offset + og)
                self.store(f, addr, done)

    def load(self, f: Instr):
        """LOAD: the next input words, one per iteration, at the addresses the loop nest
        reads."""
        if f.kh != 1 or f.kw != 1 or f.depthwise:
            raise FpgagenError(f"instruction {self.pc} (LOAD) has a {f.kh}x{f.kw} kernel or "
                               "is depthwise")
        addr, _, _ = self.loop(f)
        addr = addr.reshape(-1)
        if addr.size and addr.max() >= len(self.mem):
            raise FpgagenError(f"instruction {self.pc} loads word {addr.max()} outside the "
                               f"activation memory ({len(self.mem)} words)")
        self.mem[addr] = self.take_stream(addr.size)

    def take_stream(self, n: int) -> np.ndarray:
        """The next ``n`` input words (LOAD)."""
        if self.streamed + n > len(self.stream):
            raise FpgagenError(f"instruction {self.pc} loads {n} words, but only "
                               f"{len(self.stream) - self.streamed} of the input remain")
        words = self.stream[self.streamed:self.streamed + n]
        self.streamed += n
        return words


def run_program(program: Program, input_words: np.ndarray, *, capture: bool = False
                ) -> EngineResult:
    """Execute a program on the word-level model of the accelerator.

    Parameters
    ----------
    program : Program
    input_words : np.ndarray
        ``(program.input_words, pe_rows)`` lane codes, as :func:`pack_input` returns: the
        input stream, which LOAD instructions consume in order.
    capture : bool
        Also read back every tensor as soon as it is complete (``EngineResult.tensors``).

    Returns
    -------
    EngineResult

    Raises
    ------
    FpgagenError
        For input words of the wrong shape, a program that runs past its end without a
        ``last`` instruction, or an access outside the memories.
    """
    eng = _Engine(program, input_words)
    words = program.words()
    scores, cycles, tensors, loads = [], [], {}, []
    last_channels = 0
    if eng.flash is not None:  # the schedule comes from the flash
        eng.boot()
    while True:
        if eng.pc >= len(words):
            raise FpgagenError(f"program {program.name!r} ran past its {len(words)} "
                               "instructions without one marked last")
        if eng.flash is not None:  # fetched from the schedule staging buffer
            words[eng.pc] = eng.fetch()
        op = (words[eng.pc] >> _OP_FIELD.offset) & ((1 << _OP_FIELD.width) - 1)
        if eng.flash is not None:  # the load starts with the instruction
            _, load = unpack_flash_instruction(words[eng.pc])
            eng.next_fetch(load)
            loads.append(load)
            if load.load:
                eng.flash_load(load)
        if op == Opcode.LOAD.value:  # not an operator: the engine's input port
            f = unpack_instruction(words[eng.pc])
            streamed = eng.load(f)
        else:
            rules = rules_for_opcode(op)
            f = unpack_instruction(words[eng.pc])
            streamed = rules.execute(eng, f)
        if streamed is not None:
            scores.append(streamed)
        if eng.score_words:  # written by a CONV with to_scores
            scores.append(np.concatenate(eng.score_words))
            eng.score_words = []
        stall = eng.compressed.stall(f, eng.lanes) if f.compressed else 0
        cycles.append(instruction_cycles(f, PIPELINE_OVERHEAD) + stall)
        if capture and eng.pc < len(program.layers):
            for w in program.layers[eng.pc].writes:
                place = program.tensors[w.tensor]
                if w.tensor not in tensors:
                    tensors[w.tensor] = np.zeros((place.channels, place.h, place.w), np.int64)
                tensors[w.tensor][:, w.lo:w.hi] = unpack_rows(program, eng.mem, place, w.lo,
                                                              w.hi)
        if f.last:
            last_channels = f.out_channels
            break
        eng.pc += 1
    if eng.streamed != len(eng.stream):
        raise FpgagenError(f"program {program.name!r} loaded {eng.streamed} of its "
                           f"{len(eng.stream)} input words")
    if eng.flash is not None:  # the waits for the loads
        st = eng.flash
        inputs = st.stall_inputs(eng.cols)
        inputs["loads"] = loads
        inputs["flash_words"] = [st.load_flash_words(l, eng.cols) for l in loads]
        inputs["segment_words"] = [st.segment_flash_words(l) for l in loads]
        stalls = flash_stalls(cycles, timing=program.hw.flash, **inputs)
        cycles = [n + s for n, s in zip(cycles, stalls)]
    out = np.concatenate(scores).astype(np.int64) if scores else np.zeros(0, np.int64)
    out = out[:last_channels]
    return EngineResult(act_mem=eng.mem, scores=out, cycles=cycles, tensors=tensors)
