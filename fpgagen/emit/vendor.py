"""Vendor project files around the accelerator's RTL: a Quartus project for Intel MAX 10, a
Vivado non-project Tcl flow for Xilinx 7-series, a Yosys + nextpnr Makefile for Lattice
ECP5 and iCE40.

The accelerator's ports are not tied to pins: the Quartus project makes them virtual pins,
the Vivado flow synthesizes out of context and the nextpnr-ecp5 flow places out of context,
so every project compiles, places, routes and reports timing without a pin plan. A board
shell that connects the streams to a host interface, with a pin file, is the user's part
(``docs/synthesis.md``).

A design with its weights in the MAX 10's user flash gets, in its Quartus project, the
On-Chip Flash IP initialized with the weight image and a top level that connects the
accelerator's flash master to it (:mod:`fpgagen.emit.intel_flash`, ``docs/de10-lite.md``)."""

import os
import re
from pathlib import Path

from .. import __version__
from ..devices.board import check_clock_mhz
from ..errors import FpgagenError
from ..resources import template_env
from .intel_flash import (BUS_PORTS, IP_DATA_PORTS, FlashIp, board_module, check_bus_ports,
                          ip_module, quartus_mode)

__all__ = ["write_project", "top_ports", "vivado_part", "quartus_family",
           "nextpnr_device_args", "yosys_synth_command", "PROJECT_FILES", "FLASH_PROJECT_FILES",
           "QUARTUS_VERSION"]

#: Files :func:`write_project` writes per project kind
#: (:attr:`fpgagen.devices.families.FamilyProfile.project`; ``{top}`` is the top module's
#: name), and the templates they come from.
PROJECT_FILES = {
    "quartus": ("{top}.qpf", "{top}.qsf", "{top}.sdc"),
    "vivado": ("vivado_build.tcl", "{top}.xdc"),
    "yosys-nextpnr": ("Makefile", "synth.ys"),
}
_PROJECT_TEMPLATES = {
    "quartus": ("quartus/project.qpf.j2", "quartus/project.qsf.j2", "quartus/project.sdc.j2"),
    "vivado": ("vivado/build.tcl.j2", "vivado/constraints.xdc.j2"),
    "yosys-nextpnr": ("yosys/Makefile.j2", "yosys/synth.ys.j2"),
}

#: Files :func:`write_project` adds to a Quartus project when the weights are in flash: the
#: top level around the accelerator and the On-Chip Flash IP variation.
FLASH_PROJECT_FILES = ("{top}_board.v", "{top}_flash.qsys")
_FLASH_TEMPLATES = ("quartus/flash_board.v.j2", "quartus/flash_ip.qsys.j2")
#: The Quartus version the project files name (``QUARTUS_VERSION`` of the ``.qpf``, the IP
#: version in the ``.qsys``).
QUARTUS_VERSION = "18.1"
#: The ports of the flash IP's control interface, tied off by the top level.
_IP_CSR_PORTS = ("avmm_csr_addr", "avmm_csr_read", "avmm_csr_writedata", "avmm_csr_write",
                 "avmm_csr_readdata")

#: ``SECTOR_ACCESS_MODE`` of the flash IP (UFM1, UFM0, CFM2, CFM1, CFM0): the value of the
#: IP variations this follows (docs/de10-lite.md). The top level never writes: the data
#: write and the control interface are tied off, and the sectors stay write-protected.
_SECTOR_ACCESS = ",".join(["Read and write"] * 5)

_VERILOG_SUFFIXES = (".v", ".sv")
_PORT = re.compile(r"^\s*(input|output|inout)\s+(?:\[(\d+):(\d+)\]\s+)?([A-Za-z_][\w$]*)\s*;",
                   re.MULTILINE)
#: Names the projects give modules and ports: plain Verilog identifiers, which every script
#: language of the projects takes as they are (no ``$``: Tcl would substitute it).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# How the project files quote what they write. A word of these characters is written as it
# is in every script; anything else is quoted where the language can quote it (Tcl, SDC and
# XDC in braces, Quartus settings in double quotes) and refused where it cannot (make takes
# no file names with spaces, and the Yosys script is run by the Makefile).
_BARE_WORD = re.compile(r"[A-Za-z0-9_./+:-]+")
_MAKE_WORD = re.compile(r"[A-Za-z0-9_./+-]+")
_TCL_UNQUOTABLE = set("{}\\")
_QSF_UNQUOTABLE = set('"\\$[]{}')


def _printable(value: str, language: str) -> str:
    if not isinstance(value, str) or not value:
        raise FpgagenError(f"cannot write {value!r} into {language}: expected a non-empty "
                           f"string")
    if not value.isprintable():
        raise FpgagenError(f"cannot write {value!r} into {language}: it holds newlines or "
                           f"control characters")
    return value


