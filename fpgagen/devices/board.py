"""Boards as data: ``boards/*.yaml`` loaded into frozen dataclasses, checked field by field.

The format is described in ``docs/boards.md``. A board file names the device, its logic and
multiplier capacity and the geometry of its memory blocks: the size of one block and every
``depth x width`` configuration it supports, as the vendor's data sheet lists them.
"""

from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import FpgagenError
from ..resources import BOARDS_DIR
from .families import FAMILIES, VENDORS, FamilyProfile, family_profile

__all__ = ["MemoryBlock", "Board", "load_board", "resolve_board", "list_boards", "BOARDS_DIR",
           "MEMORY_KINDS"]

#: Kinds of memory block: ``block`` (M9K, RAMB18, EBR: initialisable, dual-port),
#: ``spram`` (single-port, no initial contents), ``uram`` (UltraRAM: no initial contents).
MEMORY_KINDS = ("block", "spram", "uram")


@dataclass(frozen=True)
class MemoryBlock:
    """One type of on-chip memory block.

    Parameters
    ----------
    name : str
        The vendor's name (``M9K``, ``RAMB18E1``, ``EBR``, ``SPRAM``).
    bits : int
        Size of one block, parity bits included (M9K: 9216).
    configs : tuple of (int, int)
        Every supported ``(depth, width)`` configuration.
    count : int
        Blocks on the device.
    kind : str
        One of :data:`MEMORY_KINDS`.
    """

    name: str
    bits: int
    configs: tuple[tuple[int, int], ...]
    count: int
    kind: str

    @property
    def total_bits(self) -> int:
        """Bits of all blocks of this type."""
        return self.bits * self.count


@dataclass(frozen=True)
class Board:
    """A board: its FPGA, clock, logic, multipliers and memory blocks.

    Parameters
    ----------
    name : str
        The board (``DE10-Lite``).
    vendor : str
        ``intel``, ``xilinx`` or ``lattice``.
    family : str
        ``max10``, ``zynq7``, ``ecp5`` or ``ice40``.
    device, package, speed_grade : str
        As the vendor's tools spell them.
    clock_mhz : float
        Clock of the accelerator.
    luts, ffs : int
        Look-up tables (logic elements) and flip-flops.
    multiplier : str
        Type of the hard multipliers: ``18x18`` (MAX 10, ECP5: each also two 9x9),
        ``dsp48e1`` (one 25x18 per slice), ``mac16`` (iCE40 sysDSP, 16x16).
    multipliers : int
        How many.
    memory : tuple of MemoryBlock
        The memory block types, the main block RAM first.
    path : Path or None
        The file the board was loaded from.
    """

    name: str
    vendor: str
    family: str
    device: str
    package: str
    speed_grade: str
    clock_mhz: float
    luts: int
    ffs: int
    multiplier: str
    multipliers: int
    memory: tuple[MemoryBlock, ...]
    path: Path | None = None

    @property
    def profile(self) -> FamilyProfile:
        """What fpgagen knows about the board's family
        (:class:`fpgagen.devices.families.FamilyProfile`)."""
        return family_profile(self.family)

    @property
    def key(self) -> str:
        """The file stem (``max10``), or the name for a board not loaded from a file."""
        return self.path.stem if self.path is not None else self.name

    @property
    def block_ram(self) -> MemoryBlock:
        """The main block RAM type (the first of kind ``block``)."""
        return next(m for m in self.memory if m.kind == "block")

    @property
    def block_ram_bits(self) -> int:
        """Bits of all memory blocks of kind ``block``."""
        return sum(m.total_bits for m in self.memory if m.kind == "block")


_FIELDS = ("name", "vendor", "family", "device", "package", "speed_grade", "clock_mhz", "luts",
           "ffs", "multiplier", "multipliers", "memory")
_OPTIONAL = ("description",)
_MEMORY_FIELDS = ("name", "kind", "bits", "count", "configs")


