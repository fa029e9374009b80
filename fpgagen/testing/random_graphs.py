"""Random layer configurations for property-based tests: small graphs of *blocks* drawn
from a source of integers, so that the same generator serves Hypothesis (which shrinks a
failing graph to a simple one) and seeded NumPy runs (benchmarks, RTL tests).

A block is one drawn layer configuration, the unit a test counts as a *case*:

``conv``
    one convolution: kernel 1..7 on each axis (non-square too), stride 1..3, padding 0..7,
    any output channel count, with or without ReLU;
``maxpool``
    one max pool: kernel 1..7, stride 1..3, padding below the kernel, ceil or floor mode;
    a third of them square and unpadded with a window of the stride or the stride + 1 (the
    pools of the SqueezeNet family, which the compiler fuses into the conv before them);
``concat``
    two or three conv or max pool branches of one tensor with equal height and width,
    concatenated along channels;
``add``
    two operands of equal shape (a conv, a max pool, or the block's input itself) added;
``gap``
    a convolution followed by the global average pool (last block only: the accelerator
    runs GAP as its last instruction).

Each block reads the graph input or the output of an earlier block, optionally through a
1x1 *stem* convolution that gives it an input channel count that is not a multiple of the
PE array (the graph input has 3 channels). Every configuration drawn maps onto the
accelerator's instruction fields (kernel 4 bits, stride and padding 3 bits, GAP window at
most 15x15).
"""

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

from ..errors import FpgagenError
from ..hw.params import FlashTiming
from ..ir import Add, Concat, Conv2d, GlobalAvgPool, Graph, MaxPool, Node

__all__ = ["Draw", "LayerSpec", "BlockSpec", "GraphSpec", "BLOCK_KINDS", "draw_graph_spec",
           "numpy_draw", "build_graph", "block_tensors", "UNMAPPABLE_OPTIONS", "MAX_KERNEL",
           "MAX_STRIDE", "MAX_PAD", "MAX_SIZE", "MAX_GAP_SIZE"]

#: ``draw(lo, hi)`` returns an integer in ``lo..hi`` (both included).
Draw = Callable[[int, int], int]

#: Largest kernel side drawn (the instruction's kernel fields hold 4 bits; the ops of the
#: SqueezeNet family use at most 7).
MAX_KERNEL = 7
#: Largest stride (3-bit field).
MAX_STRIDE = 3
#: Largest padding (3-bit field).
MAX_PAD = 7
#: Largest height or width of any drawn tensor (keeps simulations short).
MAX_SIZE = 24
#: Largest height or width of the GAP's input: GAP runs with its window as kernel, and the
#: kernel fields hold 4 bits.
MAX_GAP_SIZE = 15
#: Block kinds in the order a shrinking draw prefers them (simplest first).
BLOCK_KINDS = ("conv", "maxpool", "concat", "add")
_MEANS = ((0, 0, 0), (104, 117, 123))
#: Options of :func:`draw_graph_spec` that reach graphs the compiler refuses: activation
#: codes narrower than 8 bits (the quantizer takes 8..12), and the signed 9-bit codes of a
#: max pool of the graph input (and of a concat holding one), which the lowering refuses
#: unless the activations are 9 bits wide: the hardware saturates to the activation width
#: and 16 bits only (:func:`fpgagen.hw.spec.output_code_bits`).
UNMAPPABLE_OPTIONS = {"activation_bits": (8, 4, 5, 6, 7), "pool_input": True}


def numpy_draw(rng) -> Draw:
    """A :data:`Draw` from a ``numpy.random.Generator`` (uniform over the range)."""
    return lambda lo, hi: int(rng.integers(lo, hi + 1))


#: Shares of stored weights a compressed draw chooses from (none, sparse, Deep
#: Compression's, all; ``None``: all and no channel dropped, a ``codebook:B`` layer, which
#: a design with its weights in flash runs as a direct codebook layer).
DENSITIES = (0.0, 0.05, 0.35, 1.0, None)


