"""Graph operators. Each declares its attributes, checks them when built, and infers its
output shape from its input shapes. Shapes are ``(channels, height, width)``; the batch
dimension is not part of the IR."""

import math
from dataclasses import dataclass
from typing import ClassVar

from ..errors import FpgagenError

__all__ = [
    "Op", "Conv2d", "Relu", "MaxPool", "GlobalAvgPool", "Concat", "Add",
    "conv_out_size", "pool_out_size",
]

Shape = tuple[int, int, int]


def _pair(name, value, minimum):
    if isinstance(value, int):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) and v >= minimum for v in value):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, not {value!r}")
    return value


def conv_out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """Convolution output size (floor rule, as Caffe and ONNX)."""
    return (size + 2 * pad - kernel) // stride + 1


def pool_out_size(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool) -> int:
    """Pooling output size. Ceil mode: ``ceil((in + 2p - k) / s) + 1``, minus one when the
    last window would start at or beyond ``in + pad`` (Caffe applies that correction only
    when ``pad > 0`` and otherwise makes an empty window when ``k < s``; fpgagen, like
    PyTorch and ONNX, always applies it, so every window holds at least one input)."""
    if not ceil_mode:
        return (size + 2 * pad - kernel) // stride + 1
    out = math.ceil((size + 2 * pad - kernel) / stride) + 1
    if (out - 1) * stride >= size + pad:
        out -= 1
    return out


@dataclass(frozen=True)
class Op:
    """Base class of operators. ``arity`` is the number of inputs (``None``: two or more)."""

    arity: ClassVar[int | None] = 1
    kind: ClassVar[str] = "op"

    def infer_shape(self, node_name: str, in_shapes: list[Shape]) -> Shape:
        raise NotImplementedError

    def macs(self, in_shapes: list[Shape], out_shape: Shape) -> int:
        """Multiply-accumulate operations for one image."""
        return 0

    def _check_arity(self, node_name, in_shapes):
        n = len(in_shapes)
        if self.arity is None and n < 2:
            raise FpgagenError(f"{self.kind} node {node_name!r} needs at least 2 inputs, got {n}")
        if self.arity is not None and n != self.arity:
            raise FpgagenError(f"{self.kind} node {node_name!r} needs {self.arity} input(s), "
                               f"got {n}")


