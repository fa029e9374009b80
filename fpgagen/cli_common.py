"""Pieces shared by the command-line entry points: common options, the flow configuration
they describe, and small output helpers."""

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from .errors import FpgagenError
from .flow import FlowConfig
from .frontend.images import IMAGE_SUFFIXES
from .frontend.npz import released_weight_format
from .hw.params import HwParams
from .hw.spec import MAX_ACTIVATION_BITS, MIN_ACTIVATION_BITS
from .ir.weight_format import WeightFormat
from .nets import NET_NAMES, NetOptions

__all__ = ["EXIT_USAGE", "EXIT_INTERNAL", "GENERATED_WEIGHTS_WARNING", "OneLineParser",
           "band_steps",
           "positive_int", "positive_float", "clock_mhz", "add_net_args", "add_quant_args",
           "weight_format", "layer_format", "layer_formats",
           "net_options", "expand_images", "flow_config", "top5", "pe_array", "class_labels",
           "require_square_input", "calibration_text", "calibration_line", "add_board_arg",
           "default_weight_format", "weight_format_line",
           "add_weight_store_args", "design_config"]

#: Exit status for bad usage or bad input files.
EXIT_USAGE = 2
#: What ``classify`` and ``simulate`` say when no weights file is given.
GENERATED_WEIGHTS_WARNING = ("no --weights: generated (random) weights, so the class names "
                             "mean nothing")
#: Exit status for an unexpected failure inside fpgagen (a bug: one line, ``-v`` for the
#: traceback).
EXIT_INTERNAL = 1


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (the error and where
    to look), exit status :data:`EXIT_USAGE`."""

    def error(self, message):
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)



def positive_int(text):
    """An argparse type: an integer >= 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return v


def positive_float(text):
    """An argparse type: a finite number > 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, not {text!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected a finite positive number, not {text!r}")
    return v


def clock_mhz(text):
    """An argparse type: a clock in MHz, as board files take it
    (:func:`fpgagen.devices.board.check_clock_mhz`)."""
    from .devices.board import check_clock_mhz

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of MHz, not {text!r}") from None
    try:
        return check_clock_mhz(value, "clock")
    except FpgagenError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("clock: ")) from None


def add_net_args(p, weights=True):
    """``--net``, ``--weights`` (unless ``weights`` is false), ``--input-size``,
    ``--num-classes``, ``--width``."""
    p.add_argument("--net", default="squeezenet",
                   help=f"network: {', '.join(NET_NAMES)}; 'squeezenet' is squeezenet1_1 "
                        "(default: %(default)s)")
    if weights:
        p.add_argument("--weights", type=Path, metavar="FILE",
                       help=".npz (keys conv1.weight, fire2.squeeze1x1.weight, ...) or .onnx "
                            "weights; without it, deterministic generated weights")
    p.add_argument("--input-size", type=positive_int, metavar="N",
                   help="input height and width (default: the network's, 227 or 256)")
    p.add_argument("--num-classes", type=positive_int, metavar="N",
                   help="classifier outputs (default: the network's, 1000 or 1024)")
    p.add_argument("--width", type=positive_float, default=1.0, metavar="W",
                   help="multiplier on every channel count (default: %(default)s)")


def weight_format(text):
    """An argparse type: a :class:`WeightFormat` (``dense``, ``codebook:B``, ``pruned:B``)."""
    try:
        return WeightFormat.parse(text)
    except FpgagenError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def layer_format(text):
    """An argparse type: ``NAME=FORMAT``, one layer's weight format, as ``(name, format)``."""
    name, sep, fmt = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected LAYER=FORMAT such as "
                                         f"conv10=codebook:6, not {text!r}")
    return name.strip(), weight_format(fmt)


def layer_formats(pairs) -> dict:
    """``{layer: WeightFormat}`` of the ``--layer-format`` options; a layer named twice is
    an error."""
    out = {}
    for name, fmt in pairs or ():
        if name in out:
            raise FpgagenError(f"--layer-format gives layer {name!r} twice ({out[name]} and "
                               f"{fmt})")
        out[name] = fmt
    return out


