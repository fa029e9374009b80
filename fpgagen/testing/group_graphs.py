"""A graph of the layers group convolution and SqueezeNext's 3x1 / 1x3 kernels bring, for
the engine-model and RTL tests: every case reads a stem tensor whose channel count is
(16, 32) or is not (12) a multiple of the array size."""

from ..ir import Graph
from ..nets.builder import GraphBuilder

__all__ = ["GROUP_CASES", "group_zoo"]

#: ``name: (source, out_channels, kernel, stride, padding, relu, groups, what)``.
GROUP_CASES = {
    "k3x1p10_c12": ("stem12", 12, (3, 1), 1, (1, 0), True, 1, "3x1, padding (1, 0)"),
    "k1x3p01_c16": ("stem16", 16, (1, 3), 1, (0, 1), True, 1, "1x3, padding (0, 1)"),
    "k3x1s2_c9": ("stem12", 9, (3, 1), 2, (1, 0), True, 1, "3x1 stride 2"),
    "k1x3s2_c16_signed": ("stem16", 16, (1, 3), 2, (0, 1), False, 1,
                          "1x3 stride 2, no ReLU"),
    "g2_1x1_c32": ("wide32", 32, 1, 1, 0, True, 2,
                   "groups 2 on a 1x1, 16 channels a group (per group on 8 and 16 lanes)"),
    "g2_1x1_c12": ("stem12", 10, 1, 1, 0, True, 2,
                   "groups 2 on a 1x1, 6 -> 5 channels a group (block-diagonal)"),
    "g2_3x1_c16": ("stem16", 16, (3, 1), 1, (1, 0), True, 2,
                   "groups 2 on a 3x1, 8 channels a group (per group on 8 lanes, "
                   "block-diagonal on 16)"),
    "g4_1x3s2_c32": ("wide32", 16, (1, 3), 2, (0, 1), False, 4,
                     "groups 4 on a 1x3 stride 2, 8 -> 4 channels a group"),
}


def group_zoo(size: int = 12) -> Graph:
    """The graph (float, no weights): input ``3 x size x size``, a 5x5/2 first convolution
    (the im2col path with SqueezeNext v2's first layer) and 1x1 stems, every case of
    :data:`GROUP_CASES`; ends with a global average pool over a 1x1 conv reading the
    grouped ``g2_1x1_c32``."""
    b = GraphBuilder("group_zoo", (3, size, size))
    first = b.conv("conv5x5s2", "data", 16, 5, 2, 2)
    s16 = b.conv("stem16", first, 16, 1)
    b.conv("stem12", s16, 12, 1)
    b.conv("wide32", s16, 32, 1)
    for name, (src, oc, k, s, p, relu, groups, _) in GROUP_CASES.items():
        b.conv(name, src, oc, k, s, p, relu=relu, groups=groups)
    end = b.conv("end", "g2_1x1_c32", 8, 1)
    return b.build([b.global_avgpool("gap", end)])
