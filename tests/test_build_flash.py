"""``fpgagen build --weight-store flash``: the weights in the MAX 10's user flash, staged
into RAMs; the fit counts the staging RAMs in block RAM (no weight ROMs), the flash used is
the flash image, the capacity that of the mode the design can use; a board without flash,
a budget without flash and a budget too small are refused (exit status 2); the default
(``bram``) build is unchanged."""

import json
import re
from pathlib import Path

import pytest

from fpgagen.build_flow import (DEFAULT_CHUNK_GROUPS, FLASH_PROPOSALS_NOTE, BuildConfig,
                                default_chunk_bits, flash_timing, step_hw, step_lower,
                                step_weight_store)
from fpgagen.cli import main
from fpgagen.devices.board import BOARDS_DIR, resolve_board
from fpgagen.emit.design import FLASH_IMAGE_FILE
from fpgagen.errors import FpgagenError
from fpgagen.flow import FlowConfig, step_import, step_quantize
from fpgagen.hw.params import WeightStore
from fpgagen.nets import NetOptions
from fpgagen.schedule.memory_map import MemoryMap, MemoryRole
from fpgagen.schedule.weight_chunks import least_chunk_bits

#: Small and quick, fits the DE10-Lite.
SMALL = ["--input-size", "32", "--width", "0.125", "--num-classes", "10", "--pe", "4x4"]
MAX10 = BOARDS_DIR / "max10.yaml"


def _build(capsys, *args):
    status = main(["build", *map(str, args)])
    out = capsys.readouterr()
    return status, out.out, out.err


def _report(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())


def test_flash_build_fits_the_max10(tmp_path, capsys):
    out = tmp_path / "flash"
    status, text, err = _build(capsys, "--board", MAX10, "--weight-store", "flash",
                               "--out", out, *SMALL)
    assert status == 0, text + err
    d = _report(out)
    image = (out / "rtl" / FLASH_IMAGE_FILE).read_bytes()
    ws = d["weight_store"]
    assert ws["store"] == "flash" and ws["chunk_default"] is True
    assert ws["image_bytes"] == len(image) == 4 * ws["image_words"] > 0
    # the flash used is the image, within the capacity of the mode the design can use
    (ufm,) = d["flash"]
    assert ufm["used_bytes"] == len(image)
    assert d["resources"]["ufm"]["used"] == len(image)
    assert d["resources"]["ufm"]["available"] == ufm["available_bytes"]
    # the schedule is in the flash (its staging buffer in flip-flops) and nothing else is a
    # ROM: no block RAM is initialized, so the default mode's 5,888 Kbit are available
    assert ufm["initialized_memories"] == [] == ws["initialized_memories"]
    assert ufm["mode"] == "single_compressed_image"
    assert ufm["available_bytes"] == 6029312 // 8
    assert "flash image" in ufm["note"] and "yet" not in ufm["note"]
    # the weight, bias (and no mask) memories are staging RAMs in M9K, no weight ROMs
    mems = {m["name"]: m for m in d["memory"]["memories"]}
    for name, kind in (("weights", "weight"), ("bias", "bias")):
        assert mems[name]["kind"] == "ram" and mems[name]["block"] == "M9K"
        assert mems[name]["count"] == 4
        assert mems[name]["depth"] == ws["staging"][kind]["depth"]
    assert not [m for m in d["memory"]["memories"]
                if m["kind"] == "rom" and m["block"] != "logic"]
    assert ws["staging_blocks"] == d["memory"]["blocks"]["weights"] + \
        d["memory"]["blocks"]["bias"] > 0
    # the weight bytes are the image's but the schedule's (no codebooks in a dense design)
    sched = ws["schedule"]["bytes"]
    # every schedule word (schedule.bin: ceil(546 / 8) bytes each) takes 18 flash words
    words = len((out / "rtl" / "schedule.bin").read_bytes()) // -(-(433 + 113) // 8)
    assert sched == 4 * 18 * words > 0
    assert d["memory"]["weight_storage"]["flash"] == len(image) - sched
    assert d["memory"]["weight_bytes"] == len(image) - sched
    assert sum(l.get("flash_bytes", 0) for l in d["layers"]) == len(image) - sched
    (schedule,) = [m for m in d["memory"]["memories"] if m["name"] == "schedule"]
    assert (schedule["kind"], schedule["block"]) == ("ram", "logic")
    assert schedule["depth"] == 2 * ws["schedule"]["segment_depth"]
    assert "the schedule" in ufm["note"]
    # the stalls of the loads, part of the predicted cycles
    assert 0 < ws["load_stall_cycles"] < d["performance"]["cycles"]
    assert d["performance"]["load_stall_cycles"] == ws["load_stall_cycles"]
    assert sum(l["load_stall_cycles"] for l in d["layers"]) == ws["load_stall_cycles"]
    assert d["options"]["weight_store"] == "flash"
    # the board file's timing
    assert ws["timing"] == {"latency": 5, "burst_limit": 128, "words_per": 4, "clocks_per": 7}
    assert "weights in flash (UFM): image" in text and "the schedule is in the flash" in text
    md = (out / "report.md").read_text()
    assert f"a flash image of {len(image):,d} bytes" in md
    assert "No block RAM is initialized by the bitstream." in md
    assert "bus__readdata" in (out / "rtl" / "fpgagen_top.v").read_text()


