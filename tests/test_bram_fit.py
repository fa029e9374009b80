"""Block RAM mapping against counts worked out by hand from the data sheet geometries, the
logic rule for small memories, the design's memory list, multipliers per MAC, the per-layer
apportioning, the 10M50 verdict for SqueezeNet v1.1, and the user flash a design leaves on
the MAX 10."""

import dataclasses
import math

import numpy as np
import pytest

from fpgagen.frontend import generate_weights
from fpgagen.hw import HwParams
from fpgagen.devices.board import MemoryBlock, resolve_board
from fpgagen.fit.flash import flash_note, flash_use
from fpgagen.fit.placement import bank_depth, blocks_for, fit_memories
from fpgagen.fit.layers import layer_rows
from fpgagen.fit.memories import board_memories, synthesized_memories
from fpgagen.fit.multipliers import count_multipliers, default_pe
from fpgagen.fit.verdict import make_verdict
from fpgagen.schedule.memory_map import LogicalMemory, MemoryRole
from fpgagen.schedule.memory_map import memory_map as design_memories
from fpgagen.nets import NetOptions, build_net
from fpgagen.passes import quantize
from fpgagen.schedule import INSTRUCTION_BITS, lower

# Data sheet geometries, written out here (not read from the board files).
M9K = MemoryBlock("M9K", 9216, ((8192, 1), (4096, 2), (2048, 4), (1024, 8), (1024, 9),
                                (512, 16), (512, 18), (256, 32), (256, 36)), 182, "block")
RAMB18 = MemoryBlock("RAMB18E1", 18432, ((16384, 1), (8192, 2), (4096, 4), (2048, 9),
                                         (1024, 18), (512, 36)), 280, "block")
ECP5_EBR = MemoryBlock("EBR", 18432, ((16384, 1), (8192, 2), (4096, 4), (2048, 9),
                                      (1024, 18), (512, 36)), 208, "block")
ICE40_EBR = MemoryBlock("EBR", 4096, ((2048, 2), (1024, 4), (512, 8), (256, 16)), 30, "block")


def rom(depth, width, style="block"):
    return LogicalMemory("m", depth, width, "rom", style=style)


def ram(depth, width, style="block"):
    return LogicalMemory("m", depth, width, "ram", style=style)


# (memory, block type, blocks worked out by hand)
HAND = {
    # SqueezeNet v1.1 weight bank on 16x16 PEs: 4828 words x 128 bits.
    # M9K: 8Kx1 1x128=128, 4Kx2 2x64=128, 2Kx4 3x32=96, 1Kx8 5x16=80, 1Kx9 5x15=75,
    #      512x16 10x8=80, 512x18 10x8=80, 256x32 19x4=76, 256x36 19x4=76 -> 75
    "v11-bank-m9k": (rom(4828, 128), M9K, 75),
    # RAMB18: 16Kx1 1x128, 8Kx2 1x64, 4Kx4 2x32=64, 2Kx9 3x15=45, 1Kx18 5x8=40,
    #         512x36 10x4=40 -> 40
    "v11-bank-ramb18": (rom(4828, 128), RAMB18, 40),
    # bias bank 247 x 40: M9K 256x32 1x2=2 (256x36 also 2; 512x18 3, 1Kx9 5) -> 2
    "bias-m9k": (rom(247, 40), M9K, 2),
    # activation memory 76614 x 144: M9K 1Kx9 75x16=1200, 512x18 150x8=1200,
    #   256x36 300x4=1200, 8Kx1 10x144=1440 -> 1200
    "act-m9k": (ram(76614, 144), M9K, 1200),
    # RAMB18: 1Kx18 75x8=600, 512x36 150x4=600, 2Kx9 38x16=608 -> 600
    "act-ramb18": (ram(76614, 144), RAMB18, 600),
    # 1024 x 8 ROM: one RAMB18 in 2Kx9 (the Yosys result of ../shared/docs/toolchain.md)
    "1kx8-ramb18": (rom(1024, 8), RAMB18, 1),
    # depth and width both split: 300 x 40 on M9K: 256x36 2x2=4, 512x16 1x3=3,
    #   512x18 1x3=3, 1Kx9 1x5=5 -> 3
    "300x40-m9k": (rom(300, 40), M9K, 3),
    # 512 x 72 on ECP5 EBR: 512x36 1x2=2
    "512x72-ecp5": (ram(512, 72), ECP5_EBR, 2),
    # iCE40: 1024 x 16: 256x16 4x1=4, 512x8 2x2=4, 1Kx4 1x4=4, 2Kx2 1x8=8 -> 4
    "1kx16-ice40": (rom(1024, 16), ICE40_EBR, 4),
    # 100 x 3 on iCE40: 1Kx4 1x1 -> 1
    "100x3-ice40": (rom(100, 3), ICE40_EBR, 1),
    # 20000 x 1 on M9K: 8Kx1 3x1=3 -> 3
    "20000x1-m9k": (rom(20000, 1), M9K, 3),
}


