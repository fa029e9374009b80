"""LUTs, flip-flops and hard multipliers of the accelerator, per block, with coefficients
calibrated against Yosys synthesis (``benchmarks/calibrate_logic_model.py``, figures in
``docs/synthesis.md``).

The design is ``n x n`` PEs (``n = pe_rows = pe_cols = lanes``). Per block:

- **multipliers**: the PE array has ``n**2`` int9 x int8 products; the vector unit one
  32 x 16 GAP product per lane (two 18x18-class multipliers each); the address generator six
  small products (pixel index times width / pixel groups). Yosys maps every product to its
  own MULT18X18D (ECP5), DSP48E1 (7-series) or SB_MAC16 (iCE40): it does not split an ECP5
  18x18 into two 9x9. On MAX 10 (Quartus) two PE products share one 18x18 multiplier in
  9x9 mode. So ``dsp = k * n**2 + 2 * n + 6`` with ``k = 1`` (``0.5`` on MAX 10).
- **PE array** (products, adder trees, accumulators): ``lut_mac * n**2`` LUTs and
  ``ff_mac * n**2`` flip-flops.
- **columns and lanes** (post-processors with their 64-bit rounding shifters, bias pipeline,
  vector-unit lanes, activation lane muxing): ``lut_lane * n`` and ``ff_lane * n``.
- **control** (address generator, sequencer, instruction register, schedule ROM in LUTs,
  score streaming): ``lut_ctrl`` and ``ff_ctrl``.
- **memory logic**: what the block-RAM fit (:mod:`fpgagen.hw.bram_fit`) puts in logic (the
  schedule ROM, LUT RAM), plus the read multiplexers of memories split across rows of
  blocks: ``mux_lut`` LUTs per row beyond the first and per output bit.

The coefficients are least-squares fits of Yosys's counts for pe 2x2, 4x4 and 8x8 designs
of a small SqueezeNet v1.1 (32x32 input, width 0.125, 1000 classes) and a 4x4 one with 10
classes, after the memory logic is taken off.
MAX 10 (4-input LEs) and iCE40 use the ECP5 (LUT4) coefficients: Quartus is not available
here, and iCE40 is not calibrated (it overestimates Yosys's iCE40 LUTs about 1.9x).
"""

import math

from .bram_fit import fit_memories
from .memories import design_memories

__all__ = ["COEFFICIENTS", "CALIBRATION", "estimate_logic", "logic_blocks", "multipliers",
           "memory_logic", "synthesized_memories"]

#: Per family: LUTs and flip-flops per MAC, per lane (column), constant, LUTs per
#: multiplexed row and bit of a memory split across rows of blocks, and flip-flops per RAM in
#: block RAM (per bit of width and fixed; measured on single memories).
COEFFICIENTS = {
    "ecp5": {"lut_mac": 63.9, "lut_lane": 774.1, "lut_ctrl": 630.0,
             "ff_mac": 25.6, "ff_lane": 86.7, "ff_ctrl": 526.0, "mux_lut": 1.0,
             "ram_ff_bit": 2.0, "ram_ff": 13.0},
    "zynq7": {"lut_mac": 15.5, "lut_lane": 283.7, "lut_ctrl": 566.7,
              "ff_mac": 7.9, "ff_lane": 72.9, "ff_ctrl": 463.7, "mux_lut": 0.5,
              "ram_ff_bit": 0.0, "ram_ff": 0.0},
}
#: iCE40 (LUT4, no LUT RAM) and MAX 10 (4-input LEs) take the ECP5 coefficients.
COEFFICIENTS["ice40"] = COEFFICIENTS["ecp5"]
COEFFICIENTS["max10"] = COEFFICIENTS["ecp5"]

#: The synthesis results the coefficients were fitted to: ``(family, pe, classes) -> {"lut",
#: "ff", "bram", "dsp"}`` of SqueezeNet v1.1 at 32x32, width 0.125 (Yosys 0.70,
#: ``benchmarks/calibrate_logic_model.py``).
CALIBRATION = {
    ("ecp5", 2, 1000): {"lut": 4005, "ff": 1243, "bram": 43, "dsp": 14},
    ("ecp5", 4, 1000): {"lut": 6327, "ff": 1944, "bram": 46, "dsp": 30},
    ("ecp5", 8, 1000): {"lut": 13060, "ff": 3601, "bram": 66, "dsp": 86},
    ("ecp5", 4, 10): {"lut": 5734, "ff": 1627, "bram": 16, "dsp": 30},
    ("zynq7", 2, 1000): {"lut": 1800, "ff": 956, "bram": 43, "dsp": 14},
    ("zynq7", 4, 1000): {"lut": 2576, "ff": 1317, "bram": 46, "dsp": 30},
    ("zynq7", 8, 1000): {"lut": 4717, "ff": 1867, "bram": 66, "dsp": 86},
    ("zynq7", 4, 10): {"lut": 2236, "ff": 1140, "bram": 16, "dsp": 30},
}

