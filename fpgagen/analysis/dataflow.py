"""The analytic per-layer dataflow model of the SqueezeNext paper's section 3 (Gholami et
al., "SqueezeNext: Hardware-Aware Neural Network Design", CVPR-W 2018): a ``rows x cols``
(``Pr x Pc``) PE array in *weight stationary* (WS) or *output stationary* (OS) order.

What it models: the compute cycles of every convolution, i.e. how long the PE array is
occupied, counting under-filled blocks (WS: fewer input channels than rows or output
channels than columns) and under-filled tiles (OS: output maps that are not multiples of
the array), plus a fixed number of setup cycles per block (WS) or per tile pass (OS).

What it leaves out: the paper's global buffer and DRAM (their sizes, their energy, and
the stalls when the array waits for them: **no stalls are modelled**, every operand is
assumed ready when the array wants it), pipeline fill, and every layer without MACs
(pooling, element-wise sums, concatenation, the input load); only :class:`Conv2d` nodes
(which include the fully connected layer, a 1x1 convolution on a ``(C, 1, 1)`` tensor)
appear in the result. See ``docs/table3.md``.
"""

import enum
from dataclasses import dataclass

from ..ir import Graph
from ..ir.ops import Conv2d

__all__ = ["Dataflow", "LayerDataflow", "dataflow_cycles", "layer_dataflow"]


class Dataflow(enum.Enum):
    """The two dataflows of the paper's simulator."""

    #: Each PE holds one weight: a block of ``rows`` input channels x ``cols`` output
    #: channels of one filter tap; every input pixel is broadcast along a row and the
    #: partial sums flow down the columns. Loop order: filter tap, then channel blocks,
    #: then pixels.
    WS = "ws"
    #: Each PE owns one output pixel of a ``rows x cols`` tile of the output map and
    #: accumulates over the input channels and taps, one weight broadcast per cycle. Loop
    #: order: output channel, then tiles, then input channels and taps.
    OS = "os"


@dataclass(frozen=True)
class LayerDataflow:
    """The model's figures for one convolution.

    Attributes
    ----------
    name : str
        The graph node.
    macs : int
        Its multiply-accumulates (:meth:`Conv2d.macs`).
    passes : int
        WS: weight blocks loaded (``groups * taps * ceil(C_g / rows) * ceil(O_g / cols)``);
        OS: tile passes (``out_channels * tiles``).
    cycles : int
        ``passes * (cycles per pass + setup)``.
    setup_cycles : int
        The part of ``cycles`` spent in setup (``passes * setup``).
    utilization : float
        ``macs / (cycles * rows * cols)``.
    """

    name: str
    macs: int
    passes: int
    cycles: int
    setup_cycles: int
    utilization: float


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return value


def _dataflow(value) -> Dataflow:
    if isinstance(value, Dataflow):
        return value
    try:
        return Dataflow(value.lower() if isinstance(value, str) else value)
    except ValueError:
        raise ValueError(f"dataflow must be 'ws' or 'os', not {value!r}") from None


def layer_dataflow(name: str, conv: Conv2d, in_shape, out_shape, rows: int, cols: int,
                   dataflow="ws", *, setup: int | None = None) -> LayerDataflow:
    """The model's cycles of one convolution.

    Parameters
    ----------
    name : str
        Reported as :attr:`LayerDataflow.name`.
    conv : Conv2d
    in_shape, out_shape : tuple
        ``(channels, height, width)`` of its input and output.
    rows, cols : int
        The PE array (``Pr x Pc``).
    dataflow : Dataflow or str
        ``"ws"`` or ``"os"`` (any case).
    setup : int or None
        Cycles added to every pass. ``None``: ``rows`` (WS: the block's weights enter
        the array one row per cycle; OS: the finished tile leaves it one row per cycle).

    Returns
    -------
    LayerDataflow
        WS: a group convolution runs its groups one after the other; per group, filter tap
        and block of ``rows`` of its ``C_g`` input channels and ``cols`` of its ``O_g``
        output channels, the array takes one input pixel per output pixel and cycle:
        ``cycles = groups * kh * kw * ceil(C_g / rows) * ceil(O_g / cols) * (oh * ow +
        setup)``. OS: per output channel and ``rows x cols`` tile of the output map
        (``ceil(oh / rows) * ceil(ow / cols)`` tiles), one weight of the channel's
        ``C_g * kh * kw`` per cycle: ``cycles = out_channels * tiles * (C_g * kh * kw +
        setup)``.
    """
    rows, cols = _check_size("rows", rows), _check_size("cols", cols)
    flow = _dataflow(dataflow)
    if setup is None:
        setup = rows
    if isinstance(setup, bool) or not isinstance(setup, int) or setup < 0:
        raise ValueError(f"setup must be a non-negative integer, not {setup!r}")
    if not isinstance(conv, Conv2d):
        raise TypeError(f"layer {name!r} is not a Conv2d but {type(conv).__name__}")
    c_in, o, (_, oh, ow) = in_shape[0], out_shape[0], out_shape
    c_g, o_g = c_in // conv.groups, o // conv.groups
    taps = conv.kernel[0] * conv.kernel[1]
    if flow is Dataflow.WS:
        passes = conv.groups * taps * _ceil_div(c_g, rows) * _ceil_div(o_g, cols)
        per_pass = oh * ow
    else:
        passes = o * _ceil_div(oh, rows) * _ceil_div(ow, cols)
        per_pass = c_g * taps
    cycles = passes * (per_pass + setup)
    macs = conv.macs([tuple(in_shape)], tuple(out_shape))
    util = macs / (cycles * rows * cols) if cycles else 0.0
    return LayerDataflow(name, macs, passes, cycles, passes * setup, util)


def dataflow_cycles(graph: Graph, rows: int, cols: int, dataflow="ws", *,
                    setup: int | None = None) -> list[LayerDataflow]:
    """The dataflow model of every convolution of ``graph``, in graph order.

    Parameters
    ----------
    graph : Graph
        Any graph (float or quantized; only the topology is read).
    rows, cols : int
        The PE array (``Pr x Pc``).
    dataflow : Dataflow or str
        ``"ws"`` (weight stationary) or ``"os"`` (output stationary).
    setup : int or None
        Cycles per pass (:func:`layer_dataflow`); ``None``: ``rows``.

    Returns
    -------
    list of LayerDataflow
        One per :class:`Conv2d` node; layers without MACs are not modelled. No stalls: the
        global buffer and DRAM are assumed never to keep the array waiting.
    """
    _check_size("rows", rows), _check_size("cols", cols), _dataflow(dataflow)
    shapes = graph.shapes()
    return [layer_dataflow(n.name, n.op, graph.in_shapes(n)[0], shapes[n.name], rows, cols,
                           dataflow, setup=setup)
            for n in graph.conv_nodes()]
