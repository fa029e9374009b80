"""Boards as data: ``boards/*.yaml`` loaded into frozen dataclasses, checked field by field.

The format is described in ``docs/boards.md``. A board file names the device, its logic and
multiplier capacity and the geometry of its memory blocks: the size of one block and every
``depth x width`` configuration it supports, as the vendor's data sheet lists them. An
on-chip flash (the MAX 10's user flash memory) is a memory entry of kind ``flash``: its
capacity in each configuration mode of the device and its read interface
(:class:`FlashMemory`).

Board files are untrusted input: their device, package and speed grade reach the generated
Tcl, QSF and Makefiles, and their numbers the fit, the RTL and the constraints. Every field
is checked against what it may hold (characters, length, range), every key must be given
once, and a file that is no YAML text gets one line, never a traceback.
"""

import math
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import FpgagenError
from ..resources import BOARDS_DIR
from .families import FAMILIES, VENDORS, FamilyProfile, family_profile

__all__ = ["MemoryBlock", "FlashMemory", "Board", "load_board", "resolve_board", "list_boards",
           "BOARDS_DIR", "MEMORY_KINDS", "FLASH_KIND", "CLOCK_MHZ_MIN", "CLOCK_MHZ_MAX",
           "check_clock_mhz"]

#: Kinds of memory block: ``block`` (M9K, RAMB18, EBR: initialisable, dual-port),
#: ``spram`` (single-port, no initial contents), ``uram`` (UltraRAM: no initial contents).
MEMORY_KINDS = ("block", "spram", "uram")
#: The kind of a memory entry that is an on-chip flash (:class:`FlashMemory`), not blocks.
FLASH_KIND = "flash"

#: Slowest accelerator clock in MHz (1 kHz) a board file or a project may give.
CLOCK_MHZ_MIN = 0.001
#: Fastest accelerator clock in MHz (1 GHz): no FPGA fabric clocks such a design faster,
#: and the constraint files write the period in ns with three decimals.
CLOCK_MHZ_MAX = 1000.0


def check_clock_mhz(value, what: str = "clock") -> float:
    """``value`` as a clock in MHz: a finite number from :data:`CLOCK_MHZ_MIN` to
    :data:`CLOCK_MHZ_MAX`.

    Raises
    ------
    FpgagenError
        One line naming ``what`` and the bad value.
    """
    problem = _clock_problem(value)
    if problem:
        raise FpgagenError(f"{what}: {problem}")
    return float(value)


def _clock_problem(v) -> str | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return f"expected a positive number of MHz, not {_show(v)}"
    if isinstance(v, float) and not math.isfinite(v):
        return f"expected a finite positive number of MHz, not {_show(v)}"
    if not v > 0:
        return f"expected a positive number of MHz, not {_show(v)}"
    if not CLOCK_MHZ_MIN <= v <= CLOCK_MHZ_MAX:
        return (f"expected a clock from {CLOCK_MHZ_MIN:g} to {CLOCK_MHZ_MAX:g} MHz, not "
                f"{_show(v)}")
    return None


