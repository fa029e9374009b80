"""The instruction set of the accelerator, defined once.

:class:`Instr` lists every field of a layer instruction with its hardware shape; the
Amaranth layout :data:`Instruction` the decoder reads is derived from it, and the Python
assembler packs with that same layout, so compiler and hardware cannot drift.

Every instruction runs one loop nest over the activation memory (see
``docs/hardware.md``)::

    for og in range(out_groups):              # output channel group (pe_cols channels)
      for oy in range(out_h):                   # rows of this band
        for ox in range(out_w):
          for tap in range(kh * kw):            # kernel taps, row-major
            for g in range(in_groups):          # input channel groups (pe_rows channels)
              read one activation word, and for CONV one weight word per column
          write one output word (or, for GAP, pe_rows scores unless ``gap_store``; for
          a CONV with ``pool`` set, hand it to the pooling unit, which writes each pooled
          word once complete; for a CONV with ``to_scores``, write it to the score memory)

**Row bands and rings.** An instruction may compute only some rows of its output (a
*band*): its input row coordinate is ``iy = in_y0 + oy * stride_h + ky - pad_h`` (for ADD
and LOAD ``iy = in_y0 + oy``), valid when ``0 <= iy < in_h``. A tensor may be held in a
*ring* of ``R`` rows: row ``y`` lives in slot ``y mod R``, so reading pixel ``(iy, ix)``
reads word ``in_base + ((iy mod in_rows) * in_w + ix) * in_pixel_groups + group``, and the
output row ``oy`` of the band goes to slot ``(out_slot0 + oy) mod out_rows``. A whole
tensor is a ring of all its rows. The hardware keeps the slots by addition, which needs
``stride_h <= in_rows``; ``in_slot0`` is ``(in_y0 - pad_h) mod in_rows`` (``in_y0 mod
in_rows`` for ADD and LOAD).

**Fused max pooling** (CONV with ``pool`` set): the convolution's output words are not
written. The pooling unit takes them in loop order and computes ``pool_s + pool_overlap``
square windows with stride ``pool_s`` (no padding; windows clipped at the right and
bottom edges, ``pool_w`` x ``pool_h`` of them, so ceil mode is the compiler's count).
Conv output row ``oy`` is row ``y = pool_y0 + oy`` of the whole conv output (``pool_y0``
is given as ``pool_a0 = y0 // pool_s`` and ``pool_phase0 = y0 % pool_s``);
``pool_last`` says the band's last row is the conv output's last row. The partial maximum
of the open vertical window of pixel column ``px`` of group ``og`` persists between
instructions in the pool-state memory at ``pool_base + og * pool_w + px``. A completed
window ``(j, px)`` is written to ``out_base + ((j mod out_rows) * pool_w + px) *
out_pixel_groups + out_group_offset + og``, where ``out_slot0 = pool_a0 mod out_rows``.
See :func:`fpgagen.hw.pooling.window_events` for the exact per-coordinate rule.

**Compressed weights** (CONV with ``compressed`` set): the weights of output group
``og`` are not read from the weight memory word by word but decoded, before the group
starts, into a tile buffer the array then reads (two tiles: the next group's is decoded
while the array computes the current one). ``weight_base`` addresses the layer's masks;
the index stream starts where the bias entry of ``og 0`` says (see
:mod:`fpgagen.hw.weight_stream`).

**LOAD** writes the words of the input stream, one per iteration, at the addresses the
loop nest reads (``kh = kw = 1``, ``depthwise = 0``): a band of rows of the input tensor
into its ring.
"""

import dataclasses
import operator
from dataclasses import dataclass, field

from amaranth import signed, unsigned
from amaranth.lib import data, enum

from .spec import ADDR_BITS, DIM_BITS, GAP_MULTIPLIER_BITS

__all__ = ["Opcode", "OPCODE_BITS", "Instr", "Instruction", "INSTRUCTION_BITS", "ADDR_BITS",
           "DIM_BITS", "pack_instruction", "unpack_instruction", "FLASH_ADDR_BITS", "SEGMENT_BITS",
           "LoadFields", "LoadLayout", "LOAD_FIELDS_BITS", "pack_flash_instruction",
           "unpack_flash_instruction"]