@dataclass(frozen=True)
class LayerSpec:
    """One drawn conv (``kind="conv"``) or max pool (``kind="maxpool"``) layer."""

    kind: str
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    out_channels: int = 0  #: conv only
    relu: bool = False  #: conv only
    ceil_mode: bool = True  #: max pool only

    def __post_init__(self):
        if self.kind not in ("conv", "maxpool"):
            raise ValueError(f"layer kind must be 'conv' or 'maxpool', not {self.kind!r}")

    def op(self):
        """The IR operator."""
        if self.kind == "conv":
            return Conv2d(self.out_channels, self.kernel, self.stride, self.padding, self.relu)
        return MaxPool(self.kernel, self.stride, self.padding, self.ceil_mode)


@dataclass(frozen=True)
class BlockSpec:
    """One drawn block (see the module docstring).

    Attributes
    ----------
    kind : str
        One of :data:`BLOCK_KINDS` or ``"gap"``.
    source : int
        ``-1`` for the graph input, else the index of the earlier block whose output the
        block reads.
    stem : LayerSpec or None
        A 1x1 conv between the source and the block.
    branches : tuple
        The block's layers: one for ``conv``, ``maxpool`` and ``gap``; two or three for
        ``concat``; the two operands of ``add``, where ``None`` stands for the block's
        input itself.
    """

    kind: str
    source: int
    stem: LayerSpec | None
    branches: tuple[LayerSpec | None, ...]

    def __post_init__(self):
        if self.kind not in BLOCK_KINDS + ("gap",):
            raise ValueError(f"block kind must be one of {BLOCK_KINDS + ('gap',)}, not "
                             f"{self.kind!r}")


@dataclass(frozen=True)
class GraphSpec:
    """A random graph: input size, blocks, quantization options, PE array and a seed for
    the weights and images (see :mod:`fpgagen.testing.bit_exact`)."""

    height: int
    width: int
    blocks: tuple[BlockSpec, ...]
    lanes: int
    mean: tuple[int, int, int] = (0, 0, 0)
    weight_bits: int = 8
    activation_bits: int = 8
    per_channel: bool = True
    reuse_memory: bool = True
    seed: int = 0
    #: row-band steps of the schedule (1: whole tensors) and which of the lowering's cut
    #: candidates start a new region (bit ``k``: candidate ``k``)
    steps: int = 1
    cut_mask: int = 0
    #: compressed weights (:func:`fpgagen.testing.compressed.compress_randomly`): index
    #: bits (0: dense) and the share of weights stored, or tuples of them taken in turn by
    #: the convolutions (an index width of 0 in a tuple leaves that convolution dense)
    index_bits: int | tuple = 0
    density: float | tuple = 1.0
    #: the lowering's budget of weight bits per PE column and CONV instruction
    #: (:attr:`fpgagen.hw.params.HwParams.weight_chunk_bits`; ``None``: none)
    weight_chunk_bits: int | None = None
    #: where the weights live (:class:`fpgagen.hw.params.WeightStore`: "bram" or "flash",
    #: which needs ``weight_chunk_bits``) and the flash's timing
    weight_store: str = "bram"
    flash: FlashTiming = field(default_factory=FlashTiming)

    @property
    def has_gap(self) -> bool:
        """The last block ends in a global average pool."""
        return bool(self.blocks) and self.blocks[-1].kind == "gap"


# --- per-axis geometry -----------------------------------------------------------------------

@lru_cache(maxsize=None)
def _axis_options(kind: str, size: int, ceil_mode: bool = True) -> tuple:
    """``((kernel, stride, pad, out), ...)`` of one axis of a conv or max pool on ``size``
    pixels, out size from the IR's own shape inference, in increasing order."""
    out = []
    for k in range(1, MAX_KERNEL + 1):
        for s in range(1, MAX_STRIDE + 1):
            pads = range(MAX_PAD + 1) if kind == "conv" else range(min(MAX_PAD + 1, k))
            for p in pads:
                spec = LayerSpec(kind, (k, 1), (s, 1), (p, 0), out_channels=1,
                                 ceil_mode=ceil_mode)
                try:
                    n = spec.op().infer_shape("axis", [(1, size, 1)])[1]
                except FpgagenError:
                    continue
                if n <= MAX_SIZE:
                    out.append((k, s, p, n))
    return tuple(out)