class _Checker:
    """Field readers that raise one line naming the file and the field."""

    def __init__(self, path):
        self.path = path

    def fail(self, field: str, problem: str):
        raise FpgagenError(f"board file {str(self.path)!r}: field {field!r}: {problem}")

    def mapping(self, data, where: str, required, optional=()):
        if not isinstance(data, dict):
            self.fail(where or "(top level)", f"expected a mapping of fields, not "
                                              f"{type(data).__name__}")
        prefix = f"{where}." if where else ""
        for key in data:
            if key not in required and key not in optional:
                self.fail(f"{prefix}{key}", f"unknown field; expected one of "
                                            f"{', '.join(required + tuple(optional))}")
        for key in required:
            if key not in data:
                self.fail(f"{prefix}{key}", "missing")
        return data

    def text(self, data, key, where=""):
        field = f"{where}.{key}" if where else key
        v = data[key]
        if isinstance(v, (int, float)) and not isinstance(v, bool) and key == "speed_grade":
            v = str(v)
        if not isinstance(v, str) or not v.strip():
            self.fail(field, f"expected a non-empty string, not {v!r}")
        return v

    def integer(self, data, key, where=""):
        field = f"{where}.{key}" if where else key
        v = data[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            self.fail(field, f"expected a positive integer, not {v!r}")
        return v

    def number(self, data, key, where=""):
        v = data[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            self.fail(f"{where}.{key}" if where else key, f"expected a positive number, not {v!r}")
        return float(v)

    def choice(self, data, key, options, where=""):
        v = self.text(data, key, where)
        if v not in options:
            self.fail(f"{where}.{key}" if where else key,
                      f"expected one of {', '.join(options)}, not {v!r}")
        return v


def _memory_block(chk: _Checker, data, where: str) -> MemoryBlock:
    chk.mapping(data, where, _MEMORY_FIELDS)
    name = chk.text(data, "name", where)
    kind = chk.choice(data, "kind", MEMORY_KINDS, where)
    bits = chk.integer(data, "bits", where)
    count = chk.integer(data, "count", where)
    configs = data["configs"]
    if not isinstance(configs, list) or not configs:
        chk.fail(f"{where}.configs", f"expected a non-empty list of [depth, width], not "
                                     f"{configs!r}")
    out = []
    for i, c in enumerate(configs):
        field = f"{where}.configs[{i}]"
        if (not isinstance(c, list) or len(c) != 2
                or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in c)):
            chk.fail(field, f"expected [depth, width] with positive integers, not {c!r}")
        depth, width = c
        if depth * width > bits:
            chk.fail(field, f"{depth} x {width} = {depth * width} bits is more than the "
                            f"block's {bits} bits")
        if (depth, width) in out:
            chk.fail(field, f"configuration {depth} x {width} is listed twice")
        out.append((depth, width))
    return MemoryBlock(name=name, bits=bits, configs=tuple(out), count=count, kind=kind)


def load_board(path) -> Board:
    """Load and check a board file.

    Parameters
    ----------
    path : str or Path
        A ``.yaml`` board file.

    Returns
    -------
    Board

    Raises
    ------
    FpgagenError
        One line naming the file and the first bad field, for a file that cannot be read, is
        not YAML, or misses, misspells or mistypes a field.
    """
    path = Path(path)
    chk = _Checker(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise FpgagenError(f"cannot read board file {str(path)!r}: "
                           f"{e.strerror or e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise FpgagenError(f"board file {str(path)!r} is not valid YAML{at}: "
                           f"{getattr(e, 'problem', None) or e}") from None
    chk.mapping(data, "", _FIELDS, _OPTIONAL)
    vendor = chk.choice(data, "vendor", tuple(VENDORS))
    family = chk.choice(data, "family", tuple(FAMILIES))
    if family not in VENDORS[vendor]:
        chk.fail("family", f"{family!r} is not a {vendor} family (expected one of "
                           f"{', '.join(VENDORS[vendor])})")
    if "description" in data:
        chk.text(data, "description")
    memory = data["memory"]
    if not isinstance(memory, list) or not memory:
        chk.fail("memory", f"expected a non-empty list of memory blocks, not {memory!r}")
    blocks = tuple(_memory_block(chk, m, f"memory[{i}]") for i, m in enumerate(memory))
    if not any(b.kind == "block" for b in blocks):
        chk.fail("memory", "needs at least one memory block of kind 'block'")
    names = [b.name for b in blocks]
    for i, n in enumerate(names):
        if n in names[:i]:
            chk.fail(f"memory[{i}].name", f"{n!r} is listed twice")
    return Board(name=chk.text(data, "name"), vendor=vendor, family=family,
                 device=chk.text(data, "device"), package=chk.text(data, "package"),
                 speed_grade=chk.text(data, "speed_grade"),
                 clock_mhz=chk.number(data, "clock_mhz"), luts=chk.integer(data, "luts"),
                 ffs=chk.integer(data, "ffs"), multiplier=chk.text(data, "multiplier"),
                 multipliers=chk.integer(data, "multipliers"), memory=blocks, path=path)


def list_boards() -> list[Path]:
    """The bundled board files, sorted by name."""
    return sorted(BOARDS_DIR.glob("*.yaml"))


def resolve_board(spec) -> Board:
    """Load a board given as a file path or as the name of a bundled board (``max10``).

    Raises
    ------
    FpgagenError
        For a name that is neither an existing file nor a bundled board.
    """
    path = Path(spec)
    if path.is_file():
        return load_board(path)
    bundled = {p.stem: p for p in list_boards()}
    name = str(spec)
    if name in bundled:
        return load_board(bundled[name])
    # "boards/max10.yaml" as the documentation writes it, run from another folder
    if len(path.parts) == 2 and path.parts[0] == "boards" and path.suffix == ".yaml" \
            and path.stem in bundled:
        return load_board(bundled[path.stem])
    if name.endswith((".yaml", ".yml")) or "/" in name:
        raise FpgagenError(f"board file {name!r} does not exist; bundled boards: "
                           f"{', '.join(bundled)}")
    raise FpgagenError(f"unknown board {name!r}; give a board file or one of: "
                       f"{', '.join(bundled)}")
