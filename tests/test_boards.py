"""Board files: every bundled board loads with its data sheet figures, and a malformed or
incomplete board file gets one clear line naming the file and the field."""

from pathlib import Path

import pytest
import yaml

from fpgagen.cli import main
from fpgagen.errors import FpgagenError
from fpgagen.devices.board import (BOARDS_DIR, Board, FlashMemory, list_boards, load_board,
                                   resolve_board)

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


# Intel MAX 10 User Flash Memory User Guide: 64-Kbit pages; UFM1 + UFM0 = 8, CFM2 = 48,
# CFM1 = 36 pages. Only the modes "with memory initialization" initialise M9K blocks.
def test_max10_flash():
    b = resolve_board("max10")
    assert [m.name for m in b.memory] == ["M9K"]  # the flash is no memory block
    (ufm,) = b.flash
    assert isinstance(ufm, FlashMemory)
    assert (ufm.name, ufm.word_bits) == ("UFM", 32)
    page = 64 * 1024
    assert dict(ufm.capacity_bits) == {
        "single_compressed_image": 92 * page,  # UFM1, UFM0, CFM2, CFM1
        "single_uncompressed_image": 56 * page,  # UFM1, UFM0, CFM2
        "dual_compressed_images": 8 * page,
        "single_compressed_image_with_memory_init": 8 * page,
        "single_uncompressed_image_with_memory_init": 8 * page}
    assert ufm.capacity("single_compressed_image") == 6_029_312 == 5888 * 1024
    assert ufm.capacity("single_uncompressed_image") == 3_670_016 == 3584 * 1024
    assert ufm.capacity("dual_compressed_images") == 524_288 == 512 * 1024
    assert set(ufm.memory_init_modes) == {"single_compressed_image_with_memory_init",
                                          "single_uncompressed_image_with_memory_init"}
    assert ufm.default_mode == "single_compressed_image"
    assert not ufm.allows_memory_init("single_compressed_image")
    assert ufm.allows_memory_init("single_uncompressed_image_with_memory_init")
    assert ufm.modes_for(memory_init=False) == ("single_compressed_image",)
    assert ufm.modes_for(memory_init=True) == ufm.memory_init_modes
    assert (ufm.read_latency_cycles, ufm.max_burst_words, ufm.burst_throughput,
            ufm.max_clock_mhz) == (5, 128, (4, 7), 116.0)
    with pytest.raises(KeyError):
        ufm.capacity("quad_images")


@pytest.mark.parametrize("name", [n for n in BUNDLED if n != "max10"])
def test_other_boards_have_no_flash(name):
    assert resolve_board(name).flash == ()


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
    "bad-kind": (lambda d: d["memory"][0].update(kind="eeprom"),
                 r"field 'memory\[0\]\.kind': expected one of block, spram, uram, flash, not "
                 r"'eeprom'"),
    "block-as-flash": (lambda d: d["memory"][0].update(kind="flash"),
                       r"field 'memory\[0\]\.bits': unknown field; expected one of name, kind, "
                       r"word_bits, capacity_bits"),
    "no-block-ram": (lambda d: d["memory"][0].update(kind="spram"),
                     r"field 'memory': needs at least one memory block of kind 'block'"),
    "memory-not-list": (lambda d: d.update(memory={"name": "M9K"}),
                        r"field 'memory': expected a non-empty list of memory blocks"),
    "empty-name": (lambda d: d.update(name=""),
                   r"field 'name': expected a non-empty string, not ''"),
}


def _ufm(d) -> dict:
    """The flash entry of the max10 file."""
    (ufm,) = [m for m in d["memory"] if m["kind"] == "flash"]
    return ufm


def _mode(d, mode, bits):
    _ufm(d)["capacity_bits"][mode] = bits


