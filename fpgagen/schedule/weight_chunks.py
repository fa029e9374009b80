"""Weight chunks: how many bits of weight data one CONV instruction uses per PE column, and
the split of a CONV instruction into chunks of consecutive output groups that each fit a
budget (:attr:`fpgagen.hw.params.HwParams.weight_chunk_bits`; ``docs/hardware.md``,
*Weight chunks*).

An instruction's weight data, per PE column, as stored:

* dense: its weight-bank words, ``out_groups * kh * kw * in_groups`` words of
  ``pe_rows * weight_bits`` bits;
* compressed: its mask words (``pe_rows`` bits each, as many as a dense layer's weight
  words), the index words its output groups' streams span in the column (from the word
  where the first group's stream starts to the word holding the last index used,
  inclusive; none when the column stores no weight in these groups) and its bias words
  (``out_groups`` words of bias, shift and stream start);
* direct codebook (weights in flash, :mod:`fpgagen.hw.direct_codebook`): as many words as
  a dense layer's, of ``pe_rows * index_bits`` bits.

A compressed instruction may start at any output group: its index streams start where the
bias entry of its first group says (:mod:`fpgagen.hw.weight_stream`).
"""

import numpy as np

from ..errors import FpgagenError
from ..hw.direct_codebook import is_direct
from ..hw.isa import Instr, Opcode
from ..hw.params import HwParams
from ..hw.spec import BIAS_WORD, weight_word_bits
from ..hw.weight_stream import STREAM_START, items_per_word

__all__ = ["instruction_weight_bits", "column_weight_bits", "least_chunk_bits",
           "out_group_fields", "out_group_chunks"]


def column_weight_bits(instr: Instr, hw: HwParams, weight_bits: int,
                       compressed=None) -> np.ndarray:
    """Per PE column, the bits of ``instr``'s weight data as stored (see the module
    docstring).

    Parameters
    ----------
    instr : Instr
    hw : HwParams
    weight_bits : int
        Width of a stored weight code (a weight-bank word is ``pe_rows * weight_bits``
        bits).
    compressed : CompressedWeights or None
        The program's masks and stream starts (needed for a compressed instruction).

    Returns
    -------
    np.ndarray
        int64 ``(pe_cols,)``; zeros for an instruction other than CONV.
    """
    lanes, cols = hw.pe_rows, hw.pe_cols
    out = np.zeros(cols, dtype=np.int64)
    if instr.op != Opcode.CONV:
        return out
    word_bits = weight_word_bits(lanes, int(weight_bits))
    words = instr.out_groups * instr.kh * instr.kw * instr.in_groups
    if is_direct(instr):  # one word of pe_rows indices per tile word
        return out + words * lanes * instr.index_bits
    if not instr.compressed:
        return out + words * word_bits
    if compressed is None:
        raise FpgagenError("a compressed CONV instruction needs the program's compressed "
                           "weights to count its bits")
    per = items_per_word(instr.index_bits, word_bits)
    masks = np.asarray(compressed.masks[:, instr.weight_base:instr.weight_base + words],
                       dtype=np.int64)
    stored = ((masks[:, :, None] >> np.arange(lanes, dtype=np.int64)) & 1).sum(axis=(1, 2))
    item0 = np.asarray(compressed.starts[:, instr.bias_base, 1], dtype=np.int64)
    spanned = np.where(stored > 0, (item0 + stored - 1) // per + 1, 0)
    bias_bits = BIAS_WORD.bits + STREAM_START.bits
    return out + words * lanes + spanned * word_bits + instr.out_groups * bias_bits


def instruction_weight_bits(program, instr: Instr) -> int:
    """The bits of ``instr``'s weight data in its busiest PE column, from ``program``'s
    banks (:func:`column_weight_bits`): what a staging memory per column must hold to run
    it; 0 for an instruction other than CONV."""
    return int(column_weight_bits(instr, program.hw, program.weight_bits,
                                  program.compressed).max(initial=0))


def least_chunk_bits(program) -> int:
    """The smallest ``weight_chunk_bits`` ``program``'s CONVs can be split for: the most
    bits any one output group of theirs needs in its busiest column (0 without CONV)."""
    most = 0
    for f in program.instructions:
        if f.op != Opcode.CONV:
            continue
        fields = f.fields()
        for g in range(f.out_groups):
            one = Instr(**out_group_fields(fields, g, g + 1))
            most = max(most, instruction_weight_bits(program, one))
    return most


def out_group_fields(fields: dict, g0: int, g1: int) -> dict:
    """The fields of an instruction computing output groups ``g0 .. g1 - 1`` of the
    instruction ``fields`` (a dict of :class:`Instr` fields): its weights (or masks) and
    bias entries of group ``g0`` on, its output at group offset ``+ g0``, and for fused
    pooling the pool state of group ``g0`` on."""
    if not 0 <= g0 < g1 <= fields["out_groups"]:
        raise ValueError(f"output groups {g0}..{g1 - 1} are not within the instruction's "
                         f"{fields['out_groups']}")
    f = dict(fields)
    tile = f["kh"] * f["kw"] * f["in_groups"]
    f.update(out_groups=g1 - g0, weight_base=f["weight_base"] + g0 * tile,
             bias_base=f["bias_base"] + g0,
             out_group_offset=f["out_group_offset"] + g0)
    if f.get("pool"):
        f["pool_base"] = f["pool_base"] + g0 * f["pool_w"]
    return f


def out_group_chunks(instr: Instr, budget: int, bits_of, *, layer: str,
                     first_group: int = 0) -> list[tuple[int, int]]:
    """Split the CONV ``instr`` into chunks of consecutive output groups, greedily: each
    chunk as many groups as fit ``budget`` bits.

    Parameters
    ----------
    instr : Instr
    budget : int
        Most bits per PE column of one chunk.
    bits_of : callable
        ``bits_of(instr) -> int``: the bits of an instruction in its busiest column (as
        :func:`instruction_weight_bits`).
    layer : str
        The layer, for the error.
    first_group : int
        The layer's output group of ``instr``'s group 0, for the error.

    Returns
    -------
    list of (int, int)
        ``(g0, g1)`` of every chunk, groups of ``instr``, in order.

    Raises
    ------
    FpgagenError
        When one output group alone needs more than ``budget`` bits.
    """
    base = instr.fields()

    def bits(g0, g1):
        return bits_of(Instr(**out_group_fields(base, g0, g1)))

    chunks, g0, n = [], 0, instr.out_groups
    while g0 < n:
        need = bits(g0, g0 + 1)
        if need > budget:
            raise FpgagenError(f"cannot split conv2d node {layer!r} into weight chunks of "
                               f"{budget:,d} bits per PE column: output group "
                               f"{first_group + g0} alone needs {need:,d} bits")
        g1 = g0 + 1
        while g1 < n and bits(g0, g1 + 1) <= budget:
            g1 += 1
        chunks.append((g0, g1))
        g0 = g1
    return chunks