@pytest.mark.parametrize("case", sorted(HAND))
def test_blocks_for_hand_counts(case):
    mem, block, expected = HAND[case]
    n, (depth, width) = blocks_for(mem, block)
    assert n == expected
    assert (depth, width) in block.configs
    # the chosen configuration really takes that many blocks
    assert math.ceil(mem.depth / depth) * math.ceil(mem.width / width) == n


def test_fewest_blocks_ties_go_to_fewer_rows():
    # 256 x 36: M9K 256x36 takes 1, as does nothing else; 4096 x 2: 4Kx2 (1 row) wins over
    # 2Kx4 (2 rows, 1 block wide = 2) and 8Kx1 (1 row x 2 = 2).
    assert blocks_for(rom(256, 36), M9K) == (1, (256, 36))
    assert blocks_for(rom(4096, 2), M9K) == (1, (4096, 2))


def test_banked_memories_take_whole_rows_of_the_widest_best_configuration():
    # 3236 x 64 on ECP5 EBR: 7 banks of 512 x 36, two blocks each = 14; packed rows of one
    # memory would share blocks: ceil(7 * 64 / 36) = 13.
    banked = LogicalMemory("act", 3236, 64, "ram", style="block", banked=True)
    assert blocks_for(banked, ECP5_EBR, packed=True) == (14, (512, 36))
    assert blocks_for(ram(3236, 64), ECP5_EBR, packed=True) == (13, (512, 36))
    # the activation RAM of the ECP5 Fmax design: 17,672 x 72 = 35 banks x 2 blocks
    act = LogicalMemory("act", 17672, 72, "ram", style="block", banked=True)
    assert blocks_for(act, ECP5_EBR) == (70, (512, 36))
    # 18 bits: one 1K x 18 block per bank, not half of a 512 x 36 one
    assert blocks_for(LogicalMemory("act", 3000, 18, "ram", banked=True), ECP5_EBR) == \
        (3, (1024, 18))
    # 4096 x 72 on iCE40: 512 x 8, 1K x 4 and 2K x 2 all take 72 blocks; the widest wins,
    # so each bank is one row of nine 512 x 8 blocks (256 x 16 would take 80)
    assert blocks_for(LogicalMemory("act", 4096, 72, "ram", banked=True), ICE40_EBR) == \
        (72, (512, 8))


def test_bank_depth_is_the_chosen_configuration_depth():
    act = LogicalMemory("act", 17672, 72, "ram", style="block", banked=True)
    assert bank_depth(act, resolve_board("ecp5-85")) == 512
    assert bank_depth(LogicalMemory("act", 3000, 18, "ram", style="block", banked=True),
                      resolve_board("ecp5-85")) == 1024
    with pytest.raises(ValueError, match="not banked"):
        bank_depth(ram(3000, 18), resolve_board("ecp5-85"))


