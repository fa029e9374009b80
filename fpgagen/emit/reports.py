"""The build reports: ``report.json`` (data), ``report.md`` and ``report.html`` (rendered from
``templates/report.*.j2``), and the short summary printed on the terminal.

Pure functions: the report data is built once (:func:`build_report_data`) and every output
is text rendered from it, with no timestamps, so equal inputs give byte-identical files.
"""

import json
from pathlib import Path

from .. import __version__
from ..fit.accuracy import accuracy_text
from ..fit.flash import flash_note, flash_use
from ..fit.memories import counts_as_yosys
from ..fit.multipliers import count_multipliers
from ..hw.spec import ACT_LANE_BITS, BIAS_WORD, lane_code_bits
from ..resources import template_env
from ..hw.isa import Opcode
from ..schedule.memory_map import MemoryRole
from ..schedule.flash_store import SCHEDULE_WORD_BITS

__all__ = ["build_report_data", "render_json", "render_markdown", "render_html",
           "summary_text", "verdict_text", "GENERATOR"]

#: The ``generator`` field of ``report.json`` and the header of the other reports.
GENERATOR = f"fpgagen {__version__}"


_RESOURCE_NAMES = {"bram": "block RAM", "dsp": "multipliers", "lut": "LUTs", "ff": "flip-flops"}


def _env(autoescape: bool):
    env = template_env(autoescape=autoescape)
    env.filters["thousands"] = lambda v: f"{int(v):,d}"
    env.filters["fixed"] = lambda v, n=1: f"{float(v):.{n}f}"
    return env


# --- data ----------------------------------------------------------------------------------

def _resource(r) -> dict:
    return {"used": int(r.used), "available": int(r.available), "unit": r.unit,
            "percent": round(r.percent, 1), "fits": r.fits}


def _memory_groups(memfit) -> list[dict]:
    """Placements grouped by role (the weight banks of every column in one group)."""
    groups = {}
    for p in memfit.placements:
        m = p.memory
        stem = m.role.value if m.role is not None else m.name
        key = (stem, m.depth, m.width, m.kind, p.block, p.config, p.blocks)
        g = groups.setdefault(key, {"name": stem, "count": 0, "kind": m.kind,
                                    "depth": m.depth, "width": m.width,
                                    "bits": m.bits, "block": p.block or "logic",
                                    "config": list(p.config) if p.config else None,
                                    "blocks_each": p.blocks, "blocks": 0,
                                    "luts": 0, "efficiency": round(p.efficiency, 3)})
        g["count"] += 1
        g["blocks"] += p.blocks
        g["luts"] += p.luts
    return list(groups.values())


def _flash(use, block_unit: str) -> dict:
    """One flash of the board: capacities, the mode the design needs, use and read figures."""
    f = use.flash
    words, clocks = f.burst_throughput
    return {"name": f.name, "word_bits": f.word_bits,
            "used_bytes": use.used_bits // 8,
            "mode": use.mode, "modes": list(use.modes),
            "available_bits": use.available_bits, "available_bytes": use.available_bits // 8,
            "default_mode": f.default_mode,
            "default_mode_bits": f.capacity(f.default_mode),
            "default_mode_allows_memory_init": f.allows_memory_init(f.default_mode),
            "block_ram_initialized": bool(use.initialized),
            "initialized_memories": list(use.initialized),
            "capacity_bits": dict(f.capacity_bits),
            "memory_init_modes": list(f.memory_init_modes),
            "read": {"latency_cycles": f.read_latency_cycles,
                     "max_burst_words": f.max_burst_words,
                     "burst_throughput": {"words": words, "clocks": clocks},
                     "max_clock_mhz": f.max_clock_mhz},
            "note": flash_note(use, block_unit)}


def _weight_store(cfg, analysis) -> dict:
    """The weight store of a design with its weights in flash: the budget, the image, the
    flash it goes to and its capacity in the mode the design can use, the staging RAMs,
    the chunks and the cycles their loads stall."""
    program, hw, memfit = analysis.program, analysis.hw, analysis.memfit
    st = program.flash
    use = flash_use(analysis.board, memfit, program)[0]
    t = hw.flash
    convs = sum(1 for f in program.instructions if f.op == Opcode.CONV)
    return {"store": hw.weight_store.value, "flash": use.flash.name,
            "chunk_bits": int(hw.weight_chunk_bits),
            "chunk_kb": round(hw.weight_chunk_bits / 8192, 3),
            "chunk_default": cfg.weight_chunk_bits is None,
            "image_words": len(st.image), "image_bytes": 4 * len(st.image),
            "schedule": {"bytes": 4 * st.schedule_flash_words,
                         "segment_depth": int(st.segment_depth),
                         "buffer_bits": 2 * int(st.segment_depth) * SCHEDULE_WORD_BITS},
            "mode": use.mode, "available_bytes": use.available_bits // 8,
            "fits": use.used_bits <= use.available_bits,
            "initialized_memories": list(use.initialized),
            "staging": {k: {"depth": st.depth(k), "half": int(st.halves[k]),
                            "width": int(st.widths[k])} for k in st.halves
                        if st.halves[k] or k not in ("mask", "codebook")},
            "staging_blocks": memfit.blocks_of(MemoryRole.WEIGHTS, MemoryRole.BIAS,
                                               MemoryRole.MASKS),
            "conv_chunks": convs,
            "load_stall_cycles": int(sum(st.stalls)),
            "timing": {"latency": t.latency, "burst_limit": t.burst_limit,
                       "words_per": t.words_per, "clocks_per": t.clocks_per}}


