"""Board files: every bundled board loads with its data sheet figures, and a malformed or
incomplete board file gets one clear line naming the file and the field."""

from pathlib import Path

import pytest
import yaml

from fpgagen.cli import main
from fpgagen.errors import FpgagenError
from fpgagen.devices.board import BOARDS_DIR, Board, list_boards, load_board, resolve_board

BUNDLED = ["ecp5-85", "ice40-up5k", "max10", "zynq7020", "zynq7045"]


def test_bundled_boards_are_listed():
    assert [p.stem for p in list_boards()] == BUNDLED


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_board_loads(name):
    board = load_board(BOARDS_DIR / f"{name}.yaml")
    assert isinstance(board, Board)
    assert board.key == name
    assert board.clock_mhz > 0 and board.luts > 0 and board.ffs > 0 and board.multipliers > 0
    for block in board.memory:
        for depth, width in block.configs:
            assert depth * width <= block.bits
    assert board.block_ram.kind == "block"


# Figures from ../shared/docs/anchors.md and the vendors' data sheets.
def test_max10_figures():
    b = resolve_board("max10")
    assert (b.vendor, b.family, b.device, b.clock_mhz) == ("intel", "max10", "10M50DAF484C7G",
                                                           50.0)
    m9k = b.block_ram
    assert (m9k.name, m9k.bits, m9k.count) == ("M9K", 9216, 182)
    assert m9k.total_bits == 1_677_312  # 182 x 9 Kbit = 1,638 Kbit
    # 8K x 1, 4K x 2, 2K x 4, 1K x 8 (or x9), 512 x 16 (x18), 256 x 32 (x36)
    assert set(m9k.configs) == {(8192, 1), (4096, 2), (2048, 4), (1024, 8), (1024, 9),
                                (512, 16), (512, 18), (256, 32), (256, 36)}
    assert (b.multiplier, b.multipliers) == ("18x18", 144)
    assert b.luts == 49760


@pytest.mark.parametrize("name, bram36, dsp", [("zynq7020", 140, 220), ("zynq7045", 545, 900)])
def test_zynq_figures(name, bram36, dsp):
    b = resolve_board(name)
    ramb18 = b.block_ram
    assert ramb18.name == "RAMB18E1" and ramb18.bits == 18 * 1024
    assert ramb18.count == 2 * bram36  # every RAMB36E1 is two RAMB18E1
    assert set(ramb18.configs) == {(16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18),
                                   (512, 36)}
    assert (b.multiplier, b.multipliers) == ("dsp48e1", dsp)


def test_ecp5_and_ice40_figures():
    ecp5 = resolve_board("ecp5-85")
    assert (ecp5.block_ram.name, ecp5.block_ram.count, ecp5.block_ram.bits) == ("EBR", 208,
                                                                               18432)
    assert ecp5.block_ram.total_bits // 1024 == 3744
    assert ecp5.multipliers == 156
    ice = resolve_board("ice40-up5k")
    ebr, spram = ice.memory
    assert (ebr.count, ebr.bits, set(ebr.configs)) == (30, 4096, {(256, 16), (512, 8),
                                                                  (1024, 4), (2048, 2)})
    assert (spram.kind, spram.count, spram.bits, spram.configs) == ("spram", 4, 256 * 1024,
                                                                    ((16384, 16),))
    assert (ice.multiplier, ice.multipliers) == ("mac16", 8)


def test_resolve_by_path_and_name(tmp_path):
    assert resolve_board(str(BOARDS_DIR / "max10.yaml")) == resolve_board("max10")
    with pytest.raises(FpgagenError, match=r"unknown board 'de0'; give a board file or one "
                                           r"of: ecp5-85, ice40-up5k, max10"):
        resolve_board("de0")
    with pytest.raises(FpgagenError, match=r"board file '.*nope.yaml' does not exist"):
        resolve_board(str(tmp_path / "nope.yaml"))


# --- malformed files -----------------------------------------------------------------------

