"""pytest-side support for the block unit tests: port names and shapes of a component,
the cycle-table run, and tiny wrapper components."""

from pathlib import Path

import numpy as np
from amaranth.hdl import Module, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from fpgagen.hw.isa import INSTRUCTION_BITS, Instruction
from fpgagen.sim.component import ComponentBuild, build_component

__all__ = ["RTL_TESTS", "port_shapes", "build", "run_testbench", "run_cycles",
           "InstructionFields"]

#: The ``rtl_tests`` folder.
RTL_TESTS = Path(__file__).resolve().parent.parent
#: Put on the simulator's ``PYTHONPATH`` so that the cocotb modules import as
#: ``rtl_tests.units.tb_*``.
_REPO = RTL_TESTS.parent
#: Verilator's run-time objects, compiled once for all the block builds.
RUNTIME_CACHE = RTL_TESTS / "_build" / "_verilator_runtime"


def port_shapes(component: wiring.Component) -> dict:
    """``{verilog port name: (width, signed, is_input)}`` of a component's signature, with
    Amaranth's flattened names (``weights__1__0``)."""
    shapes = {}
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(p) for p in path)
        shape = Value.cast(value).shape()  # struct and enum ports: their bit vector
        shapes[name] = (shape.width, shape.signed, member.flow == wiring.In)
    return shapes


def build(component: wiring.Component, build_dir, extra_verilog: str = "") -> ComponentBuild:
    """Verilator build of ``component`` in ``build_dir`` (top module ``dut``, with the
    modules of ``extra_verilog``), sharing the compiled Verilator run-time library between
    the unit tests."""
    return build_component(component, build_dir, runtime_cache=RUNTIME_CACHE,
                           extra_verilog=extra_verilog)


def run_testbench(sim: ComponentBuild, testbench: str, stimulus: dict) -> dict:
    """Run the cocotb module ``rtl_tests/units/<testbench>.py`` on ``sim``; returns what it
    saved (see :meth:`fpgagen.sim.component.ComponentBuild.run`)."""
    return sim.run(f"rtl_tests.units.{testbench}", stimulus, python_path=[_REPO])


def run_cycles(sim: ComponentBuild, component: wiring.Component, inputs: dict,
               outputs) -> dict:
    """Drive ``inputs`` (``{port: values per cycle}``) into the simulation of ``component``
    and return ``{port: int64 value per cycle}`` for each of ``outputs``, read as signed
    where the port is signed (see ``units/tb_cycles.py`` for the timing)."""
    shapes = port_shapes(component)
    stim = {}
    for name, values in inputs.items():
        width, _, is_input = shapes[name]
        if not is_input:
            raise ValueError(f"{name!r} is not an input port")
        values = [int(v) for v in values]
        if width > 63:
            stim[f"in:{name}"] = np.array([f"{v:x}" for v in values])
        else:
            stim[f"in:{name}"] = np.array(values, dtype=np.int64)
    outputs = list(outputs)
    stim["outputs"] = np.array(outputs)
    stim["signed_outputs"] = np.array([n for n in outputs if shapes[n][1]] or [""])
    got = run_testbench(sim, "tb_cycles", stim)
    return {n: got[f"out:{n}"] for n in outputs}


class InstructionFields(wiring.Component):
    """Views ``word`` through the :class:`~fpgagen.hw.isa.Instruction` layout and
    puts every field on its own output port ``f_<field>``, with the field's shape (the
    opcode as its 2-bit value); purely combinational."""

    def __init__(self):
        members = {"word": In(INSTRUCTION_BITS)}
        for name, field in data.Layout.cast(Instruction):
            shape = field.shape
            members[f"f_{name}"] = Out(shape if name != "op" else field.width)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        view = Instruction(self.word)
        for name, _ in data.Layout.cast(Instruction):
            field = getattr(view, name)
            value = field.as_value() if name == "op" else field
            m.d.comb += getattr(self, f"f_{name}").eq(value)
        return m