#: Width of the opcode field: room for 16 operations (four are defined; the operators to
#: come, such as convolution with fused pooling, codebook weights and depthwise
#: convolution, take the next values).
OPCODE_BITS = 4


class Opcode(enum.Enum, shape=OPCODE_BITS):
    """What the engine does with the words the loop nest reads."""

    #: Multiply-accumulate over taps and input groups; bias, shift, ReLU, saturate.
    CONV = 0
    #: Lane-wise maximum over the valid taps of a window (input group = output group).
    MAXPOOL = 1
    #: Lane-wise sum over the whole input (kernel = input size), times a multiplier,
    #: round-shift, saturate; the scores go to the score memory, streamed out at the end
    #: (or, with ``gap_store``, the averages to the activation memory, for a fully
    #: connected layer after it).
    GAP = 2
    #: Lane-wise ``(a << shift_a) + (b << shift_b)``, round-shift, ReLU if ``relu``,
    #: saturate (tap 0 reads ``in_base``, tap 1 reads ``in2_base``).
    ADD = 3
    #: Write the next words of the input stream at the addresses the loop nest reads.
    LOAD = 4


def _f(shape, doc: str = "", default=0):
    return field(default=default, metadata={"shape": shape, "doc": doc})


@dataclass(frozen=True, kw_only=True)
class Instr:
    """One layer instruction, field by field (see the module docstring for the loop nest).

    The fields' order is their bit order in the packed word, lowest first.
    """

    op: Opcode = _f(Opcode, default=Opcode.CONV)
    last: int = _f(unsigned(1), "the program ends after this instruction")
    relu: int = _f(unsigned(1), "CONV, ADD: ReLU before saturation")
    out_signed: int = _f(unsigned(1), "output codes are two's complement (else unsigned)")
    out_bits: int = _f(unsigned(5), "output code width (the activations', 8 by default, "
                                    "or 16 for GAP scores)")
    in_base: int = _f(unsigned(ADDR_BITS), "word address of input pixel (0, 0), group 0")
    in2_base: int = _f(unsigned(ADDR_BITS), "ADD: the second input's base")
    in_h: int = _f(unsigned(DIM_BITS))
    in_w: int = _f(unsigned(DIM_BITS))
    in_groups: int = _f(unsigned(DIM_BITS), "input channel groups read per tap (1: pooling)")
    in_pixel_groups: int = _f(unsigned(DIM_BITS), "words per input pixel (input stride)")
    depthwise: int = _f(unsigned(1), "input group = output group (pooling, GAP, ADD)")
    kh: int = _f(unsigned(4))
    kw: int = _f(unsigned(4))
    stride_h: int = _f(unsigned(3))
    stride_w: int = _f(unsigned(3))
    pad_h: int = _f(unsigned(3))
    pad_w: int = _f(unsigned(3))
    out_base: int = _f(unsigned(ADDR_BITS))
    out_h: int = _f(unsigned(DIM_BITS))
    out_w: int = _f(unsigned(DIM_BITS))
    out_groups: int = _f(unsigned(DIM_BITS), "output channel groups computed (loop count)")
    out_pixel_groups: int = _f(unsigned(DIM_BITS), "words per output pixel (output stride)")
    out_group_offset: int = _f(unsigned(DIM_BITS), "first group written (concat offset)")
    out_channels: int = _f(unsigned(DIM_BITS), "last instruction: scores streamed out")
    weight_base: int = _f(unsigned(ADDR_BITS), "CONV: weight word of (og 0, tap 0, group 0)")
    bias_base: int = _f(unsigned(ADDR_BITS), "CONV: bias/shift entry of og 0")
    shift: int = _f(signed(8), "ADD/GAP: final rounding right shift")
    shift_a: int = _f(unsigned(4), "ADD: left shift of input a")
    shift_b: int = _f(unsigned(4), "ADD: left shift of input b")
    multiplier: int = _f(unsigned(GAP_MULTIPLIER_BITS), "GAP: reciprocal multiplier")
    in_y0: int = _f(unsigned(DIM_BITS), "input row of oy = 0 before padding (band start)")
    in_rows: int = _f(unsigned(DIM_BITS), "rows of the input ring (in_h: the whole tensor)",
                      default=1)
    in_slot0: int = _f(unsigned(DIM_BITS), "ring slot of input row in_y0 - pad_h")
    out_rows: int = _f(unsigned(DIM_BITS), "rows of the output ring", default=1)
    out_slot0: int = _f(unsigned(DIM_BITS), "ring slot of output row oy = 0 (pooled: of "
                                            "window pool_a0)")
    pool: int = _f(unsigned(1), "CONV: max pooling fused into the output")
    pool_s: int = _f(unsigned(2), "pooling stride (and window, less the overlap)")
    pool_overlap: int = _f(unsigned(1), "pooling window is pool_s + 1 (else pool_s)")
    pool_w: int = _f(unsigned(DIM_BITS), "pooled width: windows per row")
    pool_h: int = _f(unsigned(DIM_BITS), "pooled height: windows per column")
    pool_a0: int = _f(unsigned(DIM_BITS), "vertical window index at oy = 0 (y0 // pool_s)")
    pool_phase0: int = _f(unsigned(2), "y0 % pool_s")
    pool_last: int = _f(unsigned(1), "the band's last row is the conv output's last")
    pool_base: int = _f(unsigned(ADDR_BITS), "pool-state word of (og 0, px 0)")
    compressed: int = _f(unsigned(1), "CONV: the weights are decoded from masks and "
                                      "codebook indices (weight_base: the first mask)")
    index_bits: int = _f(unsigned(4), "CONV, compressed: bits of a codebook index")
    codebook_base: int = _f(unsigned(ADDR_BITS), "CONV, compressed: the layer's codebook")
    gap_store: int = _f(unsigned(1), "GAP: write the averages to the activation memory (at "
                                     "the output fields' words), not the score memory")
    to_scores: int = _f(unsigned(1), "CONV: write the output words to the score memory "
                                     "(word out_group_offset + og, 16-bit codes), not the "
                                     "activation memory (the fully connected layer)")

    def __post_init__(self):
        try:
            if isinstance(self.op, bool):
                raise ValueError
            object.__setattr__(self, "op", Opcode(self.op))
        except ValueError:
            raise ValueError(f"instruction field op={self.op!r} is not an opcode") from None
        for f in dataclasses.fields(self)[1:]:
            v = getattr(self, f.name)
            try:
                v = operator.index(v)  # integers (Python or NumPy) only: no silent truncation
            except TypeError:
                raise ValueError(f"instruction field {f.name}={v!r} is not an "
                                 "integer") from None
            object.__setattr__(self, f.name, v)
            shape = f.metadata["shape"]
            lo = -(1 << (shape.width - 1)) if shape.signed else 0
            hi = (1 << (shape.width - 1)) - 1 if shape.signed else (1 << shape.width) - 1
            if not lo <= v <= hi:
                raise ValueError(f"instruction field {f.name}={v} does not fit {shape}")

    def fields(self) -> dict:
        """``{field: value}`` in bit order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


#: The hardware layout of :class:`Instr` (an Amaranth ``data.StructLayout``).
Instruction = data.StructLayout({f.name: f.metadata["shape"] for f in dataclasses.fields(Instr)})

#: Width of one packed instruction.
INSTRUCTION_BITS = Instruction.size


def pack_instruction(instr: Instr) -> int:
    """The instruction as an integer with the hardware's layout."""
    if not isinstance(instr, Instr):
        raise TypeError(f"expected an Instr, not {type(instr).__name__}")
    return Instruction.const(instr.fields()).as_value().value


