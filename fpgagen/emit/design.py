"""The accelerator's RTL: Verilog of the top level and its memory modules, the weight and
bias images, and the schedule as binary and listing. One writer serves ``fpgagen build``
(:func:`write_rtl`, for a board), ``fpgagen simulate`` and the tests
(:func:`write_design`, through :func:`fpgagen.sim.verilator.build_simulation`).

Every file of a board's build refers to the others by bare file name, so the folder can be
moved and a second run writes byte-identical files wherever it writes them."""

import logging
from pathlib import Path

from .. import __version__
from ..fit.memories import design_memory_map
from ..gateware.ram import ram_verilog
from ..gateware.rom import InitFormat, rom_verilog
from ..gateware.top import Accelerator, AcceleratorConfig
from ..hw.isa import INSTRUCTION_BITS, LOAD_FIELDS_BITS
from .memory_images import write_bank_images

__all__ = ["TOP_MODULE", "VERILOG_FILES", "FLASH_IMAGE_FILE", "FLASH_HEX_FILE", "init_format_for",
           "schedule_bytes", "flash_image_bytes", "write_rtl", "write_design",
           "write_schedule", "board_config"]

log = logging.getLogger(__name__)

#: Name of the top-level Verilog module.
TOP_MODULE = "fpgagen_top"
#: The Verilog files :func:`write_design` writes, top level first.
VERILOG_FILES = ("fpgagen_top.v", "fpgagen_rom.v", "fpgagen_ram.v")
#: Bytes of one instruction in ``schedule.bin``.
INSTRUCTION_BYTES = (INSTRUCTION_BITS + 7) // 8
#: The flash image of a design with its weights in flash, in the RTL folder.
FLASH_IMAGE_FILE = "flash_image.bin"
#: The same image as Intel HEX (:func:`fpgagen.emit.intel_hex.intel_hex_words`), the
#: initial contents of the On-Chip Flash IP, for boards with a Quartus project.
FLASH_HEX_FILE = "flash_image.hex"


def init_format_for(board) -> InitFormat:
    """How the board's family takes ROM images: ``MIF`` (Quartus ``ram_init_file``) or
    ``HEX`` (``$readmemh``)."""
    return InitFormat(board.profile.memory_init)


