"""Widths and word formats of the accelerator's datapath and memories, defined once.

The gateware (:mod:`fpgagen.gateware`), the compiler (:mod:`fpgagen.schedule`,
:mod:`fpgagen.passes`), the cycle model, the fit and the simulator all read these, as they
read the pipeline latencies of :mod:`fpgagen.hw.timing`; none of them restates a width.
This module imports nothing of the package.
"""

from dataclasses import dataclass

__all__ = [
    "ACT_LANE_BITS", "WEIGHT_BITS", "MAX_WEIGHT_BITS", "MIN_WEIGHT_BITS", "ACC_BITS",
    "BIAS_BITS", "SHIFT_BITS", "SCORE_BITS", "CYCLE_LOG_BITS", "ADDR_BITS", "DIM_BITS",
    "GAP_SUM_BITS", "GAP_MULTIPLIER_BITS", "LANE_OUT_BITS", "OUTPUT_CODE_BITS",
    "SCORE_STREAM_CYCLES", "Field", "WordFormat", "BIAS_WORD", "lane_range",
    "weight_word_bits", "weight_operand_bits", "MIN_ACTIVATION_BITS", "MAX_ACTIVATION_BITS",
    "INPUT_CODE_BITS", "check_activation_bits", "act_lane_bits", "lane_code_bits",
    "output_code_bits", "gap_sum_bits", "check_lane_bits", "check_weight_bits",
]

#: Width of the network input codes, ``pixel - mean`` (two's complement).
INPUT_CODE_BITS = 9
#: Narrowest and widest activation code a design may have (``activation_bits``).
MIN_ACTIVATION_BITS, MAX_ACTIVATION_BITS = 8, 12
#: Width of one activation lane (two's complement) of a default design (8-bit activation
#: codes): every code kept in the activation memory, and the activation operand of every
#: multiplier. A design's own is :func:`act_lane_bits` of its ``activation_bits``.
ACT_LANE_BITS = 9
#: Default width of a stored weight code (two's complement), and the narrowest weight
#: operand of the multipliers (:func:`weight_operand_bits`).
WEIGHT_BITS = 8
#: Widest weight code a design may use (``--weight-bits``): 12-bit codes still make one
#: 18 x 18 (or DSP48) product with a 9- to 13-bit activation.
MAX_WEIGHT_BITS = 12
#: Narrowest stored weight code the banks support.
MIN_WEIGHT_BITS = 4
#: Width of a column's accumulator (two's complement, wraps).
ACC_BITS = 32
#: Width of a bias bank entry's bias (two's complement).
BIAS_BITS = 32
#: Width of a bias bank entry's rounding shift (two's complement).
SHIFT_BITS = 8
#: Width of one class score (the GAP's output codes) in the score memory and on the
#: output stream.
SCORE_BITS = 16
#: Width of one cycle log entry.
CYCLE_LOG_BITS = 32
#: Width of activation, weight and bias memory addresses (words) in an instruction.
ADDR_BITS = 20
#: Width of height, width and channel-group counts in an instruction.
DIM_BITS = 12
#: Bits of a GAP sum that feed the reciprocal multiplier in a design of 9-bit lanes: at
#: most 15 x 15 terms (the kernel fields are 4 bits) of 9-bit codes, ``|sum| < 2**17``
#: (:func:`gap_sum_bits` of wider lanes).
GAP_SUM_BITS = 18
#: Width of the GAP's unsigned reciprocal multiplier.
GAP_MULTIPLIER_BITS = 16
#: Code widths the post-processors and vector lanes of a default design saturate to
#: (:func:`fpgagen.gateware.arith.saturate`): 8-bit activations, 16-bit class scores. The
#: compiler refuses a tensor of any other width. A design's own is
#: :func:`output_code_bits` of its ``activation_bits``.
OUTPUT_CODE_BITS = (8, 16)
#: Width of a post-processor's or vector lane's saturated result (a 16-bit code, signed
#: or unsigned).
LANE_OUT_BITS = 18
#: Cycles the sequencer takes per streamed score (address, word, lane, payload held until
#: accepted: four with a ready consumer).
SCORE_STREAM_CYCLES = 4


