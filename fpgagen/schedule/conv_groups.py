"""The instructions of a group convolution lowered per group
(:mod:`fpgagen.operators.conv_groups`): a conv instruction (a row band, or a channel chunk
of the conv before the GAP) becomes one instruction per conv group it covers."""

import numpy as np

from ..hw.isa import Instr
from ..operators.conv_groups import GroupSplit
from .weight_chunks import out_group_fields

__all__ = ["split_conv_groups"]


def split_conv_groups(instr: Instr, macs: int, split: GroupSplit, first_group: int,
                      positions, cols: int) -> list[tuple[Instr, int]]:
    """The instructions of ``instr`` (output groups ``first_group ..`` of a conv lowered
    per group, with ``split.in_groups`` input groups) and the share of its ``macs`` each
    does (by the real output channels, ``positions``, of its groups).

    Conv group ``k``'s instruction computes the output groups of ``instr`` within ``k *
    split.out_groups .. (k + 1) * split.out_groups - 1`` (:func:`out_group_fields`: its
    weights, bias entries, output offset, pool state) and reads input groups from ``k *
    split.in_groups`` on (``in_base`` advanced by that many words: the group is the
    innermost term of an activation address)."""
    fields = instr.fields()
    lo, hi = first_group, first_group + instr.out_groups
    pos = np.asarray(positions) // cols
    total = int(((pos >= lo) & (pos < hi)).sum())
    parts = []
    for k in range(lo // split.out_groups, (hi - 1) // split.out_groups + 1):
        a = max(lo, k * split.out_groups)
        b = min(hi, (k + 1) * split.out_groups)
        f = out_group_fields(fields, a - lo, b - lo)
        f.update(in_base=f["in_base"] + k * split.in_groups,
                 last=int(instr.last and b == hi))
        real = int(((pos >= a) & (pos < b)).sum())
        parts.append((Instr(**f), macs * real // total if total else 0))
    # integer shares: the remainder goes to the last part, so they sum to macs
    if parts:
        done = sum(m for _, m in parts[:-1])
        parts[-1] = (parts[-1][0], macs - done)
    return parts