# Multipliers outside the PE array: per vector lane, and in the address generator.
_VECTOR_MULTS_PER_LANE = 2
_ADDRGEN_MULTS = 6


def multipliers(pe: int, board) -> int:
    """Hard multipliers of an ``pe x pe`` design on ``board`` (module docstring)."""
    per_mac = 0.5 if board.family == "max10" else 1.0
    return math.ceil(per_mac * pe * pe) + _VECTOR_MULTS_PER_LANE * pe + _ADDRGEN_MULTS


def _coefficients(board) -> dict:
    try:
        return COEFFICIENTS[board.family]
    except KeyError:
        raise ValueError(f"no logic model for family {board.family!r}") from None


def memory_logic(program, board, *, packed: bool | None = None) -> dict:
    """LUTs and flip-flops of the memories in logic and of the row multiplexers."""
    c = _coefficients(board)
    fit = fit_memories(design_memories(program), board, packed=packed)
    mux = sum(p.memory.width * (p.rows - 1) for p in fit.placements if p.rows > 1)
    # RAMs in blocks: registers Yosys adds around the block (read-before-write bypass)
    ram_ff = sum(c["ram_ff_bit"] * p.memory.width + c["ram_ff"] for p in fit.placements
                 if p.memory.kind == "ram" and p.block is not None)
    return {"lut": fit.logic_luts + c["mux_lut"] * mux, "ff": fit.logic_ffs + ram_ff}


def logic_blocks(hw, board, program) -> dict:
    """The estimate per block: ``{block: {"lut", "ff", "dsp"}}`` (floats; see the module
    docstring)."""
    c = _coefficients(board)
    n = hw.pe_rows
    mem = memory_logic(program, board)
    dsp_pe = math.ceil((0.5 if board.family == "max10" else 1.0) * n * n)
    return {
        "pe_array": {"lut": c["lut_mac"] * n * n, "ff": c["ff_mac"] * n * n, "dsp": dsp_pe},
        "lanes": {"lut": c["lut_lane"] * n, "ff": c["ff_lane"] * n,
                  "dsp": _VECTOR_MULTS_PER_LANE * n},
        "control": {"lut": c["lut_ctrl"], "ff": c["ff_ctrl"], "dsp": _ADDRGEN_MULTS},
        "memory_logic": {"lut": mem["lut"], "ff": mem["ff"], "dsp": 0},
    }


def estimate_logic(hw, board, program) -> dict:
    """LUTs, flip-flops and hard multipliers of ``program``'s accelerator on ``board``.

    Parameters
    ----------
    hw : HwParams
    board : Board
    program : Program

    Returns
    -------
    dict
        ``{"lut": int, "ff": int, "dsp": int, "blocks": {block: {...}}}``.
    """
    blocks = logic_blocks(hw, board, program)
    total = {key: int(round(sum(b[key] for b in blocks.values())))
             for key in ("lut", "ff", "dsp")}
    total["blocks"] = {name: {k: int(round(v)) for k, v in b.items()}
                       for name, b in blocks.items()}
    return total


def _constant_bits(fields) -> int:
    """Bit columns that hold the same value in every word of ``fields`` (``(codes (n,),
    bits)``)."""
    import numpy as np

    const = 0
    for codes, bits in fields:
        codes = np.asarray(codes, dtype=np.int64)
        if codes.size == 0:
            continue
        b = (codes[:, None] >> np.arange(bits)) & 1
        const += int((b == b[:1]).all(axis=0).sum())
    return const


def synthesized_memories(program):
    """:func:`fpgagen.hw.memories.design_memories` as synthesis sees them: each weight and
    bias ROM narrower by the bit columns that are constant over all its words (Yosys, like
    the vendor tools, turns those into constants: the upper bits of the 8-bit rounding shift
    are 0 in every bias word, so a 40-bit bias word takes 36 bits)."""
    import dataclasses

    hw = program.hw
    wbits = int(getattr(program, "weight_bits", 8))
    out = []
    for mem in design_memories(program):
        kind, _, col = mem.name.partition("_")
        if kind == "weights" and col.isdigit():
            bank = program.weight_banks[int(col)]
            fields = [(bank[:, r], wbits) for r in range(hw.pe_rows)]
        elif kind == "bias" and col.isdigit():
            c = int(col)
            fields = [(program.bias_banks[c], 32), (program.shift_banks[c], 8)]
        else:
            out.append(mem)
            continue
        width = max(1, mem.width - _constant_bits(fields))
        out.append(dataclasses.replace(mem, width=width))
    return out