def _ufm_text(p: dict) -> str:
    """``, UFM used/available bytes`` of a proposal with its weights in flash (each flash of
    the board), else ``""``."""
    if p.get("weight_store") != "flash":
        return ""
    return "".join(f", {k.upper()} {r['used']:,d}/{r['available']:,d} {r['unit']}"
                   for k, r in p["resources"].items() if r["unit"] == "bytes")


def _proposal(p) -> dict:
    return {"what": p.what, "flags": list(p.flags), "board": p.board.key,
            "device": p.board.device, "pe": f"{p.point.pe}x{p.point.pe}",
            "weight_bits": p.point.weight_bits, "input_size": p.point.input_size,
            "width": p.point.width, "num_classes": p.point.num_classes,
            "weight_format": p.point.weight_format,
            "layer_formats": dict(p.point.layer_formats),
            "weight_store": p.point.weight_store,
            "accuracy": p.accuracy, "accuracy_text": accuracy_text(p.accuracy),
            "resources": {r.key: _resource(r) for r in p.verdict.all_resources},
            "performance": dict(p.performance)}


def _bar_chart(title: str, unit: str, labels, values, fmt) -> dict:
    """Geometry of a horizontal bar chart (drawn by the HTML template as inline SVG)."""
    label_w, bar_w, row_h, top = 190, 420, 16, 28
    vmax = max(values) if values and max(values) > 0 else 1
    bars = []
    for i, (label, v) in enumerate(zip(labels, values)):
        y = top + i * row_h
        w = round(bar_w * v / vmax, 1)
        bars.append({"label": label, "text": fmt(v), "x": label_w, "y": y, "w": w,
                     "h": row_h - 4, "ty": y + row_h - 6, "tx": round(label_w + w + 4, 1)})
    return {"title": title, "unit": unit, "width": label_w + bar_w + 110,
            "height": top + len(bars) * row_h + 8, "bars": bars}