def _cut(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters, for a key named in a message."""
    return text if len(text) <= limit else f"{text[:limit]}..."


def _show(value, limit: int = 60) -> str:
    """``repr(value)`` on one line, cut to about ``limit`` characters."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        return f"an integer of {value.bit_length()} bits"
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} characters)"


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
class FlashMemory:
    """An on-chip flash the design can read (the MAX 10's user flash memory, UFM).

    How much of it holds user data depends on the device's configuration mode: the modes
    that keep a larger configuration image (two images, or initial contents of the block
    RAM) leave less of the flash to the user.

    Parameters
    ----------
    name : str
        The vendor's name (``UFM``).
    word_bits : int
        Bits of one data word of the read interface (32).
    capacity_bits : tuple of (str, int)
        ``(mode, bits)``: the user capacity in each configuration mode, in the board
        file's order.
    memory_init_modes : tuple of str
        The modes in which the configuration image may initialise block RAM (M9K
        contents); in the others a design must not initialise any block.
    default_mode : str
        The mode assumed when a design does not need another one.
    read_latency_cycles : int
        Clock cycles from a read request to its first data word.
    max_burst_words : int
        Words of the longest incrementing read burst.
    burst_throughput : (int, int)
        ``(words, clocks)``: a long burst delivers ``words`` words every ``clocks`` clocks.
    max_clock_mhz : float
        Fastest clock of the read interface.
    """

    name: str
    word_bits: int
    capacity_bits: tuple[tuple[str, int], ...]
    memory_init_modes: tuple[str, ...]
    default_mode: str
    read_latency_cycles: int
    max_burst_words: int
    burst_throughput: tuple[int, int]
    max_clock_mhz: float

    @property
    def modes(self) -> tuple[str, ...]:
        """The configuration modes, in the board file's order."""
        return tuple(m for m, _ in self.capacity_bits)

    def capacity(self, mode: str) -> int:
        """User bits in configuration mode ``mode``.

        Raises
        ------
        KeyError
            For a mode the flash does not list.
        """
        for m, bits in self.capacity_bits:
            if m == mode:
                return bits
        raise KeyError(mode)

    def allows_memory_init(self, mode: str) -> bool:
        """Whether block RAM may have initial contents in configuration mode ``mode``."""
        self.capacity(mode)
        return mode in self.memory_init_modes

    def modes_for(self, *, memory_init: bool) -> tuple[str, ...]:
        """The modes with the most user bits among those a design may use: all modes, or
        with ``memory_init`` only those that initialise block RAM (empty when none does).
        Several modes when they tie, in the board file's order."""
        usable = [(m, b) for m, b in self.capacity_bits
                  if not memory_init or m in self.memory_init_modes]
        if not usable:
            return ()
        most = max(b for _, b in usable)
        return tuple(m for m, b in usable if b == most)


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
        The memory block types, the main block RAM first (the board file's memory entries
        other than flash).
    path : Path or None
        The file the board was loaded from.
    flash : tuple of FlashMemory
        The on-chip flash memories (memory entries of kind ``flash``); empty for most
        boards.
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
    flash: tuple[FlashMemory, ...] = ()

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
_FLASH_FIELDS = ("name", "kind", "word_bits", "capacity_bits", "memory_init_modes",
                 "default_mode", "read_latency_cycles", "max_burst_words", "burst_throughput",
                 "max_clock_mhz")

# What each text field may hold, as (pattern, longest, what the message says is expected).
# Device, package and speed grade are spelt as the vendors' tools take them, and reach the
# generated Tcl, QSF and Makefiles; the board's name reaches their comments and the reports.
_WORD = r"[A-Za-z0-9][A-Za-z0-9_-]*"
_TEXT = {
    "name": (r"[A-Za-z0-9][A-Za-z0-9 ._,:;()+/&'-]*", 64,
             "letters, digits, spaces and . _ , : ; ( ) + / & ' - (starting with a letter or "
             "digit)"),
    "device": (_WORD, 40, "letters, digits, _ and - (as the vendor's tools spell the part)"),
    "package": (_WORD, 40, "letters, digits, _ and - (as the vendor's tools spell it)"),
    "speed_grade": (r"-?" + _WORD, 16, "letters, digits, _ and -, e.g. -1, 6 or C7"),
    "multiplier": (_WORD, 32, "letters, digits, _ and -, e.g. 18x18, dsp48e1 or mac16"),
    "memory.name": (_WORD, 32, "letters, digits, _ and -, e.g. M9K or RAMB18E1"),
}
#: A configuration mode of a flash: a lower-case identifier.
_MODE = (r"[a-z][a-z0-9_]*", 64, "lower-case letters, digits and _ (starting with a letter), "
                                 "e.g. single_compressed_image")
#: Longest ``description``: one line of printable text.
_DESCRIPTION_MAX = 200