@dataclass(frozen=True)
class Conv2d(Op):
    """2-D convolution with bias, optionally followed by a fused ReLU.

    Attributes: ``out_channels``, ``kernel`` (kh, kw), ``stride`` (sh, sw), ``padding``
    (ph, pw; zero padding on both sides), ``relu``, ``groups`` (group convolution: input
    and output channels split into ``groups`` equal parts, output part ``g`` reading input
    part ``g`` only; 1 = an ordinary convolution).
    """

    kind: ClassVar[str] = "conv2d"
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    relu: bool = False
    groups: int = 1

    def __post_init__(self):
        if not isinstance(self.out_channels, int) or self.out_channels < 1:
            raise ValueError(f"out_channels must be a positive int, not {self.out_channels!r}")
        if not isinstance(self.groups, int) or self.groups < 1:
            raise ValueError(f"groups must be a positive int, not {self.groups!r}")
        if self.out_channels % self.groups:
            raise ValueError(f"out_channels {self.out_channels} is not a multiple of groups "
                             f"{self.groups}")
        object.__setattr__(self, "kernel", _pair("kernel", self.kernel, 1))
        object.__setattr__(self, "stride", _pair("stride", self.stride, 1))
        object.__setattr__(self, "padding", _pair("padding", self.padding, 0))

    def infer_shape(self, node_name, in_shapes):
        self._check_arity(node_name, in_shapes)
        c, h, w = in_shapes[0]
        if c % self.groups:
            raise FpgagenError(f"conv2d node {node_name!r}: its {c} input channels do not "
                               f"split into {self.groups} groups")
        oh = conv_out_size(h, self.kernel[0], self.stride[0], self.padding[0])
        ow = conv_out_size(w, self.kernel[1], self.stride[1], self.padding[1])
        if oh < 1 or ow < 1:
            raise FpgagenError(f"conv2d node {node_name!r}: kernel {self.kernel} does not fit "
                               f"input {h}x{w} with padding {self.padding}")
        return (self.out_channels, oh, ow)

    def weight_shape(self, in_channels: int) -> tuple[int, int, int, int]:
        """Weight tensor shape ``(out, in / groups, kh, kw)`` (as Caffe and ONNX)."""
        return (self.out_channels, in_channels // self.groups, *self.kernel)

    def macs(self, in_shapes, out_shape):
        oc, oh, ow = out_shape
        return (oc * oh * ow * (in_shapes[0][0] // self.groups)
                * self.kernel[0] * self.kernel[1])


@dataclass(frozen=True)
class Relu(Op):
    """Rectified linear unit, ``max(x, 0)``."""

    kind: ClassVar[str] = "relu"

    def infer_shape(self, node_name, in_shapes):
        self._check_arity(node_name, in_shapes)
        return in_shapes[0]


@dataclass(frozen=True)
class MaxPool(Op):
    """Max pooling; windows that run past the edge are clipped (padding never wins)."""

    kind: ClassVar[str] = "maxpool"
    kernel: tuple[int, int] = (3, 3)
    stride: tuple[int, int] = (2, 2)
    padding: tuple[int, int] = (0, 0)
    ceil_mode: bool = True

    def __post_init__(self):
        object.__setattr__(self, "kernel", _pair("kernel", self.kernel, 1))
        object.__setattr__(self, "stride", _pair("stride", self.stride, 1))
        object.__setattr__(self, "padding", _pair("padding", self.padding, 0))
        if any(p >= k for p, k in zip(self.padding, self.kernel)):
            raise ValueError(f"maxpool padding {self.padding} must be smaller than the kernel "
                             f"{self.kernel}")

    def infer_shape(self, node_name, in_shapes):
        self._check_arity(node_name, in_shapes)
        c, h, w = in_shapes[0]
        oh = pool_out_size(h, self.kernel[0], self.stride[0], self.padding[0], self.ceil_mode)
        ow = pool_out_size(w, self.kernel[1], self.stride[1], self.padding[1], self.ceil_mode)
        if oh < 1 or ow < 1:
            raise FpgagenError(f"maxpool node {node_name!r}: kernel {self.kernel} does not fit "
                               f"input {h}x{w}")
        return (c, oh, ow)


@dataclass(frozen=True)
class GlobalAvgPool(Op):
    """Average over the whole spatial extent; output ``(C, 1, 1)``."""

    kind: ClassVar[str] = "global_avgpool"

    def infer_shape(self, node_name, in_shapes):
        self._check_arity(node_name, in_shapes)
        return (in_shapes[0][0], 1, 1)


@dataclass(frozen=True)
class Concat(Op):
    """Concatenation along channels (the fire module's expand outputs)."""

    kind: ClassVar[str] = "concat"
    arity: ClassVar[int | None] = None

    def infer_shape(self, node_name, in_shapes):
        self._check_arity(node_name, in_shapes)
        spatial = {s[1:] for s in in_shapes}
        if len(spatial) != 1:
            raise FpgagenError(f"concat node {node_name!r}: inputs differ in height x width: "
                               f"{[s for s in in_shapes]}")
        return (sum(s[0] for s in in_shapes), *in_shapes[0][1:])


@dataclass(frozen=True)
class Add(Op):
    """Element-wise sum of two tensors of equal shape (bypass connections), optionally
    followed by a fused ReLU (``relu``: SqueezeNext's ReLU after the block's sum)."""

    kind: ClassVar[str] = "add"
    arity: ClassVar[int | None] = 2
    relu: bool = False

    def __post_init__(self):
        if not isinstance(self.relu, bool):
            raise ValueError(f"add relu must be a bool, not {self.relu!r}")

    def infer_shape(self, node_name, in_shapes):
        self._check_arity(node_name, in_shapes)
        if in_shapes[0] != in_shapes[1]:
            raise FpgagenError(f"add node {node_name!r}: input shapes differ: "
                               f"{in_shapes[0]} vs {in_shapes[1]}")
        return in_shapes[0]
