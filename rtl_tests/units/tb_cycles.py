"""cocotb testbench for any clocked block: a cycle table in, a cycle table out.

The driver applies row ``k`` of the input table during cycle ``k`` (written at the falling
edge, sampled by the rising edge that ends the cycle); the monitor records every output
during cycle ``k``, before row ``k`` is applied. So an output registered once after its
inputs appears one row later, and a block of latency ``n`` answers row ``k`` in row
``k + n``. The model and the checker are in pytest (``rtl_tests/test_block_*.py``).

Stimulus (``FPGAGEN_TB_IN``): ``in:<port>`` arrays, one value per cycle (int64, or
hexadecimal strings for ports wider than 63 bits); ``outputs``: the ports to record;
``signed_outputs``: those to read as two's complement. Results (``FPGAGEN_TB_OUT``):
``out:<port>`` int64 arrays, one value per cycle.
"""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

__all__ = ["run_cycle_table"]


def _as_int(value) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


async def _reset(dut, inputs):
    for name in inputs:
        getattr(dut, name).value = 0
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)


@cocotb.test()
async def run_cycle_table(dut):
    """Reset, then drive the input table cycle by cycle and record the outputs."""
    data = np.load(os.environ["FPGAGEN_TB_IN"], allow_pickle=False)
    inputs = {k[3:]: [_as_int(v) for v in data[k].tolist()] for k in data.files
              if k.startswith("in:")}
    outputs = [str(n) for n in data["outputs"]]
    signed = {str(n) for n in data["signed_outputs"]}
    cycles = max((len(v) for v in inputs.values()), default=0)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await _reset(dut, inputs)
    handles_in = {n: getattr(dut, n) for n in inputs}
    # One-bit ports read as Logic (no to_unsigned), wider ones as LogicArray.
    handles_out = [(n, getattr(dut, n), n in signed, len(getattr(dut, n)) > 1)
                   for n in outputs]
    trace = {n: np.zeros(cycles, dtype=np.int64) for n in outputs}
    previous = {n: 0 for n in inputs}
    for k in range(cycles):
        # Monitor: the outputs of cycle k (registered at the rising edge before it).
        for n, h, s, w in handles_out:
            v = h.value
            trace[n][k] = v.to_signed() if s else v.to_unsigned() if w else int(v)
        # Driver: row k, written only where it changes.
        for n, h in handles_in.items():
            v = inputs[n][k]
            if v != previous[n]:
                h.value = v
                previous[n] = v
        await FallingEdge(dut.clk)
    np.savez(os.environ["FPGAGEN_TB_OUT"], **{f"out:{n}": t for n, t in trace.items()})