def _tcl_word(value: str) -> str:
    """``value`` as one Tcl word (Vivado Tcl, SDC, XDC): as it is, or in braces."""
    _printable(value, "a Tcl script")
    if _BARE_WORD.fullmatch(value):
        return value
    if _TCL_UNQUOTABLE & set(value):
        raise FpgagenError(f"cannot write {value!r} into a Tcl script: braces and "
                           f"backslashes cannot be quoted")
    return "{" + value + "}"


def _qsf_string(value: str) -> str:
    """``value`` inside double quotes of a Quartus settings or project file."""
    _printable(value, "a Quartus settings file")
    if _QSF_UNQUOTABLE & set(value):
        raise FpgagenError(f"cannot write {value!r} into a Quartus settings file: "
                           f"{' '.join(sorted(_QSF_UNQUOTABLE))} cannot be quoted")
    return value


def _qsf_word(value: str) -> str:
    """``value`` as one Quartus settings value: as it is, or in double quotes."""
    _printable(value, "a Quartus settings file")
    if _BARE_WORD.fullmatch(value):
        return value
    return f'"{_qsf_string(value)}"'


def _make_word(value: str) -> str:
    """``value`` as one Makefile, shell or Yosys script word: letters, digits and
    ``_ . / + -`` only."""
    _printable(value, "a Makefile or Yosys script")
    if not _MAKE_WORD.fullmatch(value):
        raise FpgagenError(f"cannot write {value!r} into a Makefile or Yosys script: make "
                           f"names files of letters, digits and _ . / + - only (move the "
                           f"build folder to such a path)")
    return value


def _comment(value) -> str:
    """``value`` in a comment line of any of the project files: one line, no backslash
    (which continues a Tcl or make comment onto the next line)."""
    value = _printable(str(value), "a comment")
    if "\\" in value:
        raise FpgagenError(f"cannot write {value!r} into a comment: it holds a backslash")
    return value


def quartus_family(board) -> str:
    """Quartus's name of the board's family (``MAX 10``)."""
    if board.profile.project != "quartus":
        raise FpgagenError(f"no Quartus family for {board.family!r} (board "
                           f"{board.name!r})")
    return board.profile.title


def vivado_part(board) -> str:
    """Vivado part name: device, package and speed grade (``xc7z020clg400-1``)."""
    speed = board.speed_grade if board.speed_grade.startswith("-") else f"-{board.speed_grade}"
    return f"{board.device}{board.package}{speed}".lower()


def nextpnr_device_args(board) -> list[str]:
    """nextpnr device, package (and speed grade) options of a Lattice board
    (``--85k --package CABGA381 --speed 6``, ``--up5k --package sg48``)."""
    device = board.device.upper()
    if board.family == "ecp5":
        m = re.fullmatch(r"LFE5(U|UM|UM5G)-(\d+)F", device)
        if not m:
            raise FpgagenError(f"board {board.name!r}: cannot tell the nextpnr-ecp5 device "
                               f"of {board.device!r} (expected LFE5U-85F, LFE5UM-45F, ...)")
        kind = {"U": "", "UM": "um-", "UM5G": "um5g-"}[m.group(1)]
        return [f"--{kind}{m.group(2)}k", "--package", board.package.upper(),
                "--speed", board.speed_grade]
    if board.family == "ice40":
        if not device.startswith("ICE40"):
            raise FpgagenError(f"board {board.name!r}: cannot tell the nextpnr-ice40 device "
                               f"of {board.device!r} (expected iCE40UP5K, iCE40HX8K, ...)")
        return [f"--{device[len('ICE40'):].lower()}", "--package", board.package.lower()]
    raise FpgagenError(f"board {board.name!r} ({board.family}) is not a nextpnr family")


def yosys_synth_command(board, top: str, json: str | None = None) -> str:
    """The Yosys synthesis command for the board's family (writing the netlist to ``json``
    when given): ``synth_ecp5``, ``synth_ice40`` (``-dsp`` where the device has MAC16
    blocks), ``synth_xilinx -family xc7`` (flattened, like the other two). MAX 10 has no
    usable open synthesis (``synth_intel -family max10`` fails on initialised memories).

    Raises
    ------
    FpgagenError
        For a family without an open synthesis flow, or a ``top`` that is not a plain
        Verilog identifier.
    """
    _check_identifier(top, "top module")
    out = f" -json {json}" if json else ""
    command = board.profile.yosys_synth
    if command is not None:
        dsp = " -dsp" if board.multiplier == "mac16" else ""
        return command.format(top=top, dsp=dsp) + out
    raise FpgagenError(f"board {board.name!r}: family {board.family!r} has no open synthesis "
                       f"flow (Yosys's synth_intel for MAX 10 fails on initialised memories); "
                       f"use the Quartus project")


