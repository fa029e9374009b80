"""``fpgagen evaluate``: top-1 and top-5 of the float model and of the integer golden model
on a folder of labelled images, their agreement, and the SQNR of every layer.

Exit status: 0, or 2 for bad usage or input files (no folder, a bad ``labels.json``).
"""

import argparse
import json
import sys
from pathlib import Path

from .cli_common import GENERATED_WEIGHTS_WARNING, add_net_args, add_quant_args, flow_config
from .cli_common import (calibration_line, calibration_text, require_square_input,
                         weight_format_line)
from .flow import step_import, step_quantize

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add the ``evaluate`` subcommand to the ``fpgagen`` subparsers ``sub``."""
    p = sub.add_parser(
        "evaluate", help="top-1 / top-5 of the float and integer models on labelled images",
        description="Classify every image of a folder with the float32 model and with the "
                    "integer golden model (the numbers the hardware computes) and print "
                    "top-1 and top-5 against the labels, the top-1 agreement of the two "
                    "models and the SQNR of every layer. Labels: a labels.json beside the "
                    "images ({file name: class index}), else ImageNet WordNet ids at the "
                    "start of the file names (n01440764_tench.JPEG); images of unknown class "
                    "are skipped and counted. Exit status: 0, 2 for bad usage or input.")
    add_net_args(p)
    add_quant_args(p)
    p.add_argument("folder", type=Path, metavar="FOLDER", help="folder of labelled images")
    p.add_argument("--json", action="store_true",
                   help='print one object: images, skipped, float and int ({"top1", "top5"} '
                        'fractions), agreement, sqnr_db (per layer), and the configuration')
    p.add_argument("--layers", action="store_true", help="print the SQNR of every layer")
    p.set_defaults(func=run)
    return p


def _progress_bar():
    interactive = sys.stderr.isatty()

    def show(done, total):
        width = 30
        filled = width * done // total
        line = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} images"
        if interactive or done == total:
            print(line, end="\n" if done == total else "", file=sys.stderr, flush=True)
    return show


def _formats(cfg) -> str:
    """The weight format and its per-layer overrides, as text."""
    text = str(cfg.weight_format)
    if cfg.layer_formats:
        text += " (" + ", ".join(f"{k}={v}" for k, v in cfg.layer_formats.items()) + ")"
    return text


def run(args) -> int:
    """Run ``fpgagen evaluate``; returns the exit status."""
    from .evaluation import evaluate, labelled_images

    cfg = flow_config(args)
    graph = step_import(cfg)
    require_square_input(graph, "evaluate")
    classes = graph.shapes()[graph.outputs[0]][0]
    data = labelled_images(args.folder, classes)
    quantized = step_quantize(graph, cfg)
    calibration = calibration_text(cfg.calibration)
    weights = f"{cfg.weight_bits}-bit weights, {_formats(cfg)}"
    if cfg.activation_bits != 8:
        weights += f", {cfg.activation_bits}-bit activations"
    if cfg.weights is None:
        print(GENERATED_WEIGHTS_WARNING, file=sys.stderr)
    print(calibration_line(cfg), file=sys.stderr)
    if line := weight_format_line(args, cfg):
        print(line, file=sys.stderr)
    print(f"evaluating {graph.name} on {len(data.files)} images of {args.folder} (labels: "
          f"{data.source}; {len(data.unknown)} of unknown class skipped), int model "
          f"{weights}", file=sys.stderr)
    acc = evaluate(graph, quantized, data, progress=_progress_bar())
    result = {"net": graph.name, "weights": str(cfg.weights) if cfg.weights else "generated",
              "weight_bits": cfg.weight_bits, "activation_bits": cfg.activation_bits,
              "weight_format": str(cfg.weight_format),
              "layer_formats": {k: str(v) for k, v in cfg.layer_formats.items()},
              "calibration": calibration, **acc.as_dict()}
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{graph.name} on {acc.images} images ({acc.skipped} skipped)")
    print(f"  float  top-1 {100 * acc.float_top1:5.1f}%  top-5 {100 * acc.float_top5:5.1f}%")
    print(f"  int    top-1 {100 * acc.int_top1:5.1f}%  top-5 {100 * acc.int_top5:5.1f}%  "
          f"({weights}, calibration: {calibration})")
    print(f"  top-1 agreement {100 * acc.agreement:.1f}%; output SQNR "
          f"{acc.sqnr_db.get(graph.outputs[0], float('nan')):.1f} dB")
    if args.layers:
        for name, db in acc.sqnr_db.items():
            print(f"    {name:<28} {db:6.1f} dB")
    return 0
