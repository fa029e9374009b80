"""Vendor project files around the accelerator's RTL: a Quartus project for Intel MAX 10, a
Vivado non-project Tcl flow for Xilinx 7-series, a Yosys + nextpnr Makefile for Lattice
ECP5 and iCE40.

The accelerator's ports are not tied to pins: the Quartus project makes them virtual pins,
the Vivado flow synthesizes out of context and the nextpnr-ecp5 flow places out of context,
so every project compiles, places, routes and reports timing without a pin plan. A board
shell that connects the streams to a host interface, with a pin file, is the user's part
(``docs/synthesis.md``)."""

import os
import re
from pathlib import Path

from .. import __version__
from ..devices.board import check_clock_mhz
from ..errors import FpgagenError
from ..resources import template_env

__all__ = ["write_project", "top_ports", "vivado_part", "quartus_family",
           "nextpnr_device_args", "yosys_synth_command", "PROJECT_FILES"]

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


def write_project(board, out_dir, *, top: str, rtl_files, clock_mhz: float) -> list[Path]:
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

    Returns
    -------
    list of Path
        The files written (:data:`PROJECT_FILES`).

    Raises
    ------
    FpgagenError
        For an unknown vendor, a clock that is not a finite number of MHz from
        :data:`~fpgagen.devices.board.CLOCK_MHZ_MIN` to
        :data:`~fpgagen.devices.board.CLOCK_MHZ_MAX`, a top module or port that is not a
        plain Verilog identifier, no Verilog source or no source defining ``top``, or a
        path or board field the project's script language cannot quote. Nothing is written
        then.
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
    images = [f for f in rtl_files if f.suffix in (".hex", ".mif")]
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
        ctx.update(family=quartus_family(board))
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
    for name, template in zip(PROJECT_FILES[project], _PROJECT_TEMPLATES[project]):
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


def _check_identifier(name, what: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise FpgagenError(f"{what} {name!r} is not a plain Verilog identifier (letters, "
                           f"digits and _, not starting with a digit)")
    return name

