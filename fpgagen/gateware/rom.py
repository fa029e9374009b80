"""Large read-only memories as instances of a templated ROM module whose contents come from
a file: ``$readmemh`` of a ``.hex`` file (Yosys, Vivado, Verilator), or a ``.mif`` file
named by the ``ram_init_file`` attribute (Quartus)."""

import contextlib
import contextvars
import enum
from pathlib import PurePosixPath

from amaranth.hdl import ClockSignal, Instance, Signal

from .. import __version__
from .templates import verilog_template_env

__all__ = ["ROM_MODULE", "InitFormat", "rom_verilog", "rom_instance", "bare_init_files"]

#: Name of the Verilog module rendered from ``templates/rom.v.j2``.
ROM_MODULE = "fpgagen_rom"


class InitFormat(enum.Enum):
    """How a ROM's initial contents reach synthesis."""

    #: ``$readmemh`` of a ``.hex`` file, one hex word per line (Yosys, Vivado, Verilator).
    HEX = "hex"
    #: A Memory Initialization File named by the ``ram_init_file`` attribute (Quartus).
    MIF = "mif"

    @property
    def suffix(self) -> str:
        """File name suffix of the images, with the dot."""
        return f".{self.value}"


# Set by :func:`bare_init_files` while a design is converted to Verilog.
_BARE_INIT = contextvars.ContextVar("fpgagen_bare_init", default=None)


def rom_verilog(init_format: InitFormat = InitFormat.HEX, *, ramstyle: str | None = None
                ) -> str:
    """Verilog source of the ROM module.

    Parameters
    ----------
    init_format : InitFormat
        ``HEX``: ``initial $readmemh(INIT, mem)``; ``MIF``: ``(* ram_init_file = INIT *)``.
    ramstyle : str or None
        Quartus ``ramstyle`` of the memory (``"M9K"``...), for ``MIF`` only.
    """
    if not isinstance(init_format, InitFormat):
        raise ValueError(f"init_format must be an InitFormat, not {init_format!r}")
    return verilog_template_env().get_template("rom.v.j2").render(
        module=ROM_MODULE, version=__version__, init_format=init_format.value,
        ramstyle=ramstyle)


@contextlib.contextmanager
def bare_init_files(init_format: InitFormat):
    """While active, :func:`rom_instance` names its image by the bare file name with the
    suffix of ``init_format`` (``/any/dir/weights_3.hex`` -> ``weights_3.mif``), so that the
    Verilog refers to its images relative to the folder the tools run in. Wrap the Verilog
    conversion (elaboration happens there) in it."""
    token = _BARE_INIT.set(init_format)
    try:
        yield
    finally:
        _BARE_INIT.reset(token)


def rom_instance(addr: Signal, data: Signal, depth: int, init_file: str) -> Instance:
    """An instance reading ``data`` (``MEMORY_LATENCY`` = 2 cycles later) at ``addr``
    from the image ``init_file`` (renamed as :func:`bare_init_files` says, when active)."""
    fmt = _BARE_INIT.get()
    if fmt is not None:
        init_file = PurePosixPath(init_file).with_suffix(fmt.suffix).name
    return Instance(ROM_MODULE, p_WIDTH=len(data), p_DEPTH=depth, p_ABITS=len(addr),
                    p_INIT=init_file, i_clk=ClockSignal(), i_addr=addr, o_data=data)
