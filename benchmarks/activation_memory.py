"""Activation memory of SqueezeNet v1.0 and v1.1 with fused max pooling and row bands, and
which bundled boards the real-weight networks now fit.

    python benchmarks/activation_memory.py [--pe 16,8] [--input-size 227] [--generated]
        [--net squeezenet1_1] [--board zynq7045 | --no-boards] [--json FILE]

Part 1, per network and PE array (default 16x16): the schedules' activation memory bytes,
instructions, predicted cycles, MAC utilization and max pools run fused (of the network's
max pools), for

- ``whole, unfused``: whole tensors, every max pool its own instruction (the baseline
  before pool fusion: ``lower(graph, hw, fuse_pools=False)``);
- ``whole, fused``: whole tensors with the pools fused into the convolution before them;
- ``N steps``: row bands in each step count of ``band_choice.STEP_OPTIONS`` with the region
  cuts needing least memory (as ``band_choice.plan_program(steps=N)`` chooses);
- ``<= 256 KB``: the plan with the fewest cycles within 256 KB of activation memory, each
  region in its own step count, if one is (as ``plan_program(max_activation_bytes=262144)``).

Part 2, per network and bundled board: the choice ``fpgagen build`` makes
(``build_flow.step_plan`` on the board's default PE array, 8-bit weights): band steps,
activation bytes, main block RAM used/available and the blocks of the activation and of
the weight memories in it, whether it fits (and whether the whole-tensor unfused baseline
did), frames per second at the board clock. An error of the compiler is printed in place of
the row.

Uses the released weights of ../shared/models, quantized as the build does (calibration on
generated images: memory and cycles do not depend on the values); when ../shared is absent,
or with ``--generated``, generated weights (said in the output). ``--json FILE`` writes
every figure.
"""

import argparse
import json
import sys
import time
from pathlib import Path

from _common import SHARED
from fpgagen.build_flow import BuildConfig, step_analyze, step_hw, step_plan
from fpgagen.devices.board import list_boards, load_board
from fpgagen.errors import FpgagenError
from fpgagen.flow import FlowConfig, step_import, step_quantize
from fpgagen.hw import HwParams
from fpgagen.hw.cost import mac_utilization
from fpgagen.hw.spec import ACT_LANE_BITS
from fpgagen.ir import MaxPool
from fpgagen.nets import NetOptions
from fpgagen.schedule.band_choice import (STEP_OPTIONS, Planner, plan_options,
                                            search_plan, words_of_bytes)
from fpgagen.schedule.lower import lower
from fpgagen.schedule.memory_map import MemoryRole

#: ``net: weights file`` under ``../shared/models``.
NETS = {"squeezenet1_0": "squeezenet_v1_0.npz", "squeezenet1_1": "squeezenet_v1_1.npz"}
#: The activation memory limit of the ``<= 256 KB`` plan.
LIMIT_BYTES = 256 * 1024


def program_row(label: str, program, graph) -> dict:
    """The figures of one schedule."""
    pools = {n.name for n in graph.nodes if isinstance(n.op, MaxPool)}
    run_alone = pools & {layer.name for layer in program.layers}
    plan = program.plan
    return {"plan": label, "steps": plan.steps, "bytes": plan.bytes(plan.words),
            "words": plan.words, "instructions": len(program.instructions),
            "cycles": program.cycles_predicted,
            "mac_utilization": mac_utilization(program.macs, program.cycles_predicted,
                                               program.hw),
            "pools_fused": len(pools - run_alone), "pools": len(pools)}


def memory_rows(graph, hw: HwParams) -> list[dict]:
    """Part 1 for one graph on one PE array. The banded plans are chosen from one list of
    candidates as :func:`~fpgagen.schedule.band_choice.plan_program` chooses them."""
    rows = [program_row("whole, unfused", lower(graph, hw, fuse_pools=False), graph),
            program_row("whole, fused", lower(graph, hw), graph)]
    options = plan_options(graph, hw)
    for steps in STEP_OPTIONS[1:]:
        mine = [o for o in options if o.steps == steps]
        if not mine:
            rows.append({"plan": f"{steps} steps", "error": "more steps than rows"})
            continue
        least = min(mine, key=lambda o: (o.words, o.cycles))
        rows.append(program_row(f"{steps} steps", least.lower(graph, hw), graph))
    label = f"<= {LIMIT_BYTES // 1024} KB"
    chosen, ok = search_plan(Planner(graph, hw), lambda o: True,
                             words_of_bytes(LIMIT_BYTES, hw))
    if ok:
        rows.append(program_row(label, chosen.lower(graph, hw), graph))
    else:
        rows.append({"plan": label, "error": f"no plan; the smallest needs "
                     f"{chosen.words * hw.pe_rows * ACT_LANE_BITS // 8:,d} bytes"})
    return rows


def board_row(flow: FlowConfig, graph, board_path: Path) -> dict:
    """Part 2 for one graph on one board: what ``fpgagen build`` chooses."""
    board = load_board(board_path)
    cfg = BuildConfig(flow=flow, board=board)
    hw = step_hw(cfg)
    row = {"board": board.key, "pe": f"{hw.pe_rows}x{hw.pe_cols}"}
    try:
        before = step_analyze(lower(graph, hw, fuse_pools=False), graph, board, cfg.clock)
        row["fits_before"] = before.fits
    except FpgagenError as e:
        row["fits_before"] = None
        row["error_before"] = str(e)
    try:
        a = step_plan(cfg, graph, hw)
    except FpgagenError as e:
        return {**row, "error": str(e)}
    plan = a.program.plan
    bram = a.verdict["bram"]
    return {**row, "steps": plan.steps,
            "bytes": plan.bytes(plan.words), "bram_unit": bram.unit, "bram_used": bram.used,
            "bram_available": bram.available,
            "activation_blocks": a.memfit.blocks_of(MemoryRole.ACTIVATIONS),
            "weight_blocks": a.memfit.blocks_of(MemoryRole.WEIGHTS),
            "other_memory": {r.unit: [r.used, r.available] for r in a.verdict.resources
                             if r.key not in ("bram", "dsp", "lut", "ff")},
            "fits": a.fits, "fps": a.performance["fps"], "clock_mhz": a.clock_mhz}


