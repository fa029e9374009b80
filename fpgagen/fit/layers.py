"""The per-layer resource table and the throughput of a compiled program on a board."""

import math

from ..hw.cost import mac_utilization
from ..hw.isa import Opcode
from ..hw.spec import SCORE_STREAM_CYCLES, weight_operand_bits
from ..schedule.memory_map import MemoryRole
from .placement import MemoryFit

__all__ = ["layer_rows", "performance", "frame_rate"]


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
    """One row per layer (the instructions of its row bands and channel chunks together):
    name, opcode, output shape, instructions, MACs, predicted cycles, MAC utilization,
    weights (count, bits, bank words, stored bytes), the layer's share of the weight and
    bias bank blocks, and the bytes its output buffer takes in the activation memory (the
    rows it keeps).

    The banks are shared by all layers, so a layer's ``bram`` is its share of the banks'
    blocks in proportion to the words it occupies (integers by largest remainder that sum
    to the banks' blocks). The activation memory is shared and not apportioned. With the
    weights in flash the words and bytes are those of the banks the flash image is cut
    from (``program.bank_instructions``), and ``bram`` apportions the staging RAMs' blocks
    alike; ``flash_bytes`` is the layer's share of the image (its chunks' blocks, each
    counted once) and ``load_stall_cycles`` the cycles its instructions wait for loads.
    """
    hw = program.hw
    rows, cols = hw.pe_rows, hw.pe_cols
    wbits = int(program.weight_bits)
    names: list[str] = []
    members: dict[str, list[int]] = {}
    for i, info in enumerate(program.layers):
        if info.name not in members:
            names.append(info.name)
        members.setdefault(info.name, []).append(i)
    # bank addresses (a flash design's CONVs address the staging halves)
    bank = program.bank_instructions
    first = {n: bank[members[n][0]] for n in names}
    convs = [(k, first[n]) for k, n in enumerate(names) if first[n].op == Opcode.CONV]
    wwords = _spans([(k, program.weight_start(f)) for k, f in convs], program.weight_depth)
    bwords = _spans([(k, f.bias_base) for k, f in convs], program.bias_depth)
    packed = [(k, f) for k, f in convs if f.compressed]
    mask_words = _spans([(k, f.weight_base) for k, f in packed],
                        program.compressed.mask_depth) if packed else {}
    wblocks = memfit.blocks_of(MemoryRole.WEIGHTS)
    bblocks = memfit.blocks_of(MemoryRole.BIAS)
    wshare = _apportion([wwords.get(k, 0) for k in range(len(names))], wblocks)
    bshare = _apportion([bwords.get(k, 0) for k in range(len(names))], bblocks)
    shapes = graph.shapes()
    weights = graph.weight_shapes()
    st = program.flash
    if st is not None:  # each flash block counted once, for the first layer loading it
        layer_of = {i: k for k, n in enumerate(names) for i in members[n]}
        flash_bytes, seen = [0] * len(names), set()
        for i, base, nwords in st.chunk_blocks(cols):
            if base not in seen:
                seen.add(base)
                flash_bytes[layer_of[i]] += 4 * nwords
    out = []
    for k, name in enumerate(names):
        infos = [program.layers[i] for i in members[name]]
        f = first[name]
        w = weights.get(name)
        count = math.prod(w[0]) if w else 0
        words = wwords.get(k, 0)
        written = [w.tensor for i in infos for w in i.writes]
        place = program.tensors.get(written[0]) if written else None
        macs = sum(i.macs for i in infos)
        cycles = sum(i.cycles_predicted for i in infos)
        out.append({
            "index": k, "name": name, "op": f.op.name.lower(),
            "shape": list(shapes.get(name, ())),
            "instructions": len(infos),
            "pooled": bool(f.pool),
            "macs": int(macs), "cycles": int(cycles),
            "mac_utilization": round(mac_utilization(macs, cycles, hw), 4),
            "weights": int(count), "weight_bits": wbits if count else 0,
            "index_bits": int(f.index_bits) if f.compressed else 0,
            "weight_words": int(words),
            # a compressed layer also stores its masks and its codebook
            "weight_bytes": (words * rows * cols * wbits // 8 + mask_words.get(k, 0) * rows
                             * cols // 8 + ((1 << f.index_bits) * weight_operand_bits(wbits)
                                            // 8 if f.compressed else 0)),
            "bram": wshare[k] + bshare[k],
            "activation_bytes": (place.words * rows * int(program.act_lane_bits) // 8
                                 if place is not None else 0),
        })
        if st is not None:
            out[-1]["flash_bytes"] = flash_bytes[k]
            out[-1]["load_stall_cycles"] = sum(st.stalls[i] for i in members[name]
                                               if i < len(st.stalls))
    return out


def performance(program, clock_mhz: float) -> dict:
    """Throughput from the cycle model: ``cycles`` of the program (its LOAD instructions
    stream the input in, one word per cycle), ``frame_cycles`` with the scores streamed
    out (:data:`~fpgagen.hw.spec.SCORE_STREAM_CYCLES` each), frames per second at
    ``clock_mhz``."""
    cycles = int(program.cycles_predicted)
    macs = int(program.macs)
    util = mac_utilization(macs, cycles, program.hw)
    rate = frame_rate(program, cycles, clock_mhz)
    return {"macs": macs, "cycles": cycles, "frame_cycles": rate["frame_cycles"],
            "mac_utilization": round(util, 4), "clock_mhz": rate["clock_mhz"],
            "latency_ms": rate["latency_ms"], "fps": rate["fps"]}


def frame_rate(program, cycles: int, clock_mhz: float) -> dict:
    """``frame_cycles`` (``cycles`` of a run of ``program``, predicted or simulated, with
    the scores streamed out), ``clock_mhz``, ``latency_ms`` and ``fps`` at that clock: the
    figures of :func:`performance`, which ``fpgagen simulate`` gives for simulated cycles."""
    frame = int(cycles) + SCORE_STREAM_CYCLES * int(program.output_channels)
    return {"frame_cycles": frame, "clock_mhz": float(clock_mhz),
            "latency_ms": round(1e3 * frame / (clock_mhz * 1e6), 4),
            "fps": round(clock_mhz * 1e6 / frame, 3) if frame else 0.0}
