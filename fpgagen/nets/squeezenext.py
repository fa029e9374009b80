"""SqueezeNext (Gholami et al. 2018, "SqueezeNext: Hardware-Aware Neural Network Design"):
1.0-SqNxt-23 and its variants v2..v5, wider versions and the grouped 1.0-G-SqNxt-23,
following the authors' Caffe definitions (``../shared/models/squeezenext/``).

The network: conv1 (7x7/2, 64 filters; 5x5/2 from v2 on), max pool 3x3/2 (ceil), four
stages of blocks with ``32, 64, 128, 256`` channels (times the width), a final 1x1 conv
of 128 filters, global average pooling and a fully connected layer of ``num_classes``
without bias (``GlobalAvgPool -> Conv2d(num_classes, 1, relu=False)``). A block of ``C``
channels is ``1x1 (C/2) -> 1x1 (C/4) -> 3x1 (C/2) -> 1x3 (C/2) -> 1x1 (C)``, every conv
followed by (folded) BatchNorm and ReLU, summed with the block input, then ReLU; the
separable pair alternates its order (3x1 first in even blocks of a stage, 1x3 first in odd
ones). The first block of a stage changes the shape (channels; stride 2 from stage 2 on)
and has a 1x1 projection conv (with BatchNorm and ReLU) on its shortcut:

- ``parallel`` (the 1.0-SqNxt-23 and 2.0-SqNxt-23 files): the projection and the first
  reduce conv both read the block input, both with the stage's stride;
- ``serial`` (the 1.0-SqNxt-23v5 and 2.0-SqNxt-23v5 files): the projection (with the
  stride) comes first, and the block reads its output.

The width multiplier scales the block channels only; conv1 (64) and the final conv (128)
keep their size, as in the 2.0-SqNxt-23 files. The grouped network splits the first
reduce, the 3x1 and the 1x3 conv of every block into two groups (1.0-G-SqNxt-23.prototxt).
"""

import math
from dataclasses import dataclass

from ..errors import FpgagenError
from ..ir import Graph
from .builder import GraphBuilder, scale_channels

__all__ = ["SqueezeNextConfig", "SQUEEZENEXT_VARIANTS", "build_squeezenext",
           "SQUEEZENEXT_MEAN_BGR", "unfolded_counts"]

#: Caffe mean subtracted from BGR pixels (the prototxts' ``mean_value``).
SQUEEZENEXT_MEAN_BGR = (104.0, 117.0, 123.0)

#: Channels of the four stages at width 1.0.
STAGE_CHANNELS = (32, 64, 128, 256)

#: ``variant: (conv1 kernel, blocks per stage, projection style)``. v1's counts and the
#: parallel projection are those of 1.0-SqNxt-23.prototxt, v5's and the serial projection
#: those of 1.0-SqNxt-23v5.prototxt; v2 to v4 exist in the paper only (section 5: v2 is v1
#: with a 5x5 conv1, v3 and v4 move blocks from the first stages to the third). The
#: projection style of v2-v4 is not published; fpgagen gives them v5's (serial), which
#: matches the paper's parameter counts (docs/squeezenext.md).
SQUEEZENEXT_VARIANTS = {
    1: (7, (6, 6, 8, 1), "parallel"),
    2: (5, (6, 6, 8, 1), "serial"),
    3: (5, (4, 8, 8, 1), "serial"),
    4: (5, (2, 10, 8, 1), "serial"),
    5: (5, (2, 4, 14, 1), "serial"),
}


@dataclass(frozen=True)
class SqueezeNextConfig:
    """One member of the family: ``variant`` 1..5, ``width`` (multiplier on the block
    channels: 1.0, 1.5, 2.0 in the paper), ``groups`` (1, or 2 for the grouped network),
    ``num_classes`` and ``input_size``."""

    variant: int = 1
    width: float = 1.0
    groups: int = 1
    num_classes: int = 1000
    input_size: int = 227

    def __post_init__(self):
        if self.variant not in SQUEEZENEXT_VARIANTS:
            raise FpgagenError(f"SqueezeNext variant must be one of "
                               f"{sorted(SQUEEZENEXT_VARIANTS)}, not {self.variant!r}")
        if self.groups not in (1, 2):
            raise FpgagenError(f"SqueezeNext groups must be 1 or 2, not {self.groups!r}")
        if not self.width > 0:
            raise FpgagenError(f"width must be positive, not {self.width!r}")
        if self.num_classes < 1:
            raise FpgagenError(f"num_classes must be at least 1, not {self.num_classes!r}")


