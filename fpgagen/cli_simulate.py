"""``fpgagen simulate``: one image through the generated hardware in Verilator, checked bit
for bit against the golden model."""

import json
import sys
import time
from pathlib import Path

from .cli_common import (GENERATED_WEIGHTS_WARNING, add_board_arg, add_net_args,
                         add_quant_args, add_weight_store_args, band_steps, calibration_line,
                         class_labels, clock_mhz, design_config, flow_config, pe_array,
                         positive_float, require_square_input, top5, weight_format_line)
from .errors import FpgagenError
from .flow import step_import, step_quantize
from .frontend import load_image_bgr
from .frontend.files import require_file
from .golden.int_model import scores
from .hw.params import HwParams

__all__ = ["add_parser", "run", "EXIT_MISMATCH"]

#: Exit status when the hardware's scores differ from the golden model's.
EXIT_MISMATCH = 1


def add_parser(sub):
    """Register the ``simulate`` subcommand on an argparse subparsers object."""
    p = sub.add_parser(
        "simulate", help="run one image on the generated hardware in Verilator",
        description="Compile the network, build the accelerator with Verilator, stream one "
                    "image in and the class scores out (the design runs by itself from "
                    "start to done), check the scores bit for bit against the golden model, "
                    "and print the top-5 classes, cycles, MAC utilization and simulation "
                    "speed. With --board, the design is the one 'fpgagen build --board' "
                    "emits for the same options: its PE array, its band plan (chosen by the "
                    "same code: the plan with the fewest cycles that fits the board), its "
                    "memory banks (one row of the board's blocks each), and frames per "
                    "second at its clock; what differs: the ROM images are .hex files for "
                    "Verilator (build writes .mif for Intel boards, same contents), there is "
                    "no vendor project, a design that does not fit the board is "
                    "simulated all the same (build writes only its reports), and with "
                    "--weight-store flash the top level reads a model of the flash holding "
                    "the image (build's has the flash IP's bus ports). --weight-budget-"
                    "kb is build's alone: pass the --layer-format choices its report names. "
                    "Exit status 0 when bit-exact, 1 when not, 2 for bad input.")
    add_net_args(p)
    add_quant_args(p)
    p.add_argument("--image", type=Path, required=True, metavar="IMAGE",
                   help="image file (pre-processed as for classify)")
    add_board_arg(p, required=False,
                  help="simulate the design 'fpgagen build --board BOARD' emits (default: "
                       "no board: a 16x16 PE array, whole tensors, deep simulation memory "
                       "banks); ")
    p.add_argument("--pe", type=pe_array, metavar="RxC",
                   help="PE array rows x columns, square (default: 16x16; with --board, as "
                        "build: the largest square array up to 16x16 whose multipliers the "
                        "board has)")
    p.add_argument("--clock-mhz", type=clock_mhz, metavar="MHZ",
                   help="clock for the frames-per-second figure (from the simulated cycles), "
                        "a finite number of MHz up to 1000 (default: with --board the board "
                        "file's, as build; without, no figure)")
    # Taken as text so that an empty --build-dir is refused, not read as the current folder.
    p.add_argument("--build-dir", metavar="DIR",
                   help="where the Verilator build goes (default: "
                        "build/simulate/<net>-<RxC>, with --board "
                        "build/simulate/<net>-<board>-<RxC>); a previous build there is "
                        "replaced once the new one is complete")
    p.add_argument("--labels", type=Path, metavar="FILE",
                   help="class names, one per line (default: the bundled ImageNet names)")
    p.add_argument("--json", action="store_true",
                   help='print one object: image, board, top5 (as classify --json), '
                        'bit_exact, cycles, macs, mac_utilization, predicted_cycles, fps, ...')
    p.add_argument("--steps", type=band_steps, metavar="N",
                   help="run every layer in N row bands (1: whole tensors), N in every "
                        "region, with the region cuts needing least memory (default: whole "
                        "tensors; with --board, as build: the plan with the fewest cycles "
                        "that fits the board)")
    p.add_argument("--max-activation-kb", type=positive_float, metavar="KB",
                   help="the band plan with the fewest cycles (with --board: that fits the "
                        "board) whose activation memory is at most KB kilobytes (1024 bytes; "
                        "a word of N a-bit lanes is aN/8 bytes, a = 9, or B+1 with "
                        "--activation-bits B); refused when no plan is that small")
    add_weight_store_args(p, needs_board=True)
    p.set_defaults(func=run)
    return p


def _progress():
    t0 = time.perf_counter()

    def say(message):
        print(f"[{time.perf_counter() - t0:6.1f} s] {message}", file=sys.stderr, flush=True)
    return say


