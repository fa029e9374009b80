"""LUTs, flip-flops and hard multipliers of the accelerator, per block, with coefficients
calibrated against Yosys synthesis (``benchmarks/calibrate_logic_model.py``, figures in
``docs/synthesis.md``).

The design is ``n x n`` PEs (``n = pe_rows = pe_cols = lanes``). Per block:

- **multipliers**: :func:`fpgagen.fit.multipliers.count_multipliers` (``dsp = k * n**2 + m
  * n + 4`` with ``k = 1``, ``0.5`` on MAX 10 rounded up, and ``m = 1``, ``2`` on iCE40).
- **PE array** (input registers, products, two-stage adder trees, accumulators):
  ``lut_mac * n**2`` LUTs and ``ff_mac * n**2`` flip-flops.
- **columns and lanes** (post-processors with their four stages and 64-bit rounding
  shifters, bias delay line, vector-unit lanes with their finishing stages, the pooling
  unit's lane maxima and registers, activation lane muxing): ``lut_lane * n`` and
  ``ff_lane * n``.
- **control** (address generator with its row-band and pooling-window counters, the
  pooling unit's addresses, sequencer, instruction register, LOAD input streaming, schedule
  ROM in LUTs, score streaming): ``lut_ctrl`` and ``ff_ctrl``.
- **memory logic**: what the block-RAM fit (:mod:`fpgagen.fit.placement`) puts in logic (the
  schedule ROM, LUT RAM), plus the read pipelines of the templated block memories, all
  banked (weight and bias ROMs in parts, the activation RAM in banks, each one row of
  blocks): a register per bank, per group of banks and at the output (one flip-flop per
  bit each; the RAM also registers its write port), and the AND-OR multiplexers over the
  banks (``bank_mux_lut`` LUTs per bank beyond the first and per bit). A RAM in block RAM
  also gets registers from synthesis (``ram_ff_bit`` per bit and ``ram_ff``). A memory
  left to synthesis to split into rows would cost ``mux_lut`` LUTs per row beyond the first
  and per bit and ``out_ff_bit`` flip-flops per bit (none of the current design).

The coefficients are least-squares fits of Yosys's counts for pe 2x2, 4x4 and 8x8 designs
of a small SqueezeNet v1.1 (32x32 input, width 0.125, 1000 classes) and a 4x4 one with 10
classes, after the memory logic is taken off (the memory coefficients are measured on single
memories: ``ram_ff_bit``, ``ram_ff``, and ``bank_mux_lut`` from Yosys runs of the banked
RAM alone at 18 to 144 bits and 1 to 59 banks, ``docs/synthesis.md``).
MAX 10 (4-input LEs) and iCE40 use the ECP5 (LUT4) coefficients: Quartus is not available
here, and iCE40 is not calibrated (it overestimates Yosys's iCE40 LUTs 1.2 to 1.3x).
"""

from ..gateware.ram import ram_banking
from .memories import board_memories
from .multipliers import count_multipliers
from .placement import bank_depth, fit_memories

__all__ = ["COEFFICIENTS", "CALIBRATION", "estimate_logic", "logic_blocks", "memory_logic"]

#: Per family: LUTs and flip-flops per MAC, per lane (column), constant, LUTs per bank
#: and bit of a banked memory (and per row and bit of a memory synthesis splits into
#: rows), flip-flops per RAM in block RAM (per bit of width and fixed) and per output bit
#: of a memory split into rows; the memory terms measured on single memories.
#: Refitted on 2026-12-01 (Yosys 0.70) after the gateware gained row-band addressing, the
#: pooling unit with its pool-state RAM, LOAD instructions streaming the input and
#: instructions widened from 283 to 408 bits: per lane and constant rose (ECP5 LUT 861 ->
#: 894 per lane, 171 -> 328 constant; FF 485 -> 561 per lane, 1356 -> 1636 constant).
#: Refitted again on 2026-12-02 after compressed weights widened the instructions to 433
#: bits and gave the address generator a tile-address pipeline: Yosys moved by at most 57
#: LUTs and 4 flip-flops per design, but the schedule ROM the model counts in logic grew by
#: 25 bits (75 LUTs and 25 flip-flops on ECP5), which the constants take back (ECP5 FF
#: 1636 -> 1615), and the LUT moves (-57 on 2x2 to +54 on 8x8) tilt the ECP5 LUT fit (per
#: lane 894 -> 945, constant 328 -> 107).
COEFFICIENTS = {
    "ecp5": {"lut_mac": 39.1, "lut_lane": 944.5, "lut_ctrl": 107.3,
             "ff_mac": 44.5, "ff_lane": 561.1, "ff_ctrl": 1615.3, "mux_lut": 1.0,
             "bank_mux_lut": 0.77, "ram_ff_bit": 0.2, "ram_ff": 0.0, "out_ff_bit": 1.0},
    "zynq7": {"lut_mac": 29.2, "lut_lane": 682.2, "lut_ctrl": 531.1,
              "ff_mac": 4.6, "ff_lane": 579.9, "ff_ctrl": 1402.0, "mux_lut": 0.5,
              "bank_mux_lut": 0.72, "ram_ff_bit": 0.0, "ram_ff": 0.0, "out_ff_bit": 1.0},
}
#: iCE40 (LUT4, no LUT RAM) and MAX 10 (4-input LEs) take the ECP5 coefficients.
COEFFICIENTS["ice40"] = COEFFICIENTS["ecp5"]
COEFFICIENTS["max10"] = COEFFICIENTS["ecp5"]

