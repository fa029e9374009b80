"""SqueezeNext with generated (BatchNorm-folded) weights in the float and integer golden
models: the range of the activations and logits, and how closely the int8 model follows
the float one, on generated images other than those of the BatchNorm statistics.

    PYTHONPATH=. python benchmarks/squeezenext_golden.py [--net NAME ...] [--input-size N]
        [--images N] [--seed S]

Prints one line per network and image: logits' standard deviation and largest magnitude,
the largest activation of any tensor (float), the correlation of the int8 logits with the
float ones, the float top-1 and whether it is in the int8 top-5, and the largest share of
saturated values (at the greatest code of their type, or the least of a signed one)
of any tensor.
"""

import argparse

import numpy as np

from fpgagen.frontend import generate_weights
from fpgagen.golden.float_model import bgr_to_float_chw, run_float
from fpgagen.golden.int_model import run_int, scores
from fpgagen.nets import NetOptions, build_net
from fpgagen.passes.calibrate import generated_calibration_images
from fpgagen.passes.quantize import quantize


def _saturated(codes, qtype) -> float:
    """Share of the codes at the greatest value of their type, or at the least of a signed
    one (zero in an unsigned tensor is ReLU's floor, not saturation)."""
    low = codes <= qtype.min if qtype.signed else np.zeros(codes.shape, bool)
    return float(np.mean(low | (codes >= qtype.max)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--net", action="append",
                        help="catalog network (repeatable; default: squeezenext-23, "
                             "squeezenext-23v5, squeezenext-23-g)")
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--seed", type=int, default=5, help="seed of the generated images")
    args = parser.parse_args(argv)
    for net in args.net or ["squeezenext-23", "squeezenext-23v5", "squeezenext-23-g"]:
        graph = generate_weights(build_net(net, NetOptions(input_size=args.input_size)))
        q = quantize(graph)
        out = graph.outputs[0]
        for i, image in enumerate(generated_calibration_images(graph, args.images,
                                                                seed=args.seed)):
            env = run_float(graph, bgr_to_float_chw(image, graph.mean), keep_all=True)
            ref = env[out].ravel().astype(np.float64)
            ienv = run_int(q, image, keep_all=True)
            got = scores(q, ienv[out]).ravel()
            act = max(float(np.abs(v).max()) for k, v in env.items() if k != graph.input_name)
            sat = max(_saturated(v, q.quant.types[k]) for k, v in ienv.items()
                      if k in q.quant.types and k not in (graph.input_name, out))
            top1 = int(np.argmax(ref))
            in_top5 = top1 in np.argsort(-got)[:5]
            print(f"{net} {args.input_size}x{args.input_size} image {i}: logits std "
                  f"{ref.std():.2f} max {np.abs(ref).max():.2f}; largest activation "
                  f"{act:.1f}; int8 corr {np.corrcoef(ref, got)[0, 1]:.3f}, float top-1 "
                  f"{'in' if in_top5 else 'not in'} int8 top-5; saturated <= {100 * sat:.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
