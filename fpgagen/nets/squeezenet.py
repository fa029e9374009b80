"""SqueezeNet v1.0 / v1.1 and the bypass variants, generated from the metaparameters of the
SqueezeNet paper (Iandola et al. 2016, section 5.1 and Table 1; bypass: section 6)."""

from dataclasses import dataclass

from ..errors import FpgagenError
from ..ir import Graph
from .builder import GraphBuilder, scale_channels

__all__ = ["SqueezeNetConfig", "build_squeezenet", "fire_channels", "IMAGENET_MEAN_BGR"]

#: Caffe ImageNet mean subtracted from BGR pixels (SqueezeNet's train_val.prototxt).
IMAGENET_MEAN_BGR = (104.0, 117.0, 123.0)

_BYPASS = ("none", "simple", "complex")


@dataclass(frozen=True)
class SqueezeNetConfig:
    """Metaparameters of a SqueezeNet-family network.

    ``base_e`` expand filters in the first fire module, ``incr_e`` added every ``freq`` fire
    modules, ``pct_3x3`` the share of 3x3 expand filters, ``sr`` the squeeze ratio
    (squeeze filters / expand filters). ``version`` picks the macro-architecture ("1.0":
    7x7 conv1 and pools after conv1/fire4/fire8; "1.1": 3x3 conv1 and pools after
    conv1/fire3/fire5). ``width`` multiplies every channel count.
    """

    version: str = "1.0"
    base_e: int = 128
    incr_e: int = 128
    pct_3x3: float = 0.5
    freq: int = 2
    sr: float = 0.125
    num_classes: int = 1000
    input_size: int = 227
    width: float = 1.0
    bypass: str = "none"

    def __post_init__(self):
        if self.version not in ("1.0", "1.1"):
            raise FpgagenError(f"SqueezeNet version must be '1.0' or '1.1', not {self.version!r}")
        if self.bypass not in _BYPASS:
            raise FpgagenError(f"bypass must be one of {_BYPASS}, not {self.bypass!r}")
        if not 0.0 < self.pct_3x3 < 1.0:
            raise FpgagenError(f"pct_3x3 must be strictly between 0 and 1, not {self.pct_3x3!r}")
        if not 0.0 < self.sr <= 1.0:
            raise FpgagenError(f"sr (squeeze ratio) must be in (0, 1], not {self.sr!r}")
        if self.freq < 1 or self.base_e < 2 or self.incr_e < 0:
            raise FpgagenError(f"bad fire metaparameters: base_e={self.base_e}, "
                               f"incr_e={self.incr_e}, freq={self.freq}")
        if self.num_classes < 1:
            raise FpgagenError(f"num_classes must be at least 1, not {self.num_classes!r}")
        if not self.width > 0:
            raise FpgagenError(f"width must be positive, not {self.width!r}")


def fire_channels(cfg: SqueezeNetConfig) -> list[tuple[int, int, int]]:
    """``(squeeze, expand1x1, expand3x3)`` filters of fire2..fire9 (paper section 5.1):
    ``e_i = base_e + incr_e * floor(i / freq)``, ``s_i = sr * e_i``,
    ``e3_i = pct_3x3 * e_i``, before the width multiplier."""
    out = []
    for i in range(8):
        e = cfg.base_e + cfg.incr_e * (i // cfg.freq)
        e3 = int(round(e * cfg.pct_3x3))
        s = int(round(e * cfg.sr))
        out.append(tuple(scale_channels(v, cfg.width) for v in (s, e - e3, e3)))
    return out


def build_squeezenet(cfg: SqueezeNetConfig, name: str = "squeezenet") -> Graph:
    """The graph of a SqueezeNet-family network described by ``cfg``."""
    v10 = cfg.version == "1.0"
    b = GraphBuilder(name, (3, cfg.input_size, cfg.input_size), mean=IMAGENET_MEAN_BGR)
    if v10:
        x = b.conv("conv1", "data", scale_channels(96, cfg.width), 7, stride=2)
        pools_after = {"conv1": "pool1", "fire4": "pool4", "fire8": "pool8"}
    else:
        x = b.conv("conv1", "data", scale_channels(64, cfg.width), 3, stride=2)
        pools_after = {"conv1": "pool1", "fire3": "pool3", "fire5": "pool5"}
    x = b.maxpool(pools_after["conv1"], x)
    channels = b.nodes[0].op.out_channels
    for i, (s, e1, e3) in enumerate(fire_channels(cfg)):
        fire = f"fire{i + 2}"
        fire_in, in_channels = x, channels
        sq = b.conv(f"{fire}/squeeze1x1", fire_in, s, 1)
        x1 = b.conv(f"{fire}/expand1x1", sq, e1, 1)
        x3 = b.conv(f"{fire}/expand3x3", sq, e3, 3, padding=1)
        x = b.concat(f"{fire}/concat", x1, x3)
        channels = e1 + e3
        x = _bypass(b, cfg, fire, i, fire_in, in_channels, x, channels)
        if fire in pools_after:
            x = b.maxpool(pools_after[fire], x)
    # v1.0's Caffe definition pads its 1x1 conv10 by 1 (13x13 -> 15x15 before the pool).
    x = b.conv("conv10", x, cfg.num_classes, 1, padding=1 if v10 else 0)
    x = b.global_avgpool("pool10", x)
    try:
        return b.build([x])
    except FpgagenError as e:
        raise FpgagenError(f"{name} at input_size {cfg.input_size}: {e}") from None


def _bypass(b, cfg, fire, index, fire_in, in_channels, out, out_channels):
    """Simple bypass: add the fire module's input to its output around fire3/5/7/9.
    Complex bypass also adds a 1x1 conv (no ReLU) of the input around fire2/4/6/8."""
    if cfg.bypass == "none":
        return out
    odd = index % 2 == 1  # fire3, fire5, fire7, fire9
    if odd and in_channels == out_channels:
        return b.add(f"{fire}/bypass", out, fire_in)
    if cfg.bypass == "complex":
        proj = b.conv(f"{fire}/bypass_conv1x1", fire_in, out_channels, 1, relu=False)
        return b.add(f"{fire}/bypass", out, proj)
    if odd:
        raise FpgagenError(f"simple bypass around {fire} needs equal input and output channels, "
                           f"got {in_channels} and {out_channels}; use complex bypass")
    return out