def test_small_memories_go_to_logic_by_the_rule():
    max10, zynq, ice40 = (resolve_board(n) for n in ("max10", "zynq7020", "ice40-up5k"))
    schedule = LogicalMemory("schedule", 30, INSTRUCTION_BITS, "rom")
    log_ram = LogicalMemory("cycle_log", 30, 32, "ram")
    scores = LogicalMemory("scores", 63, 256, "ram")
    for board in (max10, zynq, ice40):
        assert fit_memories([schedule], board).placements[0].in_logic  # ROM <= 64 deep
        assert fit_memories([log_ram], board).placements[0].in_logic  # 960 bits
    # 63 x 256 RAM: LUT RAM on Xilinx; MAX 10 has none and 16 Kbit is too much for FFs:
    # M9K 256x32, 1 row x 8 = 8
    assert fit_memories([scores], zynq).placements[0].in_logic
    p = fit_memories([scores], max10).placements[0]
    assert (p.block, p.blocks) == ("M9K", 8)
    # a templated bank ROM asks for block RAM however small it is
    p = fit_memories([LogicalMemory("bias_0", 34, 40, "rom", style="block")], max10)
    assert p.placements[0].blocks == 2
    # deeper than 64: a block
    assert not fit_memories([rom(65, 8, style="auto")], zynq).placements[0].in_logic
    # the schedule staging buffer of a flash design (style logic) is registers on every
    # family, however many bits: one flip-flop per bit and the loader's word register, a
    # read multiplexer of about a LUT per two words and bit
    buffer = LogicalMemory("schedule", 10, 546, "ram", style="logic")
    for board in (max10, zynq, ice40):
        p = fit_memories([buffer], board).placements[0]
        assert p.in_logic and (p.ffs, p.luts) == (11 * 546, 5 * 546)


def test_spram_holds_none_of_the_design_memories():
    ice40 = resolve_board("ice40-up5k")
    fit = fit_memories([ram(16384, 16), rom(16384, 16)], ice40)
    assert fit.totals == {"EBR": 128, "SPRAM": 0}  # 256x16: 64 rows x 1, twice
    assert not fit.fits


def test_totals_and_fits():
    max10 = resolve_board("max10")
    fit = fit_memories([rom(4828, 128)] * 2 + [ram(1000, 36)], max10)
    assert fit.totals == {"M9K": 75 + 75 + 4}  # 1000 x 36: 256x36 4x1 = 4
    assert fit.fits
    fit = fit_memories([rom(4828, 128)] * 3, max10)
    assert fit.totals == {"M9K": 225} and not fit.fits


# --- the design's memories ------------------------------------------------------------------

def _program(width=0.25, size=64, pe=8, weight_bits=8, classes=None, net="squeezenet1_1"):
    from fpgagen.passes import QuantConfig

    g = generate_weights(build_net(net, NetOptions(input_size=size, width=width,
                                                   num_classes=classes)))
    q = quantize(g, QuantConfig(weight_bits=weight_bits))
    return q, lower(q, HwParams(pe_rows=pe, pe_cols=pe))


