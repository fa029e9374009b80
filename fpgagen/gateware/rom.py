"""Large read-only memories as instances of a templated ROM module whose contents come from
a file: ``$readmemh`` of a ``.hex`` file (Yosys, Vivado, Verilator), or a ``.mif`` file
named by the ``ram_init_file`` attribute (Quartus). A deep ROM is built from parts of one
row of blocks each, with a registered multiplexer over them (:func:`banked_rom`)."""

import enum

from amaranth.hdl import ClockSignal, Const, Instance, Module, Signal, Value

from .. import __version__
from .ram import ram_banking
from ..resources import template_env

__all__ = ["ROM_MODULE", "InitFormat", "rom_verilog", "rom_instance", "banked_rom",
           "part_image"]

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
    return template_env().get_template("rom.v.j2").render(
        module=ROM_MODULE, version=__version__, init_format=init_format.value,
        ramstyle=ramstyle)


def rom_instance(addr: Signal, data: Signal, depth: int, init_file: str) -> Instance:
    """An instance reading ``data`` (2 cycles later) at ``addr`` from the image
    ``init_file`` (the name the Verilog gives the tools)."""
    return Instance(ROM_MODULE, p_WIDTH=len(data), p_DEPTH=depth, p_ABITS=len(addr),
                    p_INIT=init_file, i_clk=ClockSignal(), i_addr=addr, o_data=data)


def part_image(stem: str, part: int, suffix: str = ".hex") -> str:
    """File name of part ``part`` of the ROM image ``stem`` (``weights_3`` ->
    ``weights_3_0.hex``)."""
    return f"{stem}_{part}{suffix}"


def banked_rom(m: Module, name: str, addr: Value, data: Signal, depth: int, part_depth: int,
               images: list[str]) -> None:
    """A ROM of ``depth`` words read into ``data`` :data:`MEMORY_LATENCY` (4) cycles after
    ``addr``, built from parts of ``part_depth`` words (a power of two: one row of the
    device's blocks), part ``k`` with the image ``images[k]``.

    Each part (``templates/rom.v.j2``) registers its output in the fabric next to its
    blocks (latency 2); a registered multiplexer picks the part within a group of parts,
    a second one the group (:func:`fpgagen.gateware.ram.ram_banking`), each an AND-OR of
    its inputs with registered one-hot selects."""
    parts, group, groups = ram_banking(depth, part_depth)
    if len(images) != parts:
        raise ValueError(f"ROM {name!r} has {parts} parts, got {len(images)} image names")
    pbits = part_depth.bit_length() - 1
    width = len(data)
    outs = []
    for k in range(parts):
        this = min(part_depth, depth - k * part_depth)
        abits = max(1, (this - 1).bit_length())
        q = Signal(width, name=f"{name}_part{k}")
        m.submodules[f"{name}_{k}"] = rom_instance(addr[:abits], q, this, images[k])
        outs.append(q)
    sel = addr[pbits:] if len(addr) > pbits else Const(0, 1)
    lo1 = Signal(max(1, (group - 1).bit_length()), name=f"{name}_lo1")
    hi1 = Signal(max(1, (groups - 1).bit_length()), name=f"{name}_hi1")
    lo_hot2 = Signal(group, name=f"{name}_lo_hot2")
    hi_hot2 = Signal(groups, name=f"{name}_hi_hot2")
    hi_hot3 = Signal(groups, name=f"{name}_hi_hot3")
    m.d.sync += [lo1.eq(sel % group), hi1.eq(sel // group), hi_hot3.eq(hi_hot2)]
    m.d.sync += [lo_hot2[i].eq(lo1 == i) for i in range(group)]
    m.d.sync += [hi_hot2[j].eq(hi1 == j) for j in range(groups)]
    group_q = []
    for g in range(groups):
        q = Signal(width, name=f"{name}_group{g}")
        members = outs[g * group:(g + 1) * group]
        m.d.sync += q.eq(_and_or([(p, lo_hot2[i]) for i, p in enumerate(members)], width))
        group_q.append(q)
    m.d.sync += data.eq(_and_or([(q, hi_hot3[j]) for j, q in enumerate(group_q)], width))


def _and_or(terms, width: int) -> Value:
    """OR over ``value & replicate(select)`` of ``terms`` (``[(value, select)]``)."""
    out = Const(0, width)
    for value, select in terms:
        out = out | (value & select.replicate(width))
    return out