def add_quant_args(p):
    """``--weight-bits``, ``--activation-bits``, ``--weight-format``, ``--layer-format`` and
    ``--calibration``."""
    p.add_argument("--weight-bits", type=int, default=8, choices=range(4, 13), metavar="B",
                   help="weight code width, 4..12 (default: %(default)s); with a codebook, "
                        "the width of its entries (above 8 the multipliers widen to B "
                        "bits; weights in flash take at most 8)")
    p.add_argument("--activation-bits", type=int, default=8,
                   choices=range(MIN_ACTIVATION_BITS, MAX_ACTIVATION_BITS + 1), metavar="B",
                   help=f"activation code width, {MIN_ACTIVATION_BITS}..{MAX_ACTIVATION_BITS} "
                        "(lanes of B+1 bits; more memory) (default: %(default)s)")
    p.add_argument("--weight-format", type=weight_format, default=None,
                   metavar="FORMAT",
                   help="how conv weights are quantized: 'dense' (one code per weight, one "
                        "scale per output channel), 'codebook:B' (per layer at most 2**B "
                        "shared values, one scale for the layer: k-means over the float "
                        "weights, or the weights' own values when they take no more than "
                        "2**B), 'pruned:B' (as codebook:B, with zero weights not stored and "
                        "the codebook over the nonzero ones); B = 2..8 index bits. The "
                        "integer model computes with the decoded weights, the hardware stores "
                        "compressed layers as masks and indices and decodes them (default: "
                        "dense; pruned:8 for a weights file released pruned and shared, "
                        "every conv layer with zeros and at most 256 distinct values, as "
                        "Deep Compression's SqueezeNet v1.0: kept as it comes)")
    p.add_argument("--layer-format", type=layer_format, action="append", default=[],
                   metavar="LAYER=FORMAT",
                   help="weight format of one conv layer (name as 'fpgagen info' lists it, "
                        "e.g. conv10=dense or fire9/expand3x3=codebook:6), overriding "
                        "--weight-format; repeatable")
    # one value per option (repeat it for more), so that it never swallows the positional
    # images of classify
    p.add_argument("--calibration", type=Path, action="append", metavar="PATH",
                   help="an image, or a folder of images, to calibrate activation ranges on; "
                        "repeat for more (default: seeded generated images)")


def net_options(args):
    """The :class:`NetOptions` the parsed arguments describe."""
    return NetOptions(input_size=args.input_size, num_classes=args.num_classes,
                      width=args.width)


def expand_images(paths):
    """Image files from files and folders (a folder gives its images, sorted)."""
    out = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise FpgagenError(f"no image files in folder {str(p)!r}")
            out.extend(found)
        else:
            out.append(p)
    return tuple(out)


def default_weight_format(args) -> WeightFormat:
    """``--weight-format`` when given, else the format the weights file was released in
    (:func:`fpgagen.frontend.npz.released_weight_format`: ``pruned:8`` for Deep
    Compression's pruned and shared weights), else ``dense``."""
    given = getattr(args, "weight_format", None)
    if given is not None:
        return given
    weights = getattr(args, "weights", None)
    return (released_weight_format(weights) if weights else None) or WeightFormat()


def weight_format_line(args, cfg: FlowConfig) -> str | None:
    """The line the commands that quantize print when ``--weight-format`` was not given
    and ``cfg`` (:func:`flow_config` of ``args``) stores the weights file as it was
    released (``None`` otherwise)."""
    if getattr(args, "weight_format", None) is not None or not cfg.weight_format.compressed:
        return None
    return (f"weight format: {cfg.weight_format} (the file's pruned and shared weights kept "
            f"as they come; --weight-format dense stores them dense)")


def flow_config(args):
    """The :class:`FlowConfig` the parsed arguments describe."""
    return FlowConfig(net=args.net, weights=getattr(args, "weights", None),
                      net_options=net_options(args),
                      weight_bits=getattr(args, "weight_bits", 8),
                      activation_bits=getattr(args, "activation_bits", 8),
                      weight_format=default_weight_format(args),
                      layer_formats=layer_formats(getattr(args, "layer_format", ())),
                      calibration=expand_images(getattr(args, "calibration", None) or ()))


def calibration_text(paths) -> str:
    """What calibrates the activation ranges, in words: ``generated images``, ``1 photo
    (PATH)``, ``N photos from DIR`` or ``N photos from K folders (DIR, ...)``."""
    paths = [Path(p) for p in paths]
    if not paths:
        return "generated images"
    if len(paths) == 1:
        return f"1 photo ({paths[0]})"
    folders = list(dict.fromkeys(str(p.parent) for p in paths))
    if len(folders) == 1:
        return f"{len(paths)} photos from {folders[0]}"
    return f"{len(paths)} photos from {len(folders)} folders ({', '.join(folders)})"


def calibration_line(cfg: FlowConfig) -> str:
    """The line the commands that quantize print: ``calibration: ...``, with a hint at
    ``--calibration`` when it is the default."""
    line = f"calibration: {calibration_text(cfg.calibration)}"
    if not cfg.calibration:
        line += " (default; give --calibration DIR for real photos)"
    return line


def top5(values):
    """Indices of the five largest values (ties: lower index first)."""
    values = np.asarray(values).ravel()
    order = np.argsort(-values, kind="stable")  # ties: lower class index first
    return [int(i) for i in order[:5]]