@pytest.mark.parametrize("fmt", ["codebook:4"])
def test_codebook_layers_initialize_no_block_ram(tmp_path, capsys, fmt):
    """A flash design brings every codebook with its chunks into registers: no codebook
    ROM, so no block RAM is initialized and the board's default mode keeps its flash. An
    unpruned codebook layer is a direct one: no masks, no decoders."""
    out = tmp_path / fmt.replace(":", "")
    status, text, err = _build(capsys, "--board", MAX10, "--weight-store", "flash",
                               "--weight-format", fmt, "--out", out, *SMALL)
    assert status == 0, text + err
    d = _report(out)
    (ufm,) = d["flash"]
    assert ufm["initialized_memories"] == []
    assert ufm["mode"] == "single_compressed_image"
    assert ufm["available_bytes"] == 753664
    ws = d["weight_store"]
    assert ws["initialized_memories"] == [] and "codebook" in ws["staging"]
    assert "mask" not in ws["staging"]
    assert ws["staging"]["weight"]["width"] == 16  # 4 lanes of 4-bit indices
    storage = d["memory"]["weight_storage"]
    assert storage["codebooks"] == 0 and storage["total"] == storage["flash"]
    assert storage["flash"] + ws["schedule"]["bytes"] == ufm["used_bytes"]
    assert "No block RAM is initialized by the bitstream." in (out / "report.md").read_text()
    assert not [m for m in d["memory"]["memories"] if m["name"] == "codebook"]


def test_image_larger_than_the_mode_does_not_fit(tmp_path, capsys):
    """An image larger than the flash of the board's mode does not fit, and the verdict
    names the flash and the mode (a MAX 10 board file whose user flash is 64 Kbit in
    every mode: no block RAM is initialized, so the default mode is the one used)."""
    board = tmp_path / "small_ufm.yaml"
    text = MAX10.read_text()
    for mode in ("single_compressed_image", "single_uncompressed_image"):
        text = re.sub(rf"(\n\s+{mode}: )\d+", r"\g<1>65536", text)
    board.write_text(text)
    out = tmp_path / "big"
    status, text, err = _build(capsys, "--board", board, "--weight-store", "flash",
                               "--weight-format", "codebook:4", "--weight-chunk-kb", "0.19",
                               "--out", out, "--input-size", "32", "--width", "0.5",
                               "--num-classes", "10", "--pe", "4x4")
    assert status == 3, text + err
    d = _report(out)
    assert [o["resource"] for o in d["overflows"]] == ["ufm"]
    assert d["weight_store"]["fits"] is False
    assert d["flash"][0]["used_bytes"] > 65536 // 8
    line = next(v for v in d["verdict"] if v.startswith("ufm"))
    assert f"{d['flash'][0]['used_bytes']:,d} bytes" in line
    assert "single_compressed_image" in line
    # flash designs are searched (codebook mixes, smaller inputs): the codebook:4 indices
    # alone exceed 64 Kbit, so nothing fits, and the reports say which options were tried
    assert d["proposals"] == [] and FLASH_PROPOSALS_NOTE in d["notes"]
    assert "No option tried fits" in text
    assert "None of the options tried" in (out / "report.md").read_text()


def test_flash_on_a_board_without_flash_exits_2(tmp_path, capsys):
    status, text, err = _build(capsys, "--board", "zynq7020", "--weight-store", "flash",
                               "--out", tmp_path / "z", *SMALL)
    assert status == 2
    assert "board 'zynq7020'" in err and "has no flash memory" in err and "RAMB18E1" in err
    assert not (tmp_path / "z").exists()