def _choice(draw: Draw, values):
    values = list(values)
    return values[draw(0, len(values) - 1)]


def _draw_nested(draw: Draw, options) -> tuple:
    """One option (a tuple), drawn one field after the other among those still possible,
    each field's values in increasing order (a shrinking draw picks the smallest)."""
    chosen = ()
    for depth in range(len(options[0])):
        chosen += (_choice(draw, sorted({o[depth] for o in options if o[:depth] == chosen})),)
    return next(o for o in options if o[:len(chosen)] == chosen)


def _fits(opt, target, max_out):
    return (target is None or opt[3] == target) and opt[3] <= max_out


def _feasible(kind, size, target, max_out, ceil_mode):
    return [tuple(o[:3]) for o in _axis_options(kind, size, ceil_mode)
            if _fits(o, target, max_out)]


def _layer_possible(kind, hw, target=(None, None), max_out=MAX_SIZE) -> bool:
    ceils = (True, False) if kind == "maxpool" else (True,)
    return any(all(_feasible(kind, hw[a], target[a], max_out, c) for a in (0, 1))
               for c in ceils)


def _draw_layer(draw: Draw, kind: str, shape, *, out_channels=None, max_channels=16,
                target=(None, None), max_out=MAX_SIZE) -> LayerSpec:
    """A conv or max pool on ``shape`` (C, H, W) whose output height and width equal
    ``target`` where given and are at most ``max_out``."""
    hw = shape[1:]
    ceil_mode = True
    if kind == "maxpool" and target == (None, None) and min(hw) >= 2 and draw(0, 2) == 0:
        # the pools of the SqueezeNet family: square, unpadded, window = stride (+ 1),
        # which the compiler fuses into the conv before them
        s = draw(1, min(3, min(hw)))
        k = min(s + draw(0, 1), min(hw))
        return LayerSpec("maxpool", (k, k), (s, s), (0, 0), ceil_mode=bool(draw(0, 1)))
    if kind == "maxpool":
        ceils = [c for c in (True, False)
                 if all(_feasible(kind, hw[a], target[a], max_out, c) for a in (0, 1))]
        ceil_mode = _choice(draw, ceils)
    axes = [_draw_nested(draw, _feasible(kind, hw[a], target[a], max_out, ceil_mode))
            for a in (0, 1)]
    kernel, stride, pad = (tuple(ax[i] for ax in axes) for i in range(3))
    if kind == "maxpool":
        return LayerSpec("maxpool", kernel, stride, pad, ceil_mode=ceil_mode)
    if out_channels is None:
        out_channels = draw(1, max_channels)
    return LayerSpec("conv", kernel, stride, pad, out_channels=out_channels,
                     relu=bool(draw(0, 1)))


def _out_shape(layer: LayerSpec | None, shape):
    if layer is None:
        return shape
    return layer.op().infer_shape("layer", [shape])


# --- drawing ---------------------------------------------------------------------------------

