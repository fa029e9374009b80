"""The MAX 10 user flash in the Quartus project of a design with its weights in flash: the
On-Chip Flash IP as a Platform Designer IP variation (``<top>_flash.qsys``), initialized
with the weight image (``rtl/flash_image.hex``, :mod:`fpgagen.emit.intel_hex`), and a
Verilog top level (``<top>_board.v``) that connects the accelerator's flash master
(``bus__*``) to the IP's data interface and ties off the rest.

The names of the IP's parameters, interfaces and ports are those of IP variation files
Quartus wrote for ``altera_onchip_flash`` (a public ``.qsys``, see ``docs/de10-lite.md``);
the values of ``CONFIGURATION_MODE`` other than ``Dual Compressed Images`` and
``Single Uncompressed Image`` and the ``INTERNAL_FLASH_UPDATE_MODE`` values for the
uncompressed and dual modes are inferred from the user guide's names. Nothing here has
been run through Quartus.
"""

from dataclasses import dataclass
from pathlib import Path

__all__ = ["FlashIp", "QuartusMode", "QUARTUS_MODES", "quartus_mode", "BUS_PORTS",
           "IP_BURST_COUNTS", "IP_DATA_PORTS", "ip_module", "board_module", "check_bus_ports"]


@dataclass(frozen=True)
class QuartusMode:
    """How Quartus names one MAX 10 configuration mode.

    Attributes
    ----------
    update_mode : str
        The value of the ``INTERNAL_FLASH_UPDATE_MODE`` assignment in the ``.qsf``.
    ip_mode : str
        The On-Chip Flash IP's ``CONFIGURATION_MODE`` parameter.
    """

    update_mode: str
    ip_mode: str


#: The board file's configuration modes (``boards/max10.yaml``) as Quartus names them.
QUARTUS_MODES = {
    "single_compressed_image": QuartusMode("SINGLE COMP IMAGE", "Single Compressed Image"),
    "single_uncompressed_image": QuartusMode("SINGLE IMAGE", "Single Uncompressed Image"),
    "dual_compressed_images": QuartusMode("DUAL IMAGES", "Dual Compressed Images"),
    "single_compressed_image_with_memory_init": QuartusMode(
        "SINGLE COMP IMAGE WITH ERAM", "Single Compressed Image with Memory Initialization"),
    "single_uncompressed_image_with_memory_init": QuartusMode(
        "SINGLE IMAGE WITH ERAM", "Single Uncompressed Image with Memory Initialization"),
}

#: The accelerator's flash master (``AcceleratorConfig(flash_bus_port=True)``): port name,
#: direction, and the IP's data-interface port it connects to.
BUS_PORTS = (
    ("bus__address", "output", "avmm_data_addr"),
    ("bus__read", "output", "avmm_data_read"),
    ("bus__burstcount", "output", "avmm_data_burstcount"),
    ("bus__waitrequest", "input", "avmm_data_waitrequest"),
    ("bus__readdata", "input", "avmm_data_readdata"),
    ("bus__readdatavalid", "input", "avmm_data_readdatavalid"),
)
#: Every port of the IP variation (interfaces ``clk``, ``nreset``, ``data``, ``csr``), in
#: the order the wrapper connects them.
IP_DATA_PORTS = ("avmm_data_addr", "avmm_data_read", "avmm_data_burstcount",
                 "avmm_data_waitrequest", "avmm_data_readdata", "avmm_data_readdatavalid",
                 "avmm_data_write", "avmm_data_writedata")


#: The IP's incrementing burst counts in parallel mode (UG-M10UFM, *On-Chip Flash Intel FPGA
#: IP Core Parameters*: "Read burst count is 2, 4, 8, ... 128").
IP_BURST_COUNTS = (2, 4, 8, 16, 32, 64, 128)


@dataclass(frozen=True)
class FlashIp:
    """The flash of a design with its weights in flash, as the Quartus project needs it.

    Attributes
    ----------
    mode : str
        The configuration mode the fit chose (:attr:`fpgagen.fit.flash.FlashUse.mode`,
        a key of :data:`QUARTUS_MODES`).
    burst_count : int
        The longest burst the accelerator issues (``HwParams.flash.burst_limit``): the
        IP's ``READ_BURST_COUNT``.
    image : Path
        The Intel HEX of the flash image (:func:`fpgagen.emit.intel_hex.intel_hex_words`).
    """

    mode: str
    burst_count: int
    image: Path


def quartus_mode(mode) -> QuartusMode:
    """The Quartus names of the board file's configuration mode ``mode``.

    Raises
    ------
    ValueError
        For a mode without Quartus names (``None``: the design can use no mode).
    """
    if mode not in QUARTUS_MODES:
        raise ValueError(f"no Quartus configuration mode for {mode!r}; known: "
                         f"{', '.join(QUARTUS_MODES)}")
    return QUARTUS_MODES[mode]


def ip_module(top: str) -> str:
    """The name of the IP variation (and of its Verilog module) for top module ``top``."""
    return f"{top}_flash"


def board_module(top: str) -> str:
    """The name of the Verilog top level that holds ``top`` and the flash IP."""
    return f"{top}_board"


def check_bus_ports(ports, top: str, burst_count: int) -> None:
    """Check that ``ports`` (``(direction, name, width)`` of module ``top``) hold the flash
    master with the widths the IP takes (32-bit data, a burst count that reaches
    ``burst_count``), and that the IP can read bursts of ``burst_count`` words
    (:data:`IP_BURST_COUNTS`).

    Raises
    ------
    ValueError
        Naming the missing or wrong port.
    """
    have = {name: (d, w) for d, name, w in ports}
    for name, direction, _ in BUS_PORTS:
        if name not in have:
            raise ValueError(f"module {top!r} has no flash bus port {name!r} (a design "
                             f"with its weights in flash has the bus__* ports)")
        if have[name][0] != direction:
            raise ValueError(f"port {name!r} of {top!r} is an {have[name][0]}, not an "
                             f"{direction}")
    if burst_count not in IP_BURST_COUNTS:
        raise ValueError(f"the On-Chip Flash IP reads incrementing bursts of "
                         f"{', '.join(map(str, IP_BURST_COUNTS))} words, not {burst_count!r} "
                         f"(the board file's max_burst_words)")
    if have["bus__readdata"][1] != 32:
        raise ValueError(f"bus__readdata of {top!r} is {have['bus__readdata'][1]} bits, "
                         f"not the flash's 32")
    if not 1 <= burst_count < 1 << have["bus__burstcount"][1]:
        raise ValueError(f"a burst of {burst_count} words does not fit the "
                         f"{have['bus__burstcount'][1]}-bit bus__burstcount of {top!r}")
