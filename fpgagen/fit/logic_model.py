"""LUTs, flip-flops and hard multipliers of the accelerator, per block, with coefficients
calibrated against Yosys synthesis (``benchmarks/calibrate_logic_model.py``, figures in
``docs/synthesis.md``).

The design is ``n x n`` PEs (``n = pe_rows = pe_cols = lanes``). Per block:

- **multipliers**: :func:`fpgagen.fit.multipliers.count_multipliers` (``dsp = k * n**2 + m
  * n + 4`` with ``k = 1``, ``0.5`` on MAX 10 rounded up, and ``m = 1``, ``2`` on iCE40;
  with compressed layers two more on ECP5 and MAX 10, one on 7-series and iCE40, in the
  weight decoders' control).
- **PE array** (input registers, products, two-stage adder trees, accumulators):
  ``lut_mac * n**2`` LUTs and ``ff_mac * n**2`` flip-flops.
- **columns and lanes** (post-processors with their four stages and 64-bit rounding
  shifters, bias delay line, vector-unit lanes with their finishing stages, the pooling
  unit's lane maxima and registers, activation lane muxing): ``lut_lane * n`` and
  ``ff_lane * n``.
- **control** (address generator with its row-band and pooling-window counters, the
  pooling unit's addresses, sequencer, instruction register, LOAD input streaming, schedule
  ROM in LUTs, score streaming): ``lut_ctrl`` and ``ff_ctrl``.
- **weight decoders** (only when the program has compressed layers, ``program.compressed``
  set: :mod:`fpgagen.gateware.weight_decoder`, one per column with its mask and index
  prefetch FIFOs, index shift register, decode stages and the word it assembles, plus their
  control in the top level: codebook load, tile counters): ``lut_dec_mac * n**2 +
  lut_dec_lane * n + lut_dec_ctrl`` LUTs and likewise (``ff_dec_*``) flip-flops; the
  shift register is a weight word wide (``n * weight_bits`` bits per column), hence the
  ``n**2`` terms. Their memories (mask and codebook ROMs, the codebook copies and tile
  buffers) are in the memory logic and the block-RAM fit.
- **wider codes** (``--activation-bits`` or ``--weight-bits`` above 8): the coefficients
  were fitted on 9-bit lanes and 8-bit weight operands only; the PE array's terms are
  scaled by ``(a + w) / 17`` (``a`` the lane width, ``w`` the weight operand's), the
  columns' and lanes' by ``a / 9``, the decoders' ``n**2`` terms by ``w / 8``: a model
  of operands that widen with the codes, not a measurement.
- **flash codebooks** (weights in flash only): :mod:`fpgagen.fit.flash_logic`, counted
  from the gateware's structure rather than fitted.
- **memory logic**: what the block-RAM fit (:mod:`fpgagen.fit.placement`) puts in logic (the
  schedule ROM, LUT RAM, a flash design's schedule staging buffer in flip-flops), plus the
  read pipelines of the templated block memories, all banked (weight and bias ROMs in
  parts, the activation RAM in banks, each one row of blocks): a register per bank, per
  group of banks and at the output (one flip-flop per bit each; the RAM also registers its
  write port), and the AND-OR multiplexers over the banks (``bank_mux_lut`` LUTs per bank
  beyond the first and per bit). A RAM in block RAM also gets registers from synthesis
  (``ram_ff_bit`` per bit and ``ram_ff``). A memory left to synthesis to split into rows
  would cost ``mux_lut`` LUTs per row beyond the first and per bit and ``out_ff_bit``
  flip-flops per bit (none of the current design).

The coefficients are least-squares fits of Yosys's counts for pe 2x2, 4x4 and 8x8 designs
of a small SqueezeNet v1.1 (32x32 input, width 0.125, 1000 classes) and a 4x4 one with 10
classes, after the memory logic is taken off (the memory coefficients are measured on single
memories: ``ram_ff_bit``, ``ram_ff``, and ``bank_mux_lut`` from Yosys runs of the banked
RAM alone at 18 to 144 bits and 1 to 59 banks, ``docs/synthesis.md``).
The decoder coefficients are fitted the same way to the difference between compressed
designs (pe 2x2, 4x4, 8x8, 1000 classes; every convolution compressed as
:data:`CALIBRATION_COMPRESSION` draws it) and the dense design of the same pe, less the
difference of their memory logic (``benchmarks/calibrate_logic_model.py --compressed``).
MAX 10 (4-input LEs) and iCE40 use the ECP5 (LUT4) coefficients: Quartus is not available
here, and iCE40 is not calibrated (it overestimates Yosys's iCE40 LUTs 1.2 to 1.3x).
"""

from ..gateware.ram import ram_banking
from ..hw.spec import ACT_LANE_BITS, WEIGHT_BITS, weight_operand_bits
from .flash_logic import flash_logic
from .memories import board_memories
from .multipliers import count_multipliers
from .placement import bank_depth, fit_memories

__all__ = ["COEFFICIENTS", "DECODER_TERMS", "CALIBRATION", "CALIBRATION_COMPRESSED",
           "CALIBRATION_COMPRESSION", "estimate_logic", "logic_blocks", "memory_logic"]