def _draw_block(draw: Draw, kind: str, source: int, in_shape, max_channels: int,
                need_stem: bool = False):
    """A block of ``kind`` reading a tensor of ``in_shape`` (with a stem if
    ``need_stem``, else maybe); returns it and its output shape (``None`` for ``gap``)."""
    if need_stem or draw(0, 1):
        stem = LayerSpec("conv", (1, 1), out_channels=draw(1, max_channels),
                         relu=bool(draw(0, 1)))
    else:
        stem = None
    shape = _out_shape(stem, in_shape)
    hw = shape[1:]
    if kind in ("conv", "maxpool"):
        branches = (_draw_layer(draw, kind, shape, max_channels=max_channels),)
    elif kind == "gap":
        branches = (_draw_layer(draw, "conv", shape, max_channels=max_channels,
                                max_out=MAX_GAP_SIZE),)
    elif kind == "concat":
        first = _draw_layer(draw, _choice(draw, ("conv", "maxpool")), shape,
                            max_channels=max_channels)
        target = _out_shape(first, shape)[1:]
        branches = [first]
        for _ in range(draw(1, 2)):
            kinds = [k for k in ("conv", "maxpool") if _layer_possible(k, hw, target)]
            branches.append(_draw_layer(draw, _choice(draw, kinds), shape,
                                        max_channels=max_channels, target=target))
        branches = tuple(branches)
    else:  # add: the block input itself, a conv or a max pool, twice, of equal shape
        kinds = [_choice(draw, ("conv", "identity", "maxpool")),
                 _choice(draw, ("conv", "maxpool"))]
        if draw(0, 1):
            kinds.reverse()
        channels = None if kinds == ["conv", "conv"] else shape[0]
        if channels is None:
            channels = draw(1, max_channels)
        target, ops = (hw if "identity" in kinds else (None, None)), []
        for k in kinds:
            if k == "identity":
                ops.append(None)
                continue
            if target != (None, None) and not _layer_possible(k, hw, target):
                k = "conv" if k == "maxpool" else "maxpool"  # the other one fits
            layer = _draw_layer(draw, k, shape, out_channels=channels, target=target)
            ops.append(layer)
            target = _out_shape(layer, shape)[1:]
        branches = tuple(ops)
    block = BlockSpec(kind, source, stem, branches)
    return block, _block_out_shape(block, in_shape)


def _block_out_shape(block: BlockSpec, in_shape):
    if block.kind == "gap":
        return None
    shape = _out_shape(block.stem, in_shape)
    outs = [_out_shape(b, shape) for b in block.branches]
    if block.kind == "concat":
        return (sum(o[0] for o in outs), *outs[0][1:])
    return outs[0]


