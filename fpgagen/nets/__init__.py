"""Built-in SqueezeNet-family topologies."""

from .catalog import ALIASES, NET_NAMES, NetOptions, build_net, canonical_name
from .squeezenet import SqueezeNetConfig, build_squeezenet, fire_channels
from .zynqnet import build_zynqnet

__all__ = ["ALIASES", "NET_NAMES", "NetOptions", "build_net", "canonical_name",
           "SqueezeNetConfig", "build_squeezenet", "fire_channels", "build_zynqnet"]
