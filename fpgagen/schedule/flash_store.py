"""Weights in flash (``HwParams.weight_store = "flash"``, ``docs/hardware.md``, *Weights in
flash*): the flash image, the loads, and the program rewritten to read its weights from
double-buffered staging memories.

The lowering first builds the program of the ROM design (every CONV split into chunks by
``weight_chunk_bits``); :func:`stage_weights` then

* gives every CONV chunk (in execution order, rank ``j``) the staging half ``j mod 2``;
* cuts the chunk's words out of the banks, per memory kind (:data:`KINDS`: bias words,
  the codebook of a compressed or direct codebook chunk, masks of a compressed chunk,
  weight or index words) and column (the codebook once per chunk), each column padded to
  the chunk's largest count of that kind; index stream starts in the chunk's bias words
  become staging addresses (``half * weight half depth`` plus the word's distance from the
  chunk's first index word in that column);
* lays the chunks out in the flash image (:func:`flash_image`), one contiguous block per
  distinct chunk content;
* rewrites each CONV's ``weight_base`` and ``bias_base`` to the start of its half, sets
  its ``wait_load`` flag, and attaches each chunk's load to an instruction before it or
  to itself (:func:`load_points`);
* puts the schedule in the flash (``docs/hardware.md``, *Schedule in flash*): cuts the
  program into segments (:func:`segments`: the boot segment, then each chunk with the
  instructions after it), sets ``segment_end`` before each chunk, appends every schedule
  word to the image after the blocks and gives each chunk's load its segment; the boot
  load (:attr:`FlashStore.boot`) reads the boot segment (or chunk 0's load when
  instruction 0 is chunk 0);
* adds the stalls of the loads to the predicted cycles (:func:`fpgagen.hw.cost.
  flash_stalls`).
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..errors import FpgagenError
from ..hw.cost import flash_stalls
from ..hw.direct_codebook import (CODE_BITS, CODES_PER_FLASH_WORD, codebook_flash_words,
                                   is_direct)
from ..hw.isa import (FLASH_ADDR_BITS, INSTRUCTION_BITS, LOAD_FIELDS_BITS, SEGMENT_BITS, Instr,
                      LoadFields, Opcode, pack_flash_instruction)
from ..hw.spec import BIAS_WORD, MIN_WEIGHT_BITS, WEIGHT_BITS, weight_word_bits
from ..hw.weight_stream import STREAM_START, items_per_word

__all__ = ["KINDS", "CHUNK_KINDS", "FLASH_WORD_BITS", "FlashStore", "flash_words_per",
           "run_flash_words", "serialize", "deserialize", "chunk_words", "load_points",
           "flash_image", "stage_weights", "block_of", "read_load", "load_count", "segments",
           "SCHEDULE_WORD_BITS", "read_segment"]

#: The memory kinds of a chunk, in their order in its flash block.
KINDS = ("bias", "codebook", "mask", "weight")
#: The kinds stored once per chunk rather than per column: the codebook (words of
#: :data:`~fpgagen.hw.direct_codebook.CODES_PER_FLASH_WORD` codes).
CHUNK_KINDS = ("codebook",)
#: Width of a flash word.
FLASH_WORD_BITS = 32
#: Width of a schedule word (an instruction with its load fields), as the flash holds it.
SCHEDULE_WORD_BITS = INSTRUCTION_BITS + LOAD_FIELDS_BITS


def _slot_bits(width: int) -> int:
    """Bits a memory word of ``width`` bits takes in a run: its width, at least a flash
    word (so that no flash word completes two memory words)."""
    return max(int(width), FLASH_WORD_BITS)


def flash_words_per(width: int) -> int:
    """32-bit flash words a single memory word of ``width`` bits takes."""
    return run_flash_words(1, width)


def run_flash_words(n: int, width: int) -> int:
    """32-bit flash words of a run of ``n`` memory words of ``width`` bits
    (:func:`serialize`)."""
    return -(-int(n) * _slot_bits(width) // FLASH_WORD_BITS)


def serialize(words, width: int) -> list[int]:
    """A run of memory words of ``width`` bits (non-negative ints) as 32-bit flash words:
    one continuous little-endian bit stream (word ``k`` at bits ``k * s``, ``s`` = the
    width, or 32 for a word narrower than a flash word), zero-padded to a whole flash
    word at the end."""
    slot = _slot_bits(width)
    stream = 0
    words = list(words)
    for k, w in enumerate(words):
        w = int(w)
        if not 0 <= w < 1 << width:
            raise ValueError(f"memory word {w:#x} does not fit {width} bits")
        stream |= w << (k * slot)
    mask = (1 << FLASH_WORD_BITS) - 1
    return [(stream >> (FLASH_WORD_BITS * j)) & mask
            for j in range(run_flash_words(len(words), width))]


def deserialize(flash, width: int, n: int | None = None) -> list[int]:
    """The inverse of :func:`serialize`: the ``n`` memory words (by default as many as
    the flash words hold) of a run."""
    slot = _slot_bits(width)
    flash = [int(v) for v in flash]
    if n is None:
        n = len(flash) * FLASH_WORD_BITS // slot
    if run_flash_words(n, width) != len(flash):
        raise ValueError(f"{len(flash)} flash words are not a run of {n} {width}-bit words")
    stream = sum(v << (FLASH_WORD_BITS * j) for j, v in enumerate(flash))
    return [(stream >> (k * slot)) & ((1 << width) - 1) for k in range(n)]


@dataclass
class FlashStore:
    """A flash design's weights and schedule: the image, the loads and the staging
    memories.

    Attributes
    ----------
    image : list of int
        The flash's 32-bit words from word 0 (:func:`flash_image`).
    loads : list of LoadFields
        Per instruction, its load fields (the top of its schedule word).
    halves : dict
        ``{kind: words of one staging half}`` per :data:`KINDS` entry (``mask`` 0 without
        compressed layers, ``codebook``: flash words of the largest codebook, 0 without
        codebook layers): each staging memory (and the codebook registers) holds two
        halves.
    widths : dict
        ``{kind: width of a staging word}`` (bias: 40 bits, 68 with compressed layers;
        codebook: 32, four codes; weight: ``pe_rows`` times the most bits of a lane any
        chunk stores, at least :data:`~fpgagen.hw.spec.MIN_WEIGHT_BITS`).
    bank_instructions : list of Instr
        The instructions with the ROM design's bank addresses (before staging).
    stalls : list of int
        Per instruction, the cycles its issue waits for the flash loads
        (:func:`fpgagen.hw.cost.flash_stalls`), included in its ``cycles_predicted``.
    boot : LoadFields
        The boot load, which the start pulse launches (fixed in the top level): the boot
        segment into schedule half 1, or, when instruction 0 is a CONV, chunk 0's block and
        segment into half 0.
    segment_depth : int
        Schedule words of one half of the schedule staging buffer: the longest segment.
    schedule_base : int
        Flash word of instruction 0's schedule word (the schedule follows the blocks).
    lanes, dense_bits : int
        ``pe_rows`` and the program's ``weight_bits``: a chunk's weight words are
        ``lanes * dense_bits`` bits, or ``lanes * index_bits`` for a direct codebook chunk.
    """

    image: list
    loads: list
    halves: dict
    widths: dict
    bank_instructions: list
    stalls: list = dataclasses.field(default_factory=list)
    boot: LoadFields = dataclasses.field(default_factory=LoadFields)
    segment_depth: int = 1
    schedule_base: int = 0
    lanes: int = 8
    dense_bits: int = 8

    def run_width(self, kind: str, load: LoadFields) -> int:
        """Width of the memory words of ``kind`` in the block ``load`` reads."""
        if kind == "weight":
            return self.lanes * (load.load_codebook_bits if load.load_direct
                                 else self.dense_bits)
        return int(self.widths[kind])

    def chunk_blocks(self, cols: int) -> list[tuple[int, int, int]]:
        """``(instruction, flash word, flash words)`` of every CONV chunk's block, in
        execution order, for ``cols`` PE columns (chunks that share a block give the same
        word)."""
        convs = [i for i, f in enumerate(self.bank_instructions) if f.op == Opcode.CONV]
        loads = [self.boot if k is None else self.loads[k] for k in load_points(convs)]
        return [(i, int(ld.load_base), self.load_flash_words(ld, cols))
                for i, ld in zip(convs, loads)]

    def depth(self, kind: str) -> int:
        """Words of the staging memory of ``kind`` (two halves; at least 1)."""
        return max(1, 2 * self.halves[kind])

    def load_flash_words(self, load: LoadFields, cols: int) -> int:
        """32-bit flash words of the load's block."""
        return sum((1 if k in CHUNK_KINDS else cols)
                   * run_flash_words(load_count(load, k), self.run_width(k, load))
                   for k in KINDS)

    @staticmethod
    def segment_flash_words(load: LoadFields) -> int:
        """32-bit flash words of the load's segment (its schedule words)."""
        return load.load_segment_words * flash_words_per(SCHEDULE_WORD_BITS)

    @property
    def schedule_flash_words(self) -> int:
        """32-bit flash words of the whole schedule in the image."""
        return len(self.bank_instructions) * flash_words_per(SCHEDULE_WORD_BITS)

    def stall_inputs(self, cols: int) -> dict:
        """The keyword arguments of :func:`fpgagen.hw.cost.flash_stalls` but the
        instructions' cycles and the timing: ``loads``, ``flash_words`` (of each load's
        block), ``segment_words`` (of each load's segment) and ``boot``."""
        b = self.boot
        return dict(loads=self.loads,
                    flash_words=[self.load_flash_words(l, cols) for l in self.loads],
                    segment_words=[self.segment_flash_words(l) for l in self.loads],
                    boot=(self.load_flash_words(b, cols), self.segment_flash_words(b),
                          b.load_half))


