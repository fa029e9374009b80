"""Command-line entry points: parse, run the flow, print, set the exit code."""

import argparse
import json
import logging
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np

from . import __version__
from .cli_common import GENERATED_WEIGHTS_WARNING, EXIT_INTERNAL, EXIT_USAGE, OneLineParser
from .cli_common import (calibration_line, class_labels, require_square_input,
                         weight_format_line)
from .cli_common import add_net_args as _add_net_args
from .cli_common import add_quant_args as _add_quant_args
from .cli_common import flow_config as _flow_config
from .cli_common import net_options as _net_options
from .cli_common import top5 as _top5
from .cli_build import add_parser as add_build_parser
from .cli_evaluate import add_parser as add_evaluate_parser
from .cli_simulate import add_parser as add_simulate_parser
from .cli_synth import add_parser as add_synth_parser
from .errors import FpgagenError
from .flow import load_images, step_import, step_quantize
from .nets import ALIASES, NET_NAMES, build_net
from .nets.catalog import BATCHNORM_NETS
from .nets.squeezenext import unfolded_counts

__all__ = ["main"]

log = logging.getLogger("fpgagen")


# --- info --------------------------------------------------------------------------------
def cmd_info(args):
    if args.list:
        for name in NET_NAMES:
            print(name)
        for alias, target in ALIASES.items():
            print(f"{alias} -> {target}")
        return 0
    if args.prototxt is not None:
        from .frontend.caffe_prototxt import load_caffe_prototxt

        graph = load_caffe_prototxt(args.prototxt, input_size=args.input_size)
    else:
        graph = build_net(args.net, _net_options(args))
    shapes, macs = graph.shapes(), graph.macs_per_node()
    weights = graph.weight_shapes()
    rows = []
    for n in graph.nodes:
        w = weights.get(n.name)
        params = int(np.prod(w[0]) + np.prod(w[1])) if w else 0
        rows.append({"name": n.name, "op": n.op.kind, "inputs": list(n.inputs),
                     "shape": list(shapes[n.name]), "params": params, "macs": macs[n.name]})
    total = {"net": graph.name, "input_shape": list(graph.input_shape),
             "params": graph.param_count(), "macs": graph.macs(), "layers": rows}
    unfolded = None
    if args.prototxt is None and graph.name in BATCHNORM_NETS:
        unfolded = unfolded_counts(graph)
        total["batchnorm_unfolded"] = {"params": unfolded[0], "macs": unfolded[1]}
    if args.json:
        print(json.dumps(total, indent=1))
        return 0
    print(f"{graph.name}: input {'x'.join(map(str, graph.input_shape))}")
    print(f"{'layer':30s} {'op':15s} {'output':>15s} {'params':>10s} {'MACs':>13s}")
    for r in rows:
        print(f"{r['name']:30s} {r['op']:15s} {'x'.join(map(str, r['shape'])):>15s} "
              f"{r['params']:>10,d} {r['macs']:>13,d}")
    print(f"total: {total['params']:,d} parameters, {total['macs']:,d} MACs per image")
    if unfolded is not None:
        print(f"with BatchNorm unfolded (as Caffe stores it and the SqueezeNext paper counts): "
              f"{unfolded[0]:,d} parameters, {unfolded[1]:,d} MACs per image")
    return 0