# Bounds of the integers, far beyond any FPGA made (the largest have under 10^7 LUTs and
# 2 * 10^4 multipliers; UltraRAM, the largest block, has 288 Kbit).
_LOGIC_MAX = 100_000_000
_INTEGERS = {"luts": _LOGIC_MAX, "ffs": _LOGIC_MAX, "multipliers": 1_000_000,
             "bits": 1 << 22, "count": 1_000_000,
             # a flash's read interface
             "word_bits": 1024, "read_latency_cycles": 1024, "max_burst_words": 1 << 20}
_WIDTH_MAX = 1024
_CONFIGS_MAX = 64
_MEMORY_TYPES_MAX = 16
#: Most user bits of a flash in one mode (4 Gbit; on-chip flashes hold a few Mbit), and most
#: configuration modes.
_FLASH_BITS_MAX = 1 << 32
_FLASH_MODES_MAX = 16
#: Longest ``burst_throughput`` period in clocks.
_BURST_CLOCKS_MAX = 1024

# A board file is a few hundred bytes of YAML, nested at most six deep (top level, memory,
# block, configs, pair, number).
_FILE_BYTES_MAX = 1 << 20
_NESTING_MAX = 8


class _Checker:
    """Field readers that raise one line naming the file and the field."""

    def __init__(self, path):
        self.path = path

    def fail(self, field: str, problem: str):
        raise FpgagenError(f"board file {str(self.path)!r}: field {field!r}: {problem}")

    def fail_file(self, problem: str):
        raise FpgagenError(f"board file {str(self.path)!r} {problem}")

    def mapping(self, data, where: str, required, optional=()):
        if not isinstance(data, dict):
            self.fail(where or "(top level)", f"expected a mapping of fields, not "
                                              f"{type(data).__name__}")
        prefix = f"{where}." if where else ""
        for key in data:
            if key not in required and key not in optional:
                self.fail(f"{prefix}{_cut(str(key))}", f"unknown field; expected one of "
                                                    f"{', '.join(required + tuple(optional))}")
        for key in required:
            if key not in data:
                self.fail(f"{prefix}{key}", "missing")
        return data

    def text(self, data, key, where=""):
        field = f"{where}.{key}" if where else key
        v = data[key]
        if isinstance(v, int) and not isinstance(v, bool) and key == "speed_grade":
            v = str(v)
        if not isinstance(v, str) or not v.strip():
            self.fail(field, f"expected a non-empty string, not {_show(v)}")
        return v

    def word(self, data, key, where=""):
        """A text field of :data:`_TEXT`: allowed characters and length."""
        v = self.text(data, key, where)
        pattern, longest, allowed = _TEXT["memory.name" if where else key]
        field = f"{where}.{key}" if where else key
        if not re.fullmatch(pattern, v):
            self.fail(field, f"expected {allowed}, not {_show(v)}")
        if len(v) > longest:
            self.fail(field, f"expected at most {longest} characters, not {len(v)}")
        return v

    def description(self, data, key):
        v = self.text(data, key)
        if not v.isprintable():
            self.fail(key, f"expected one line of printable text (no newlines or control "
                           f"characters), not {_show(v)}")
        if len(v) > _DESCRIPTION_MAX:
            self.fail(key, f"expected at most {_DESCRIPTION_MAX} characters, not {len(v)}")
        return v

    def integer(self, data, key, where=""):
        field = f"{where}.{key}" if where else key
        v = data[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            self.fail(field, f"expected a positive integer, not {_show(v)}")
        if v > _INTEGERS[key]:
            self.fail(field, f"expected at most {_INTEGERS[key]:_}, not {_show(v)}")
        return v

    def clock(self, data, key, where=""):
        problem = _clock_problem(data[key])
        if problem:
            self.fail(f"{where}.{key}" if where else key, problem)
        return float(data[key])

    def mode_name(self, v, field: str) -> str:
        """A configuration mode's name (:data:`_MODE`)."""
        pattern, longest, allowed = _MODE
        if not isinstance(v, str) or not re.fullmatch(pattern, v):
            self.fail(field, f"expected a mode name of {allowed}, not {_show(v)}")
        if len(v) > longest:
            self.fail(field, f"expected at most {longest} characters, not {len(v)}")
        return v

    def choice(self, data, key, options, where=""):
        v = self.text(data, key, where)
        if v not in options:
            self.fail(f"{where}.{key}" if where else key,
                      f"expected one of {', '.join(options)}, not {_show(v)}")
        return v


def _memory_block(chk: _Checker, data, where: str) -> MemoryBlock:
    chk.mapping(data, where, _MEMORY_FIELDS)
    name = chk.word(data, "name", where)
    kind = chk.choice(data, "kind", MEMORY_KINDS + (FLASH_KIND,), where)
    bits = chk.integer(data, "bits", where)
    count = chk.integer(data, "count", where)
    configs = data["configs"]
    if not isinstance(configs, list) or not configs:
        chk.fail(f"{where}.configs", f"expected a non-empty list of [depth, width], not "
                                     f"{_show(configs)}")
    if len(configs) > _CONFIGS_MAX:
        chk.fail(f"{where}.configs", f"expected at most {_CONFIGS_MAX} configurations, not "
                                     f"{len(configs)}")
    out = []
    for i, c in enumerate(configs):
        field = f"{where}.configs[{i}]"
        if (not isinstance(c, list) or len(c) != 2
                or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in c)):
            chk.fail(field, f"expected [depth, width] with positive integers, not {_show(c)}")
        depth, width = c
        if depth * width > bits:
            chk.fail(field, f"{depth} x {width} = {depth * width} bits is more than the "
                            f"block's {bits} bits")
        if depth & (depth - 1):
            chk.fail(field, f"depth {depth} is not a power of two (memory blocks are "
                            f"addressed by whole address bits)")
        if width > _WIDTH_MAX:
            chk.fail(field, f"width {width} is more than {_WIDTH_MAX} bits")
        if (depth, width) in out:
            chk.fail(field, f"configuration {depth} x {width} is listed twice")
        out.append((depth, width))
    return MemoryBlock(name=name, bits=bits, configs=tuple(out), count=count, kind=kind)


