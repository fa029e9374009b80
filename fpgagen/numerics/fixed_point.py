"""Fixed-point rules of quantization: choosing a scale, bounding an accumulator, the
clamps of a rounding shift and the GAP's reciprocal multiplier."""

import math

from ..hw.spec import GAP_MULTIPLIER_BITS
from ..ir.types import QType

__all__ = ["choose_frac", "accumulator_bits", "SHIFT_CLAMP_RIGHT", "SHIFT_CLAMP_LEFT",
           "avgpool_multiplier"]

#: Largest right shift of a conv's requantization: ``acc + bias`` fits 32 bits (checked), so
#: it rounds to 0 for any shift of 33 or more, and larger shifts are stored as this one.
SHIFT_CLAMP_RIGHT = 40
#: Largest left shift (negative shift): any non-zero accumulator shifted left by 32 already
#: saturates every output type (16 bits at most), so larger ones are stored as this one.
SHIFT_CLAMP_LEFT = 32


def choose_frac(max_abs: float, qmax: int) -> int:
    """Largest fractional bit count whose scale still represents ``max_abs`` within
    ``qmax`` codes after rounding to nearest."""
    if not max_abs > 0:
        return 0
    frac = math.floor(math.log2(qmax / max_abs))
    while round(max_abs * 2.0 ** (frac + 1)) <= qmax:
        frac += 1
    while round(max_abs * 2.0 ** frac) > qmax:
        frac -= 1
    return max(-32, min(32, frac))


def accumulator_bits(terms: int, act: QType, weight: QType, bias_max: int = 0) -> int:
    """Width (sign included) that holds any ``sum`` of ``terms`` products of codes of
    ``act`` and ``weight`` plus a bias of magnitude at most ``bias_max``."""
    amax = max(abs(act.min), abs(act.max))
    wmax = max(abs(weight.min), abs(weight.max))
    bound = terms * amax * wmax + abs(int(bias_max))
    return int(bound).bit_length() + 1


def avgpool_multiplier(count: int, t_in: QType, t_out: QType) -> tuple[int, int]:
    """``(multiplier, shift)`` with ``multiplier / 2**shift ~ 2**(out.frac - in.frac) /
    count``, the multiplier using all :data:`~fpgagen.hw.spec.GAP_MULTIPLIER_BITS` bits."""
    target = 2.0 ** (t_out.frac - t_in.frac) / count
    shift = GAP_MULTIPLIER_BITS - 1 - math.floor(math.log2(target))
    mult = round(target * 2.0 ** shift)
    if mult >= 1 << GAP_MULTIPLIER_BITS:
        mult, shift = round(target * 2.0 ** (shift - 1)), shift - 1
    return int(mult), int(shift)