def test_budget_without_flash_and_too_small_exit_2(tmp_path, capsys):
    status, _, err = _build(capsys, "--board", MAX10, "--weight-chunk-kb", "1",
                            "--out", tmp_path / "a", *SMALL)
    assert status == 2 and "--weight-chunk-kb" in err and "bram" in err
    status, _, err = _build(capsys, "--board", MAX10, "--weight-store", "flash",
                            "--weight-chunk-kb", "0.01", "--out", tmp_path / "b", *SMALL)
    assert status == 2 and "alone needs" in err and "81 bits" in err


def test_explicit_budget_and_the_schedule_in_flash(tmp_path, capsys):
    """A budget of one output group of the heaviest conv and two row bands: more chunks
    than the default (the bands share their flash blocks), a long schedule; it is in the
    flash, staged in two halves of the longest segment in flip-flops (no schedule ROM), and
    no block RAM is initialized."""
    out = tmp_path / "kb"
    status, text, err = _build(capsys, "--board", MAX10, "--weight-store", "flash",
                               "--weight-chunk-kb", "0.08", "--steps", "2", "--out", out,
                               *SMALL)
    assert status == 0, text + err
    d = _report(out)
    ws = d["weight_store"]
    assert (ws["chunk_bits"], ws["chunk_default"]) == (655, False)
    (schedule,) = [m for m in d["memory"]["memories"] if m["name"] == "schedule"]
    depth = ws["schedule"]["segment_depth"]
    assert schedule["depth"] == 2 * depth < 16 and schedule["block"] == "logic"
    assert schedule["luts"] > 0 and schedule["bits"] == ws["schedule"]["buffer_bits"]
    assert ws["initialized_memories"] == [] and d["flash"][0]["mode"] == \
        "single_compressed_image"
    assert ws["conv_chunks"] > 64 and ws["image_bytes"] == d["flash"][0]["used_bytes"]
    assert "romstyle" not in (out / "rtl" / "fpgagen_top.v").read_text()


def test_bram_is_the_default_and_unchanged(tmp_path, capsys):
    """``--weight-store bram`` is the build without the option, to the byte, and has no
    weight store section."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert _build(capsys, "--board", MAX10, "--out", a, *SMALL)[0] == 0
    assert _build(capsys, "--board", MAX10, "--weight-store", "bram", "--out", b,
                  *SMALL)[0] == 0
    for f in _report(a)["files"]:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    d = _report(a)
    assert "weight_store" not in d and "weight_store" not in d["options"]
    assert d["flash"][0]["used_bytes"] == 0
    assert not (a / "rtl" / FLASH_IMAGE_FILE).exists()


def test_default_budget_and_board_timing():
    board = resolve_board("max10")
    cfg = BuildConfig(flow=FlowConfig(net_options=NetOptions(input_size=32, width=0.125,
                                                             num_classes=10)),
                      board=board, pe=4, weight_store="flash")
    hw = step_hw(cfg)
    assert hw.weight_store is WeightStore.BRAM
    graph = step_quantize(step_import(cfg.flow), cfg.flow)
    flash_hw = step_weight_store(cfg, graph, hw)
    assert flash_hw.in_flash and flash_hw.flash == flash_timing(board)
    least = least_chunk_bits(step_lower(graph, hw))
    assert flash_hw.weight_chunk_bits == default_chunk_bits(graph, hw) == \
        DEFAULT_CHUNK_GROUPS * least
    with pytest.raises(FpgagenError, match="has no flash memory"):
        step_hw(BuildConfig(board=resolve_board("zynq7020"), weight_store="flash"))


def test_help_names_the_options(capsys):
    for command in ("build", "simulate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "--weight-store {bram,flash}" in text and "--weight-chunk-kb KB" in text


def test_schedule_staging_buffer_replaces_the_rom():
    """A flash design's schedule memory is the staging buffer (two halves of the longest
    segment, registers) whatever the program's length; the ROM design's is a ROM one word
    per instruction."""
    kw = dict(pe_rows=4, pe_cols=4, weight_bits=8, weight_depth=8, bias_depth=4,
              act_depth=64, instructions=1500, score_groups=3, pool_depth=2)
    flash = MemoryMap.build(**kw, staging=True, segment_depth=5).one(MemoryRole.SCHEDULE)
    assert (flash.kind, flash.style, flash.depth) == ("ram", "logic", 10)
    rom = MemoryMap.build(**kw).one(MemoryRole.SCHEDULE)
    assert (rom.kind, rom.style, rom.depth) == ("rom", "auto", 1500)