def load_count(load: LoadFields, kind: str) -> int:
    """Memory words of ``kind`` per column (the codebook: per chunk) ``load`` reads."""
    if kind == "codebook":
        return codebook_flash_words(load.load_codebook_bits)
    return getattr(load, f"load_{kind}_words")


def _lane_bits(f: Instr, dense_bits: int) -> int:
    """Bits of a lane of the CONV chunk ``f``'s weight words: its index bits for a direct
    codebook chunk, else ``dense_bits`` (the program's ``weight_bits``)."""
    return f.index_bits if is_direct(f) else int(dense_bits)


def _bias_words(program, f: Instr, start_words=None) -> np.ndarray:
    """The chunk's bias memory words ``(cols, out_groups)`` as unsigned ints: bias, shift
    and, with compressed layers, the stream start (``start_words`` replaces its word)."""
    lo, n = f.bias_base, f.out_groups
    bias = program.bias_banks[:, lo:lo + n].astype(object)
    shift = program.shift_banks[:, lo:lo + n].astype(object)
    bf, sf = BIAS_WORD["bias"], BIAS_WORD["shift"]
    word = (bias & ((1 << bf.bits) - 1)) | ((shift & ((1 << sf.bits) - 1)) << sf.offset)
    cw = program.compressed
    if cw is not None:
        starts = cw.starts[:, lo:lo + n].astype(object)
        sw = starts[:, :, 0] if start_words is None else start_words
        wf, itf = STREAM_START["word"], STREAM_START["item"]
        word = (word | (sw << BIAS_WORD.bits + wf.offset)
                | (starts[:, :, 1] << BIAS_WORD.bits + itf.offset))
    return word