def _memory_entry(chk: _Checker, data, where: str) -> "MemoryBlock | FlashMemory":
    """One entry of ``memory``: its ``kind`` (checked first, so a misspelt kind is named
    before the fields of the other kind) decides which fields it has."""
    if isinstance(data, dict) and "kind" in data:
        if chk.choice(data, "kind", MEMORY_KINDS + (FLASH_KIND,), where) == FLASH_KIND:
            return _flash_memory(chk, data, where)
    return _memory_block(chk, data, where)


def _flash_memory(chk: _Checker, data, where: str) -> FlashMemory:
    chk.mapping(data, where, _FLASH_FIELDS)
    name = chk.word(data, "name", where)
    word_bits = chk.integer(data, "word_bits", where)
    field = f"{where}.capacity_bits"
    capacity = data["capacity_bits"]
    if not isinstance(capacity, dict) or not capacity:
        chk.fail(field, f"expected a mapping of configuration mode to bits, not "
                        f"{_show(capacity)}")
    if len(capacity) > _FLASH_MODES_MAX:
        chk.fail(field, f"expected at most {_FLASH_MODES_MAX} modes, not {len(capacity)}")
    modes = []
    for mode, bits in capacity.items():
        mode = chk.mode_name(mode, field)  # a bad name is shown in the message, not the field
        at = f"{field}.{mode}"
        if isinstance(bits, bool) or not isinstance(bits, int) or bits < 1:
            chk.fail(at, f"expected a positive integer of bits, not {_show(bits)}")
        if bits > _FLASH_BITS_MAX:
            chk.fail(at, f"expected at most {_FLASH_BITS_MAX:_} bits, not {_show(bits)}")
        if bits % word_bits:
            chk.fail(at, f"{bits} bits is not a whole number of {word_bits}-bit words")
        modes.append((mode, bits))
    names = [m for m, _ in modes]
    field = f"{where}.memory_init_modes"
    init = data["memory_init_modes"]
    if not isinstance(init, list):
        chk.fail(field, f"expected a list of modes (empty when no mode initialises block "
                        f"RAM), not {_show(init)}")
    for i, mode in enumerate(init):
        mode = chk.mode_name(mode, f"{field}[{i}]")
        if mode not in names:
            chk.fail(f"{field}[{i}]", f"{mode!r} is not a mode of capacity_bits (expected one "
                                      f"of {', '.join(names)})")
        if mode in init[:i]:
            chk.fail(f"{field}[{i}]", f"{mode!r} is listed twice")
    default = chk.mode_name(data["default_mode"], f"{where}.default_mode")
    if default not in names:
        chk.fail(f"{where}.default_mode", f"{default!r} is not a mode of capacity_bits "
                                          f"(expected one of {', '.join(names)})")
    field = f"{where}.burst_throughput"
    rate = data["burst_throughput"]
    if (not isinstance(rate, list) or len(rate) != 2
            or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in rate)):
        chk.fail(field, f"expected [words, clocks] with positive integers, not {_show(rate)}")
    words, clocks = rate
    if clocks > _BURST_CLOCKS_MAX:
        chk.fail(field, f"expected at most {_BURST_CLOCKS_MAX} clocks, not {clocks}")
    if words > clocks:
        chk.fail(field, f"{words} words in {clocks} clocks is more than one word per clock")
    return FlashMemory(name=name, word_bits=word_bits, capacity_bits=tuple(modes),
                       memory_init_modes=tuple(init), default_mode=default,
                       read_latency_cycles=chk.integer(data, "read_latency_cycles", where),
                       max_burst_words=chk.integer(data, "max_burst_words", where),
                       burst_throughput=(words, clocks),
                       max_clock_mhz=chk.clock(data, "max_clock_mhz", where))