def pe_array(text):
    """``--pe RxC`` (or ``N`` for N x N) as :class:`HwParams`; an argparse type."""
    parts = text.lower().split("x")
    try:
        rows, cols = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (None, None)
        if rows is None:
            raise ValueError
        return HwParams(pe_rows=rows, pe_cols=cols)
    except ValueError as e:
        detail = f": {e}" if str(e) else ""
        raise argparse.ArgumentTypeError(f"expected a PE array RxC such as 16x16, not "
                                         f"{text!r}{detail}") from None


def class_labels(args, graph) -> list[str]:
    """Class names for ``graph``'s outputs: ``--labels FILE`` or the bundled defaults."""
    from .labels import default_labels, load_labels

    num_classes = graph.shapes()[graph.outputs[0]][0]
    labels = load_labels(args.labels) if args.labels else default_labels(num_classes)
    if len(labels) < num_classes:
        raise FpgagenError(f"labels file {str(args.labels)!r} has {len(labels)} names, the "
                           f"network has {num_classes} classes")
    return labels


def require_square_input(graph, command: str) -> int:
    """The input side of ``graph``; one clear error when its input is not square."""
    if graph.input_shape[1] != graph.input_shape[2]:
        raise FpgagenError(f"{command} needs a square input, not {graph.input_shape}")
    return graph.input_shape[1]


def band_steps(text: str) -> int:
    """``--steps``: a whole number of row bands from 1 (whole tensors) to 4095."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of bands, not "
                                         f"{text!r}") from None
    if not 1 <= v <= 4095:
        raise argparse.ArgumentTypeError(f"must be 1..4095 bands, not {v}")
    return v


def add_board_arg(p, *, required: bool, help: str = "") -> None:
    """The ``--board BOARD`` option of ``build`` and ``simulate``: a board file or the name
    of a bundled board, loaded by :func:`fpgagen.devices.board.resolve_board`; ``help`` is
    said before the list of bundled boards."""
    from .devices.board import list_boards

    boards = ", ".join(b.stem for b in list_boards())
    p.add_argument("--board", required=required, metavar="BOARD",
                   help=f"{help}board file (boards/*.yaml) or bundled board name: {boards}")


def add_weight_store_args(p, *, needs_board: bool = False) -> None:
    """``--weight-store`` and ``--weight-chunk-kb`` of ``build`` and ``simulate --board``
    (read by :func:`design_config`); ``needs_board``: the help says they need ``--board``."""
    from .hw.params import WeightStore

    board = "; needs --board" if needs_board else ""
    p.add_argument("--weight-store", choices=[w.value for w in WeightStore], default="bram",
                   help="where the weights live: 'bram', ROM banks in block RAM; 'flash', the "
                        "board's on-chip flash (the MAX 10's user flash), loaded chunk by "
                        "chunk of output groups into double-buffered staging RAMs while the "
                        "previous chunk computes (docs/hardware.md, Weights in flash); the "
                        "flash's timing comes from the board file; refused on a board "
                        f"without flash{board} (default: %(default)s)")
    p.add_argument("--weight-chunk-kb", type=positive_float, metavar="KB",
                   help="with --weight-store flash, the staging budget: the most weight "
                        "data (weights or masks and indices, and biases) one conv "
                        "instruction may use per PE column, in KB of 1024 bytes; every conv "
                        "is split into chunks of output groups that fit; refused when one "
                        "output group needs more (default: the smallest budget every conv's "
                        f"single output group fits, times 2){board}")


def design_config(args, board):
    """The :class:`~fpgagen.build_flow.BuildConfig` of the options that decide the design
    on ``board`` (a :class:`~fpgagen.devices.board.Board`), as ``build`` and ``simulate
    --board`` read them: the network and its quantization, ``--pe`` (``None``: the board's
    default, :func:`fpgagen.build_flow.step_hw`), ``--clock-mhz`` (``None``: the board's),
    ``--steps``, ``--max-activation-kb``, ``--weight-store`` and ``--weight-chunk-kb``
    (in bits: ``KB * 8192``, rounded down). The build-only fields keep their defaults."""
    from .build_flow import BuildConfig

    limit = (int(args.max_activation_kb * 1024) if args.max_activation_kb is not None
             else None)
    kb = getattr(args, "weight_chunk_kb", None)
    return BuildConfig(flow=flow_config(args), board=board,
                       pe=args.pe.pe_rows if args.pe is not None else None,
                       clock_mhz=args.clock_mhz, max_activation_bytes=limit, steps=args.steps,
                       weight_store=getattr(args, "weight_store", "bram"),
                       weight_chunk_bits=max(1, int(kb * 8192)) if kb is not None else None)
