"""Predicted cycles and MAC utilization of a network on the accelerator (the cycle model of
``docs/hardware.md``, ``fpgagen.hw.cost``), per layer and in total.

    python benchmarks/cycle_model.py [--net squeezenet1_1] [--size 227] [--pe 16] [--mhz 200]

The weights are generated (the cycle count does not depend on them); the program is also
run once on the engine model and checked against the golden model.
"""

import argparse
import time

import numpy as np

from fpgagen.frontend import generate_weights
from fpgagen.golden.int_model import run_int
from fpgagen.hw import PIPELINE_OVERHEAD, HwParams, mac_utilization
from fpgagen.nets import NetOptions, build_net
from fpgagen.passes import quantize
from fpgagen.schedule import lower, pack_input, run_program


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--net", default="squeezenet1_1")
    parser.add_argument("--size", type=int, default=None, help="input size (net default)")
    parser.add_argument("--pe", type=int, default=16, help="PE array side (rows = cols)")
    parser.add_argument("--mhz", type=float, default=200.0, help="clock for the frame rate")
    args = parser.parse_args()

    hw = HwParams(pe_rows=args.pe, pe_cols=args.pe)
    graph = quantize(generate_weights(build_net(args.net, NetOptions(input_size=args.size))))
    t0 = time.perf_counter()
    program = lower(graph, hw)
    t1 = time.perf_counter()
    img = np.random.default_rng(0).integers(0, 256, (*graph.input_shape[1:], 3), np.uint8)
    result = run_program(program, pack_input(program, graph, img))
    t2 = time.perf_counter()
    exact = np.array_equal(result.scores, run_int(graph, img)[graph.outputs[0]].ravel())

    print(f"net {graph.name} {'x'.join(map(str, graph.input_shape))} on {hw} PEs, "
          f"pipeline overhead {PIPELINE_OVERHEAD} cycles per instruction")
    print(f"{'#':>3} {'layer':<28} {'op':<7} {'MACs':>12} {'cycles':>10} {'util':>6}")
    for i, info in enumerate(program.layers):
        util = mac_utilization(info.macs, info.cycles_predicted, hw)
        print(f"{i:3d} {info.name:<28} {info.opcode.name:<7} {info.macs:12,d} "
              f"{info.cycles_predicted:10,d} {100 * util:5.1f}%")
    macs, cycles = program.macs, program.cycles_predicted
    conv_cycles = sum(l.cycles_predicted for l in program.layers if l.macs)
    seconds = cycles / (args.mhz * 1e6)
    print(f"total: {len(program.layers)} instructions, {macs:,d} MACs, {cycles:,d} cycles "
          f"predicted, MAC utilization {100 * mac_utilization(macs, cycles, hw):.1f}% "
          f"(conv layers alone {100 * mac_utilization(macs, conv_cycles, hw):.1f}%; "
          f"non-conv instructions {cycles - conv_cycles:,d} cycles)")
    print(f"at {args.mhz:g} MHz: {1e3 * seconds:.2f} ms per image, {1 / seconds:.1f} images/s")
    print(f"memory: activation {program.act_depth:,d} words x {9 * hw.pe_rows} bits, weight "
          f"banks {program.weight_depth:,d} words x {8 * hw.pe_rows} bits x {hw.pe_cols}, "
          f"bias banks {program.bias_depth:,d} x 40 bits x {hw.pe_cols}")
    print(f"lowering {t1 - t0:.2f} s, engine model run {t2 - t1:.2f} s, engine scores "
          f"{'equal' if exact else 'DIFFER FROM'} the golden model")
    assert result.total_cycles == cycles


if __name__ == "__main__":
    main()
