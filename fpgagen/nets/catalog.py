"""The built-in network catalog: names, aliases and their size options."""

import math
from dataclasses import dataclass

from ..errors import FpgagenError
from ..ir import Graph
from .squeezenet import SqueezeNetConfig, build_squeezenet
from .squeezenext import SqueezeNextConfig, build_squeezenext
from .zynqnet import build_zynqnet

__all__ = ["NetOptions", "NET_NAMES", "ALIASES", "BATCHNORM_NETS", "build_net",
           "canonical_name", "MAX_WIDTH", "MAX_PARAMS", "MAX_TENSOR_VALUES", "MIN_INPUT_SIZE"]

#: Largest ``width`` multiplier (16 times SqueezeNet's channels is already 300M weights).
MAX_WIDTH = 16.0
#: Most parameters of a network fpgagen builds (the largest built-in network at width 1
#: has 2.5M; every parameter becomes float32 weights and int8 codes in memory).
MAX_PARAMS = 200_000_000
#: Most values of one tensor (SqueezeNet v1.1 at 227x227: conv1's 0.8M; the golden and float
#: models hold every tensor of a run in memory, 8 bytes a value).
MAX_TENSOR_VALUES = 64_000_000
#: Smallest input size any network of the catalog is tried at.
MIN_INPUT_SIZE = 16


@dataclass(frozen=True)
class NetOptions:
    """Size options common to every built-in network; ``None`` keeps the network's own."""

    input_size: int | None = None  #: input height and width in pixels
    num_classes: int | None = None  #: outputs of the classifier
    width: float = 1.0  #: multiplier on every channel count

    def __post_init__(self):
        w = self.width
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) \
                or not 0 < w <= MAX_WIDTH:
            raise FpgagenError(f"width must be a number in (0, {MAX_WIDTH:g}], not {w!r}")
        for name in ("input_size", "num_classes"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise FpgagenError(f"{name} must be a positive integer, not {v!r}")


_SQUEEZENETS = {
    "squeezenet1_0": dict(version="1.0"),
    "squeezenet1_1": dict(version="1.1"),
    "squeezenet1_0-simple-bypass": dict(version="1.0", bypass="simple"),
    "squeezenet1_0-complex-bypass": dict(version="1.0", bypass="complex"),
}

_SQUEEZENEXTS = {
    "squeezenext-23": dict(variant=1),
    **{f"squeezenext-23v{v}": dict(variant=v) for v in (2, 3, 4, 5)},
    "squeezenext-23-g": dict(variant=1, groups=2),
}

#: Networks trained with BatchNorm after every conv but the classifier (folded at import;
#: :func:`fpgagen.frontend.generate_weights` gives them generated BatchNorm statistics).
BATCHNORM_NETS = tuple(_SQUEEZENEXTS)

#: Canonical names of the built-in networks.
NET_NAMES = (*_SQUEEZENETS, "zynqnet", *_SQUEEZENEXTS)

#: Other names accepted for them.
ALIASES = {"squeezenet": "squeezenet1_1", "squeezenet1.0": "squeezenet1_0",
           "squeezenet1.1": "squeezenet1_1", "squeezenext": "squeezenext-23",
           "squeezenext-23v1": "squeezenext-23"}


def canonical_name(name: str) -> str:
    """The catalog name for ``name`` (aliases resolved); raises for unknown names."""
    name = ALIASES.get(name, name)
    if name not in NET_NAMES:
        raise FpgagenError(f"unknown network {name!r}; choose one of: "
                           f"{', '.join(NET_NAMES)} (aliases: squeezenet = squeezenet1_1, "
                           f"squeezenext = squeezenext-23)")
    return name


def build_net(name: str, options: NetOptions = NetOptions()) -> Graph:
    """Build the topology of a catalog network (no weights attached)."""
    name = canonical_name(name)
    size = options.input_size
    if size is not None and size < MIN_INPUT_SIZE:
        raise FpgagenError(f"input size {size} is too small for {name}: the smallest it takes "
                           f"is {_smallest_input(name, options)}")
    try:
        graph = _build(name, options)
        shapes = graph.shapes()
    except FpgagenError as e:
        if size is None:
            raise
        raise FpgagenError(f"input size {size} is too small for {name} ({e}); the smallest "
                           f"it takes is {_smallest_input(name, options)}") from None
    params = graph.param_count()
    if params > MAX_PARAMS:
        raise FpgagenError(f"{name} with these options has {params:,d} parameters, more than "
                           f"fpgagen builds ({MAX_PARAMS:,d}); use a smaller --width or "
                           f"--num-classes")
    tensor, shape = max(shapes.items(), key=lambda kv: math.prod(kv[1]))
    if math.prod(shape) > MAX_TENSOR_VALUES:
        raise FpgagenError(f"{name} with these options has a tensor of {math.prod(shape):,d} "
                           f"values ({tensor!r}, {'x'.join(map(str, shape))}), more than "
                           f"fpgagen holds ({MAX_TENSOR_VALUES:,d}); use a smaller "
                           f"--input-size or --width")
    return graph


def _build(name: str, options: NetOptions) -> Graph:
    if name == "zynqnet":
        return build_zynqnet(input_size=options.input_size or 256,
                             num_classes=options.num_classes or 1024,
                             width=options.width, name=name)
    if name in _SQUEEZENEXTS:
        cfg = SqueezeNextConfig(**_SQUEEZENEXTS[name], input_size=options.input_size or 227,
                                num_classes=options.num_classes or 1000, width=options.width)
        return build_squeezenext(cfg, name=name)
    cfg = SqueezeNetConfig(**_SQUEEZENETS[name], input_size=options.input_size or 227,
                           num_classes=options.num_classes or 1000, width=options.width)
    return build_squeezenet(cfg, name=name)


def _smallest_input(name: str, options: NetOptions) -> int:
    """The smallest input size at which every layer of ``name`` has an output (found by
    trying sizes upwards; shape inference only)."""
    for size in range(MIN_INPUT_SIZE, 1025):
        try:
            _build(name, NetOptions(size, options.num_classes, options.width)).shapes()
            return size
        except FpgagenError:
            continue
    raise FpgagenError(f"{name} takes no input size up to 1024")
