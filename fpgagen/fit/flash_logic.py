"""Logic of a design with its weights in flash that the calibrated coefficients of
:mod:`fpgagen.fit.logic_model` do not cover: the codebook registers of the two staging
halves, the lookups of direct codebook layers (:mod:`fpgagen.hw.direct_codebook`) and the
loader's gearbox (:mod:`fpgagen.gateware.flash_loader`). Counted from the gateware's
structure, not fitted to synthesis:

- **codebook registers**: ``2 * S`` codes of 8 bits (``S`` = codes of one half, 4 per
  flash word of the largest codebook), ``16 * S`` flip-flops; the half multiplexer, one
  LUT per code bit (``8 * S``).
- **lookups** (with direct layers, ``pe_rows * pe_cols`` lanes): per lane, the index
  field of the running width (a multiplexer over the design's ``k`` direct widths,
  ``(k - 1) * log2(S)`` LUTs) and an ``S``-to-1 multiplexer of 8 bits, counted as
  ``ceil(2 * (S - 1) / 3)`` LUT4s per bit (a 4-to-1 multiplexer in two LUT4s); two
  registers of the 8-bit code (the lookup's stage and the one after it).
- **gearbox**: a buffer of ``s + 32`` bits (``s`` the widest slot) shifted by a
  variable amount, ``(s + 32) * ceil(log2(s))`` LUTs, and the buffer, fill count and
  codebook write signals as flip-flops.
"""

import math

from ..hw.direct_codebook import CODE_BITS, is_direct

__all__ = ["flash_logic"]


def flash_logic(program) -> dict:
    """``{"lut", "ff"}`` of the codebook registers, direct lookups and gearbox of
    ``program``'s accelerator (zeros with its weights in block RAM)."""
    st = getattr(program, "flash", None)
    if st is None:
        return {"lut": 0, "ff": 0}
    hw = program.hw
    lanes = hw.pe_rows * hw.pe_cols
    slots = 4 * int(st.halves.get("codebook", 0))
    lut = ff = 0
    if slots:
        ff += 2 * slots * CODE_BITS
        lut += slots * CODE_BITS
    widths = sorted({f.index_bits for f in st.bank_instructions if is_direct(f)})
    if widths and slots:
        index_bits = max(1, (slots - 1).bit_length())
        per_lane = ((len(widths) - 1) * index_bits
                    + CODE_BITS * math.ceil(2 * (slots - 1) / 3))
        lut += lanes * per_lane
        ff += lanes * 2 * CODE_BITS
    widest = max(32, st.widths["bias"], st.widths["weight"])
    lut += (widest + 32) * math.ceil(math.log2(widest))
    ff += (widest + 32) + widest.bit_length() + 8
    return {"lut": lut, "ff": ff}
