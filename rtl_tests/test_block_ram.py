"""Unit test of the banked activation RAM (``templates/ram.v.j2`` through
``fpgagen.gateware.ram.ram_instance``) under Verilator.

Random writes and reads, each port busy about half the cycles, on RAMs of one bank, of
banks in one group, and of several groups with a partial last bank and a partial last
group. A Python model written from the template's contract predicts every read: the word
at ``raddr`` appears ``MEMORY_LATENCY`` cycles later, and a write presented in cycle ``j``
(registered once, ``RAM_WRITE_LATENCY``) is seen by reads presented from cycle ``j + 2``
on. A read in cycle ``j + 1`` of the same word meets the write inside the block RAM: its
data is undefined on the device, and the simulation returns the old word inverted, which is
how the bit-exact tests of whole designs would catch a schedule that used such a read."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fpgagen.gateware.ram import ram_banking, ram_instance, ram_verilog
from fpgagen.hw.timing import MEMORY_LATENCY, RAM_WRITE_LATENCY

from .units.support import build, run_cycles


class RamUnderTest(wiring.Component):
    """The templated RAM with its ports on the component."""

    def __init__(self, depth: int, width: int, bank_depth: int):
        self._depth, self._bank_depth = depth, bank_depth
        abits = max(1, (depth - 1).bit_length())
        super().__init__({"waddr": In(abits), "wdata": In(width), "we": In(1),
                          "raddr": In(abits), "rdata": Out(width)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.ram = ram_instance(depth=self._depth, waddr=self.waddr,
                                        wdata=self.wdata, we=self.we, raddr=self.raddr,
                                        rdata=self.rdata, bank_depth=self._bank_depth)
        return m


def _model(waddr, wdata, we, raddr, cycles, width):
    """Expected ``rdata`` per cycle (-1 where the word read was never written)."""
    mem = {}
    out = np.full(cycles, -1, dtype=np.int64)
    for k in range(cycles):
        # writes presented up to cycle k - 1 - RAM_WRITE_LATENCY are in the array when
        # the read of cycle k samples it
        j = k - 1 - RAM_WRITE_LATENCY
        if j >= 0 and we[j]:
            mem[int(waddr[j])] = int(wdata[j])
        if k + MEMORY_LATENCY < cycles:
            word = mem.get(int(raddr[k]), -1)
            # the write presented RAM_WRITE_LATENCY cycles earlier is in the block now
            c = k - RAM_WRITE_LATENCY
            if word >= 0 and c >= 0 and we[c] and waddr[c] == raddr[k]:
                word ^= (1 << width) - 1
            out[k + MEMORY_LATENCY] = word
    return out


@pytest.mark.parametrize("depth, width, bank_depth", [(5, 9, 8), (64, 18, 16), (100, 18, 8)],
                         ids=["1bank", "4banks", "13banks"])
def test_banked_ram(build_dir, depth, width, bank_depth):
    banks, group, groups = ram_banking(depth, bank_depth)
    assert (banks, group, groups) == {5: (1, 1, 1), 64: (4, 2, 2), 100: (13, 4, 4)}[depth]
    rng = np.random.default_rng(depth)
    cycles = 1500
    waddr = rng.integers(0, depth, cycles)
    wdata = rng.integers(0, 1 << width, cycles)
    we = (rng.random(cycles) < 0.5).astype(np.int64)
    raddr = rng.integers(0, depth, cycles)
    # read-after-write at the same word, one (a collision) and two cycles apart
    for k in range(100, cycles - 10, 37):
        waddr[k], we[k] = raddr[k + 1], 1
        raddr[k + 2] = raddr[k + 1]
    dut = RamUnderTest(depth, width, bank_depth)
    sim = build(dut, build_dir, extra_verilog=ram_verilog())
    got = run_cycles(sim, dut, {"waddr": waddr, "wdata": wdata, "we": we, "raddr": raddr},
                     ["rdata"])["rdata"]
    want = _model(waddr, wdata, we, raddr, cycles, width)
    known = want >= 0
    assert known.sum() > cycles // 2
    np.testing.assert_array_equal(got[known], want[known],
                                  err_msg=f"rdata (latency {MEMORY_LATENCY})")
