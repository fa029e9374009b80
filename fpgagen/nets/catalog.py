"""The built-in network catalog: names, aliases and their size options."""

from dataclasses import dataclass

from ..errors import FpgagenError
from ..ir import Graph
from .squeezenet import SqueezeNetConfig, build_squeezenet
from .zynqnet import build_zynqnet

__all__ = ["NetOptions", "NET_NAMES", "ALIASES", "build_net", "canonical_name"]


@dataclass(frozen=True)
class NetOptions:
    """Size options common to every built-in network; ``None`` keeps the network's own."""

    input_size: int | None = None  #: input height and width in pixels
    num_classes: int | None = None  #: outputs of the classifier
    width: float = 1.0  #: multiplier on every channel count


_SQUEEZENETS = {
    "squeezenet1_0": dict(version="1.0"),
    "squeezenet1_1": dict(version="1.1"),
    "squeezenet1_0-simple-bypass": dict(version="1.0", bypass="simple"),
    "squeezenet1_0-complex-bypass": dict(version="1.0", bypass="complex"),
}

#: Canonical names of the built-in networks.
NET_NAMES = (*_SQUEEZENETS, "zynqnet")

#: Other names accepted for them.
ALIASES = {"squeezenet": "squeezenet1_1", "squeezenet1.0": "squeezenet1_0",
           "squeezenet1.1": "squeezenet1_1"}


def canonical_name(name: str) -> str:
    """The catalog name for ``name`` (aliases resolved); raises for unknown names."""
    name = ALIASES.get(name, name)
    if name not in NET_NAMES:
        raise FpgagenError(f"unknown network {name!r}; choose one of: "
                           f"{', '.join(NET_NAMES)} (alias: squeezenet = squeezenet1_1)")
    return name


def build_net(name: str, options: NetOptions = NetOptions()) -> Graph:
    """Build the topology of a catalog network (no weights attached)."""
    name = canonical_name(name)
    if options.input_size is not None and options.input_size < 16:
        raise FpgagenError(f"input_size must be at least 16, not {options.input_size!r}")
    if name == "zynqnet":
        return build_zynqnet(input_size=options.input_size or 256,
                             num_classes=options.num_classes or 1024,
                             width=options.width, name=name)
    cfg = SqueezeNetConfig(**_SQUEEZENETS[name], input_size=options.input_size or 227,
                           num_classes=options.num_classes or 1000, width=options.width)
    return build_squeezenet(cfg, name=name)
