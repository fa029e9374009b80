"""ZynqNet CNN (Gschwend 2016), from its Caffe deploy.prototxt: all-convolutional, stride-2
3x3 squeeze layers in place of max pools, and conv10 split in two 1x1 halves without ReLU
that are concatenated before the global average pool."""

from ..ir import Graph
from ..errors import FpgagenError
from .builder import GraphBuilder, scale_channels

__all__ = ["ZYNQNET_FIRES", "ZYNQNET_MEAN_BGR", "build_zynqnet"]

#: ``(name, squeeze kernel, squeeze stride, squeeze, expand1x1, expand3x3)`` of fire2..9.
ZYNQNET_FIRES = (
    ("fire2", 3, 2, 16, 64, 64),
    ("fire3", 1, 1, 16, 64, 64),
    ("fire4", 3, 2, 32, 128, 128),
    ("fire5", 1, 1, 32, 128, 128),
    ("fire6", 3, 2, 64, 256, 256),
    ("fire7", 1, 1, 64, 192, 192),
    ("fire8", 3, 2, 112, 256, 256),
    ("fire9", 1, 1, 112, 368, 368),
)

#: Channel means of ZynqNet's mean.binaryproto, BGR.
ZYNQNET_MEAN_BGR = (108.150644444, 117.399455556, 122.116177778)


def build_zynqnet(input_size: int = 256, num_classes: int = 1024, width: float = 1.0,
                  name: str = "zynqnet") -> Graph:
    """The ZynqNet graph; ``num_classes`` outputs are split over conv10/split1 and split2."""
    if num_classes < 2:
        raise FpgagenError(f"zynqnet needs num_classes >= 2 (conv10 has two halves), "
                           f"not {num_classes!r}")
    b = GraphBuilder(name, (3, input_size, input_size), mean=ZYNQNET_MEAN_BGR)
    x = b.conv("conv1", "data", scale_channels(64, width), 3, stride=2, padding=1)
    for fire, sk, ss, s, e1, e3 in ZYNQNET_FIRES:
        sq = b.conv(f"{fire}/squeeze{sk}x{sk}", x, scale_channels(s, width), sk, stride=ss,
                    padding=sk // 2)
        x1 = b.conv(f"{fire}/expand1x1", sq, scale_channels(e1, width), 1)
        x3 = b.conv(f"{fire}/expand3x3", sq, scale_channels(e3, width), 3, padding=1)
        x = b.concat(f"{fire}/concat", x1, x3)
    half = (num_classes + 1) // 2
    s1 = b.conv("conv10/split1", x, half, 1, relu=False)
    s2 = b.conv("conv10/split2", x, num_classes - half, 1, relu=False)
    x = b.concat("conv10", s1, s2)
    x = b.global_avgpool("pool10", x)
    try:
        return b.build([x])
    except FpgagenError as e:
        raise FpgagenError(f"{name} at input_size {input_size}: {e}") from None