def test_design_memories_follow_the_top_level():
    graph, program = _program(pe=8)
    mems = {m.name: m for m in design_memories(program)}
    assert len(mems) == 2 * 8 + 5
    for c in range(8):
        assert (mems[f"weights_{c}"].depth, mems[f"weights_{c}"].width) == \
            (program.weight_depth, 8 * getattr(program, "weight_bits", 8))
        assert (mems[f"bias_{c}"].depth, mems[f"bias_{c}"].width) == (program.bias_depth, 40)
        assert mems[f"weights_{c}"].kind == "rom" and mems[f"weights_{c}"].style == "block"
    assert (mems["act"].depth, mems["act"].width, mems["act"].kind) == \
        (program.act_depth, 9 * 8, "ram")
    # the templated block memories are banked; the ones synthesis places are not
    assert {n for n, m in mems.items() if m.banked} == \
        {"act", *(f"{k}_{c}" for k in ("weights", "bias") for c in range(8))}
    assert (mems["schedule"].depth, mems["schedule"].width) == (len(program.instructions),
                                                                 INSTRUCTION_BITS)
    assert (mems["scores"].depth, mems["scores"].width) == (-(-1000 // 8), 16 * 8)
    assert (mems["cycle_log"].depth, mems["cycle_log"].width) == (len(program.instructions), 32)
    # the fused max pools' partial maxima: per pool, a word per output group and column
    assert (mems["pool_state"].depth, mems["pool_state"].width) == (program.pool_depth, 9 * 8)
    assert program.pool_depth > 0

def _program_with_banks(weights, bias, shift):
    """A 2x2 program whose weight, bias and shift banks are replaced by the given arrays."""
    _, program = _program(width=0.125, size=32, pe=2, classes=10)
    return dataclasses.replace(program, weight_banks=np.asarray(weights, np.int8),
                               bias_banks=np.asarray(bias, np.int64),
                               shift_banks=np.asarray(shift, np.int64))


def test_synthesized_memories_drop_constant_columns():
    # 2 columns x 4 words x 2 lanes of int8, worked out by hand:
    # column 0: lane 0 takes 0 and -1 (every bit varies), lane 1 is 0 (8 constant bits);
    # column 1: lane 0 takes 0 and 1 (bits 1..7 constant), lane 1 is -1 (8 constant bits)
    weights = [[[0, 0], [-1, 0], [0, 0], [-1, 0]],
               [[0, -1], [1, -1], [1, -1], [0, -1]]]
    # bias column 0: 0 and -1 (all 32 bits vary), shifts 0..15 (bits 4..7 constant);
    # column 1: one value everywhere (all 32 + 8 bits constant)
    bias = [[0, -1, -1, 0], [5, 5, 5, 5]]
    shift = [[0, 15, 3, 12], [3, 3, 3, 3]]
    program = _program_with_banks(weights, bias, shift)
    board = resolve_board("ecp5-85")
    declared = {m.name: m for m in design_memories(program)}
    built = {m.name: m for m in synthesized_memories(program, board)}
    assert (declared["weights_0"].width, built["weights_0"].width) == (16, 8)
    assert (declared["weights_1"].width, built["weights_1"].width) == (16, 1)
    assert (declared["bias_0"].width, built["bias_0"].width) == (40, 36)
    assert (declared["bias_1"].width, built["bias_1"].width) == (40, 1)  # at least one bit
    # only the widths of the weight and bias ROMs change; the banked memories keep the
    # RTL's bank depth, chosen for the declared width
    for name, mem in declared.items():
        got = built[name]
        assert got.bank_depth == (bank_depth(mem, board) if mem.banked else None), name
        assert dataclasses.replace(got, width=mem.width, bank_depth=None) == mem, name
        if not name.startswith(("weights_", "bias_")):
            assert got.width == mem.width, name


def test_board_memories_follow_the_boards_flow():
    program = _program_with_banks([[[0, 0]] * 4] * 2, [[-1, 0, 0, 0]] * 2, [[1, 0, 0, 0]] * 2)
    declared = design_memories(program)
    # Yosys synthesizes the Lattice projects; Quartus and Vivado keep the RTL's widths
    for name, yosys in (("ecp5-85", True), ("ice40-up5k", True), ("max10", False),
                        ("zynq7020", False), ("zynq7045", False)):
        board = resolve_board(name)
        built = synthesized_memories(program, board)
        assert built != declared
        assert board_memories(program, board) == (built if yosys else declared), name
        assert board_memories(program, board, yosys=not yosys) == \
            (declared if yosys else built), name


def test_fixed_bank_depth_counts_bank_by_bank():
    ebr = resolve_board("ecp5-85").block_ram
    rom = dict(kind="rom", style="block", banked=True)
    # 40 bits: the fit would take 1024 x 18 (3 blocks of one 1024-word bank) for 700 words;
    # the same bank 36 bits wide is 2 blocks of 1024 x 18 (or two 512 x 36 rows)
    assert blocks_for(LogicalMemory("b", 700, 40, **rom), ebr)[0] == 3
    assert blocks_for(LogicalMemory("b", 700, 36, bank_depth=1024, **rom), ebr)[0] == 2
    # three banks of 512 words, each one 512 x 36 block
    assert blocks_for(LogicalMemory("b", 1300, 36, bank_depth=512, **rom), ebr) == (3, (512, 36))
    assert bank_depth(LogicalMemory("b", 1300, 36, bank_depth=512, **rom),
                      resolve_board("ecp5-85")) == 512
    with pytest.raises(ValueError, match="bank_depth must be None or.*not 512 .banked=False"):
        LogicalMemory("b", 1300, 36, "rom", bank_depth=512)
    with pytest.raises(ValueError, match="bank_depth .* not 0"):
        LogicalMemory("b", 1300, 36, bank_depth=0, **rom)


def test_weight_bits_narrow_the_banks():
    _, p8 = _program(weight_bits=8)
    _, p4 = _program(weight_bits=4)
    if not hasattr(p4, "weight_bits"):
        pytest.skip("Program does not expose weight_bits yet")
    w8 = {m.name: m for m in design_memories(p8)}["weights_0"]
    w4 = {m.name: m for m in design_memories(p4)}["weights_0"]
    assert (w8.width, w4.width) == (64, 32)


def test_layer_rows_apportion_the_bank_blocks():
    graph, program = _program(pe=8)
    board = resolve_board("max10")
    fit = fit_memories(design_memories(program), board)
    rows = layer_rows(program, graph, fit)
    assert len(rows) == len(program.layers)
    assert sum(r["weight_words"] for r in rows) == program.weight_depth
    assert sum(r["bram"] for r in rows) == fit.blocks_of(MemoryRole.WEIGHTS) + fit.blocks_of(MemoryRole.BIAS)
    assert sum(r["macs"] for r in rows) == program.macs
    assert sum(r["cycles"] for r in rows) == program.cycles_predicted
    conv10 = next(r for r in rows if r["name"] == "conv10")
    assert conv10["weights"] == 128 * 1000  # 512 * 0.25 inputs, 1000 classes
    assert conv10["bram"] == max(r["bram"] for r in rows)  # the classifier dominates


# --- multipliers ---------------------------------------------------------------------------

def test_multipliers_per_block():
    boards = {n: resolve_board(n) for n in ("max10", "zynq7020", "ecp5-85", "ice40-up5k")}
    # 9-bit activation x 8-bit weight: two per MAX 10 18x18 (9x9 mode, Quartus); one
    # MULT18X18D on ECP5 (Yosys does not use the 9x9 mode); one DSP48E1; one MAC16
    pe16 = {n: count_multipliers(16, b).pe_array for n, b in boards.items()}
    assert pe16 == {"max10": 128, "zynq7020": 256, "ecp5-85": 256, "ice40-up5k": 256}
    # one GAP product per lane (two 16x16 MAC16 on iCE40), four in the address generator
    assert count_multipliers(HwParams(pe_rows=8, pe_cols=8), boards["ice40-up5k"]).lanes == 16
    assert count_multipliers(16, boards["max10"]).total == 128 + 16 + 4
    # default PE array: the largest square one whose design's multipliers the board has
    # (at most 16x16): 16x16 on MAX 10 would need 148 > 144; 8x8 on the XC7Z020 takes
    # 64 + 8 + 4 of 220 and 16x16 too many; the iCE40's 8 MAC16 hold not even 2x2
    assert [default_pe(resolve_board(n)) for n in ("max10", "zynq7020", "zynq7045", "ecp5-85",
                                                   "ice40-up5k")] == [8, 8, 16, 8, 2]


# --- SqueezeNet v1.1 on the 10M50 ----------------------------------------------------------

def test_squeezenet_v11_on_the_10m50():
    """Why "~6.6x short": the weights alone. 1,235,496 parameters stored as 16 banks of
    4828 x 128 bits = 9,887,744 bits (9.9 Mbit), against 182 M9K x 8 Kbit = 1,490,944 bits
    at 8-bit widths: 6.63x. Block by block, 75 M9K per bank, 1200 in all: 6.59x the 182.
    The activation memory with whole tensors took 76,614 words x 144 bits (11 Mbit, 1200
    M9K) before the max pools were fused into the convs before them (conv1's 113x113
    output, 0.92 MB, is never stored) and the input streamed in by LOAD instructions;
    now at most half of that, in rows of 256 words x 4 M9K of 36 bits."""
    graph, program = _program(width=1.0, size=227, pe=16)
    board = resolve_board("max10")
    fit = fit_memories(design_memories(program), board)
    assert program.weight_banks.size * 8 == 9_887_744
    assert round(program.weight_banks.size * 8 / (182 * 8192), 2) == 6.63
    assert fit.blocks_of(MemoryRole.WEIGHTS) == 16 * 75 == 1200
    assert round(1200 / 182, 1) == 6.6
    assert program.act_depth <= 76_614 // 2
    assert fit.blocks_of(MemoryRole.ACTIVATIONS) == -(-program.act_depth // 256) * 4
    assert fit.blocks_of(MemoryRole.BIAS) == 32
    assert fit.placement("scores").blocks == 8
    rest = sum(fit.placement(n).blocks for n in ("schedule", "cycle_log", "pool_state"))
    total = 1200 + fit.blocks_of(MemoryRole.ACTIVATIONS) + 32 + 8 + rest
    assert fit.totals["M9K"] == total
    verdict = make_verdict(board, fit, {"lut": 1, "ff": 1, "dsp": 128})
    assert not verdict.fits
    assert [r.key for r in verdict.overflows] == ["bram"]
    assert verdict["bram"].ratio == pytest.approx(total / 182)
    assert 9.5 <= verdict["bram"].ratio <= 10.5  # was 13.4 before the pools were fused


# --- the on-chip flash ----------------------------------------------------------------------

LOGIC = {"lut": 1, "ff": 1, "dsp": 1}
WITH_INIT = ("single_compressed_image_with_memory_init",
             "single_uncompressed_image_with_memory_init")


def _max10_with_flash(**changes):
    board = resolve_board("max10")
    return dataclasses.replace(board, flash=(dataclasses.replace(board.flash[0], **changes),))


def test_a_rom_in_block_ram_leaves_the_memory_init_modes():
    """A ROM in M9K is initialised by the bitstream: of the UFM's modes only those with
    memory initialization remain, with 512 Kbit, not the default mode's 5,888 Kbit."""
    max10 = resolve_board("max10")
    fit = fit_memories([rom(4828, 128), ram(1000, 36)], max10)
    (use,) = flash_use(max10, fit)
    assert use.initialized == ("m",) and use.used_bits == 0
    assert use.modes == WITH_INIT and use.mode == WITH_INIT[0]
    assert use.available_bits == 512 * 1024 and not use.default_fits_design
    note = flash_note(use, "M9K")
    assert "0 bytes used" in note and "no fpgagen design stores data in flash yet" in note
    assert ("default mode single_compressed_image has 5,888 Kbit (753,664 bytes) of user "
            "flash but cannot initialise block RAM" in note)
    assert (f"needs {WITH_INIT[0]} or {WITH_INIT[1]}, which leave 512 Kbit (65,536 bytes)"
            in note)
    verdict = make_verdict(max10, fit, LOGIC)
    assert [r.key for r in verdict.resources] == ["bram", "dsp", "lut", "ff"]
    ufm = verdict["ufm"]
    assert (ufm.unit, ufm.used, ufm.available, ufm.fits, ufm.percent) == ("bytes", 0, 65_536,
                                                                         True, 0.0)
    assert verdict.flash == (ufm,) and verdict.fits


def test_no_initialised_block_keeps_the_default_mode():
    max10 = resolve_board("max10")
    # a RAM in M9K and a 16-word ROM in logic: no block has initial contents
    fit = fit_memories([ram(1000, 36), rom(16, 8, style="auto")], max10)
    assert fit.placement("m").block == "M9K"
    (use,) = flash_use(max10, fit)
    assert use.initialized == () and use.modes == ("single_compressed_image",)
    assert use.available_bits == 5888 * 1024 and use.default_fits_design
    assert make_verdict(max10, fit, LOGIC)["ufm"].available == 5888 * 128
    assert "default mode single_compressed_image: 5,888 Kbit" in flash_note(use, "M9K")


def test_a_default_mode_with_memory_init_is_kept():
    board = _max10_with_flash(default_mode=WITH_INIT[1])
    (use,) = flash_use(board, fit_memories([rom(4828, 128)], board))
    assert use.modes == (WITH_INIT[1],) and use.default_fits_design
    assert use.available_bits == 512 * 1024


def test_no_memory_init_mode_leaves_no_flash_to_a_design_with_roms():
    board = _max10_with_flash(memory_init_modes=())
    fit = fit_memories([rom(4828, 128)], board)
    (use,) = flash_use(board, fit)
    assert use.modes == () and use.mode is None and use.available_bits == 0
    assert "none of the flash is available to it" in flash_note(use, "M9K")
    r = make_verdict(board, fit, LOGIC)["ufm"]
    assert (r.used, r.available, r.fits, r.percent, r.ratio) == (0, 0, True, 0.0, 0.0)


def test_boards_without_flash_have_no_flash_resource():
    zynq = resolve_board("zynq7020")
    fit = fit_memories([rom(4828, 128)], zynq)
    assert flash_use(zynq, fit) == ()
    verdict = make_verdict(zynq, fit, LOGIC)
    assert verdict.flash == () and verdict.all_resources == verdict.resources