def unpack_instruction(word: int) -> Instr:
    """The instruction packed in ``word`` (the inverse of :func:`pack_instruction`)."""
    out = {}
    for name, fld in Instruction:
        raw = (word >> fld.offset) & ((1 << fld.width) - 1)
        shape = fld.shape
        if name == "op":
            out[name] = Opcode(raw)
        elif getattr(shape, "signed", False) and raw >> (fld.width - 1):
            out[name] = raw - (1 << fld.width)
        else:
            out[name] = raw
    return Instr(**out)


# --- weights in flash ------------------------------------------------------------------------

#: Width of a 32-bit flash word address.
FLASH_ADDR_BITS = 20
#: Width of a segment's length in schedule words (``LoadFields.load_segment_words``).
SEGMENT_BITS = 8


@dataclass(frozen=True, kw_only=True)
class LoadFields:
    """The fields a design with its weights in flash (``HwParams.weight_store = "flash"``)
    adds to every instruction, above the :class:`Instr` bits of the schedule word
    (``docs/hardware.md``, *Weights in flash*).

    The fields' order is their bit order, lowest first.
    """

    wait_load: int = _f(unsigned(1), "CONV: start only once the load into staging half "
                                     "wait_half is done")
    wait_half: int = _f(unsigned(1), "the staging half the CONV reads")
    load: int = _f(unsigned(1), "start a load when this instruction starts (once the "
                                "loader is idle)")
    load_half: int = _f(unsigned(1), "the staging half the load writes")
    load_base: int = _f(unsigned(FLASH_ADDR_BITS), "flash word of the chunk's block")
    load_bias_words: int = _f(unsigned(ADDR_BITS), "bias words per column")
    load_mask_words: int = _f(unsigned(ADDR_BITS), "mask words per column (compressed)")
    load_weight_words: int = _f(unsigned(ADDR_BITS), "weight (or index) words per column")
    # the schedule in flash (``docs/hardware.md``, *Schedule in flash*)
    load_segment_base: int = _f(unsigned(FLASH_ADDR_BITS), "flash word of the loaded "
                                "chunk's segment (its schedule words), read after the block")
    load_segment_words: int = _f(unsigned(SEGMENT_BITS), "schedule words of the segment")
    segment_end: int = _f(unsigned(1), "the next instruction is the first of the next "
                                       "segment (fetched from the other schedule half)")
    load_codebook_bits: int = _f(unsigned(4), "index bits of the chunk's codebook (0: none)")
    load_direct: int = _f(unsigned(1), "a direct codebook chunk: its weight words are "
                                       "pe_rows indices of load_codebook_bits bits")

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            try:
                v = operator.index(v)
            except TypeError:
                raise ValueError(f"load field {f.name}={v!r} is not an integer") from None
            object.__setattr__(self, f.name, v)
            if not 0 <= v < 1 << f.metadata["shape"].width:
                raise ValueError(f"load field {f.name}={v} does not fit "
                                 f"{f.metadata['shape']}")

    def fields(self) -> dict:
        """``{field: value}`` in bit order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


#: The hardware layout of :class:`LoadFields`.
LoadLayout = data.StructLayout({f.name: f.metadata["shape"]
                                for f in dataclasses.fields(LoadFields)})

#: Width of the load fields (a flash design's schedule word is ``INSTRUCTION_BITS +
#: LOAD_FIELDS_BITS`` bits, the load fields at the top).
LOAD_FIELDS_BITS = LoadLayout.size


def pack_flash_instruction(instr: Instr, load: LoadFields) -> int:
    """The schedule word of a flash design: ``instr`` in the low :data:`INSTRUCTION_BITS`,
    ``load`` above."""
    if not isinstance(load, LoadFields):
        raise TypeError(f"expected LoadFields, not {type(load).__name__}")
    packed = LoadLayout.const(load.fields()).as_value().value
    return pack_instruction(instr) | packed << INSTRUCTION_BITS


def unpack_flash_instruction(word: int) -> tuple[Instr, LoadFields]:
    """``(instr, load)`` of a flash design's schedule word (the inverse of
    :func:`pack_flash_instruction`)."""
    instr = unpack_instruction(word & ((1 << INSTRUCTION_BITS) - 1))
    top = word >> INSTRUCTION_BITS
    return instr, LoadFields(**{name: (top >> fld.offset) & ((1 << fld.width) - 1)
                                for name, fld in LoadLayout})