#: The synthesis results the coefficients were fitted to: ``(family, pe, classes) -> {"lut",
#: "ff", "bram", "dsp"}`` of SqueezeNet v1.1 at 32x32, width 0.125 (Yosys 0.70,
#: ``benchmarks/calibrate_logic_model.py --rerun`` on 2026-12-02: the gateware with the
#: compressed-weight decoders, which a dense design does not instance, and 433-bit
#: instructions; against the runs of 2026-12-01 LUTs moved by -57 to +54 on ECP5 (4x4: 7201
#: -> 7242) and -19 to +19 on 7-series, flip-flops by +4 on ECP5 and 0 on 7-series; block RAM
#: and multipliers unchanged. The pool-state RAM Yosys puts in LUT RAM as the fit does).
CALIBRATION = {
    ('ecp5', 2, 1000): {'lut': 4239, 'ff': 4511, 'bram': 47, 'dsp': 10},
    ('ecp5', 4, 1000): {'lut': 7242, 'ff': 7807, 'bram': 50, 'dsp': 24},
    ('ecp5', 8, 1000): {'lut': 12547, 'ff': 13593, 'bram': 64, 'dsp': 76},
    ('ecp5', 4, 10): {'lut': 6171, 'ff': 5968, 'bram': 16, 'dsp': 24},
    ('zynq7', 2, 1000): {'lut': 2947, 'ff': 4172, 'bram': 47, 'dsp': 10},
    ('zynq7', 4, 1000): {'lut': 5121, 'ff': 7021, 'bram': 50, 'dsp': 24},
    ('zynq7', 8, 1000): {'lut': 9153, 'ff': 10961, 'bram': 64, 'dsp': 76},
    ('zynq7', 4, 10): {'lut': 4417, 'ff': 5186, 'bram': 16, 'dsp': 24},
}

def _coefficients(board) -> dict:
    try:
        return COEFFICIENTS[board.family]
    except KeyError:
        raise ValueError(f"no logic model for family {board.family!r}") from None


def memory_logic(program, board, *, yosys: bool | None = None) -> dict:
    """LUTs and flip-flops of the memories in logic, of the read multiplexers and of the
    read pipelines of the templated block memories (``templates/rom.v.j2``,
    ``templates/ram.v.j2``).

    ``yosys``: the memories as Yosys builds them (constant ROM columns dropped, rows
    packed); ``None``: as the board's flow does (:func:`fpgagen.fit.memories.board_memories`).
    """
    c = _coefficients(board)
    mems = board_memories(program, board, yosys=yosys)
    fit = fit_memories(mems, board, packed=yosys)
    luts, ffs = fit.logic_luts, fit.logic_ffs
    for p in fit.placements:
        mem = p.memory
        if p.block is None or mem.style != "block":
            continue
        if mem.banked:
            # a register per bank (ROM: in each part's template), per group and at the
            # output; AND-OR multiplexers
            banks, _, groups = ram_banking(mem.depth, bank_depth(mem, board))
            ffs += mem.width * (banks + groups + 1)
            luts += c["bank_mux_lut"] * mem.width * (banks - 1)
            if mem.kind == "ram":  # the write register
                ffs += mem.width + (mem.depth - 1).bit_length() + 1
        else:
            # a ROM built by synthesis from rows of blocks: the row multiplexer and the
            # register after it
            ffs += c["out_ff_bit"] * mem.width
            luts += c["mux_lut"] * mem.width * (p.rows - 1)
        if mem.kind == "ram":
            # registers synthesis adds around a RAM in block RAM
            ffs += c["ram_ff_bit"] * mem.width + c["ram_ff"]
    return {"lut": luts, "ff": ffs}


def logic_blocks(hw, board, program, *, yosys: bool | None = None) -> dict:
    """The estimate per block: ``{block: {"lut", "ff", "dsp"}}`` (floats; see the module
    docstring). ``yosys``: as for :func:`memory_logic`."""
    c = _coefficients(board)
    n = hw.pe_rows
    mem = memory_logic(program, board, yosys=yosys)
    dsp = count_multipliers(hw, board, program.weight_bits)
    return {
        "pe_array": {"lut": c["lut_mac"] * n * n, "ff": c["ff_mac"] * n * n,
                     "dsp": dsp.pe_array},
        "lanes": {"lut": c["lut_lane"] * n, "ff": c["ff_lane"] * n, "dsp": dsp.lanes},
        "control": {"lut": c["lut_ctrl"], "ff": c["ff_ctrl"], "dsp": dsp.control},
        "memory_logic": {"lut": mem["lut"], "ff": mem["ff"], "dsp": 0},
    }


def estimate_logic(hw, board, program, *, yosys: bool | None = None) -> dict:
    """LUTs, flip-flops and hard multipliers of ``program``'s accelerator on ``board``.

    Parameters
    ----------
    hw : HwParams
    board : Board
    program : Program
    yosys : bool or None
        Count the memories as Yosys builds them (the view the coefficients were fitted
        in); ``None``: as the board's flow does (:func:`fpgagen.fit.memories.board_memories`).

    Returns
    -------
    dict
        ``{"lut": int, "ff": int, "dsp": int, "blocks": {block: {...}}}``.
    """
    blocks = logic_blocks(hw, board, program, yosys=yosys)
    total = {key: int(round(sum(b[key] for b in blocks.values())))
             for key in ("lut", "ff", "dsp")}
    total["blocks"] = {name: {k: int(round(v)) for k, v in b.items()}
                       for name, b in blocks.items()}
    return total