def top_ports(verilog_text: str, top: str) -> list[tuple[str, str, int]]:
    """The ports of module ``top`` in ``verilog_text`` as ``(direction, name, width)``, in
    declaration order."""
    m = re.search(rf"^\s*module\s+{re.escape(top)}\s*[(#;]", verilog_text, re.MULTILINE)
    if not m:
        raise FpgagenError(f"module {top!r} is not in the given Verilog")
    end = verilog_text.find("endmodule", m.end())
    body = verilog_text[m.end():end if end >= 0 else None]
    return [(d, name, int(hi) - int(lo) + 1 if hi else 1)
            for d, hi, lo, name in _PORT.findall(body)]


def _rel(path: Path, base: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), base.resolve())).as_posix()


def _top_source(sources, top: str) -> Path:
    pattern = re.compile(rf"^\s*module\s+{re.escape(top)}\s*[(#;]", re.MULTILINE)
    for s in sources:
        if pattern.search(Path(s).read_text()):
            return Path(s)
    raise FpgagenError(f"no Verilog file among {[Path(s).name for s in sources]} defines the "
                       f"top module {top!r}")


def _xml(value) -> str:
    """``value`` as XML character data or attribute value (one printable line)."""
    value = _printable(str(value), "an XML file")
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def write_project(board, out_dir, *, top: str, rtl_files, clock_mhz: float,
                  flash: FlashIp | None = None) -> list[Path]:
    """Write the vendor's project files for ``board`` into ``out_dir``.

    Parameters
    ----------
    board : Board
    out_dir : path
        Output folder (created). Every file names the RTL by its path relative to this
        folder, so the build folder can be moved as a whole.
    top : str
        Top-level module.
    rtl_files : list of path
        What :func:`fpgagen.emit.design.write_rtl` wrote: Verilog sources (``.v``), memory
        images (``.hex``, ``.mif``) and others (ignored).
    clock_mhz : float
        Clock constraint.
    flash : FlashIp or None
        With the weights in flash (Quartus projects only): the mode, burst count and Intel
        HEX image of the On-Chip Flash IP. The project then also holds the IP variation
        and a top level around ``top`` (:data:`FLASH_PROJECT_FILES`), which becomes the
        project's top-level entity, and sets the configuration mode to ``flash.mode``.

    Returns
    -------
    list of Path
        The files written (:data:`PROJECT_FILES`, then :data:`FLASH_PROJECT_FILES` with
        ``flash``).

    Raises
    ------
    FpgagenError
        For an unknown vendor, a clock that is not a finite number of MHz from
        :data:`~fpgagen.devices.board.CLOCK_MHZ_MIN` to
        :data:`~fpgagen.devices.board.CLOCK_MHZ_MAX`, a top module or port that is not a
        plain Verilog identifier, no Verilog source or no source defining ``top``, or a
        path or board field the project's script language cannot quote; with ``flash``,
        a project that is not Quartus's, a ``top`` without the flash bus ports, ``clk``
        and ``rst``, or a mode Quartus does not name. Nothing is written then.
    """
    project = board.profile.project
    if project not in PROJECT_FILES:
        raise FpgagenError(f"no project files of kind {project!r} (board {board.name!r}); "
                           f"known: {', '.join(PROJECT_FILES)}")
    clock_mhz = check_clock_mhz(clock_mhz, "project clock")
    _check_identifier(top, "top module")
    out_dir = Path(out_dir)
    rtl_files = [Path(f) for f in rtl_files]
    sources = [f for f in rtl_files if f.suffix in _VERILOG_SUFFIXES]
    if not sources:
        raise FpgagenError(f"no Verilog sources among the RTL files "
                           f"{[f.name for f in rtl_files]}")
    ports = top_ports(_top_source(sources, top).read_text(), top)
    for _, name, _ in ports:
        _check_identifier(name, f"port of {top}")
    if flash is not None:
        flash_ctx = _flash_context(board, top, ports, flash, out_dir, clock_mhz)
        ports = flash_ctx["ports"]
    images = [f for f in rtl_files if f.suffix in (".hex", ".mif")
              and (flash is None or f.resolve() != Path(flash.image).resolve())]
    image_dirs = sorted({_rel(f.parent, out_dir) for f in images}) or \
        [_rel(sources[0].parent, out_dir)]
    ctx = dict(
        version=__version__, board=board, top=top, clock_mhz=f"{clock_mhz:g}",
        period_ns=f"{1000.0 / clock_mhz:.3f}",
        sources=[_rel(f, out_dir) for f in sources],
        mifs=[_rel(f, out_dir) for f in images if f.suffix == ".mif"],
        hexes=[_rel(f, out_dir) for f in images if f.suffix == ".hex"],
        image_dir=image_dirs[0],
        ports=ports, clock="clk", inputs=sum(w for d, _, w in ports if d == "input"),
        outputs=sum(w for d, _, w in ports if d != "input"))
    env = template_env()
    env.filters.update(tcl=_tcl_word, qsf=_qsf_word, qsf_string=_qsf_string,
                       make=_make_word, comment=_comment)
    if project == "quartus":
        ctx.update(family=quartus_family(board), quartus_version=QUARTUS_VERSION,
                   flash=None, entity=top)
        if flash is not None:
            ctx.update(flash_ctx, entity=flash_ctx["module"], flash=True)
    elif project == "vivado":
        ctx.update(part=vivado_part(board), xdc=f"{top}.xdc")
    else:
        nextpnr, pack = board.profile.nextpnr
        ctx.update(family=board.family, nextpnr=nextpnr, pack=pack,
                   device_args=nextpnr_device_args(board),
                   synth_command=yosys_synth_command(board, top, "fpgagen.json"))
    # Every file is rendered before any is written: a value that cannot be quoted leaves
    # no half-written project.
    texts = {}
    names, templates = PROJECT_FILES[project], _PROJECT_TEMPLATES[project]
    if flash is not None:
        names, templates = names + FLASH_PROJECT_FILES, templates + _FLASH_TEMPLATES
    env.filters.update(xml=_xml)
    for name, template in zip(names, templates):
        name = name.format(top=top)
        try:
            texts[name] = env.get_template(template).render(**ctx)
        except FpgagenError as e:
            raise FpgagenError(f"project file {name}: {e}") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in texts.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8", newline="\n")
        paths.append(path)
    return paths