#: Per family: LUTs and flip-flops per MAC, per lane (column), constant, LUTs per bank
#: and bit of a banked memory (and per row and bit of a memory synthesis splits into
#: rows), flip-flops per RAM in block RAM (per bit of width and fixed) and per output bit
#: of a memory split into rows; the memory terms measured on single memories; the weight
#: decoders' LUTs and flip-flops per MAC, per column and constant (:data:`DECODER_TERMS`).
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
             "bank_mux_lut": 0.77, "ram_ff_bit": 0.2, "ram_ff": 0.0, "out_ff_bit": 1.0,
             "lut_dec_mac": 68.9, "lut_dec_lane": 145.8, "lut_dec_ctrl": 761.3,
             "ff_dec_mac": 43.7, "ff_dec_lane": 232.1, "ff_dec_ctrl": 0.0},
    "zynq7": {"lut_mac": 29.2, "lut_lane": 682.2, "lut_ctrl": 531.1,
              "ff_mac": 4.6, "ff_lane": 579.9, "ff_ctrl": 1402.0, "mux_lut": 0.5,
              "bank_mux_lut": 0.72, "ram_ff_bit": 0.0, "ram_ff": 0.0, "out_ff_bit": 1.0,
              "lut_dec_mac": 40.1, "lut_dec_lane": 284.9, "lut_dec_ctrl": 116.1,
              "ff_dec_mac": 52.9, "ff_dec_lane": 228.2, "ff_dec_ctrl": 0.0},
}
#: The weight decoders' coefficients in ``COEFFICIENTS``, counted only for a program with
#: compressed layers. Fitted on 2026-12-02 (Yosys 0.70, ``benchmarks/calibrate_logic_model.py
#: --compressed``); the flip-flop constant came out negative on both families and is
#: dropped (0).
DECODER_TERMS = ("lut_dec_mac", "lut_dec_lane", "lut_dec_ctrl",
                 "ff_dec_mac", "ff_dec_lane", "ff_dec_ctrl")
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

#: How the compressed calibration designs compress every convolution of the calibration
#: network: ``fpgagen.testing.compressed.compress_randomly(graph,
#: numpy.random.default_rng(seed), index_bits, density)``.
CALIBRATION_COMPRESSION = {"seed": 0, "index_bits": (8, 6, 4), "density": (0.35, 1.0)}

#: The synthesis results the decoder coefficients were fitted to, as ``CALIBRATION`` but of
#: the compressed designs (:data:`CALIBRATION_COMPRESSION`; Yosys 0.70,
#: ``benchmarks/calibrate_logic_model.py --compressed --rerun`` on 2026-12-02). Against the
#: dense design of the same pe: LUT +1398, +3101, +8000 on ECP5 and +911, +1906, +4950 on
#: 7-series for 2x2, 4x4, 8x8; FF +835, +1674, +4695 and +856, +1813, +5256; two more
#: multipliers on ECP5, one on 7-series. Block RAM: the fit counts more than Yosys, which
#: put every tile buffer (on 2x2 72 words deep, which the fit puts in block RAM) and on
#: 7-series the codebook copies (256 x 8) in LUT RAM, and dropped the mask banks whose
#: words are all equal (whole banks of all-ones masks, from the layers of density 1.0).
CALIBRATION_COMPRESSED = {
    ('ecp5', 2, 1000): {'lut': 5637, 'ff': 5346, 'bram': 55, 'dsp': 12},
    ('ecp5', 4, 1000): {'lut': 10343, 'ff': 9481, 'bram': 56, 'dsp': 26},
    ('ecp5', 8, 1000): {'lut': 20547, 'ff': 18288, 'bram': 71, 'dsp': 78},
    ('zynq7', 2, 1000): {'lut': 3858, 'ff': 5028, 'bram': 53, 'dsp': 11},
    ('zynq7', 4, 1000): {'lut': 7027, 'ff': 8834, 'bram': 52, 'dsp': 25},
    ('zynq7', 8, 1000): {'lut': 14103, 'ff': 16217, 'bram': 63, 'dsp': 77},
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
    docstring): ``pe_array``, ``lanes``, ``control``, ``weight_decoders`` (0 for a program
    without compressed layers), ``memory_logic`` and ``flash_codebooks`` (the codebook
    registers, direct lookups and loader gearbox of a design with its weights in flash,
    :mod:`fpgagen.fit.flash_logic`; 0 otherwise). ``yosys``: as for
    :func:`memory_logic`."""
    c = _coefficients(board)
    n = hw.pe_rows
    mem = memory_logic(program, board, yosys=yosys)
    dec = int(program.compressed is not None)  # the decoders exist with compressed layers
    dsp = count_multipliers(hw, board, program.weight_bits, compressed=bool(dec),
                            act_lane_bits=int(program.act_lane_bits))
    # operand widths beyond the fitted 9 x 8 (module docstring, *wider codes*)
    lane, wop = int(program.act_lane_bits), weight_operand_bits(int(program.weight_bits))
    mac = (lane + wop) / (ACT_LANE_BITS + WEIGHT_BITS)
    col = lane / ACT_LANE_BITS
    tile = wop / WEIGHT_BITS
    return {
        "pe_array": {"lut": c["lut_mac"] * n * n * mac, "ff": c["ff_mac"] * n * n * mac,
                     "dsp": dsp.pe_array},
        "lanes": {"lut": c["lut_lane"] * n * col, "ff": c["ff_lane"] * n * col,
                  "dsp": dsp.lanes},
        "control": {"lut": c["lut_ctrl"], "ff": c["ff_ctrl"], "dsp": dsp.control},
        "weight_decoders": {"lut": dec * (c["lut_dec_mac"] * n * n * tile
                                          + c["lut_dec_lane"] * n + c["lut_dec_ctrl"]),
                            "ff": dec * (c["ff_dec_mac"] * n * n * tile
                                         + c["ff_dec_lane"] * n + c["ff_dec_ctrl"]),
                            "dsp": dsp.decoders},
        "memory_logic": {"lut": mem["lut"], "ff": mem["ff"], "dsp": 0},
        "flash_codebooks": {**flash_logic(program), "dsp": 0},
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
