"""Group convolution on the PE array: which lowering a grouped ``Conv2d`` gets, and its
weight words (``docs/hardware.md``, *Group convolution*).

A conv of ``G`` groups is lowered

* **per group** when the channels of every group occupy their own run of lane groups, in
  the input and in the output (``C / G`` and ``O / G`` multiples of the lanes, with the
  tensors' usual contiguous layouts): ``G`` instructions, each reading ``in_groups / G``
  input groups from its own first group and writing ``out_groups / G`` output groups, so
  no multiply-accumulate cycle is spent on a weight that does not exist;
* else **block-diagonal**: one dense instruction over every input group, the weights
  between channels of different groups zero (or, for a compressed layer, not stored).
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["GroupSplit", "block_diagonal", "group_split", "grouped_word_layout"]


@dataclass(frozen=True)
class GroupSplit:
    """A grouped conv lowered per group: ``groups`` instructions, group ``k`` reading input
    lane groups ``k * in_groups .. (k + 1) * in_groups - 1`` and computing output lane
    groups ``k * out_groups .. (k + 1) * out_groups - 1`` (of the tensors' own groups)."""

    groups: int
    in_groups: int
    out_groups: int


def _lane_groups_per_group(positions, groups: int, lanes: int, total: int) -> int | None:
    """``total / groups`` when the channels of conv group ``k`` (``len(positions) /
    groups`` consecutive channels) all lie in lane groups ``k * n .. (k + 1) * n - 1``,
    else None."""
    if total % groups:
        return None
    n = total // groups
    pos = np.asarray(positions).reshape(groups, -1) // lanes
    k = np.arange(groups)[:, None]
    return n if bool(((pos >= k * n) & (pos < (k + 1) * n)).all()) else None


def block_diagonal(values: np.ndarray, groups: int, fill: int) -> np.ndarray:
    """Grouped weights ``(O, C / groups, kh, kw)`` as the dense ``(O, C, kh, kw)`` of the
    same convolution: ``fill`` between channels of different groups."""
    o, cg, kh, kw = values.shape
    dense = np.full((o, cg * groups, kh, kw), fill, dtype=values.dtype)
    per = o // groups
    for k in range(groups):
        dense[k * per:(k + 1) * per, k * cg:(k + 1) * cg] = values[k * per:(k + 1) * per]
    return dense


def group_split(groups: int, in_positions, in_groups: int, out_positions, out_groups: int,
                lanes: int, cols: int) -> GroupSplit | None:
    """The per-group lowering of a conv of ``groups`` groups reading a tensor laid out as
    ``in_positions`` (lane position of each channel, ``in_groups`` groups of ``lanes``)
    and writing ``out_positions`` (``out_groups`` groups of ``cols`` columns), or None
    when a group's channels share a lane group with another group's (block-diagonal
    then)."""
    if groups == 1:
        return None
    ig = _lane_groups_per_group(in_positions, groups, lanes, in_groups)
    og = _lane_groups_per_group(out_positions, groups, cols, out_groups)
    if ig is None or og is None:
        return None
    return GroupSplit(groups, ig, og)


def grouped_word_layout(values: np.ndarray, groups: int, in_positions, in_groups: int,
                        out_positions, out_groups: int, lanes: int, cols: int,
                        split: GroupSplit | None, fill: int) -> np.ndarray:
    """``values`` ``(O, C / groups, kh, kw)`` as the weight banks' words ``(cols,
    out_groups * kh * kw * I, lanes)`` (*Weight layout*), where ``I`` is ``in_groups`` (one
    instruction, block-diagonal: weights between different groups' channels are ``fill``)
    or ``split.in_groups`` (per group: output group ``og`` of conv group ``k`` reads lane
    groups from ``k * split.in_groups`` on); lanes of no channel hold ``fill``."""
    o, cg, kh, kw = values.shape
    out_pos = np.asarray(out_positions)
    in_pos = np.asarray(in_positions).reshape(groups, cg)  # (group, channel in group)
    ig = in_groups if split is None else split.in_groups
    if split is not None:
        in_pos = in_pos - (np.arange(groups) * ig * lanes)[:, None]
    group_of = np.arange(o) // (o // groups)
    lay = np.full((out_groups * cols, ig * lanes, kh, kw), fill, dtype=np.int64)
    lay[out_pos[:, None], in_pos[group_of]] = values
    words = lay.reshape(out_groups, cols, ig, lanes, kh, kw).transpose(1, 0, 4, 5, 2, 3)
    return words.reshape(cols, out_groups * kh * kw * ig, lanes)
