"""The instruction set of the accelerator, defined once.

The Python assembler packs instructions with :data:`Instruction` (an Amaranth
``data.Struct``) and the hardware decoder reads the same layout, so the two cannot drift.

Every instruction runs one loop nest over the activation memory (see
``docs/hardware.md``)::

    for og in range(out_groups):              # output channel group (pe_cols channels)
      for oy in range(out_h):
        for ox in range(out_w):
          for tap in range(kh * kw):            # kernel taps, row-major
            for g in range(in_groups):          # input channel groups (pe_rows channels)
              read one activation word, and for CONV one weight word per column
          write one output word (or, for GAP, pe_rows scores)
"""

from amaranth import signed, unsigned
from amaranth.lib import data, enum

__all__ = ["Opcode", "Instruction", "INSTRUCTION_BITS", "ADDR_BITS", "DIM_BITS",
           "pack_instruction", "unpack_instruction"]

#: Width of activation, weight and bias memory addresses (words).
ADDR_BITS = 20
#: Width of height, width and channel-group counts.
DIM_BITS = 12


class Opcode(enum.Enum, shape=2):
    """What the engine does with the words the loop nest reads."""

    #: Multiply-accumulate over taps and input groups; bias, shift, ReLU, saturate.
    CONV = 0
    #: Lane-wise maximum over the valid taps of a window (input group = output group).
    MAXPOOL = 1
    #: Lane-wise sum over the whole input (kernel = input size), times a multiplier,
    #: round-shift, saturate to 16 bits, stream the scores out.
    GAP = 2
    #: Lane-wise ``(a << shift_a) + (b << shift_b)``, round-shift, saturate (tap 0 reads
    #: ``in_base``, tap 1 reads ``in2_base``).
    ADD = 3


class Instruction(data.Struct):
    """One layer instruction (see the module docstring for the loop nest)."""

    op: Opcode
    last: unsigned(1)  #: the program ends after this instruction
    relu: unsigned(1)  #: CONV: ReLU before saturation
    out_signed: unsigned(1)  #: output codes are two's complement (else unsigned)
    out_bits: unsigned(5)  #: output code width (8, or 16 for GAP scores)
    in_base: unsigned(ADDR_BITS)  #: word address of input pixel (0, 0), group 0
    in2_base: unsigned(ADDR_BITS)  #: ADD: the second input's base
    in_h: unsigned(DIM_BITS)
    in_w: unsigned(DIM_BITS)
    in_groups: unsigned(DIM_BITS)  #: input channel groups read per tap (1 for pooling)
    in_pixel_groups: unsigned(DIM_BITS)  #: words per input pixel (input buffer stride)
    depthwise: unsigned(1)  #: input group = output group (pooling, GAP, ADD)
    kh: unsigned(4)
    kw: unsigned(4)
    stride_h: unsigned(3)
    stride_w: unsigned(3)
    pad_h: unsigned(3)
    pad_w: unsigned(3)
    out_base: unsigned(ADDR_BITS)
    out_h: unsigned(DIM_BITS)
    out_w: unsigned(DIM_BITS)
    out_groups: unsigned(DIM_BITS)  #: output channel groups computed (loop count)
    out_pixel_groups: unsigned(DIM_BITS)  #: words per output pixel (output buffer stride)
    out_group_offset: unsigned(DIM_BITS)  #: first group written (concat channel offset)
    out_channels: unsigned(DIM_BITS)  #: GAP: scores streamed out (padding lanes dropped)
    weight_base: unsigned(ADDR_BITS)  #: CONV: weight word of (og 0, tap 0, group 0)
    bias_base: unsigned(ADDR_BITS)  #: CONV: bias/shift entry of og 0
    shift: signed(8)  #: ADD/GAP: final rounding right shift
    shift_a: unsigned(4)  #: ADD: left shift of input a
    shift_b: unsigned(4)  #: ADD: left shift of input b
    multiplier: unsigned(16)  #: GAP: reciprocal multiplier


#: Width of one packed instruction.
INSTRUCTION_BITS = data.Layout.cast(Instruction).size


def pack_instruction(fields: dict) -> int:
    """Pack a dict of field values (missing fields are 0) into an integer with the
    hardware's layout. Values out of a field's range raise ``ValueError``."""
    layout = data.Layout.cast(Instruction)
    names = {name for name, _ in layout}
    unknown = set(fields) - names
    if unknown:
        raise ValueError(f"unknown instruction field(s): {sorted(unknown)}")
    for name, field in layout:
        if name not in fields or name == "op":
            continue
        v = int(fields[name])
        shape = field.shape
        lo = -(1 << (shape.width - 1)) if shape.signed else 0
        hi = (1 << (shape.width - 1)) - 1 if shape.signed else (1 << shape.width) - 1
        if not lo <= v <= hi:
            raise ValueError(f"instruction field {name}={v} does not fit {shape}")
    return Instruction.const(dict(fields)).as_value().value


def unpack_instruction(word: int) -> dict:
    """The field values of a packed instruction (the inverse of :func:`pack_instruction`)."""
    out = {}
    for name, field in data.Layout.cast(Instruction):
        raw = (word >> field.offset) & ((1 << field.width) - 1)
        shape = field.shape
        if name == "op":
            out[name] = Opcode(raw)
        elif getattr(shape, "signed", False) and raw >> (field.width - 1):
            out[name] = raw - (1 << field.width)
        else:
            out[name] = raw
    return out
