"""The stored form of a compressed layer's weights (``docs/hardware.md``, *Compressed
weights*), defined once for the compiler, the engine model and the decoder's gateware.

A compressed CONV layer stores, per PE column, in the order the array consumes them (the
dense layout: output group ``og``, then tile word ``t = tap * in_groups + g``):

* a **mask** of ``pe_rows`` bits per tile word (bit ``l``: lane ``l`` holds a stored
  weight), in the column's mask memory, one word per tile word;
* the **indices** of the stored weights, ``index_bits`` each, lane order within a word,
  word after word: packed ``items_per_word`` to a weight-memory word (item ``j`` at bits
  ``[j * b, j * b + b)``; the top ``word_bits % b`` bits unused), continuing across output
  groups with no padding. Where an instruction starts reading (output group ``og``), the
  column's bias entry of ``og`` holds the stream position: word and item
  (:data:`STREAM_START`).

A lane without a stored weight (pruned, or padding) decodes to 0; a stored one to
``codebook[index]`` (the layer's codebook, ``2**index_bits`` slots at ``codebook_base``).
The decoder of a column handles one mask bit per cycle, or one cycle for a word with none
(:func:`tile_cycles`).
"""

from dataclasses import dataclass

import numpy as np

from .spec import ADDR_BITS, WordFormat

__all__ = ["STREAM_ITEM_BITS", "STREAM_START", "items_per_word", "ColumnStreams",
           "encode_streams", "decode_words", "tile_cycles", "stream_bits"]

#: Width of the item-within-word field of a stream position.
STREAM_ITEM_BITS = 8
#: Where a column's index stream starts for an output group: weight-memory word and the
#: item within it (kept beside the group's bias and shift).
STREAM_START = WordFormat.of(("word", ADDR_BITS), ("item", STREAM_ITEM_BITS))


def items_per_word(index_bits: int, word_bits: int) -> int:
    """Indices of ``index_bits`` packed into one ``word_bits``-bit weight-memory word."""
    if not 1 <= index_bits <= word_bits:
        raise ValueError(f"index_bits must be in 1..{word_bits}, not {index_bits!r}")
    return word_bits // index_bits


@dataclass
class ColumnStreams:
    """The encoded weights of one compressed layer.

    Attributes
    ----------
    masks : np.ndarray
        int64 ``(cols, words)``: one ``lanes``-bit mask per tile word.
    index_words : list of list of int
        Per column, the packed index words (integers of ``word_bits`` bits).
    starts : np.ndarray
        int64 ``(cols, groups, 2)``: word (relative to the column's first) and item where
        each output group's indices begin.
    """

    masks: np.ndarray
    index_words: list
    starts: np.ndarray


def encode_streams(index: np.ndarray, groups: int, index_bits: int,
                   word_bits: int) -> ColumnStreams:
    """Encode a layer's index words.

    Parameters
    ----------
    index : np.ndarray
        int ``(cols, groups * tile_words, lanes)``: the codebook entry of every weight in
        the dense word layout, -1 where no weight is stored.
    groups : int
        Output groups (the tile of group ``og`` is words ``og * tile_words ..``).
    index_bits, word_bits : int
    """
    index = np.asarray(index, dtype=np.int64)
    cols, words, lanes = index.shape
    if words % groups:
        raise ValueError(f"{words} index words do not split into {groups} output groups")
    if index.size and index.max() >= 1 << index_bits:
        raise ValueError(f"index {index.max()} does not fit {index_bits} bits")
    per = items_per_word(index_bits, word_bits)
    stored = index >= 0
    masks = (stored.astype(np.int64) << np.arange(lanes, dtype=np.int64)).sum(axis=2)
    tile = words // groups
    all_words, starts = [], np.zeros((cols, groups, 2), dtype=np.int64)
    for c in range(cols):
        items = index[c][stored[c]]  # word-major, lanes ascending
        counts = stored[c].reshape(groups, tile * lanes).sum(axis=1)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        starts[c, :, 0], starts[c, :, 1] = first // per, first % per
        n = -(-len(items) // per)
        padded = np.zeros(n * per, dtype=np.int64)
        padded[:len(items)] = items
        shifts = np.arange(per, dtype=object) * index_bits
        all_words.append([int(sum(int(v) << int(s) for v, s in zip(row, shifts)))
                          for row in padded.reshape(n, per)])
    return ColumnStreams(masks=masks, index_words=all_words, starts=starts)


def decode_words(masks: np.ndarray, index_words, start_word: int, start_item: int,
                 index_bits: int, word_bits: int, codebook: np.ndarray,
                 lanes: int) -> np.ndarray:
    """The weight codes ``(len(masks), lanes)`` one column decodes from its ``masks`` and
    its index stream (``index_words``, read from ``start_word``, item ``start_item``), as
    the hardware does: stored lanes take ``codebook[index]`` (an index past the codebook's
    slots reads 0), the others 0."""
    per = items_per_word(index_bits, word_bits)
    masks = np.asarray(masks, dtype=np.int64)
    bits = (masks[:, None] >> np.arange(lanes, dtype=np.int64)) & 1
    need = int(bits.sum())
    j = start_item + np.arange(need)
    word = start_word + j // per
    if need and word.max() >= len(index_words):
        raise ValueError(f"index stream of {len(index_words)} words ends before item {need}")
    mask = (1 << index_bits) - 1
    idx = np.array([(int(index_words[w]) >> int(s * index_bits)) & mask
                    for w, s in zip(word, j % per)], dtype=np.int64)
    cb = np.zeros(1 << index_bits, dtype=np.int64)
    cb[:len(codebook)] = codebook
    out = np.zeros(bits.shape, dtype=np.int64)
    out[bits.astype(bool)] = cb[idx]
    return out


def tile_cycles(masks: np.ndarray, lanes: int) -> int:
    """Cycles one column's decoder spends on a tile of mask words: one per stored lane,
    one for a word with none."""
    masks = np.asarray(masks, dtype=np.int64)
    counts = ((masks[:, None] >> np.arange(lanes, dtype=np.int64)) & 1).sum(axis=1)
    return int(np.maximum(counts, 1).sum())


def stream_bits(index: np.ndarray, index_bits: int, word_bits: int) -> int:
    """Bits a layer's encoded weights occupy: masks and whole index words, for ``index``
    as :func:`encode_streams` takes it."""
    index = np.asarray(index)
    cols, words, lanes = index.shape
    per = items_per_word(index_bits, word_bits)
    stored = (index >= 0).reshape(cols, -1).sum(axis=1)
    return int(cols * words * lanes + (-(-stored // per)).sum() * word_bits)
