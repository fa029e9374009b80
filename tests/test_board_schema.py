"""The board file schema: what each field may hold (``docs/boards.md``). A board file that
would put a script line into a generated project, a non-finite or absurd number, a key given
twice, bytes that are not text or junk that is not a board is refused by ``fpgagen build``
with exit status 2 and one line that names the field (or, for a file that is no YAML text,
what is wrong with the file); never a traceback."""

import pytest

from fpgagen.cli import main
from fpgagen.devices.board import BOARDS_DIR, list_boards, load_board
from fpgagen.errors import FpgagenError

ZYNQ = (BOARDS_DIR / "zynq7045.yaml").read_text()
MAX10 = (BOARDS_DIR / "max10.yaml").read_text()


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# case: (board file contents, what the one line must contain)
BAD = {
    # --- text fields that reach the Tcl, QSF and Makefiles -----------------------------------
    "device-injection": (_edit(ZYNQ, "device: XC7Z045",
                               'device: "XC7Z045]\\nexec touch /tmp/pwned\\n#"'),
                         "field 'device': expected letters, digits, _ and -"),
    "device-tcl-command": (_edit(ZYNQ, "device: XC7Z045", 'device: "XC7Z045[exec ls]"'),
                           "field 'device': expected letters, digits, _ and -"),
    "device-space": (_edit(MAX10, "device: 10M50DAF484C7G", 'device: "10M50 DAF484C7G"'),
                     "field 'device': expected letters, digits, _ and -"),
    "package-quote": (_edit(MAX10, "package: F484", "package: 'F484\"; exec ls; \"'"),
                      "field 'package': expected letters, digits, _ and -"),
    "speed-grade-shell": (_edit(ZYNQ, 'speed_grade: "-2"', 'speed_grade: "-2 $(rm -rf x)"'),
                          "field 'speed_grade': expected letters, digits, _ and -"),
    "speed-grade-inf": (_edit(ZYNQ, 'speed_grade: "-2"', "speed_grade: .inf"),
                        "field 'speed_grade': expected a non-empty string, not inf"),
    "name-newline": (_edit(ZYNQ, "name: ZC706", 'name: "ZC706\\nexec touch /tmp/pwned"'),
                     "field 'name': expected letters, digits, spaces and"),
    "name-backslash": (_edit(ZYNQ, "name: ZC706", "name: 'ZC706 \\'"),
                       "field 'name': expected letters, digits, spaces and"),
    "name-too-long": (_edit(ZYNQ, "name: ZC706", "name: " + "Z" * 65),
                      "field 'name': expected at most 64 characters, not 65"),
    "multiplier-newline": (_edit(ZYNQ, "multiplier: dsp48e1", 'multiplier: "dsp\\n48"'),
                           "field 'multiplier': expected letters, digits, _ and -"),
    "memory-name-brace": (_edit(ZYNQ, "name: RAMB18E1", "name: RAMB18E1}"),
                          "field 'memory[0].name': expected letters, digits, _ and -"),
    "description-lines": (ZYNQ + "description: |\n  two\n  lines\n",
                          "field 'description': expected one line of printable text"),
    "description-control": (ZYNQ + 'description: "bell \\a"\n',
                            "field 'description': expected one line of printable text"),
    "description-line-separator": (ZYNQ + 'description: "a\\Lb"\n',
                                   "field 'description': expected one line of printable text"),
    # --- numbers ---------------------------------------------------------------------------
    "clock-inf": (_edit(ZYNQ, "clock_mhz: 100", "clock_mhz: .inf"),
                  "field 'clock_mhz': expected a finite positive number of MHz, not inf"),
    "clock-minus-inf": (_edit(ZYNQ, "clock_mhz: 100", "clock_mhz: -.inf"),
                        "field 'clock_mhz': expected a finite positive number of MHz, not -inf"),
    "clock-nan": (_edit(ZYNQ, "clock_mhz: 100", "clock_mhz: .nan"),
                  "field 'clock_mhz': expected a finite positive number of MHz, not nan"),
    "clock-absurd": (_edit(ZYNQ, "clock_mhz: 100", "clock_mhz: 1.0e+9"),
                     "field 'clock_mhz': expected a clock from 0.001 to 1000 MHz, not "
                     "1000000000.0"),
    "clock-tiny": (_edit(ZYNQ, "clock_mhz: 100", "clock_mhz: 1.0e-9"),
                   "field 'clock_mhz': expected a clock from 0.001 to 1000 MHz"),
    "clock-zero": (_edit(ZYNQ, "clock_mhz: 100", "clock_mhz: 0"),
                   "field 'clock_mhz': expected a positive number of MHz, not 0"),
    "clock-huge-integer": (_edit(ZYNQ, "clock_mhz: 100", "clock_mhz: 1" + "0" * 400),
                           "field 'clock_mhz': expected a clock from 0.001 to 1000 MHz"),
    "clock-bad-date": (_edit(ZYNQ, "clock_mhz: 100", "clock_mhz: 2001-02-31"),
                       "field 'clock_mhz': cannot read '2001-02-31' at line 11"),
    "luts-absurd": (_edit(ZYNQ, "luts: 218600", "luts: 1000000000000"),
                    "field 'luts': expected at most 100_000_000, not 1000000000000"),
    "luts-too-many-digits": (_edit(ZYNQ, "luts: 218600", "luts: 1" + "0" * 5000),
                             "field 'luts': cannot read '1000"),
    "multipliers-zero": (_edit(ZYNQ, "multipliers: 900", "multipliers: 0"),
                         "field 'multipliers': expected a positive integer, not 0"),
    "negative-count": (_edit(ZYNQ, "count: 1090", "count: -5"),
                       "field 'memory[0].count': expected a positive integer, not -5"),
    "bits-absurd": (_edit(ZYNQ, "bits: 18432", "bits: 1073741824"),
                    "field 'memory[0].bits': expected at most 4_194_304, not 1073741824"),
    "depth-1000": (_edit(ZYNQ, "[1024, 18]", "[1000, 18]"),
                   "field 'memory[0].configs[4]': depth 1000 is not a power of two"),
    "width-absurd": (_edit(_edit(ZYNQ, "bits: 18432", "bits: 4194304"), "[512, 36]",
                           "[1, 2048]"),
                     "field 'memory[0].configs[5]': width 2048 is more than 1024 bits"),
    "too-many-configs": (_edit(ZYNQ, "configs: [[16384, 1]", "configs: [" +
                               "[1, 1], " * 65 + "[16384, 1]"),
                         "field 'memory[0].configs': expected at most 64 configurations"),
    # --- the on-chip flash -----------------------------------------------------------------
    "flash-mode-twice": (_edit(MAX10, "      dual_compressed_images: 524288",
                               "      dual_compressed_images: 524288\n"
                               "      dual_compressed_images: 1"),
                         "field 'memory[1].capacity_bits.dual_compressed_images': given twice "
                         "(lines 41 and 42)"),
    "flash-capacity-inf": (_edit(MAX10, "single_compressed_image: 6029312",
                                 "single_compressed_image: .inf"),
                           "field 'memory[1].capacity_bits.single_compressed_image': expected a "
                           "positive integer of bits, not inf"),
    "flash-mode-injection": (_edit(MAX10, "      single_compressed_image: 6029312",
                                   '      "single]\\nexec ls": 6029312'),
                             "field 'memory[1].capacity_bits': expected a mode name of lower-case "
                             "letters, digits and _ (starting with a letter), e.g. "
                             "single_compressed_image, not 'single]\\nexec ls'"),
    "flash-clock-nan": (_edit(MAX10, "max_clock_mhz: 116", "max_clock_mhz: .nan"),
                        "field 'memory[1].max_clock_mhz': expected a finite positive number of "
                        "MHz, not nan"),
    # --- YAML that is no board -------------------------------------------------------------
    "duplicate-key": (ZYNQ + "luts: 5\n", "field 'luts': given twice (lines 12 and 22)"),
    "duplicate-memory-key": (_edit(ZYNQ, "    count: 1090\n", "    count: 1090\n    count: 3\n"),
                             "field 'memory[0].count': given twice (lines 20 and 21)"),
    "alias": (_edit(_edit(ZYNQ, "luts: 218600", "luts: &n 218600"), "ffs: 437200",
                    "ffs: *n"),
              "field 'ffs': YAML alias *n at line 13"),
    "merge-key": (ZYNQ + "<<: {luts: 3}\n", "field '(top level)': YAML merge key << at line 22"),
    "binary": (bytes(range(256)), "is not UTF-8 text (byte 0x80 at offset 128)"),
    "control-bytes": (bytes(range(128)), "is not valid YAML at line 1: character U+0000"),
    "empty": (b"", "is empty: it has no fields"),
    "only-comments": ("# a board, some day\n", "is empty: it has no fields"),
    "top-level-list": ("- name: ZC706\n- vendor: xilinx\n",
                       "field '(top level)': expected a mapping of fields, not list"),
    "top-level-text": ("just some words\n",
                       "field '(top level)': expected a mapping of fields, not str"),
    "deeply-nested": ("[" * 100_000, "field '[0][0][0][0][0][0][0][0]': nested deeper than a "
                                     "board file can be"),
    "nested-in-a-field": (ZYNQ + "description: " + "[" * 50 + "]" * 50 + "\n",
                          "field 'description[0][0][0][0][0][0][0]': nested deeper"),
    "two-documents": (ZYNQ + "---\n" + ZYNQ, "is not valid YAML at line 22: expected a single "
                                             "document"),
    "python-tag": (ZYNQ + "description: !!python/object/apply:os.system ['ls']\n",
                   "is not valid YAML at line 22"),
    "too-large": (ZYNQ + "#" * (1 << 20), "is larger than 1048576 bytes"),
}