def _flash_context(board, top: str, ports, flash: FlashIp, out_dir: Path, clock_mhz: float):
    """What the flash IP variation, the top level around ``top`` and the ``.qsf`` need to
    say about the flash; checks ``flash`` against the board and ``top``'s ports."""
    if board.profile.project != "quartus" or not board.flash:
        raise FpgagenError(f"board {board.name!r}: no on-chip flash IP for a "
                           f"{board.profile.project} project (weights in flash need a MAX 10 "
                           f"board with a flash entry)")
    try:
        mode = quartus_mode(flash.mode)
        check_bus_ports(ports, top, flash.burst_count)
    except ValueError as e:
        raise FpgagenError(str(e)) from None
    if flash.mode not in board.flash[0].modes:
        raise FpgagenError(f"board {board.name!r}: flash {board.flash[0].name} has no mode "
                           f"{flash.mode!r}; it has {', '.join(board.flash[0].modes)}")
    names = {name for _, name, _ in ports}
    for needed in ("clk", "rst"):
        if needed not in names:
            raise FpgagenError(f"module {top!r} has no port {needed!r} for the flash IP's "
                               f"clock and reset")
    if Path(flash.image).suffix != ".hex":
        raise FpgagenError(f"the flash image {str(flash.image)!r} is not an Intel HEX "
                           f"(.hex) file")
    bus = {name for name, _, _ in BUS_PORTS}
    module = board_module(top)
    _check_identifier(module, "top level")
    return dict(
        module=module, ip=ip_module(top), top_ports=[name for _, name, _ in ports],
        ports=[p for p in ports if p[1] not in bus],
        bus=[(name, w) for _, name, w in ports if name in bus],
        update_mode=mode.update_mode, ip_mode=mode.ip_mode, mode=flash.mode,
        burst_count=int(flash.burst_count), image=_rel(Path(flash.image), out_dir),
        data_ports=IP_DATA_PORTS, csr_ports=_IP_CSR_PORTS,
        speed="".join(c for c in board.speed_grade if c.isdigit()) or board.speed_grade,
        clock_mhz_ip=f"{clock_mhz:.1f}", name=ip_module(top), sector_access=_SECTOR_ACCESS,
        mode_reason=("the design initializes M9K blocks, which only a mode with memory "
                     "initialization (ERAM) loads" if board.flash[0].allows_memory_init(
                         flash.mode) else "no M9K block has initial contents, so the mode "
                     "with the most user flash"))


def _check_identifier(name, what: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise FpgagenError(f"{what} {name!r} is not a plain Verilog identifier (letters, "
                           f"digits and _, not starting with a digit)")
    return name