def _yes(v) -> str:
    return "-" if v is None else ("yes" if v else "no")


def print_memory(net: str, hw: HwParams, rows: list[dict]):
    print(f"\n{net}, {hw.pe_rows}x{hw.pe_cols} PEs: activation memory by schedule")
    print(f"  {'plan':<15} {'bytes':>10} {'vs base':>8} {'instr':>6} {'cycles':>11} "
          f"{'MAC util':>8} {'fused pools':>11}")
    base = rows[0]["bytes"]
    for r in rows:
        if "error" in r:
            print(f"  {r['plan']:<15} {r['error']}")
            continue
        print(f"  {r['plan']:<15} {r['bytes']:>10,d} {r['bytes'] / base:>8.3f} "
              f"{r['instructions']:>6d} {r['cycles']:>11,d} {r['mac_utilization']:>8.3f} "
              f"{r['pools_fused']:>7d} of {r['pools']}")


def print_boards(net: str, rows: list[dict]):
    print(f"\n{net}: the plan fpgagen build chooses on each board (block RAM: used/available; "
          f"act, weights: blocks of those memories; before: whole tensors, unfused pools)")
    print(f"  {'board':<11} {'PE':>5} {'steps':>5} {'act bytes':>10} {'block RAM':>18} "
          f"{'act':>5} {'weights':>7} {'fits':>4} {'before':>6} {'fps':>7}")
    for r in rows:
        if "error" in r:
            print(f"  {r['board']:<11} {r['pe']:>5} error: {r['error']}")
            continue
        bram = f"{r['bram_used']}/{r['bram_available']} {r['bram_unit']}"
        other = "".join(f", {u} {a}/{b}" for u, (a, b) in r["other_memory"].items())
        print(f"  {r['board']:<11} {r['pe']:>5} {r['steps']:>5d} {r['bytes']:>10,d} "
              f"{bram:>18} {r['activation_blocks']:>5d} {r['weight_blocks']:>7d} "
              f"{_yes(r['fits']):>4} {_yes(r['fits_before']):>6} {r['fps']:>7.2f}{other}")


def run(pe_sides=(16,), input_size: int = 227, generated: bool = False,
        nets=tuple(NETS), boards=None) -> dict:
    """Every figure (see the module docstring), printed as it comes. ``boards``: board
    files of part 2 (``None``: every bundled board; empty: no part 2)."""
    boards = list_boards() if boards is None else list(boards)
    t0 = time.perf_counter()
    have_shared = all((SHARED / "models" / f).exists() for f in NETS.values())
    real = have_shared and not generated
    if not real:
        why = "--generated" if generated else f"{SHARED / 'models'} absent"
        print(f"generated weights ({why}): the figures are of the shapes only")
    else:
        print(f"released weights from {SHARED / 'models'}, 8-bit, calibrated on generated "
              f"images (memory and cycles do not depend on the values)")
    print(f"input {input_size}x{input_size}; 1 byte = 8 bits, a word = pe_rows 9-bit lanes")
    out = {"weights": "released" if real else "generated", "input_size": input_size,
           "limit_bytes": LIMIT_BYTES, "nets": {}}
    for net in nets:
        file = NETS[net]
        flow = FlowConfig(net=net, weights=SHARED / "models" / file if real else None,
                          net_options=NetOptions(input_size=input_size))
        graph = step_quantize(step_import(flow), flow)
        entry = out["nets"][net] = {"memory": {}, "boards": []}
        for side in pe_sides:
            hw = HwParams(pe_rows=side, pe_cols=side)
            rows = memory_rows(graph, hw)
            entry["memory"][f"{side}x{side}"] = rows
            print_memory(net, hw, rows)
        if boards:
            entry["boards"] = [board_row(flow, graph, p) for p in boards]
            print_boards(net, entry["boards"])
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"\nfinished in {out['seconds']} s")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pe", default="16", help="PE array sides of part 1, comma separated "
                   "(default 16; e.g. 16,8)")
    p.add_argument("--input-size", type=int, default=227)
    p.add_argument("--generated", action="store_true",
                   help="generated weights even when ../shared is present")
    p.add_argument("--net", action="append", choices=list(NETS),
                   help="only this network (repeatable; default both)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--board", action="append", metavar="NAME",
                   help="only this bundled board in part 2 (repeatable; default all)")
    g.add_argument("--no-boards", action="store_true", help="leave out part 2")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON")
    args = p.parse_args(argv)
    try:
        sides = tuple(int(s) for s in args.pe.split(","))
        for n in sides:
            HwParams(pe_rows=n, pe_cols=n)
    except ValueError as e:
        p.error(f"--pe {args.pe!r}: {e}")
    bundled = {b.stem: b for b in list_boards()}
    if args.board and set(args.board) - set(bundled):
        p.error(f"--board must be one of {sorted(bundled)}, not "
                f"{sorted(set(args.board) - set(bundled))}")
    boards = [] if args.no_boards else ([bundled[b] for b in args.board] if args.board
                                        else None)
    out = run(sides, args.input_size, args.generated, tuple(args.net or NETS), boards)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