def build_report_data(cfg, analysis, proposals, files, notes, accuracy=None) -> dict:
    """Everything the reports show, as JSON-ready data.

    Parameters
    ----------
    cfg : fpgagen.build_flow.BuildConfig
    analysis : fpgagen.build_flow.Analysis
    proposals : list of fpgagen.fit.proposals.Proposal
    files : list of str
        Every file of the build, relative to the output folder.
    notes : list of str
    accuracy : dict, optional
        The measured accuracy (:meth:`fpgagen.fit.accuracy.AccuracyProbe.measure`);
        ``None``: not measured.
    """
    board, program, hw, graph = analysis.board, analysis.program, analysis.hw, analysis.graph
    verdict, memfit = analysis.verdict, analysis.memfit
    wbits = int(program.weight_bits)
    rows, cols = hw.pe_rows, hw.pe_cols

    weights = sum(l["weights"] for l in analysis.layers)
    memory = {
        "weight_bits": wbits,
        "weights": int(weights),
        "weight_bytes": program.weight_depth * rows * cols * wbits // 8,
        "bias_bytes": program.bias_depth * cols * BIAS_WORD.bits // 8,
        "weight_storage": program.weight_storage(),
        "compressed_layers": sorted({l.name for f, l in zip(program.instructions,
                                                             program.layers) if f.compressed}),
        "activation_bytes": int(program.act_depth) * rows * int(program.act_lane_bits) // 8,
        "activation_words": int(program.act_depth),
        "activation_lane_bits": int(program.act_lane_bits),
        "activation_plan": program.plan.as_dict() if program.plan is not None else None,
        "blocks": {"weights": memfit.blocks_of(MemoryRole.WEIGHTS),
                   "bias": memfit.blocks_of(MemoryRole.BIAS),
                   "activation": memfit.blocks_of(MemoryRole.ACTIVATIONS),
                   "decoder": memfit.blocks_of(MemoryRole.MASKS, MemoryRole.CODEBOOK,
                                               MemoryRole.COLUMN_CODEBOOK, MemoryRole.TILES),
                   "other": memfit.blocks_of(MemoryRole.SCHEDULE, MemoryRole.SCORES,
                                             MemoryRole.CYCLE_LOG, MemoryRole.POOL_STATE)},
        "block_unit": board.block_ram.name,
        "logic_luts": memfit.logic_luts,
        "memories": _memory_groups(memfit),
        "widths": ("as Yosys keeps them: ROM bit columns that are the same in every word "
                   "dropped, bank depths as in the RTL" if counts_as_yosys(board)
                   else "as the RTL declares them"),
    }
    store = _weight_store(cfg, analysis) if hw.in_flash else None
    if store is not None:  # the weights (and biases) are the flash image, plus the codebooks
        memory["weight_bytes"] = memory["weight_storage"]["total"]
        memory["bias_bytes"] = 0
    resources = {r.key: _resource(r) for r in verdict.all_resources}
    overflows = [{"resource": r.key, "unit": r.unit, "used": r.used, "available": r.available,
                  "over": r.over, "ratio": round(r.ratio, 2)} for r in verdict.overflows]
    flow = cfg.flow
    weights_src = Path(flow.weights).name if flow.weights is not None else "generated"
    data = {
        "generator": GENERATOR,
        "net": graph.name,
        "board": board.key,
        "board_name": board.name,
        "device": board.device,
        "vendor": board.vendor,
        "family": board.family,
        "fits": bool(verdict.fits),
        "options": {"pe": f"{rows}x{cols}", "weight_bits": wbits,
                    # only when not the default 8 bits, so default reports stay as they were
                    **({"activation_bits": lane_code_bits(program.act_lane_bits)}
                       if program.act_lane_bits != ACT_LANE_BITS else {}),
                    "input_size": int(graph.input_shape[1]),
                    "num_classes": int(graph.shapes()[graph.outputs[0]][0]),
                    "width": float(flow.net_options.width), "clock_mhz": analysis.clock_mhz,
                    "weights": weights_src,
                    "calibration": len(flow.calibration),
                    **({"weight_store": store["store"], "weight_chunk_kb": store["chunk_kb"]}
                       if store is not None else {})},
        "resources": resources,
        "overflows": overflows,
        "memory": memory,
        **({"flash": [_flash(u, board.block_ram.name)
                      for u in flash_use(board, memfit, program)]}
           if board.flash else {}),
        **({"weight_store": store} if store is not None else {}),
        "logic_model": analysis.logic.get("model", ""),
        "pe_multipliers": count_multipliers(hw, board, wbits,
                                            act_lane_bits=int(program.act_lane_bits)).pe_array,
        "performance": {**analysis.performance,
                        **({"load_stall_cycles": store["load_stall_cycles"]}
                           if store is not None else {})},
        "layers": analysis.layers,
        "accuracy": accuracy,
        "accuracy_text": accuracy_text(accuracy),
        "proposals": [_proposal(p) for p in proposals],
        "notes": list(notes),
        "files": list(files),
    }
    data["verdict"] = verdict_text(data)
    return data


# --- text ----------------------------------------------------------------------------------

def _x(v: float) -> str:
    return f"{v:.1f}x"


def verdict_text(data: dict) -> list[str]:
    """The fit verdict as plain sentences: one headline, then one line per overflowing
    resource (with, for block RAM, what takes the blocks)."""
    where = f"{data['board_name']} ({data['device']})"
    if data["fits"]:
        return [f"FITS on {where}."]
    lines = [f"DOES NOT FIT on {where}."]
    for o in data["overflows"]:
        name = _RESOURCE_NAMES.get(o["resource"], o["resource"])
        line = (f"{name}: needs {o['used']:,d} {o['unit']}, the device has "
                f"{o['available']:,d}: {_x(o['ratio'])} its capacity, "
                f"{o['over']:,d} {o['unit']} over.")
        if o["resource"] == "bram":
            b, avail = data["memory"]["blocks"], o["available"]
            banks = "staging RAMs" if "weight_store" in data else "banks"
            line += (f" Weight {banks} {b['weights']:,d} ({_x(b['weights'] / avail)} the "
                     f"device on their own), bias {banks} {b['bias']:,d}, activation memory "
                     f"{b['activation']:,d} ({_x(b['activation'] / avail)}), "
                     + (f"weight decoders {b['decoder']:,d}, " if b.get("decoder") else "")
                     + f"other {b['other']:,d}.")
        elif any(f["name"].lower() == o["resource"] for f in data.get("flash", ())):
            f = next(f for f in data["flash"] if f["name"].lower() == o["resource"])
            line += f" The flash image of the weights in {f['name']}'s mode {f['mode'] or 'none'}"
            if f["initialized_memories"]:
                line += (f", which the design needs because its block RAM has initial "
                         f"contents (the {', '.join(f['initialized_memories'])} ROMs)")
            line += "."
        elif o["resource"] == "dsp":
            n = data["pe_multipliers"]
            line += f" The {data['options']['pe']} PE array takes {n:,d} of them"
            line += (", the vector unit and address generator the rest." if o["used"] > n
                     else ".")
        lines.append(line)
    return lines