def run(args) -> int:
    """Run ``fpgagen simulate``; returns the exit status."""
    from .build_flow import step_hw, step_plan, step_weight_store
    from .devices.board import resolve_board
    from .fit.layers import frame_rate
    from .sim.network import check_build_dir
    from .sim.simulate import simulate_image

    # With --board, the PE array and the band plan are build's own (build_flow.step_hw,
    # build_flow.step_plan) over the configuration build makes of the same options.
    board = resolve_board(args.board) if args.board is not None else None
    if board is None and (args.weight_store != "bram" or args.weight_chunk_kb is not None):
        raise FpgagenError("--weight-store flash and --weight-chunk-kb need --board (the "
                           "flash and its timing come from the board file)")
    design = design_config(args, board) if board is not None else None
    cfg = design.flow if design is not None else flow_config(args)
    hw = step_hw(design) if design is not None else (args.pe or HwParams())
    clock = design.clock if design is not None else args.clock_mhz
    # The image and an explicit build folder are checked before anything is computed (and
    # before the progress lines), the default build folder once the network's name is known.
    require_file(args.image, name="image", expected="an image file")
    if args.build_dir is not None:
        check_build_dir(args.build_dir)
    say = _progress()
    weights = f"weights {cfg.weights}" if cfg.weights else "generated weights"
    say(f"importing {cfg.net} ({weights})")
    graph = step_import(cfg)
    labels = class_labels(args, graph)
    side = require_square_input(graph, "simulate")
    image = load_image_bgr(args.image, side)
    stem = graph.name if board is None else f"{graph.name}-{board.key}"
    build_dir = Path("build") / "simulate" / f"{stem}-{hw}" \
        if args.build_dir is None else Path(args.build_dir)
    check_build_dir(build_dir)
    say("quantizing")
    graph = step_quantize(graph, cfg)
    say(calibration_line(cfg))
    if line := weight_format_line(args, cfg):
        say(line)
    if cfg.weights is None:  # said once every input has been read
        say(GENERATED_WEIGHTS_WARNING)
    analysis = None
    if board is None:
        limit = (None if args.max_activation_kb is None
                 else int(args.max_activation_kb * 1024))
        plan = {"steps": args.steps, "max_activation_bytes": limit}
    else:
        say(f"compiling {graph.name} for a {hw} PE array, the band plan build chooses for "
            f"{board.key}")
        hw = step_weight_store(design, graph, hw)
        analysis = step_plan(design, graph, hw)
        plan = {"program": analysis.program, "board": board}
    report = simulate_image(graph, hw, image, build_dir, progress=say, **plan)
    values = scores(graph, report.scores)
    top = [[i, labels[i], float(values[i])] for i in top5(values)]
    rate = (frame_rate(report.program, report.cycles, clock) if clock is not None
            else {"clock_mhz": None, "fps": None})
    result = {"image": str(args.image), "net": graph.name, "pe": str(hw),
              "board": board.key if board is not None else None,
              "device": board.device if board is not None else None,
              "fits": analysis.fits if analysis is not None else None,
              "weights": str(cfg.weights) if cfg.weights else "generated",
              "top5": top, "bit_exact": report.bit_exact, "mismatches": report.mismatches,
              "cycles": report.cycles, "predicted_cycles": report.predicted_cycles,
              "instructions": len(report.program.instructions),
              "band_steps": report.program.plan.steps,
              "region_band_steps": list(report.program.plan.region_steps
                                        or (report.program.plan.steps,)),
              "activation_bytes": report.program.plan.bytes(report.program.act_depth),
              "macs": report.macs, "mac_utilization": report.mac_utilization,
              "clock_mhz": rate["clock_mhz"], "fps": rate["fps"],
              "build_seconds": round(report.build_seconds, 3),
              "simulation_seconds": round(report.run_seconds, 3),
              "simulated_cycles_per_second": round(report.cycles_per_second)}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        weights = "" if cfg.weights else ", generated weights"
        where = "" if board is None else f" for {board.name} ({board.key}, {board.device})"
        print(f"{graph.name} on a {hw} PE array{where}{weights}, {args.image}")
        for rank, (i, name, score) in enumerate(top, 1):
            print(f"  {rank}. {score:9.4f}  [{i:4d}] {name}")
        verdict = ("bit-exact: all {} scores equal the golden model".format(len(report.golden))
                   if report.bit_exact else
                   f"MISMATCH: {report.mismatches} of {len(report.golden)} scores differ "
                   "from the golden model")
        print(verdict)
        print(f"cycles {report.cycles:,d} (predicted {report.predicted_cycles:,d}), "
              f"{report.macs:,d} MACs, MAC utilization {100 * report.mac_utilization:.1f}%"
              + (f", {rate['fps']:g} frames/s at {rate['clock_mhz']:g} MHz"
                 if clock is not None else ""))
        plan = report.program.plan
        print(f"{len(report.program.instructions)} instructions, activation memory "
              f"{result['activation_bytes']:,d} bytes"
              + _bands_text(plan))
        if analysis is not None and not analysis.fits:
            print(f"the design does not fit {board.key}: 'fpgagen build' writes only its "
                  "reports for it (see them for what overflows)")
        print(f"simulation {report.run_seconds:.1f} s ({report.cycles_per_second:,.0f} "
              f"cycles/s), build {report.build_seconds:.1f} s")
    return 0 if report.bit_exact else EXIT_MISMATCH


def _bands_text(plan) -> str:
    """`` in 8 row bands``, `` in row bands per region 8, 2, 1`` or `` (whole tensors)``."""
    if plan.steps == 1:
        return " (whole tensors)"
    if len(set(plan.region_steps)) > 1:
        return " in row bands per region " + ", ".join(map(str, plan.region_steps))
    return f" in {plan.steps} row bands"