def build_squeezenext(cfg: SqueezeNextConfig, name: str = "squeezenext-23") -> Graph:
    """The graph of the SqueezeNext network described by ``cfg``."""
    conv1_kernel, blocks, style = SQUEEZENEXT_VARIANTS[cfg.variant]
    b = GraphBuilder(name, (3, cfg.input_size, cfg.input_size), mean=SQUEEZENEXT_MEAN_BGR)
    x = b.conv("conv1", "data", 64, conv1_kernel, stride=2)
    x = b.maxpool("pool1", x)
    channels = 64
    for stage, (count, base) in enumerate(zip(blocks, STAGE_CHANNELS), 1):
        out = scale_channels(base, cfg.width)
        if out < 4:
            raise FpgagenError(f"width {cfg.width:g} gives stage {stage} {out} channels; a "
                               f"block needs at least 4 (its second reduce has a quarter)")
        if cfg.groups > 1 and (out // 4) % cfg.groups:
            raise FpgagenError(f"width {cfg.width:g} gives stage {stage} {out} channels, whose "
                               f"quarter does not split into {cfg.groups} groups")
        for i in range(count):
            prefix = f"stage{stage}/block{i + 1}"
            stride = 2 if stage > 1 and i == 0 else 1
            reshape = i == 0
            x = _block(b, cfg, prefix, x, out, stride if reshape else 1, reshape, style,
                       first_3x1=i % 2 == 0)

    x = b.conv("conv_final", x, 128, 1)
    x = b.global_avgpool("pool_final", x)
    x = b.conv("fc", x, cfg.num_classes, 1, relu=False)
    try:
        return b.build([x])
    except FpgagenError as e:
        raise FpgagenError(f"{name} at input_size {cfg.input_size}: {e}") from None


def _block(b, cfg, prefix, x, out, stride, reshape, style, first_3x1):
    """One block; returns the sum with its ReLU (``Add(relu=True)``, as FuseRelu makes of
    Caffe's Eltwise + ReLU)."""
    g = cfg.groups
    shortcut = x
    if reshape:
        shortcut = b.conv(f"{prefix}/proj", x, out, 1, stride=stride)
        if style == "serial":
            x, stride = shortcut, 1
    y = b.conv(f"{prefix}/reduce1", x, out // 2, 1, stride=stride, groups=g)
    y = b.conv(f"{prefix}/reduce2", y, out // 4, 1)
    sep = [("conv3x1", (3, 1), (1, 0)), ("conv1x3", (1, 3), (0, 1))]
    for suffix, kernel, padding in (sep if first_3x1 else sep[::-1]):
        y = b.conv(f"{prefix}/{suffix}", y, out // 2, kernel, padding=padding, groups=g)
    y = b.conv(f"{prefix}/expand", y, out, 1)
    return b.add(f"{prefix}/sum", shortcut, y, relu=True)  # the ReLU after the sum, fused


def unfolded_counts(graph: Graph) -> tuple[int, int]:
    """``(parameters, MACs)`` of a SqueezeNext graph with BatchNorm unfolded, the way
    Caffe stores the network and the SqueezeNext paper counts it: every conv but the last
    (the fully connected layer, which has no bias either) has no bias and a BatchNorm +
    Scale pair of four values a channel (mean, variance, scale, shift; Caffe's one-value
    moving-average factor is not counted), and BatchNorm multiplies each conv output once
    more. (fpgagen's own count folds each pair into the conv: one bias a channel.)"""
    convs = graph.conv_nodes()
    shapes = graph.shapes()
    weights = graph.weight_shapes()
    params = sum(math.prod(weights[n.name][0]) for n in convs)
    bn = convs[:-1]
    params += sum(4 * n.op.out_channels for n in bn)
    macs = graph.macs() + sum(math.prod(shapes[n.name]) for n in bn)
    return params, macs