def _flags_text(p: dict) -> str:
    return " ".join(p["flags"])


def summary_text(data: dict, out_dir: str) -> str:
    """The short summary printed on the terminal."""
    o, perf = data["options"], data["performance"]
    lines = [f"fpgagen build: {data['net']} on {data['board_name']} ({data['device']}), "
             f"PE {o['pe']}, {o['weight_bits']}-bit weights ({o['weights']}), "
             + (f"{o['activation_bits']}-bit activations, " if "activation_bits" in o else "")
             + f"{o['clock_mhz']:g} MHz"]
    lines.append(f"  {'resource':<20} {'used':>10} {'available':>10} {'%':>8}")
    for key, r in data["resources"].items():
        label = f"{key} ({r['unit']})"
        flag = "" if r["fits"] else "  OVER"
        lines.append(f"  {label:<20} {r['used']:>10,d} {r['available']:>10,d} "
                     f"{r['percent']:>7.1f}%{flag}")
    lines.append(f"  {perf['macs']:,d} MACs, {perf['cycles']:,d} cycles, MAC utilization "
                 f"{100 * perf['mac_utilization']:.1f}%, {perf['fps']:g} frames/s at "
                 f"{perf['clock_mhz']:g} MHz")
    ws = data.get("weight_store")
    if ws is not None:
        lines.append(f"  weights in flash ({ws['flash']}): image {ws['image_bytes']:,d} bytes "
                     f"of {ws['available_bytes']:,d} in mode {ws['mode'] or 'none'}, staging "
                     f"budget {ws['chunk_kb']:g} KB per PE column"
                     f"{' (default)' if ws['chunk_default'] else ''}, {ws['conv_chunks']:,d} "
                     f"conv chunks, {ws['load_stall_cycles']:,d} of the cycles wait for "
                     f"flash loads; the schedule is in the flash too "
                     f"({ws['schedule']['bytes']:,d} bytes of the image, segments of up to "
                     f"{ws['schedule']['segment_depth']} instructions)")
    lines.append(f"  accuracy: {data['accuracy_text']}")
    lines += data["verdict"]
    if data["proposals"]:
        lines.append("Options that fit (each checked by the same model):")
        for i, p in enumerate(data["proposals"], 1):
            r = p["resources"]["bram"]
            lines.append(f"  {i}. {p['what']}: {_flags_text(p)}  -> {p['device']}: block RAM "
                         f"{r['used']}/{r['available']} {r['unit']}, "
                         f"{p['resources']['dsp']['used']}/{p['resources']['dsp']['available']}"
                         f" multipliers{_ufm_text(p)}, {p['performance']['fps']:g} frames/s; "
                         f"{p['accuracy_text']}")
    elif not data["fits"]:
        lines.append("No option tried fits this board (see report.md).")
    for n in data["notes"]:
        lines.append(f"note: {n}")
    lines.append(f"reports: {out_dir}/report.md, report.html, report.json")
    return "\n".join(lines)


# --- rendering -----------------------------------------------------------------------------

def render_json(data: dict) -> str:
    """``report.json``."""
    return json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def render_markdown(data: dict) -> str:
    """``report.md``."""
    return _env(False).get_template("report.md.j2").render(d=data, generator=GENERATOR)


def render_html(data: dict) -> str:
    """``report.html`` with inline SVG charts (cycles, MAC utilization and block RAM by
    layer), no scripts."""
    layers = data["layers"]
    labels = [l["name"] for l in layers]
    unit = data["memory"]["block_unit"]
    charts = [
        _bar_chart("Cycles by layer", "cycles", labels, [l["cycles"] for l in layers],
                   lambda v: f"{v:,d}"),
        _bar_chart("MAC utilization by layer", "%", labels,
                   [100 * l["mac_utilization"] for l in layers], lambda v: f"{v:.1f}%"),
        _bar_chart(f"Weight and bias block RAM by layer ({unit})", unit, labels,
                   [l["bram"] for l in layers], lambda v: f"{v:,d}"),
    ]
    return _env(True).get_template("report.html.j2").render(d=data, charts=charts,
                                                             generator=GENERATOR)
