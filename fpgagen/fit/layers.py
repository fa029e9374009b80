"""The per-layer resource table and the throughput of a compiled program on a board."""

import math

from ..hw.cost import mac_utilization
from ..hw.isa import Opcode
from ..hw.spec import ACT_LANE_BITS, SCORE_STREAM_CYCLES
from ..schedule.memory_map import MemoryRole
from .placement import MemoryFit

__all__ = ["layer_rows", "performance"]


def _apportion(shares: list[float], total: int) -> list[int]:
    """Integers proportional to ``shares`` summing to ``total`` (largest remainder; ties to
    the earlier entry)."""
    s = sum(shares)
    if total <= 0 or s <= 0:
        return [0] * len(shares)
    exact = [total * x / s for x in shares]
    out = [math.floor(x) for x in exact]
    order = sorted(range(len(shares)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[:total - sum(out)]:
        out[i] += 1
    return out


def _spans(entries: list[tuple[int, int]], depth: int) -> dict[int, int]:
    """``{instruction index: words}`` from ``(index, base)`` of the layers sharing a bank."""
    entries = sorted(entries, key=lambda e: (e[1], e[0]))
    out = {}
    for k, (i, base) in enumerate(entries):
        end = entries[k + 1][1] if k + 1 < len(entries) else depth
        out[i] = end - base
    return out


def layer_rows(program, graph, memfit: MemoryFit) -> list[dict]:
    """One row per instruction: name, opcode, output shape, MACs, predicted cycles, MAC
    utilization, weights (count, bits, bank words, stored bytes), the layer's share of the
    weight and bias bank blocks, and the bytes of its output tensor in the activation
    memory.

    The banks are shared by all layers, so a layer's ``bram`` is its share of the banks'
    blocks in proportion to the words it occupies (integers by largest remainder that sum
    to the banks' blocks). The activation memory is shared and not apportioned.
    """
    hw = program.hw
    rows, cols = hw.pe_rows, hw.pe_cols
    wbits = int(program.weight_bits)
    convs = [(i, f) for i, f in enumerate(program.instructions) if f.op == Opcode.CONV]
    wwords = _spans([(i, f.weight_base) for i, f in convs], program.weight_depth)
    bwords = _spans([(i, f.bias_base) for i, f in convs], program.bias_depth)
    wblocks = memfit.blocks_of(MemoryRole.WEIGHTS)
    bblocks = memfit.blocks_of(MemoryRole.BIAS)
    wshare = _apportion([wwords.get(i, 0) for i in range(len(program.layers))], wblocks)
    bshare = _apportion([bwords.get(i, 0) for i in range(len(program.layers))], bblocks)
    shapes = graph.shapes()
    weights = graph.weight_shapes()
    out = []
    for i, (f, info) in enumerate(zip(program.instructions, program.layers)):
        op = f.op
        w = weights.get(info.name)
        count = math.prod(w[0]) if w else 0
        words = wwords.get(i, 0)
        place = program.tensors.get(info.output)
        act_words = place.h * place.w * place.groups if place is not None else 0
        util = mac_utilization(info.macs, info.cycles_predicted, hw)
        out.append({
            "index": i, "name": info.name, "op": op.name.lower(),
            "shape": list(shapes.get(info.name, ())),
            "macs": int(info.macs), "cycles": int(info.cycles_predicted),
            "mac_utilization": round(util, 4),
            "weights": int(count), "weight_bits": wbits if count else 0,
            "weight_words": int(words),
            "weight_bytes": words * rows * cols * wbits // 8,
            "bram": wshare[i] + bshare[i],
            "activation_bytes": act_words * rows * ACT_LANE_BITS // 8,
        })
    return out


def performance(program, clock_mhz: float) -> dict:
    """Throughput from the cycle model: ``cycles`` of the program, ``frame_cycles`` with
    the input streamed in (one word per cycle) and the scores streamed out
    (:data:`~fpgagen.hw.spec.SCORE_STREAM_CYCLES` each), frames per second at
    ``clock_mhz``."""
    cycles = int(program.cycles_predicted)
    frame = (int(program.input_words) + cycles
             + SCORE_STREAM_CYCLES * int(program.output_channels))
    macs = int(program.macs)
    util = mac_utilization(macs, cycles, program.hw)
    return {"macs": macs, "cycles": cycles, "frame_cycles": frame,
            "mac_utilization": round(util, 4), "clock_mhz": float(clock_mhz),
            "latency_ms": round(1e3 * frame / (clock_mhz * 1e6), 4),
            "fps": round(clock_mhz * 1e6 / frame, 3) if frame else 0.0}