class _Refused(Exception):
    """A YAML construct a board file may not use, at ``field``."""

    def __init__(self, field: str, problem: str):
        super().__init__(problem)
        self.field = field
        self.problem = problem


class _BoardLoader(yaml.SafeLoader):
    """PyYAML's safe loader, stricter: every key given once, no aliases or merge keys (a
    board spells every value out), no nesting deeper than the format has.

    Errors name the field of the node being read (``memory[0].count``).
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._where: list[str] = []
        self._fields: dict[yaml.Node, str] = {}

    def _field(self) -> str:
        return "".join(self._where).lstrip(".") or "(top level)"

    def compose_node(self, parent, index):
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(index, int):
            self._where.append(f"[{index}]")
        elif isinstance(index, yaml.ScalarNode):
            self._where.append(f".{_cut(index.value)}")
        else:  # the document, or a mapping's key
            self._where.append("")
        try:
            if isinstance(event, yaml.AliasEvent):
                raise _Refused(self._field(), f"YAML alias *{event.anchor} at line {line}: a "
                                              f"board file spells out every value")
            if len(self._where) > _NESTING_MAX:
                raise _Refused(self._field(), f"nested deeper than a board file can be (line "
                                              f"{line})")
            node = super().compose_node(parent, index)
            if isinstance(node, yaml.MappingNode):
                self._check_keys(node)
            self._fields[node] = self._field()
            return node
        finally:
            self._where.pop()

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as e:  # a number or date YAML matched, Python refuses
            raise _Refused(self._fields.get(node, "(top level)"),
                           f"cannot read {_show(node.value)} at line {node.start_mark.line + 1}"
                           f" ({' '.join(str(e).split())})") from None

    def _check_keys(self, node: yaml.MappingNode):
        seen = {}
        for key, _ in node.value:
            line = key.start_mark.line + 1
            if key.tag == "tag:yaml.org,2002:merge":
                raise _Refused(self._field(), f"YAML merge key << at line {line}: a board "
                                              f"file spells out every value")
            if not isinstance(key, yaml.ScalarNode):
                continue  # refused as an unknown field
            if (key.tag, key.value) in seen:
                field = f"{self._field()}.{_cut(key.value)}".removeprefix("(top level).")
                raise _Refused(field, f"given twice (lines {seen[key.tag, key.value]} and "
                                      f"{line})")
            seen[key.tag, key.value] = line


def _read_yaml(chk: _Checker, path: Path):
    """The file's YAML document: one line naming the file (and the field where there is
    one) for a file that cannot be read, is not UTF-8 YAML or uses what boards may not."""
    try:
        with open(path, "rb") as f:
            raw = f.read(_FILE_BYTES_MAX + 1)
    except OSError as e:
        raise FpgagenError(f"cannot read board file {str(path)!r}: "
                           f"{e.strerror or e}") from None
    if len(raw) > _FILE_BYTES_MAX:
        chk.fail_file(f"is larger than {_FILE_BYTES_MAX} bytes; a board file is a page of "
                      f"YAML")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        chk.fail_file(f"is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
                      f"a board file is YAML text")
    loader = None
    try:
        loader = _BoardLoader(text)
        return loader.get_single_data()
    except _Refused as e:
        chk.fail(e.field, e.problem)
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        chk.fail_file(f"is not valid YAML at line {line}: character U+{e.character:04X}: "
                      f"{e.reason}")
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = ", ".join(str(p) for p in (e.context, e.problem) if p)
        chk.fail_file(f"is not valid YAML{at}: {' '.join(problem.split())}")
    except yaml.YAMLError as e:
        chk.fail_file(f"is not valid YAML: {' '.join(str(e).split())}")
    finally:
        if loader is not None:
            loader.dispose()


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
        not UTF-8 YAML, gives a field twice, or misses, misspells or mistypes a field, or
        holds a character or value the field does not allow (``docs/boards.md``).
    """
    path = Path(path)
    chk = _Checker(path)
    data = _read_yaml(chk, path)
    if data is None:
        chk.fail_file("is empty: it has no fields")
    chk.mapping(data, "", _FIELDS, _OPTIONAL)
    vendor = chk.choice(data, "vendor", tuple(VENDORS))
    family = chk.choice(data, "family", tuple(FAMILIES))
    if family not in VENDORS[vendor]:
        chk.fail("family", f"{family!r} is not a {vendor} family (expected one of "
                           f"{', '.join(VENDORS[vendor])})")
    if "description" in data:
        chk.description(data, "description")
    memory = data["memory"]
    if not isinstance(memory, list) or not memory:
        chk.fail("memory", f"expected a non-empty list of memory blocks, not {_show(memory)}")
    if len(memory) > _MEMORY_TYPES_MAX:
        chk.fail("memory", f"expected at most {_MEMORY_TYPES_MAX} memory block types, not "
                           f"{len(memory)}")
    entries = tuple(_memory_entry(chk, m, f"memory[{i}]") for i, m in enumerate(memory))
    blocks = tuple(e for e in entries if isinstance(e, MemoryBlock))
    if not any(b.kind == "block" for b in blocks):
        chk.fail("memory", "needs at least one memory block of kind 'block'")
    names = [e.name for e in entries]
    for i, n in enumerate(names):
        if n in names[:i]:
            chk.fail(f"memory[{i}].name", f"{n!r} is listed twice")
    return Board(name=chk.word(data, "name"), vendor=vendor, family=family,
                 device=chk.word(data, "device"), package=chk.word(data, "package"),
                 speed_grade=chk.word(data, "speed_grade"),
                 clock_mhz=chk.clock(data, "clock_mhz"), luts=chk.integer(data, "luts"),
                 ffs=chk.integer(data, "ffs"), multiplier=chk.word(data, "multiplier"),
                 multipliers=chk.integer(data, "multipliers"), memory=blocks, path=path,
                 flash=tuple(e for e in entries if isinstance(e, FlashMemory)))


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