# --- classify ----------------------------------------------------------------------------
def cmd_classify(args):
    from .frontend.images import bgr_to_float_chw
    from .golden.float_model import run_float
    from .golden.int_model import run_int, scores

    cfg = _flow_config(args)
    graph = step_import(cfg)
    labels = class_labels(args, graph)
    side = require_square_input(graph, "classify")
    images = load_images(args.images, side)
    if not args.float:
        graph = step_quantize(graph, cfg)
        print(calibration_line(cfg), file=sys.stderr)
        if line := weight_format_line(args, cfg):
            print(line, file=sys.stderr)
    if cfg.weights is None:  # said once every input has been read
        log.warning(GENERATED_WEIGHTS_WARNING)
    results = []
    for path, img in zip(args.images, images):
        if args.float:
            logits = run_float(graph, bgr_to_float_chw(img, graph.mean))[graph.outputs[0]]
            values = np.asarray(logits, dtype=np.float64).ravel()
            if not np.isfinite(values).all():
                raise FpgagenError(f"the float model's scores for {str(path)!r} are not finite "
                                   f"({int((~np.isfinite(values)).sum())} of {values.size}): "
                                   "the weights overflow float32")
        else:
            values = scores(graph, run_int(graph, img)[graph.outputs[0]])
        top = _top5(values)
        results.append({"image": str(path),
                        "top5": [[i, labels[i], float(values[i])] for i in top]})
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    wide = cfg.weight_bits > 8 or cfg.activation_bits != 8
    acts = f", activations {cfg.activation_bits} bits" if cfg.activation_bits != 8 else ""
    mode = "float32" if args.float else (f"{'integer' if wide else 'int8'} golden model "
                                         f"(weights {cfg.weight_bits} bits{acts}, "
                                         f"{cfg.weight_format})")
    if cfg.weights is None:
        mode += ", generated weights"
    print(f"{graph.name}, {mode}")
    for r in results:
        print(r["image"])
        for rank, (i, name, score) in enumerate(r["top5"], 1):
            print(f"  {rank}. {score:9.4f}  [{i:4d}] {name}")
    return 0


# --- parser ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="fpgagen",
        description="Compile SqueezeNet-family CNNs into FPGA accelerators with all weights "
                    "in on-chip block RAM.")
    parser.add_argument("--version", action="version", version=f"fpgagen {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log each step, and print the traceback of an internal error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("info", help="layers, parameter and MAC counts of a network",
                       description="Print the layers of a network with output shapes, "
                                   "parameter counts and multiply-accumulates per image.")
    _add_net_args(p, weights=False)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--list", action="store_true", help="list the built-in networks")
    p.add_argument("--prototxt", type=Path, metavar="FILE",
                   help="a Caffe network definition to describe instead of --net (topology "
                        "only; --input-size replaces its input size)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("classify", help="top-5 classes of images (integer golden model)",
                       description="Classify images with the integer golden model (the "
                                   "numbers the hardware computes) or, with --float, the "
                                   "float32 reference.")
    _add_net_args(p)
    _add_quant_args(p)
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="image files")
    p.add_argument("--labels", type=Path, metavar="FILE",
                   help="class names, one per line (synset_words.txt format); default: the "
                        "bundled ImageNet-1k names for 1000 classes, else 'class N'")
    p.add_argument("--float", action="store_true", help="use the float32 model")
    p.add_argument("--json", action="store_true",
                   help='print [{"image": PATH, "top5": [[index, name, score], ...]}, ...]')
    p.set_defaults(func=cmd_classify)

    add_build_parser(sub)
    add_simulate_parser(sub)
    add_evaluate_parser(sub)
    add_synth_parser(sub)
    return parser


def main(argv=None) -> int:
    """Run the ``fpgagen`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="fpgagen: %(message)s")
    try:
        try:
            return args.func(args)
        except BaseException:
            # a design dropped half-way is no news: no warnings about it on the way out
            warnings.filterwarnings("ignore", message=".*created but never used")
            raise
    except FpgagenError as e:
        print(f"fpgagen: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:  # the file system said no: a read-only folder, a full disk
        where = f": {e.filename!r}" if e.filename else ""
        print(f"fpgagen: error: {e.strerror or e}{where}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fpgagen: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # a bug: one line, the traceback with -v
        if args.verbose:
            traceback.print_exc()
        hint = ("the traceback is above" if args.verbose
                else "run again with -v for the traceback")
        print(f"fpgagen: internal error: {type(e).__name__}: {_one_line(e)} (a bug in "
              f"fpgagen; {hint})", file=sys.stderr)
        return EXIT_INTERNAL


#: Exit status after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


def _one_line(e: BaseException) -> str:
    """The message of ``e`` on one line."""
    return " / ".join(line.strip() for line in str(e).splitlines() if line.strip()) or \
        type(e).__name__


if __name__ == "__main__":
    sys.exit(main())
