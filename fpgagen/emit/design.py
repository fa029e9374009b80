"""The accelerator's RTL for a board: Verilog of the top level and its memory modules, the
weight and bias images in the vendor's format, and the schedule as binary and listing.

Every file refers to the others by bare file name, so the folder can be moved and a second
run writes byte-identical files wherever it writes them."""

import dataclasses
import logging
from pathlib import Path

from ..gateware.ram import ram_verilog
from ..gateware.rom import InitFormat, bare_init_files, rom_verilog
from ..gateware.top import Accelerator, AcceleratorConfig
from ..schedule.isa import INSTRUCTION_BITS
from .memory_images import write_bank_images

__all__ = ["TOP_MODULE", "VERILOG_FILES", "init_format_for", "accelerator_config",
           "schedule_bytes", "write_rtl"]

log = logging.getLogger(__name__)

#: Name of the top-level Verilog module.
TOP_MODULE = "fpgagen_top"
#: The Verilog files :func:`write_rtl` writes, top level first.
VERILOG_FILES = ("fpgagen_top.v", "fpgagen_rom.v", "fpgagen_ram.v")
#: Bytes of one instruction in ``schedule.bin``.
INSTRUCTION_BYTES = (INSTRUCTION_BITS + 7) // 8

# Quartus ``ramstyle`` of the weight ROMs, per family.
_RAMSTYLE = {"max10": "M9K"}


def init_format_for(board) -> InitFormat:
    """``MIF`` for Intel boards (Quartus ``ram_init_file``), ``HEX`` for the others
    (``$readmemh``)."""
    return InitFormat.MIF if board.vendor == "intel" else InitFormat.HEX


def accelerator_config(program, mem_dir: str = ".") -> AcceleratorConfig:
    """The top level's configuration for ``program`` (the bank images in ``mem_dir``)."""
    hw = program.hw
    kwargs = dict(pe_rows=hw.pe_rows, pe_cols=hw.pe_cols, program=tuple(program.words()),
                  act_depth=program.act_depth, input_base=program.input.base,
                  input_words=program.input_words, weight_depth=program.weight_depth,
                  bias_depth=program.bias_depth,
                  score_groups=-(-program.output_channels // hw.pe_rows), mem_dir=mem_dir)
    if "weight_bits" in {f.name for f in dataclasses.fields(AcceleratorConfig)}:
        kwargs["weight_bits"] = int(getattr(program, "weight_bits", 8))
    return AcceleratorConfig(**kwargs)


def schedule_bytes(program) -> bytes:
    """The schedule ROM's contents: every packed instruction as :data:`INSTRUCTION_BYTES`
    little-endian bytes, in execution order."""
    return b"".join(w.to_bytes(INSTRUCTION_BYTES, "little") for w in program.words())


def write_rtl(program, rtl_dir, *, board) -> list[Path]:
    """Write the accelerator's RTL for ``program`` on ``board`` into ``rtl_dir``.

    Parameters
    ----------
    program : Program
        The compiled network.
    rtl_dir : path
        Output folder (created).
    board : Board
        Decides the image format: ``.mif`` for Intel (``ram_init_file``), ``.hex`` for
        ``$readmemh`` otherwise.

    Returns
    -------
    list of Path
        ``fpgagen_top.v``, ``fpgagen_rom.v``, ``fpgagen_ram.v``, then ``weights_c`` and
        ``bias_c`` images per PE column, then ``schedule.bin`` and ``schedule.txt``.
    """
    from amaranth.back import verilog

    rtl_dir = Path(rtl_dir)
    rtl_dir.mkdir(parents=True, exist_ok=True)
    fmt = init_format_for(board)
    config = accelerator_config(program)
    log.info("converting the %dx%d accelerator to Verilog", config.pe_rows, config.pe_cols)
    with bare_init_files(fmt):
        top = verilog.convert(Accelerator(config), name=TOP_MODULE, emit_src=False)
    rom = rom_verilog(fmt, ramstyle=_RAMSTYLE.get(board.family) if fmt is InitFormat.MIF
                      else None)
    paths = []
    for name, text in zip(VERILOG_FILES, (top, rom, ram_verilog())):
        path = rtl_dir / name
        path.write_text(text, newline="\n")
        paths.append(path)
    log.info("writing %d weight and bias images (%s)", 2 * config.pe_cols, fmt.suffix)
    paths += write_bank_images(rtl_dir, program.weight_banks, program.bias_banks,
                               program.shift_banks, getattr(program, "weight_bits", 8),
                               init_format=fmt)
    path = rtl_dir / "schedule.bin"
    path.write_bytes(schedule_bytes(program))
    paths.append(path)
    path = rtl_dir / "schedule.txt"
    path.write_text(program.listing() + "\n", newline="\n")
    paths.append(path)
    return paths
