"""cocotb testbench of the whole accelerator: a driver offers the input words on the input
stream, which the program's LOAD instructions take while the design runs by itself until
``done``; a monitor collects the score stream, and the activation memory regions asked for
and the per-instruction cycle log are read back through the debug port. Inputs and results
travel as ``.npz`` files named by ``FPGAGEN_TB_IN`` / ``FPGAGEN_TB_OUT``; the checker
(pytest or ``fpgagen simulate``) compares them with the golden model."""

import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, First, ReadOnly, RisingEdge

from fpgagen.hw.timing import MEMORY_LATENCY


async def _drive_input(dut, words, taken):
    """Offer ``words`` on the input stream in order, ``valid`` held high from the first to
    the last (so the program's LOADs never stall): a word is taken on a rising edge of the
    clock where ``ready`` is high, and the next one is presented right after it. While
    ``ready`` is low the driver sleeps until it rises instead of watching every cycle.
    ``taken[0]`` counts the words taken."""
    ready = dut.i_stream__ready
    for w in words:
        dut.i_stream__payload.value = int(w)
        dut.i_stream__valid.value = 1
        await ReadOnly()  # ready as the coming edge samples it
        if not int(ready.value):
            await RisingEdge(ready)  # just after the edge that ends the cycle before
        await RisingEdge(dut.clk)  # the word is taken
        taken[0] += 1
    dut.i_stream__valid.value = 0


async def _collect_scores(dut):
    scores = []
    await First(RisingEdge(dut.o_stream__valid), RisingEdge(dut.done))
    while True:
        await ReadOnly()
        if int(dut.done.value):
            break
        if int(dut.o_stream__valid.value) and int(dut.o_stream__ready.value):
            scores.append(dut.o_stream__payload.value.to_unsigned())
        await RisingEdge(dut.clk)
    return scores


async def _read_memory(dut, start, count, port="dbg_data"):
    """Words ``start .. start + count - 1`` through the debug port: one address a cycle,
    each word read ``MEMORY_LATENCY`` cycles after its address."""
    out = []
    signal = getattr(dut, port)
    for k in range(count + MEMORY_LATENCY):
        if k < count:
            dut.dbg_addr.value = start + k
        await RisingEdge(dut.clk)
        if k + 1 >= MEMORY_LATENCY and len(out) < count:
            await FallingEdge(dut.clk)
            out.append(signal.value.to_unsigned())
    return out


@cocotb.test()
async def run_accelerator(dut):
    """Run to ``done`` while offering the input, collect scores and memory regions."""
    data = np.load(os.environ["FPGAGEN_TB_IN"], allow_pickle=False)
    words = [int(x, 16) for x in data["input_hex"]]
    regions = data["regions"].reshape(-1, 2)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.start.value = 0
    dut.i_stream__valid.value = 0
    dut.o_stream__ready.value = 1
    dut.dbg_addr.value = 0
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    t0 = time.perf_counter()
    taken = [0]
    driver = cocotb.start_soon(_drive_input(dut, words, taken))
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    await RisingEdge(dut.clk)
    collector = cocotb.start_soon(_collect_scores(dut))
    scores = await collector
    wall = time.perf_counter() - t0
    if not driver.done():  # the program took fewer words than offered
        driver.cancel()
    await RisingEdge(dut.clk)  # leave the read-only phase the collector ended in
    cycles = dut.cycles.value.to_unsigned()
    mem = [np.array([f"{w:x}" for w in await _read_memory(dut, int(s), int(n))])
           for s, n in regions]
    cycle_log = await _read_memory(dut, 0, int(data["instructions"]), port="dbg_perf")
    np.savez(os.environ["FPGAGEN_TB_OUT"], scores=np.array(scores, dtype=np.int64),
             cycles=cycles, wall_seconds=wall, input_taken=taken[0],
             cycle_log=np.array(cycle_log, dtype=np.int64),
             **{f"region_{i}": r for i, r in enumerate(mem)})
