"""Weight formats side by side: for each format, the bytes its weights take on chip, top-1 /
top-5 of the integer golden model on the labelled photos, and the MAC utilization of the
full-size network on the 16x16 array (the cycle model, which the RTL tests hold exact,
decoder stalls included).

Formats: SqueezeNet v1.1 dense 8-bit, uniform 4..7 bits (``--weight-bits``), codebooks of
4..8 bits (``--weight-format codebook:B``); SqueezeNet v1.0 with the released Deep
Compression weights, dense 8-bit and stored as they come (``--weight-format pruned:8``),
with 8-bit codes and with 12-bit weight codes and 10-bit activations (``--weight-bits 12
--activation-bits 10``).

    python benchmarks/weight_formats.py                   # every 5th photo (100)
    python benchmarks/weight_formats.py --every 1         # all 500 photos (~1 h)
    python benchmarks/weight_formats.py --calibration ../shared/images

The float model is run once per network and photo, each integer model once per photo.
"""

import argparse
import sys
import time

import numpy as np

from _common import SHARED
from fpgagen.evaluation import labelled_images
from fpgagen.frontend import load_image_bgr, load_npz_weights
from fpgagen.cli_common import expand_images
from fpgagen.golden.float_model import bgr_to_float_chw, run_float
from fpgagen.golden.int_model import run_int
from fpgagen.hw import HwParams
from fpgagen.hw.cost import mac_utilization
from fpgagen.ir.weight_format import WeightFormat
from fpgagen.nets import build_net
from fpgagen.passes import QuantConfig, quantize
from fpgagen.schedule.lower import lower

#: ``(label, net, weights file, weight bits, format, activation bits)`` of every
#: configuration measured.
CONFIGS = (
    [("v1.1 dense 8", "squeezenet1_1", "squeezenet_v1_1.npz", 8, "dense", 8)]
    + [(f"v1.1 uniform {b}", "squeezenet1_1", "squeezenet_v1_1.npz", b, "dense", 8)
       for b in (7, 6, 5, 4)]
    + [(f"v1.1 codebook {b}", "squeezenet1_1", "squeezenet_v1_1.npz", 8, f"codebook:{b}", 8)
       for b in (8, 7, 6, 5, 4)]
    + [("v1.0 DC dense 8", "squeezenet1_0", "squeezenet_v1_0.npz", 8, "dense", 8),
       ("v1.0 DC pruned:8 (Deep Compression)", "squeezenet1_0", "squeezenet_v1_0.npz", 8,
        "pruned:8", 8),
       ("v1.0 DC pruned:8, w12 a10", "squeezenet1_0", "squeezenet_v1_0.npz", 12,
        "pruned:8", 10)]
)


def _top(values, k):
    return np.argsort(-np.asarray(values, dtype=np.float64).ravel(), kind="stable")[:k]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default=str(SHARED / "images" / "eval"),
                    help="labelled photos (labels.json)")
    ap.add_argument("--every", type=int, default=5, help="take every N-th photo (default 5)")
    ap.add_argument("--calibration", default=None,
                    help="calibrate on these photos (default: generated images)")
    ap.add_argument("--only", default=None, help="configurations whose label contains this")
    args = ap.parse_args(argv)
    if not (SHARED / "models").is_dir():
        print(f"needs {SHARED}/models and the labelled photos", file=sys.stderr)
        return 2
    data = labelled_images(args.images, 1000)
    files = data.files[::args.every]
    classes = data.classes[::args.every]
    calib = None
    if args.calibration:
        calib = np.stack([load_image_bgr(p, 227) for p in expand_images([args.calibration])])
    configs = [c for c in CONFIGS if args.only is None or args.only in c[0]]
    rows = []
    for net in dict.fromkeys(c[1] for c in configs):
        mine = [c for c in configs if c[1] == net]
        graph = load_npz_weights(build_net(net), SHARED / "models" / mine[0][2])
        models = []
        for label, _, _, bits, fmt, act_bits in mine:
            cfg = QuantConfig(weight_bits=bits, weight_format=WeightFormat.parse(fmt),
                              activation_bits=act_bits)
            q = quantize(graph, cfg, calibration_images=calib)
            program = lower(q, HwParams())
            util = mac_utilization(program.macs, program.cycles_predicted, program.hw)
            models.append((label, q, program.weight_storage()["total"], util))
        hits = np.zeros((len(models) + 1, 2), dtype=np.int64)
        t0 = time.time()
        for path, cls in zip(files, classes):
            image = load_image_bgr(path, graph.input_shape[1])
            out = graph.outputs[0]
            logits = run_float(graph, bgr_to_float_chw(image, graph.mean))[out]
            tops = [_top(logits, 5)] + [_top(run_int(q, image)[out], 5)
                                       for _, q, _, _ in models]
            for k, top in enumerate(tops):
                hits[k] += (top[0] == cls, cls in top)
        n = len(files)
        print(f"{net}: {n} photos in {time.time() - t0:.0f} s; float top-1 "
              f"{100 * hits[0, 0] / n:.1f}%, top-5 {100 * hits[0, 1] / n:.1f}%")
        for k, (label, _, nbytes, util) in enumerate(models, start=1):
            rows.append((label, nbytes, 100 * hits[k, 0] / n, 100 * hits[k, 1] / n,
                         100 * util, 100 * hits[0, 0] / n))
    print(f"\n{'format':38s} {'weight bytes':>13s} {'top-1':>7s} {'top-5':>7s} "
          f"{'vs float':>9s} {'MAC util':>9s}")
    for label, nbytes, t1, t5, util, f1 in rows:
        print(f"{label:38s} {nbytes:13,d} {t1:6.1f}% {t5:6.1f}% {t1 - f1:+8.1f}  "
              f"{util:8.1f}%")
    print(f"\n({len(files)} photos of {args.images}, calibration "
          f"{args.calibration or 'generated images (default)'}; MAC utilization: 227x227 on "
          "16x16 PEs, whole tensors, cycle model)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