def _valid():
    return yaml.safe_load((BOARDS_DIR / "max10.yaml").read_text())


def _mutate(edit):
    data = _valid()
    edit(data)
    return data


BAD = {
    "missing-device": (lambda d: d.pop("device"), r"field 'device': missing"),
    "missing-memory-count": (lambda d: d["memory"][0].pop("count"),
                             r"field 'memory\[0\]\.count': missing"),
    "unknown-field": (lambda d: d.update(lutz=5),
                      r"field 'lutz': unknown field; expected one of name, vendor"),
    "bad-vendor": (lambda d: d.update(vendor="altera"),
                   r"field 'vendor': expected one of intel, xilinx, lattice, not 'altera'"),
    "family-vendor": (lambda d: d.update(family="ecp5"),
                      r"field 'family': 'ecp5' is not a intel family"),
    "negative-luts": (lambda d: d.update(luts=-3),
                      r"field 'luts': expected a positive integer, not -3"),
    "string-clock": (lambda d: d.update(clock_mhz="fast"),
                     r"field 'clock_mhz': expected a positive number of MHz, not 'fast'"),
    "bool-count": (lambda d: d["memory"][0].update(count=True),
                   r"field 'memory\[0\]\.count': expected a positive integer, not True"),
    "config-too-big": (lambda d: d["memory"][0]["configs"].append([512, 36]),
                       r"field 'memory\[0\]\.configs\[9\]': 512 x 36 = 18432 bits is more "
                       r"than the block's 9216 bits"),
    "config-shape": (lambda d: d["memory"][0]["configs"].__setitem__(2, [2048]),
                     r"field 'memory\[0\]\.configs\[2\]': expected \[depth, width\]"),
    "config-twice": (lambda d: d["memory"][0]["configs"].append([256, 36]),
                     r"field 'memory\[0\]\.configs\[9\]': configuration 256 x 36 is listed "
                     r"twice"),
    "empty-configs": (lambda d: d["memory"][0].update(configs=[]),
                      r"field 'memory\[0\]\.configs': expected a non-empty list"),
    "bad-kind": (lambda d: d["memory"][0].update(kind="flash"),
                 r"field 'memory\[0\]\.kind': expected one of block, spram, uram, not 'flash'"),
    "no-block-ram": (lambda d: d["memory"][0].update(kind="spram"),
                     r"field 'memory': needs at least one memory block of kind 'block'"),
    "memory-not-list": (lambda d: d.update(memory={"name": "M9K"}),
                        r"field 'memory': expected a non-empty list of memory blocks"),
    "empty-name": (lambda d: d.update(name=""),
                   r"field 'name': expected a non-empty string, not ''"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_board_file_names_the_field(tmp_path, case):
    edit, message = BAD[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(yaml.safe_dump(_mutate(edit)))
    with pytest.raises(FpgagenError, match=message) as info:
        load_board(path)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"board file {str(path)!r}: field ")


def test_not_yaml_and_not_a_mapping(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("name: [unclosed\n")
    with pytest.raises(FpgagenError, match=r"board file '.*broken.yaml' is not valid YAML at "
                                           r"line 2"):
        load_board(p)
    p.write_text("- just\n- a list\n")
    with pytest.raises(FpgagenError, match=r"field '\(top level\)': expected a mapping of "
                                           r"fields, not list"):
        load_board(p)


def test_bad_board_file_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(_mutate(lambda d: d.pop("multipliers"))))
    status = main(["build", "--board", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert f"board file {str(path)!r}: field 'multipliers': missing" in err
    assert not (tmp_path / "out").exists()


def test_board_files_are_pure_data():
    """Only the fields of the format (docs/boards.md), nothing executable."""
    for p in list_boards():
        data = yaml.safe_load(Path(p).read_text())
        assert set(data) <= {"name", "vendor", "family", "device", "package", "speed_grade",
                             "clock_mhz", "luts", "ffs", "multiplier", "multipliers",
                             "memory", "description"}