def draw_graph_spec(draw: Draw, *, blocks=(1, 3), lanes=(2, 4, 8, 16), max_input=16,
                    gap: bool = True, activation_bits=(8,), weight_bits=(8, 4, 5, 6, 7),
                    pool_input: bool = False, bands: bool = True,
                    compress: bool = False) -> GraphSpec:
    """Draw a random graph.

    Parameters
    ----------
    draw : Draw
        The source of integers (Hypothesis or :func:`numpy_draw`).
    blocks : (int, int)
        Least and most blocks (a closing ``gap`` block included).
    lanes : sequence of int
        PE array sizes to choose from.
    max_input : int
        Largest input height and width.
    gap : bool
        Allow a closing ``gap`` block.
    activation_bits : sequence of int
        Activation code widths to choose from (the first is the one a shrinking draw
        prefers).
    weight_bits : sequence of int
        Weight code widths to choose from (the first is the one a shrinking draw prefers;
        the default leaves out those above 8, which weights in flash cannot take).
    pool_input : bool
        Allow max pools that read the graph input directly (otherwise a block of the graph
        input that may hold a max pool gets a stem). Such a pool, and a concat that holds
        it, take the input's type, signed 9 bits.
    compress : bool
        Maybe (one draw in two) compress the convolutions' weights: index widths 2..8 and
        shares of stored weights from :data:`DENSITIES`, four of each, taken in turn.

    Besides the blocks, it draws the input size and mean, the quantization options
    (weight and activation bits, per-channel or per-layer weight scales), memory reuse,
    the seed of the weights and images and the band schedule.
    """
    n_lanes = _choice(draw, lanes)
    max_channels = max(12, 2 * n_lanes + 3)
    height, width = draw(1, max_input), draw(1, max_input)
    which = draw(0, len(_MEANS))
    mean = _MEANS[which] if which < len(_MEANS) else tuple(draw(0, 255) for _ in range(3))
    shapes = [(3, height, width)]  # shapes[i + 1] is block i's output
    n_blocks = draw(*blocks)
    drawn = []
    for i in range(n_blocks):
        last_gap = gap and i == n_blocks - 1 and draw(0, 1)
        kind = "gap" if last_gap else _choice(draw, BLOCK_KINDS)
        source = draw(0, i) - 1
        need_stem = source < 0 and not pool_input and kind in ("maxpool", "concat", "add")
        block, shape = _draw_block(draw, kind, source, shapes[source + 1], max_channels,
                                   need_stem=need_stem)
        drawn.append(block)
        shapes.append(shape)
    if not any(layer is not None and layer.kind == "conv"
               for b in drawn for layer in (b.stem, *b.branches)):
        # quantization needs a conv; a 3-channel 1x1 stem leaves every shape as drawn
        stem = LayerSpec("conv", (1, 1), out_channels=3, relu=bool(draw(0, 1)))
        drawn[0] = BlockSpec(drawn[0].kind, drawn[0].source, stem, drawn[0].branches)
    spec = GraphSpec(height=height, width=width, blocks=tuple(drawn), lanes=n_lanes,
                     mean=mean, weight_bits=_choice(draw, weight_bits),
                     activation_bits=_choice(draw, activation_bits),
                     per_channel=not draw(0, 1), reuse_memory=not draw(0, 1),
                     seed=draw(0, 2 ** 32 - 1), steps=draw(1, height) if bands else 1,
                     cut_mask=draw(0, 15) if bands else 0)
    if compress and draw(0, 1):
        spec = dataclasses.replace(spec, index_bits=tuple(draw(2, 8) for _ in range(4)),
                                   density=tuple(_choice(draw, DENSITIES) for _ in range(4)))
    return spec


# --- building --------------------------------------------------------------------------------

def block_tensors(spec: GraphSpec) -> list[tuple[str, ...]]:
    """The tensors of each block, in node order (its output last)."""
    return [tuple(n.name for n in nodes) for nodes in _block_nodes(spec)]


def _block_nodes(spec: GraphSpec) -> list[list[Node]]:
    outputs, out = [], []
    for i, block in enumerate(spec.blocks):
        src = "data" if block.source < 0 else outputs[block.source]
        nodes = []
        if block.stem is not None:
            nodes.append(Node(f"b{i}/stem", block.stem.op(), (src,)))
            src = nodes[-1].name
        operands = []
        for j, layer in enumerate(block.branches):
            if layer is None:
                operands.append(src)
                continue
            name = f"b{i}/{block.kind}" if len(block.branches) == 1 else f"b{i}/x{j}"
            nodes.append(Node(name, layer.op(), (src,)))
            operands.append(name)
        if block.kind == "concat":
            nodes.append(Node(f"b{i}/cat", Concat(), tuple(operands)))
        elif block.kind == "add":
            nodes.append(Node(f"b{i}/add", Add(), tuple(operands)))
        elif block.kind == "gap":
            nodes.append(Node(f"b{i}/pool", GlobalAvgPool(), tuple(operands)))
        out.append(nodes)
        outputs.append(nodes[-1].name)
    return out


def build_graph(spec: GraphSpec) -> Graph:
    """The float graph (no weights) of ``spec``. Its outputs: the GAP of a closing ``gap``
    block, else every block output that no later block reads."""
    per_block = _block_nodes(spec)
    nodes = [n for block in per_block for n in block]
    if spec.has_gap:
        outputs = [nodes[-1].name]
    else:
        read = {b.source for b in spec.blocks}
        outputs = [block[-1].name for i, block in enumerate(per_block) if i not in read]
    graph = Graph("random_layers", (3, spec.height, spec.width), nodes, outputs,
                  mean=tuple(float(m) for m in spec.mean))
    graph.shapes()
    return graph
