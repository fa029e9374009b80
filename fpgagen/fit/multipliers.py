"""The one model of the accelerator's hard multipliers, per block, on a board.

- **PE array**: ``n**2`` int``a`` x int``w`` products (``a`` the activation lane width, 9
  by default; ``w`` the stored weight width). Two share one 18x18 multiplier, when both
  operands are at most 9 bits, on families whose synthesis pairs them (MAX 10 in 9x9 mode:
  :meth:`fpgagen.devices.families.FamilyProfile.pe_multipliers_per_mac`), so the array
  takes ``ceil(n**2 / 2)`` there and ``n**2`` elsewhere (Yosys maps every product of the
  ECP5, 7-series and iCE40 projects to its own MULT18X18D, DSP48E1 or SB_MAC16).
- **vector unit**: one 18 x 16 GAP product per lane; an iCE40 MAC16 (16x16) is too narrow
  for it and takes two. With lanes wider than 9 bits the GAP sum grows
  (:func:`fpgagen.hw.spec.gap_sum_bits`): beyond 18 bits it takes two 18x18 multipliers,
  still one 25x18 DSP48E1 (a model, not measured).
- **address generator**: four (pixel indices times the row width, and pixel index times
  the pixel groups, for input and output).
- **weight decoders** (only with compressed layers): in their control, the words of a tile
  are ``kh * kw * in_groups`` of the instruction: two products, of which Yosys keeps the
  first (4 x 4 bits, an 8-bit result) in LUTs on 7-series and iCE40, whose multiplier
  mapping wants at least 9 and 11 result bits, and maps it to a MULT18X18D on ECP5; so one
  multiplier on 7-series and iCE40, two on ECP5 and on MAX 10 (not measured: Quartus).
"""

import math
from dataclasses import dataclass

from ..hw.params import PE_SIZES, HwParams
from ..hw.spec import ACT_LANE_BITS, WEIGHT_BITS, gap_sum_bits

__all__ = ["MultiplierCount", "count_multipliers", "default_pe", "ADDRGEN_MULTIPLIERS",
           "DECODER_MULTIPLIERS"]

#: Multipliers of the address generator.
ADDRGEN_MULTIPLIERS = 4
#: Multipliers of the weight decoders' control per family (``kh * kw * in_groups``: Yosys
#: maps both products on ECP5, only the second on 7-series and iCE40; see the module
#: docstring); other families: two.
DECODER_MULTIPLIERS = {"ecp5": 2, "zynq7": 1, "ice40": 1}
# Multipliers per vector lane: the 18 x 16 GAP product (two of the iCE40's 16x16 MAC16).
_LANE_MULTIPLIERS = 1
_LANE_MULTIPLIERS_MAC16 = 2


@dataclass(frozen=True)
class MultiplierCount:
    """Hard multipliers of a design, per block."""

    pe_array: int
    lanes: int
    control: int
    decoders: int = 0

    @property
    def total(self) -> int:
        return self.pe_array + self.lanes + self.control + self.decoders


def count_multipliers(hw: HwParams | int, board, weight_bits: int = WEIGHT_BITS, *,
                      compressed: bool = False,
                      act_lane_bits: int = ACT_LANE_BITS) -> MultiplierCount:
    """The hard multipliers of a ``hw`` design (an :class:`HwParams` or the side of a square
    array) on ``board``, with ``weight_bits``-bit stored weights and activation lanes of
    ``act_lane_bits``; ``compressed``: the design has weight decoders (the program has
    compressed layers)."""
    n = hw if isinstance(hw, int) else hw.pe_rows
    per_mac = board.profile.pe_multipliers_per_mac(weight_bits, act_lane_bits)
    per_lane = _LANE_MULTIPLIERS_MAC16 if board.multiplier == "mac16" else _LANE_MULTIPLIERS
    if board.multiplier == "18x18" and gap_sum_bits(act_lane_bits) > 18:
        per_lane = 2  # the GAP sum no longer fits one 18x18 operand
    return MultiplierCount(pe_array=math.ceil(per_mac * n * n), lanes=per_lane * n,
                           control=ADDRGEN_MULTIPLIERS,
                           decoders=_decoder_multipliers(board) if compressed else 0)


def _decoder_multipliers(board) -> int:
    return DECODER_MULTIPLIERS.get(board.family, 2)


def default_pe(board, weight_bits: int = WEIGHT_BITS, largest: int = 16, *,
               act_lane_bits: int = ACT_LANE_BITS) -> int:
    """Side of the largest square PE array (at most ``largest``) whose design's multipliers
    (:func:`count_multipliers`, every block) the board has; the smallest array when even
    that does not fit."""
    for n in sorted((s for s in PE_SIZES if s <= largest), reverse=True):
        if count_multipliers(n, board, weight_bits,
                             act_lane_bits=act_lane_bits).total <= board.multipliers:
            return n
    return min(PE_SIZES)