def schedule_bytes(program) -> bytes:
    """The schedule ROM's contents: every packed instruction as :data:`INSTRUCTION_BYTES`
    little-endian bytes (with the weights in flash, the bytes of an instruction and its
    load fields, ``ceil((INSTRUCTION_BITS + LOAD_FIELDS_BITS) / 8)``), in execution
    order."""
    n = (INSTRUCTION_BYTES if program.flash is None
         else (INSTRUCTION_BITS + LOAD_FIELDS_BITS + 7) // 8)
    return b"".join(w.to_bytes(n, "little") for w in program.words())


def flash_image_bytes(program) -> bytes:
    """The flash image of a program with its weights in flash (``program.flash.image``):
    its 32-bit words from word 0, each little endian."""
    return b"".join(int(w).to_bytes(4, "little") for w in program.flash.image)


def board_config(program, board) -> AcceleratorConfig:
    """The top level of ``program`` for ``board``: the memory map with one row of the
    board's blocks per bank (:func:`fpgagen.fit.memories.design_memory_map`), the images
    named bare in the board's format; with the weights in flash, the loader's Avalon-MM
    master as ``bus__*`` ports for the flash IP's data interface (not the simulation
    model of the flash)."""
    return AcceleratorConfig.for_program(program, design_memory_map(program, board),
                                         image_suffix=init_format_for(board).suffix,
                                         flash_bus_port=program.flash is not None)


def write_design(config: AcceleratorConfig, weight_banks, bias_banks, shift_banks, rtl_dir,
                 *, init_format: InitFormat = InitFormat.HEX,
                 ramstyle: str | None = None, compressed=None) -> list[Path]:
    """Write the Verilog of ``config``'s accelerator and the images of its ROMs into
    ``rtl_dir`` (created).

    Parameters
    ----------
    config : AcceleratorConfig
        The top level; its memory map names the images and their parts.
    weight_banks, bias_banks, shift_banks : np.ndarray
        The bank contents (:class:`~fpgagen.schedule.program.Program`'s arrays).
    rtl_dir : path
    init_format : InitFormat
        The images' format; must match ``config.image_suffix``.
    ramstyle : str or None
        Quartus ``ramstyle`` of the ROMs (``MIF`` only).
    compressed : CompressedWeights or None
        The program's compressed weights (masks, stream starts, codebooks), if any.

    Returns
    -------
    list of Path
        ``fpgagen_top.v``, ``fpgagen_rom.v``, ``fpgagen_ram.v``, then the ``weights_c_k``
        and ``bias_c_k`` image parts per PE column.
    """
    from amaranth.back import verilog

    if config.image_suffix != init_format.suffix:
        raise ValueError(f"the top level names {config.image_suffix} images, the writer "
                         f"writes {init_format.suffix}")
    rtl_dir = Path(rtl_dir)
    rtl_dir.mkdir(parents=True, exist_ok=True)
    log.info("converting the %dx%d accelerator to Verilog", config.pe_rows, config.pe_cols)
    top = verilog.convert(Accelerator(config), name=TOP_MODULE, emit_src=False)
    top = f"// generated by fpgagen {__version__}, do not edit\n{top}"
    rom = rom_verilog(init_format, ramstyle=ramstyle if init_format is InitFormat.MIF
                      else None)
    paths = []
    for name, text in zip(VERILOG_FILES, (top, rom, ram_verilog())):
        path = rtl_dir / name
        path.write_text(text, newline="\n")
        paths.append(path)
    images = write_bank_images(rtl_dir, config.memories, weight_banks, bias_banks,
                               shift_banks, init_format=init_format, compressed=compressed)
    log.info("wrote %d weight and bias image parts (%s) for %d columns", len(images),
             init_format.suffix, config.pe_cols)
    return paths + images


def write_rtl(program, rtl_dir, *, board) -> list[Path]:
    """Write the accelerator's RTL for ``program`` on ``board`` into ``rtl_dir``: the design
    (:func:`write_design`, images in the board's format, banks one row of its blocks), the
    schedule (:func:`write_schedule`) and, with the weights in flash, the flash image
    (:data:`FLASH_IMAGE_FILE`, :func:`flash_image_bytes`; for a board with a Quartus
    project also as Intel HEX, :data:`FLASH_HEX_FILE`). Returns every path written."""
    fmt = init_format_for(board)
    paths = write_design(board_config(program, board), program.weight_banks,
                         program.bias_banks, program.shift_banks, rtl_dir, init_format=fmt,
                         ramstyle=board.profile.rom_ramstyle, compressed=program.compressed)
    paths += write_schedule(program, rtl_dir)
    if program.flash is not None:
        image = Path(rtl_dir) / FLASH_IMAGE_FILE
        image.write_bytes(flash_image_bytes(program))
        paths.append(image)
        if board.profile.project == "quartus":
            from .intel_hex import intel_hex_words

            hex_image = Path(rtl_dir) / FLASH_HEX_FILE
            hex_image.write_text(intel_hex_words(int(w) for w in program.flash.image),
                                 newline="\n")
            paths.append(hex_image)
    return paths


def write_schedule(program, rtl_dir) -> list[Path]:
    """The control schedule in ``rtl_dir``: ``schedule.bin`` (:func:`schedule_bytes`) and
    ``schedule.txt`` (the readable listing). Returns both paths."""
    rtl_dir = Path(rtl_dir)
    rtl_dir.mkdir(parents=True, exist_ok=True)
    binary, listing = rtl_dir / "schedule.bin", rtl_dir / "schedule.txt"
    binary.write_bytes(schedule_bytes(program))
    listing.write_text(program.listing() + "\n", newline="\n")
    return [binary, listing]