def _weight_ints(program, c: int, lo: int, hi: int, wb: int | None = None) -> list[int]:
    """Words ``lo .. hi - 1`` of weight bank ``c`` as unsigned ints (lane ``l`` at bits
    ``l * wb``, by default the program's ``weight_bits``)."""
    wb = int(program.weight_bits) if wb is None else int(wb)
    lanes = program.weight_banks[c, lo:hi].astype(np.int64) & ((1 << wb) - 1)
    return [sum(int(v) << (l * wb) for l, v in enumerate(row)) for row in lanes]


def chunk_words(program, f: Instr, half: int = 0, weight_half: int = 0) -> dict:
    """The memory words of the CONV chunk ``f`` (bank addresses), per kind and column:
    ``{kind: list (per column) of lists of ints}``, not yet padded. A compressed chunk's
    index words start at each column's first index word, and the stream starts in its
    bias words become ``half * weight_half`` plus the distance from that word."""
    cols = program.hw.pe_cols
    tile = f.kh * f.kw * f.in_groups
    n = f.out_groups * tile
    if not f.compressed:
        lane_bits = _lane_bits(f, program.weight_bits)
        weights = [_weight_ints(program, c, f.weight_base, f.weight_base + n, lane_bits)
                   for c in range(cols)]
        bias = _bias_words(program, f)
        return {"bias": [list(r) for r in bias], "codebook": _codebook_words(program, f),
                "mask": [[] for _ in range(cols)], "weight": weights}
    cw = program.compressed
    lanes = program.hw.pe_rows
    per = items_per_word(f.index_bits, weight_word_bits(lanes, int(program.weight_bits)))
    masks = np.asarray(cw.masks[:, f.weight_base:f.weight_base + n], dtype=np.int64)
    stored = ((masks[:, :, None] >> np.arange(lanes)) & 1).sum(axis=(1, 2))
    first = cw.starts[:, f.bias_base, 0].astype(np.int64)
    item0 = cw.starts[:, f.bias_base, 1].astype(np.int64)
    spanned = np.where(stored > 0, (item0 + stored - 1) // per + 1, 0)
    rel = cw.starts[:, f.bias_base:f.bias_base + f.out_groups, 0].astype(np.int64) \
        - first[:, None]
    start_words = (half * weight_half + np.maximum(rel, 0)).astype(object)
    bias = _bias_words(program, f, start_words)
    weights = [_weight_ints(program, c, int(first[c]), int(first[c] + spanned[c]))
               for c in range(cols)]
    return {"bias": [list(r) for r in bias], "codebook": _codebook_words(program, f),
            "mask": [[int(v) for v in r] for r in masks], "weight": weights}


def _codebook_words(program, f: Instr) -> list[list[int]]:
    """The chunk's codebook as one run of flash words (four 8-bit codes each, code ``k``
    at bits ``8 * (k % 4)``), ``[]`` for a dense chunk."""
    if not f.index_bits:
        return [[]]
    table = program.direct_codebook if is_direct(f) else program.compressed.codebook
    codes = [int(v) & ((1 << CODE_BITS) - 1)
             for v in table[f.codebook_base:f.codebook_base + (1 << f.index_bits)]]
    return [[sum(c << (CODE_BITS * k) for k, c in enumerate(codes[i:i + CODES_PER_FLASH_WORD]))
             for i in range(0, len(codes), CODES_PER_FLASH_WORD)]]


def _chunk_key(f: Instr) -> tuple:
    """The fields :func:`chunk_words` reads: chunks with the same key hold the same
    words."""
    return (f.weight_base, f.bias_base, f.out_groups, f.kh, f.kw, f.in_groups,
            f.compressed, f.index_bits, f.codebook_base)


def _counts(words: dict) -> dict:
    return {k: max((len(col) for col in words[k]), default=0) for k in KINDS}


def block_of(words: dict, counts: dict, widths: dict) -> list[int]:
    """A chunk's flash block: per kind, per column (the codebook: once), its words padded
    with zeros to ``counts[kind]``, serialized at ``widths[kind]`` bits
    (:func:`serialize`)."""
    out = []
    for k in KINDS:
        for col in words[k]:
            out += serialize(list(col) + [0] * (counts[k] - len(col)), widths[k])
    return out


def load_points(conv_positions: list[int]) -> list:
    """The instruction that starts each chunk's load, from the positions ``c_j`` of the
    CONV chunks in the program: chunk 0's at instruction 0, or by the boot load (``None``)
    when instruction 0 is chunk 0 itself; chunk ``j``'s at instruction ``c_{j-1}``, the
    first of segment ``j - 1`` (:func:`segments`: the fetch has left the halves of segment
    ``j - 2`` and of chunk ``j - 2``, the last reader of the weight half, which drains
    before the next instruction starts), but after the instruction of chunk ``j - 1``'s
    load (one load per instruction)."""
    points = []
    for j, c in enumerate(conv_positions):
        if j == 0:
            points.append(None if c == 0 else 0)
            continue
        prev = points[-1]
        points.append(max(0 if prev is None else prev + 1, conv_positions[j - 1]))
    return points


def segments(conv_positions: list[int], instructions: int) -> list[tuple[int, int]]:
    """The segments of a program of ``instructions`` instructions whose CONV chunks are at
    ``conv_positions``, as ``(first, end)`` instruction ranges: the boot segment
    ``(0, c_0)`` (empty when instruction 0 is a CONV; every instruction without CONVs),
    then segment ``j`` = ``(c_j, c_{j+1})``, the chunk and the instructions after it up to
    the next chunk (the last to the end)."""
    bounds = [0] + list(conv_positions) + [instructions]
    return [(bounds[k], bounds[k + 1]) for k in range(len(bounds) - 1)]


def flash_image(program) -> list[int]:
    """The flash image of a flash-store program (``program.flash.image``)."""
    if program.flash is None:
        raise FpgagenError(f"program {program.name!r} keeps its weights in ROM banks, not "
                           "in flash")
    return list(program.flash.image)


def stage_weights(program, memo: dict | None = None):
    """``program`` (the ROM design's, CONVs split into chunks) rewritten for weights in
    flash: see the module docstring. Returns a new Program with ``flash`` set. ``memo``:
    a dict kept between programs with the same weight, bias and shift banks (other band
    plans of one graph), so that each chunk's words are built once."""
    hw = program.hw
    cols, lanes, wb = hw.pe_cols, hw.pe_rows, int(program.weight_bits)
    if wb > WEIGHT_BITS:  # the direct lookups and the chunks' codebooks hold 8-bit codes
        raise FpgagenError(f"weights in flash take codes of at most {WEIGHT_BITS} bits, not "
                           f"{wb} (--weight-bits); use --weight-store bram")
    bias_bits = BIAS_WORD.bits + (STREAM_START.bits if program.compressed is not None else 0)
    instrs = list(program.instructions)
    convs = [i for i, f in enumerate(instrs) if f.op == Opcode.CONV]
    # a staging weight word holds the widest lanes of any chunk
    lane_bits = max([MIN_WEIGHT_BITS] + [_lane_bits(instrs[i], wb) for i in convs])
    widths = {"bias": bias_bits, "codebook": FLASH_WORD_BITS, "mask": lanes,
              "weight": weight_word_bits(lanes, lane_bits)}
    # the bands of a layer load the same chunks: each chunk's words and block once
    memo = {} if memo is None else memo

    def words_of(f, half=0, weight_half=0):
        run_widths = dict(widths, weight=lanes * _lane_bits(f, wb))
        key = (_chunk_key(f), half, weight_half, tuple(sorted(run_widths.items())))
        if key not in memo:
            words = chunk_words(program, f, half, weight_half)
            counts = _counts(words)
            memo[key] = words, counts, tuple(block_of(words, counts, run_widths))
        return key, memo[key]

    # the halves: the most words of each kind any chunk needs
    first = [words_of(instrs[i]) for i in convs]
    halves = {k: max((w[1][1][k] for w in first), default=0) for k in KINDS}
    image, blocks, placed, chunk_loads = [], {}, {}, []
    for j, i in enumerate(convs):
        f, half = instrs[i], j % 2
        key, (_, counts, block) = (words_of(f, half, halves["weight"]) if f.compressed
                                   else first[j])
        if key not in placed:  # chunks with the same words share a block
            if block not in blocks:
                blocks[block] = len(image)
                image += block
            placed[key] = blocks[block]
        base = placed[key]
        if base >= 1 << FLASH_ADDR_BITS:
            raise FpgagenError(f"the flash image of program {program.name!r} needs more "
                               f"than {1 << FLASH_ADDR_BITS} words")
        chunk_loads.append(dict(load=1, load_half=half, load_base=base,
                                load_bias_words=counts["bias"],
                                load_mask_words=counts["mask"],
                                load_weight_words=counts["weight"],
                                load_codebook_bits=f.index_bits,
                                load_direct=int(is_direct(f))))
        fields = f.fields()
        fields["weight_base"] = half * (halves["mask"] if f.compressed else halves["weight"])
        fields["bias_base"] = half * halves["bias"]
        instrs[i] = Instr(**fields)
    # the schedule in flash: segments, their words after the blocks, the boot load
    segs = segments(convs, len(instrs))
    depth = max(e - b for b, e in segs)
    if depth >= 1 << SEGMENT_BITS:
        raise FpgagenError(f"program {program.name!r} has a segment of {depth} instructions; "
                           f"a segment holds at most {(1 << SEGMENT_BITS) - 1}")
    per = flash_words_per(SCHEDULE_WORD_BITS)
    sched = len(image)
    if sched + len(instrs) * per > 1 << FLASH_ADDR_BITS:
        raise FpgagenError(f"the flash image of program {program.name!r} needs more "
                           f"than {1 << FLASH_ADDR_BITS} words")
    for j, (b, e) in enumerate(segs[1:]):
        chunk_loads[j].update(load_segment_base=sched + b * per, load_segment_words=e - b)
    loads = [dict() for _ in instrs]
    points = load_points(convs)
    boot = dict(load=1, load_half=1, load_segment_base=sched, load_segment_words=segs[0][1])
    for j, k in enumerate(points):
        if k is None:
            boot = chunk_loads[j]
        else:
            loads[k].update(chunk_loads[j])
    for j, i in enumerate(convs):
        loads[i].update(wait_load=1, wait_half=j % 2)
    for i in convs:
        if i:
            loads[i - 1].update(segment_end=1)
    loads = [LoadFields(**d) for d in loads]
    image += [w for f, l in zip(instrs, loads)
              for w in serialize([pack_flash_instruction(f, l)], SCHEDULE_WORD_BITS)]
    store = FlashStore(image=image, loads=loads, halves=halves, widths=widths,
                       bank_instructions=list(program.instructions), boot=LoadFields(**boot),
                       segment_depth=depth, schedule_base=sched, lanes=lanes, dense_bits=wb)
    base_cycles = [info.cycles_predicted for info in program.layers]
    stalls = flash_stalls(base_cycles, timing=hw.flash, **store.stall_inputs(cols))
    layers = [dataclasses.replace(info, cycles_predicted=info.cycles_predicted + s)
              for info, s in zip(program.layers, stalls)]
    store.stalls = [int(s) for s in stalls]
    return dataclasses.replace(program, instructions=instrs, layers=layers, flash=store)


def read_load(store: FlashStore, load: LoadFields, cols: int) -> dict:
    """What a load writes, read back from the flash image of ``store`` as the loader
    does: ``{kind: list (per column; the codebook: one) of lists of memory words}``,
    :data:`KINDS` in order, each column :func:`load_count` words of
    :meth:`FlashStore.run_width` bits."""
    image = store.image
    pos, out = load.load_base, {}
    for k in KINDS:
        n, width = load_count(load, k), store.run_width(k, load)
        size = run_flash_words(n, width)
        out[k] = []
        for _ in range(1 if k in CHUNK_KINDS else cols):
            chunk = image[pos:pos + size]
            if len(chunk) != size:
                raise FpgagenError(f"a load at flash word {load.load_base} reads past the "
                                   f"image ({len(image)} words)")
            out[k].append(deserialize(chunk, width, n))
            pos += size
    return out


def read_segment(image, load: LoadFields) -> list[int]:
    """The schedule words a load writes into its schedule half, read back from the flash
    ``image`` as the loader does: ``load_segment_words`` words of
    :data:`SCHEDULE_WORD_BITS` bits from ``load_segment_base``."""
    per = flash_words_per(SCHEDULE_WORD_BITS)
    lo, n = load.load_segment_base, load.load_segment_words * per
    chunk = image[lo:lo + n]
    if len(chunk) != n:
        raise FpgagenError(f"a segment at flash word {lo} reads past the image "
                           f"({len(image)} words)")
    # every schedule word is serialized on its own (``per`` flash words)
    return [deserialize(chunk[k:k + per], SCHEDULE_WORD_BITS, 1)[0]
            for k in range(0, n, per)]
