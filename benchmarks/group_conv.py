"""Cycles of the grouped convolutions of 1.0-G-SqNxt-23 (every distinct grouped layer of
``../shared/models/squeezenext/1.0-G-SqNxt-23.prototxt``, at its place in a 227x227
network) on the accelerator, lowered per group (the default where each group owns its lane
groups) and block-diagonal (forced), beside the same layer without groups (twice the
MACs): the cycle model of ``docs/hardware.md``, per layer, on 8x8 and 16x16 arrays.

    python benchmarks/group_conv.py

The weights are generated; each layer is lowered in a graph of its own (a 1x1 stem
from the 3-channel image to the layer's input channels, the layer, max pools
not fused into it to bring it below 16x16, a global average pool) and only the layer's
instructions are counted.
"""

from unittest import mock

from fpgagen.frontend import generate_weights
from fpgagen.hw import HwParams, mac_utilization
from fpgagen.nets.builder import GraphBuilder
from fpgagen.operators import conv as conv_rules
from fpgagen.passes import quantize
from fpgagen.schedule import lower

#: ``(layer, in_channels, out_channels, groups, kernel, stride, input size)``.
LAYERS = [
    ("Convolution3", 64, 16, 2, (1, 1), 1, 55),
    ("Convolution5", 8, 16, 2, (3, 1), 1, 55),
    ("Convolution6", 16, 16, 2, (1, 3), 1, 55),
    ("Convolution8", 32, 16, 2, (1, 1), 1, 55),
    ("Convolution34", 32, 32, 2, (1, 1), 2, 55),
    ("Convolution36", 16, 32, 2, (3, 1), 1, 28),
    ("Convolution37", 32, 32, 2, (1, 3), 1, 28),
    ("Convolution39", 64, 32, 2, (1, 1), 1, 28),
    ("Convolution65", 64, 64, 2, (1, 1), 2, 28),
    ("Convolution67", 32, 64, 2, (3, 1), 1, 14),
    ("Convolution68", 64, 64, 2, (1, 3), 1, 14),
    ("Convolution70", 128, 64, 2, (1, 1), 1, 14),
    ("Convolution106", 128, 128, 2, (1, 1), 2, 14),
    ("Convolution108", 64, 128, 2, (3, 1), 1, 7),
    ("Convolution109", 128, 128, 2, (1, 3), 1, 7),
]


def _layer_cost(name, cin, cout, groups, kernel, stride, size, hw, block_diagonal=False):
    """``(instructions, cycles, MACs)`` of the layer's instructions."""
    pad = tuple(k // 2 for k in kernel)
    b = GraphBuilder(name, (3, size, size))
    stem = b.conv("stem", "data", cin, 1)
    layer = b.conv(name, stem, cout, kernel, stride, pad, groups=groups)
    out = (size - 1) // stride + 1
    tail, k = layer, 0
    while out > 15:  # a GAP reads at most 15x15: max pools (3x3/2) to below that
        tail, out, k = b.maxpool(f"pool{k}", tail), (out - 2) // 2 + 1, k + 1
    graph = quantize(generate_weights(b.build([b.global_avgpool("gap", tail)])))
    if block_diagonal:
        with mock.patch.object(conv_rules, "group_split", return_value=None):
            program = lower(graph, hw, fuse_pools=False)
    else:
        program = lower(graph, hw, fuse_pools=False)
    infos = [l for l in program.layers if l.name == name]
    return len(infos), sum(l.cycles_predicted for l in infos), sum(l.macs for l in infos)


def main():
    for pe in (8, 16):
        hw = HwParams(pe_rows=pe, pe_cols=pe)
        print(f"{pe}x{pe}: cycles (instructions) and MAC utilization")
        print(f"{'layer':<15} {'C->O /g k s size':<22} {'per group':>16} {'block-diag':>16} "
              f"{'no groups':>16}")
        totals = [0, 0, 0]
        for name, cin, cout, g, k, s, size in LAYERS:
            cells = []
            for i, (groups, bd) in enumerate(((g, False), (g, True), (1, False))):
                n, cycles, macs = _layer_cost(name, cin, cout, groups, k, s, size, hw, bd)
                totals[i] += cycles
                util = mac_utilization(macs, cycles, hw)
                cells.append(f"{cycles:7d} ({n}) {100 * util:3.0f}%")
            shape = f"{cin}->{cout} /{g} {k[0]}x{k[1]} {s} {size}"
            print(f"{name:<15} {shape:<22} " + " ".join(f"{c:>16}" for c in cells))
        print(f"{'total':<38} {totals[0]:>16d} {totals[1]:>16d} {totals[2]:>16d}")
        print()


if __name__ == "__main__":
    main()
