"""Time the integer golden model on full SqueezeNet v1.1 at 227x227 (target: < 2 s).

    python benchmarks/golden_speed.py [--repeat N]
"""

import argparse
import time

import numpy as np

from fpgagen.frontend import generate_weights
from fpgagen.golden.int_model import run_int
from fpgagen.nets import build_net
from fpgagen.passes import quantize


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--net", default="squeezenet1_1")
    args = parser.parse_args()
    graph = generate_weights(build_net(args.net))
    qgraph = quantize(graph)
    img = np.random.default_rng(0).integers(0, 256, (*graph.input_shape[1:], 3), np.uint8)
    run_int(qgraph, img)  # warm-up
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        run_int(qgraph, img)
        times.append(time.perf_counter() - t)
    macs = graph.macs()
    best, median = min(times), float(np.median(times))
    print(f"net {graph.name} {'x'.join(map(str, graph.input_shape))}: {macs:,d} MACs")
    print(f"golden model: best {best:.3f} s, median {median:.3f} s over {args.repeat} runs "
          f"({macs / best / 1e9:.2f} GMAC/s); target < 2 s: {'met' if median < 2 else 'MISSED'}")


if __name__ == "__main__":
    main()