#: A flash entry broken one way, and the message (each names the field and the bad value).
BAD_FLASH = {
    "flash-missing-word-bits": (lambda d: _ufm(d).pop("word_bits"),
                                r"field 'memory\[1\]\.word_bits': missing"),
    "flash-missing-default-mode": (lambda d: _ufm(d).pop("default_mode"),
                                   r"field 'memory\[1\]\.default_mode': missing"),
    "flash-missing-capacity": (lambda d: _ufm(d).pop("capacity_bits"),
                               r"field 'memory\[1\]\.capacity_bits': missing"),
    "flash-unknown-field": (lambda d: _ufm(d).update(pages=92),
                            r"field 'memory\[1\]\.pages': unknown field; expected one of name, "
                            r"kind, word_bits"),
    "flash-block-field": (lambda d: _ufm(d).update(count=1),
                          r"field 'memory\[1\]\.count': unknown field"),
    "flash-zero-capacity": (lambda d: _mode(d, "single_compressed_image", 0),
                            r"field 'memory\[1\]\.capacity_bits\.single_compressed_image': "
                            r"expected a positive integer of bits, not 0"),
    "flash-negative-capacity": (lambda d: _mode(d, "dual_compressed_images", -524288),
                                r"field 'memory\[1\]\.capacity_bits\.dual_compressed_images': "
                                r"expected a positive integer of bits, not -524288"),
    "flash-float-capacity": (lambda d: _mode(d, "single_compressed_image", 5888.5),
                             r"capacity_bits\.single_compressed_image': expected a positive "
                             r"integer of bits, not 5888\.5"),
    "flash-bool-capacity": (lambda d: _mode(d, "single_compressed_image", True),
                            r"capacity_bits\.single_compressed_image': expected a positive "
                            r"integer of bits, not True"),
    "flash-absurd-capacity": (lambda d: _mode(d, "single_compressed_image", 1 << 40),
                              r"capacity_bits\.single_compressed_image': expected at most "
                              r"4_294_967_296 bits, not 1099511627776"),
    "flash-partial-word": (lambda d: _mode(d, "single_compressed_image", 6029313),
                           r"capacity_bits\.single_compressed_image': 6029313 bits is not a "
                           r"whole number of 32-bit words"),
    "flash-bad-mode-name": (lambda d: _mode(d, "Single Compressed Image", 6029312),
                            r"field 'memory\[1\]\.capacity_bits': "
                            r"expected a mode name of lower-case letters, digits and _ .*not "
                            r"'Single Compressed Image'"),
    "flash-number-mode-name": (lambda d: _mode(d, 7, 6029312),
                               r"field 'memory\[1\]\.capacity_bits': expected a mode name "
                               r".*, not 7"),
    "flash-no-modes": (lambda d: _ufm(d).update(capacity_bits={}),
                       r"field 'memory\[1\]\.capacity_bits': expected a mapping of "
                       r"configuration mode to bits, not \{\}"),
    "flash-capacity-list": (lambda d: _ufm(d).update(capacity_bits=[6029312]),
                            r"field 'memory\[1\]\.capacity_bits': expected a mapping of "
                            r"configuration mode to bits, not \[6029312\]"),
    "flash-default-not-a-mode": (lambda d: _ufm(d).update(default_mode="quad_images"),
                                 r"field 'memory\[1\]\.default_mode': 'quad_images' is not a "
                                 r"mode of capacity_bits \(expected one of .*"
                                 r"single_compressed_image, "),
    "flash-default-not-text": (lambda d: _ufm(d).update(default_mode=3),
                               r"field 'memory\[1\]\.default_mode': expected a mode name .*, "
                               r"not 3"),
    "flash-init-not-a-mode": (lambda d: _ufm(d)["memory_init_modes"].append("dual_images"),
                              r"field 'memory\[1\]\.memory_init_modes\[2\]': 'dual_images' is "
                              r"not a mode of capacity_bits"),
    "flash-init-twice": (lambda d: _ufm(d)["memory_init_modes"].append(
                             "single_compressed_image_with_memory_init"),
                         r"field 'memory\[1\]\.memory_init_modes\[2\]': "
                         r"'single_compressed_image_with_memory_init' is listed twice"),
    "flash-init-not-list": (lambda d: _ufm(d).update(memory_init_modes="all"),
                            r"field 'memory\[1\]\.memory_init_modes': expected a list of modes "
                            r".*, not 'all'"),
    "flash-zero-word-bits": (lambda d: _ufm(d).update(word_bits=0),
                             r"field 'memory\[1\]\.word_bits': expected a positive integer, "
                             r"not 0"),
    "flash-zero-latency": (lambda d: _ufm(d).update(read_latency_cycles=0),
                           r"field 'memory\[1\]\.read_latency_cycles': expected a positive "
                           r"integer, not 0"),
    "flash-negative-burst": (lambda d: _ufm(d).update(max_burst_words=-128),
                             r"field 'memory\[1\]\.max_burst_words': expected a positive "
                             r"integer, not -128"),
    "flash-throughput-shape": (lambda d: _ufm(d).update(burst_throughput=[4]),
                               r"field 'memory\[1\]\.burst_throughput': expected \[words, "
                               r"clocks\] with positive integers, not \[4\]"),
    "flash-throughput-zero": (lambda d: _ufm(d).update(burst_throughput=[0, 7]),
                              r"field 'memory\[1\]\.burst_throughput': expected \[words, "
                              r"clocks\] with positive integers, not \[0, 7\]"),
    "flash-throughput-too-fast": (lambda d: _ufm(d).update(burst_throughput=[8, 7]),
                                  r"field 'memory\[1\]\.burst_throughput': 8 words in 7 clocks "
                                  r"is more than one word per clock"),
    "flash-clock-text": (lambda d: _ufm(d).update(max_clock_mhz="fast"),
                         r"field 'memory\[1\]\.max_clock_mhz': expected a positive number of "
                         r"MHz, not 'fast'"),
    "flash-clock-zero": (lambda d: _ufm(d).update(max_clock_mhz=0),
                         r"field 'memory\[1\]\.max_clock_mhz': expected a positive number of "
                         r"MHz, not 0"),
    "flash-name-twice": (lambda d: _ufm(d).update(name="M9K"),
                         r"field 'memory\[1\]\.name': 'M9K' is listed twice"),
    "flash-bad-name": (lambda d: _ufm(d).update(name="UFM 0"),
                       r"field 'memory\[1\]\.name': expected letters, digits, _ and -.*, not "
                       r"'UFM 0'"),
    "flash-only": (lambda d: d.update(memory=[_ufm(d)]),
                   r"field 'memory': needs at least one memory block of kind 'block'"),
}
BAD.update(BAD_FLASH)


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


def test_flash_without_memory_init_modes_loads(tmp_path):
    """An empty ``memory_init_modes``: no mode initialises block RAM."""
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(_mutate(lambda d: _ufm(d).update(memory_init_modes=[]))))
    (ufm,) = load_board(path).flash
    assert ufm.memory_init_modes == () and ufm.modes_for(memory_init=True) == ()


def test_board_files_are_pure_data():
    """Only the fields of the format (docs/boards.md), nothing executable."""
    for p in list_boards():
        data = yaml.safe_load(Path(p).read_text())
        assert set(data) <= {"name", "vendor", "family", "device", "package", "speed_grade",
                             "clock_mhz", "luts", "ffs", "multiplier", "multipliers",
                             "memory", "description"}