def lane_range(bits: int = ACT_LANE_BITS) -> tuple[int, int]:
    """``(lowest, highest)`` two's complement code of ``bits`` bits."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def weight_operand_bits(weight_bits: int = WEIGHT_BITS) -> int:
    """Width of the multipliers' weight operand, of a codebook entry and of a decoded tile
    buffer lane in a design with ``weight_bits``-bit codes: 8 up to 8-bit codes (narrower
    ones are sign-extended), else ``weight_bits``."""
    return max(WEIGHT_BITS, int(weight_bits))


def check_activation_bits(bits) -> int:
    """``bits`` if it is a valid activation code width (an integer in
    :data:`MIN_ACTIVATION_BITS`..:data:`MAX_ACTIVATION_BITS`); raises ``ValueError``
    showing the bad value otherwise."""
    if isinstance(bits, bool) or not isinstance(bits, int) or \
            not MIN_ACTIVATION_BITS <= bits <= MAX_ACTIVATION_BITS:
        raise ValueError(f"activation_bits must be an integer in {MIN_ACTIVATION_BITS}.."
                         f"{MAX_ACTIVATION_BITS}, not {bits!r}")
    return bits


def act_lane_bits(activation_bits: int = 8) -> int:
    """Width of an activation lane holding ``activation_bits``-bit codes, signed or
    unsigned, and the network input's :data:`INPUT_CODE_BITS`-bit codes: ``max(9,
    activation_bits + 1)``."""
    return max(INPUT_CODE_BITS, int(activation_bits) + 1)


def check_lane_bits(lane_bits) -> int:
    """``lane_bits`` if it is the lane width of a valid activation code width
    (:func:`act_lane_bits` of :data:`MIN_ACTIVATION_BITS`..:data:`MAX_ACTIVATION_BITS`);
    raises ``ValueError`` showing the bad value otherwise."""
    lo, hi = act_lane_bits(MIN_ACTIVATION_BITS), act_lane_bits(MAX_ACTIVATION_BITS)
    if isinstance(lane_bits, bool) or not isinstance(lane_bits, int) or \
            not lo <= lane_bits <= hi:
        raise ValueError(f"an activation lane must be an integer of {lo}..{hi} bits, not "
                         f"{lane_bits!r}")
    return lane_bits


def check_weight_bits(bits) -> int:
    """``bits`` if it is a valid weight code width (:data:`MIN_WEIGHT_BITS`..
    :data:`MAX_WEIGHT_BITS`); raises ``ValueError`` showing the bad value otherwise."""
    if isinstance(bits, bool) or not isinstance(bits, int) or \
            not MIN_WEIGHT_BITS <= bits <= MAX_WEIGHT_BITS:
        raise ValueError(f"weight_bits must be an integer in {MIN_WEIGHT_BITS}.."
                         f"{MAX_WEIGHT_BITS}, not {bits!r}")
    return bits


def lane_code_bits(lane_bits: int) -> int:
    """The activation code width of a design whose lanes are ``lane_bits`` wide (the
    inverse of :func:`act_lane_bits` over the valid widths)."""
    return int(lane_bits) - 1


def output_code_bits(activation_bits: int = 8) -> tuple[int, int]:
    """Code widths a design's post-processors and vector lanes saturate to: its
    activations and the 16-bit class scores (:data:`OUTPUT_CODE_BITS` for 8 bits)."""
    return (int(activation_bits), SCORE_BITS)


def gap_sum_bits(lane_bits: int = ACT_LANE_BITS) -> int:
    """Bits of a GAP sum of ``lane_bits``-bit codes that feed the reciprocal multiplier: at
    most 15 x 15 < 2**8 terms, so ``|sum| < 2**(lane_bits - 1 + 8)``; one bit to spare as
    :data:`GAP_SUM_BITS` (18 for 9-bit lanes)."""
    return int(lane_bits) + 9


def weight_word_bits(lanes: int, weight_bits: int = WEIGHT_BITS) -> int:
    """Width of one weight bank word: ``lanes`` codes of ``weight_bits`` bits."""
    return weight_bits * lanes


@dataclass(frozen=True)
class Field:
    """One field of a memory word: ``bits`` bits from bit ``offset``, two's complement."""

    name: str
    offset: int
    bits: int

    @property
    def end(self) -> int:
        """One past the field's highest bit."""
        return self.offset + self.bits


@dataclass(frozen=True)
class WordFormat:
    """A memory word made of fields, the first at bit 0."""

    fields: tuple[Field, ...]

    @classmethod
    def of(cls, *fields: tuple[str, int]) -> "WordFormat":
        """Fields ``(name, bits)`` packed from bit 0 upwards."""
        out, offset = [], 0
        for name, bits in fields:
            out.append(Field(name, offset, bits))
            offset += bits
        return cls(tuple(out))

    @property
    def bits(self) -> int:
        """Width of the word."""
        return sum(f.bits for f in self.fields)

    def __getitem__(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


#: A bias bank word: the bias at ``[31:0]``, the rounding shift at ``[39:32]``.
BIAS_WORD = WordFormat.of(("bias", BIAS_BITS), ("shift", SHIFT_BITS))