def _write(tmp_path, case):
    content, _ = BAD[case]
    path = tmp_path / f"{case}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", list(BAD))
def test_bad_board_file_is_one_line_and_exit_2(tmp_path, capsys, case):
    path = _write(tmp_path, case)
    out = tmp_path / "o"
    status = main(["build", "--board", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    assert f"board file {str(path)!r}" in err
    assert BAD[case][1] in err, err
    assert not out.exists()


@pytest.mark.parametrize("case", list(BAD))
def test_load_board_raises_one_line(tmp_path, case):
    path = _write(tmp_path, case)
    with pytest.raises(FpgagenError) as info:
        load_board(path)
    assert "\n" not in str(info.value)
    assert BAD[case][1] in str(info.value)


def test_injection_never_reaches_a_project(tmp_path):
    """The issue's case: the refused board writes nothing at all."""
    path = _write(tmp_path, "device-injection")
    main(["build", "--board", str(path), "--out", str(tmp_path / "o")])
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != path]
    assert written == []


GOOD = {
    # What the format allows beyond the bundled boards.
    "speed-grade-integer": (_edit(ZYNQ, 'speed_grade: "-2"', "speed_grade: -2"),
                            "speed_grade", "-2"),
    "name-punctuation": (_edit(ZYNQ, "name: ZC706", "name: \"Xilinx ZC706 (rev 1.0), PS/PL\""),
                         "name", "Xilinx ZC706 (rev 1.0), PS/PL"),
    "description-unicode": (ZYNQ + "description: Zynq-7000 — the ZynqNet device, 100 MHz\n",
                            None, None),
    "clock-float": (_edit(ZYNQ, "clock_mhz: 100", "clock_mhz: 142.857"), "clock_mhz",
                    142.857),
    "clock-bounds": (_edit(ZYNQ, "clock_mhz: 100", "clock_mhz: 1000"), "clock_mhz", 1000.0),
    "utf8-bom": ("\ufeff" + ZYNQ, "device", "XC7Z045"),
    "same-key-in-two-blocks": (ZYNQ + "  - {name: URAM, kind: uram, bits: 294912, count: 96, "
                                      "configs: [[4096, 72]]}\n", "device", "XC7Z045"),
    "flash-default-with-memory-init": (
        _edit(MAX10, "default_mode: single_compressed_image",
              "default_mode: single_uncompressed_image_with_memory_init"),
        "flash", None),
}


@pytest.mark.parametrize("case", list(GOOD))
def test_good_board_files_load(tmp_path, case):
    text, field, value = GOOD[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")
    board = load_board(path)
    if field == "flash":
        (ufm,) = board.flash
        assert ufm.default_mode == "single_uncompressed_image_with_memory_init"
    elif field is not None:
        assert getattr(board, field) == value


def test_bundled_boards_meet_the_schema():
    """Every bundled board loads as before: the schema refuses none of their values."""
    for p in list_boards():
        board = load_board(p)
        assert 0 < board.clock_mhz <= 1000
        assert all(d & (d - 1) == 0 for m in board.memory for d, _ in m.configs)
