"""``fpgagen simulate``: one image through the generated hardware in Verilator, checked bit
for bit against the golden model."""

import json
import sys
import time
from pathlib import Path

from .cli_common import (GENERATED_WEIGHTS_WARNING, add_net_args, add_quant_args,
                         band_steps, calibration_line, class_labels, flow_config, pe_array, positive_float,
                         require_square_input, top5)
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
                    "speed. Exit status 0 when bit-exact, 1 when not, 2 for bad input.")
    add_net_args(p)
    add_quant_args(p)
    p.add_argument("--image", type=Path, required=True, metavar="IMAGE",
                   help="image file (pre-processed as for classify)")
    p.add_argument("--pe", type=pe_array, default=HwParams(), metavar="RxC",
                   help="PE array rows x columns (square for now; default: 16x16)")
    # Taken as text so that an empty --build-dir is refused, not read as the current folder.
    p.add_argument("--build-dir", metavar="DIR",
                   help="where the Verilator build goes (default: "
                        "build/simulate/<net>-<RxC>); a previous build there is replaced "
                        "once the new one is complete")
    p.add_argument("--labels", type=Path, metavar="FILE",
                   help="class names, one per line (default: the bundled ImageNet names)")
    p.add_argument("--json", action="store_true",
                   help='print one object: image, top5 (as classify --json), bit_exact, '
                        'cycles, macs, mac_utilization, predicted_cycles, ...')
    plan = p.add_mutually_exclusive_group()
    plan.add_argument("--steps", type=band_steps, metavar="N",
                      help="run every layer in N row bands (default: whole tensors, one "
                           "instruction per layer)")
    plan.add_argument("--max-activation-kb", type=positive_float, metavar="KB",
                      help="the band plan with the fewest cycles whose activation memory "
                           "is at most KB kilobytes (1024 bytes; a word of N 9-bit lanes is "
                           "9N/8 bytes); refused when no plan is that small")
    p.set_defaults(func=run)
    return p


def _progress():
    t0 = time.perf_counter()

    def say(message):
        print(f"[{time.perf_counter() - t0:6.1f} s] {message}", file=sys.stderr, flush=True)
    return say


def run(args) -> int:
    """Run ``fpgagen simulate``; returns the exit status."""
    from .sim.network import check_build_dir
    from .sim.simulate import simulate_image

    cfg = flow_config(args)
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
    build_dir = Path("build") / "simulate" / f"{graph.name}-{args.pe}" \
        if args.build_dir is None else Path(args.build_dir)
    check_build_dir(build_dir)
    say("quantizing")
    graph = step_quantize(graph, cfg)
    say(calibration_line(cfg))
    if cfg.weights is None:  # said once every input has been read
        say(GENERATED_WEIGHTS_WARNING)
    limit = (None if args.max_activation_kb is None
             else int(args.max_activation_kb * 1024))
    report = simulate_image(graph, args.pe, image, build_dir, progress=say,
                            steps=args.steps, max_activation_bytes=limit)
    values = scores(graph, report.scores)
    top = [[i, labels[i], float(values[i])] for i in top5(values)]
    result = {"image": str(args.image), "net": graph.name, "pe": str(args.pe),
              "weights": str(cfg.weights) if cfg.weights else "generated",
              "top5": top, "bit_exact": report.bit_exact, "mismatches": report.mismatches,
              "cycles": report.cycles, "predicted_cycles": report.predicted_cycles,
              "instructions": len(report.program.instructions),
              "activation_bytes": report.program.plan.bytes(report.program.act_depth),
              "macs": report.macs, "mac_utilization": report.mac_utilization,
              "build_seconds": round(report.build_seconds, 3),
              "simulation_seconds": round(report.run_seconds, 3),
              "simulated_cycles_per_second": round(report.cycles_per_second)}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        weights = "" if cfg.weights else ", generated weights"
        print(f"{graph.name} on a {args.pe} PE array{weights}, {args.image}")
        for rank, (i, name, score) in enumerate(top, 1):
            print(f"  {rank}. {score:9.4f}  [{i:4d}] {name}")
        verdict = ("bit-exact: all {} scores equal the golden model".format(len(report.golden))
                   if report.bit_exact else
                   f"MISMATCH: {report.mismatches} of {len(report.golden)} scores differ "
                   "from the golden model")
        print(verdict)
        print(f"cycles {report.cycles:,d} (predicted {report.predicted_cycles:,d}), "
              f"{report.macs:,d} MACs, MAC utilization {100 * report.mac_utilization:.1f}%")
        plan = report.program.plan
        print(f"{len(report.program.instructions)} instructions, activation memory "
              f"{result['activation_bytes']:,d} bytes"
              + (f" in {plan.steps} row bands" if plan.steps > 1 else " (whole tensors)"))
        print(f"simulation {report.run_seconds:.1f} s ({report.cycles_per_second:,.0f} "
              f"cycles/s), build {report.build_seconds:.1f} s")
    return 0 if report.bit_exact else EXIT_MISMATCH
