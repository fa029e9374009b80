"""Quantization quality on the real photos of ../shared: top-1 / top-5 agreement with the
float model and SQNR per layer, for SqueezeNet v1.1 and v1.0 (Deep Compression weights).

    python benchmarks/quant_accuracy.py [--weight-bits 8] [--per-layer]

Each photo is scored by a model calibrated on the other half of the photos (two folds), and
again by a model calibrated on generated images only.
"""

import argparse
import sys

import numpy as np

from _common import SHARED
from fpgagen.frontend import bgr_to_float_chw, load_npz_weights
from fpgagen.golden.float_model import run_float
from fpgagen.golden.int_model import run_int
from fpgagen.nets import build_net
from fpgagen.passes import QuantConfig, quantize


def sqnr_db(ref, err):
    return 10 * np.log10(np.sum(ref ** 2) / max(np.sum(err ** 2), 1e-30))


def evaluate(graph, images, ref_logits, cfg, calibration):
    n = len(images)
    halves = np.arange(n) < n // 2
    models = {}
    if calibration == "photos":
        for half in (halves, ~halves):
            q = quantize(graph, cfg, calibration_images=images[~half])
            for i in np.flatnonzero(half):
                models[i] = q
    else:
        q = quantize(graph, cfg)
        models = {i: q for i in range(n)}
    top1 = top5 = 0
    sig, noise = {}, {}
    for i in range(n):
        q = models[i]
        ints = run_int(q, images[i], keep_all=True)
        floats = run_float(graph, bgr_to_float_chw(images[i], graph.mean), keep_all=True)
        for node in graph.nodes:
            real = ints[node.name].astype(np.float64) * q.quant.types[node.name].step
            sig[node.name] = sig.get(node.name, 0) + np.sum(floats[node.name] ** 2.0)
            noise[node.name] = noise.get(node.name, 0) + np.sum((real - floats[node.name]) ** 2)
        out = ints[graph.outputs[0]].ravel()
        ftop = int(np.argmax(ref_logits[i]))
        top1 += int(np.argmax(out)) == ftop
        top5 += ftop in np.argsort(-out, kind="stable")[:5]
    sq = {k: 10 * np.log10(sig[k] / max(noise[k], 1e-30)) for k in sig}
    return top1, top5, sq


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weight-bits", type=int, default=8)
    parser.add_argument("--per-layer", action="store_true",
                        help="one weight scale per layer instead of per output channel")
    parser.add_argument("--layers", action="store_true", help="print SQNR of every layer")
    args = parser.parse_args()
    if not (SHARED / "images" / "reference.npz").exists():
        sys.exit(f"needs the real photos and weights in {SHARED}")
    ref = np.load(SHARED / "images" / "reference.npz")
    images = ref["input_bgr_u8"]
    cfg = QuantConfig(weight_bits=args.weight_bits, per_channel=not args.per_layer)
    scale = "per-layer" if args.per_layer else "per-channel"
    print(f"weights {args.weight_bits} bits ({scale} scales), activations 8 bits, "
          f"{len(images)} photos")
    for net, wfile, key in (("squeezenet1_1", "squeezenet_v1_1.npz", "v1_1_logits"),
                            ("squeezenet1_0", "squeezenet_v1_0.npz", "v1_0_logits")):
        graph = load_npz_weights(build_net(net), SHARED / "models" / wfile)
        for calibration in ("photos", "generated"):
            top1, top5, sq = evaluate(graph, images, ref[key], cfg, calibration)
            print(f"{net:14s} calibrated on {calibration:9s}: top-1 = float top-1 on "
                  f"{top1}/{len(images)}, float top-1 in int8 top-5 on {top5}/{len(images)}, "
                  f"output SQNR {sq[graph.outputs[0]]:.1f} dB")
            if args.layers or calibration == "photos":
                convs = [n.name for n in graph.nodes if n.op.kind in ("conv2d", "global_avgpool")]
                line = ", ".join(f"{k} {sq[k]:.1f}" for k in convs)
                print(f"  SQNR dB per layer: {line}")


if __name__ == "__main__":
    main()
