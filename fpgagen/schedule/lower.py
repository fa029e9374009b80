"""Lowering: a quantized graph becomes a :class:`~fpgagen.schedule.program.Program` for the
accelerator of ``docs/hardware.md``.

Every conv, max pool, add and global average pool node becomes one instruction; a concat
costs nothing (its inputs write side by side into its buffer). The steps:

1. check that every node maps (ReLUs fused, GAP last, concat inputs written directly);
2. lane layout of every tensor: channel ``ch`` at lane position ``ch``, except in concats,
   whose inputs start at group boundaries; the two inputs of an add must agree, so a conv
   feeding an add adopts the layout of the other input when they differ;
3. buffers: a concat and its inputs share one buffer; buffers get activation memory from
   a first-fit allocator and are freed after their last reader;
4. instructions, weight and bias banks, laid out layer after layer.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import FpgagenError
from ..hw.cost import PIPELINE_OVERHEAD, instruction_cycles
from ..hw.isa import Instr
from ..hw.params import HwParams
from ..hw.spec import ACT_LANE_BITS, OUTPUT_CODE_BITS, lane_range
from ..ir import Add, Concat, Conv2d, GlobalAvgPool, Graph, MaxPool, Node
from ..operators import FREE, FUSED_ONLY, LOWERED, rules_for
from .program import Im2col, LayerInfo, Program, TensorPlacement

__all__ = ["lower", "LowerContext"]


@dataclass(frozen=True)
class _Layout:
    """Lane positions of a tensor's channels, counted from its first group."""

    positions: tuple[int, ...]
    groups: int


def _contiguous(channels: int, lanes: int) -> _Layout:
    return _Layout(tuple(range(channels)), -(-channels // lanes))


def _describe(layout: _Layout) -> str:
    """``"lanes 0..18, 32..50"``: the runs of a layout's positions."""
    runs, pos = [], layout.positions
    start = prev = pos[0]
    for p in pos[1:] + (None,):
        if p is not None and p == prev + 1:
            prev = p
            continue
        runs.append(f"{start}..{prev}" if prev != start else f"{start}")
        if p is not None:
            start = prev = p
    return "lanes " + ", ".join(runs)


class _FirstFit:
    """First-fit allocator of activation memory words; ``top`` is the high-water mark."""

    def __init__(self):
        self.free: list[tuple[int, int]] = []  # sorted, disjoint [start, end)
        self.top = 0

    def take(self, size: int) -> int:
        for i, (a, b) in enumerate(self.free):
            if b - a >= size:
                if b - a == size:
                    del self.free[i]
                else:
                    self.free[i] = (a + size, b)
                return a
        if self.free and self.free[-1][1] == self.top:
            start = self.free.pop()[0]
        else:
            start = self.top
        self.top = max(self.top, start + size)
        return start

    def give(self, start: int, size: int):
        blocks = sorted(self.free + [(start, start + size)])
        merged = [blocks[0]]
        for a, b in blocks[1:]:
            if a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        self.free = merged


def lower(graph: Graph, hw: HwParams = HwParams(), *, reuse_memory: bool = True) -> Program:
    """Compile a quantized graph into a program for the accelerator.

    Parameters
    ----------
    graph : Graph
        A quantized graph (``graph.quant`` set) whose ReLUs are fused into convolutions.
    hw : HwParams
        Size of the PE array.
    reuse_memory : bool
        Free a buffer after its last reader so that later tensors reuse its words. Without
        it every tensor keeps its own words until the end (larger memory; every tensor
        can be read back after the run).

    Returns
    -------
    Program

    Raises
    ------
    FpgagenError
        For a graph that is not quantized, a node the accelerator cannot map (unfused ReLU,
        a GAP that is not the last node, a concat input not written directly by a conv, max
        pool or add, adds of differently laid out inputs), or a layer whose fields do not
        fit the instruction format or the banks.
    """
    if not isinstance(hw, HwParams):
        raise FpgagenError(f"hw must be an HwParams, not {hw!r}")
    if graph.quant is None:
        raise FpgagenError(f"graph {graph.name!r} is not quantized; quantize it before lowering")
    lanes = hw.pe_rows
    shapes = graph.shapes()
    producers = {n.name: n for n in graph.nodes}
    _check_nodes(graph)
    concat_of = _concat_inputs(graph, producers)
    im2col = _im2col(graph)
    layouts = _layouts(graph, lanes, producers, im2col)
    order = [n for n in graph.nodes if rules_for(n.op, "lowering").lowering == LOWERED]
    if not order:
        raise FpgagenError(f"cannot map graph {graph.name!r}: it has no conv, pool or add node")
    step = {n.name: i for i, n in enumerate(order)}
    places = _place(graph, lanes, layouts, concat_of, step, im2col, reuse_memory)
    _check_codes_fit(graph, places)

    macs = graph.macs_per_node()
    concat_done = {}
    for n in graph.nodes:
        if isinstance(n.op, Concat):
            concat_done.setdefault(max(step[i] for i in n.inputs), []).append(n.name)
    instructions, infos = [], []
    banks = _Banks(hw)
    ctx = LowerContext(graph=graph, lanes=lanes, layouts=layouts, places=places, im2col=im2col,
                       banks=banks)
    output_channels = 0
    for s, node in enumerate(order):
        op = node.op
        fields = rules_for(op, "lowering").lower(ctx, node)
        if isinstance(op, GlobalAvgPool):
            output_channels = shapes[node.name][0]
        try:
            instr = Instr(**{**fields, "last": int(s == len(order) - 1)})
        except ValueError as e:
            raise FpgagenError(f"cannot map {op.kind} node {node.name!r}: {e}") from None
        instructions.append(instr)
        infos.append(LayerInfo(name=node.name, opcode=instr.op, macs=int(macs[node.name]),
                               cycles_predicted=instruction_cycles(instr, PIPELINE_OVERHEAD),
                               output=node.name,
                               completes=(node.name, *concat_done.get(s, ()))))
    weight_banks, bias_banks, shift_banks = banks.arrays()
    act_depth = max(p.end for p in places.values())
    return Program(hw=hw, instructions=instructions, layers=infos, weight_banks=weight_banks,
                   bias_banks=bias_banks, shift_banks=shift_banks, act_depth=act_depth,
                   input=places[graph.input_name], tensors=places,
                   output_channels=output_channels, im2col=im2col,
                   outputs=list(graph.outputs), name=graph.name,
                   weight_bits=int(graph.quant.weight_bits))


# --- checks --------------------------------------------------------------------------------

def _check_nodes(graph: Graph):
    last = graph.nodes[-1].name if graph.nodes else None
    for n in graph.nodes:
        op = n.op
        rules = rules_for(op, "lowering")
        if rules.lowering == FREE and not isinstance(op, Concat):
            raise FpgagenError(f"cannot map {op.kind} node {n.name!r}: the lowering gives "
                               "buffers without an instruction to concatenations only")
        if rules.lowering == FUSED_ONLY:
            hint = (" (only a ReLU that directly follows a conv, as its only reader, can be "
                    "fused into it; see FuseRelu)" if op.kind == "relu" else "")
            raise FpgagenError(f"cannot map {op.kind} node {n.name!r} (input {n.inputs[0]!r}) "
                               f"to the accelerator{hint}")
        if isinstance(op, GlobalAvgPool) and (n.name != last or list(graph.outputs) != [n.name]):
            raise FpgagenError(f"cannot map global_avgpool node {n.name!r}: it must be the last "
                               f"node and the only graph output (last node {last!r}, outputs "
                               f"{list(graph.outputs)})")
    for o in graph.outputs:
        if o == graph.input_name:
            raise FpgagenError(f"cannot map graph {graph.name!r}: its input {o!r} is an output")


def _concat_inputs(graph: Graph, producers: dict) -> dict[str, str]:
    """``{tensor: concat node}`` for every concat input, after checking that each is
    written directly by an instruction and belongs to one concat only."""
    concat_of = {}
    for n in graph.nodes:
        if not isinstance(n.op, Concat):
            continue
        for i in n.inputs:
            prod = producers.get(i)
            if prod is None or not rules_for(prod.op, "lowering").writes_in_place:
                what = "the graph input" if prod is None else f"a {prod.op.kind} node"
                raise FpgagenError(f"cannot map concat node {n.name!r}: its input {i!r} is "
                                   f"{what}; every concat input must be written directly by a "
                                   "conv, maxpool or add node")
            if i in concat_of:
                raise FpgagenError(f"cannot map concat node {n.name!r}: its input {i!r} is "
                                   f"already an input of concat {concat_of[i]!r} (a tensor is "
                                   "written into one concat buffer only)")
            concat_of[i] = n.name
    return concat_of


def _im2col(graph: Graph) -> Im2col | None:
    """The conv to fold into the input packing: the input's only reader, a conv."""
    readers = graph.consumers(graph.input_name)
    if len(readers) != 1 or not isinstance(readers[0].op, Conv2d):
        return None
    op = readers[0].op
    return Im2col(conv=readers[0].name, channels=graph.input_shape[0], kernel=op.kernel,
                  stride=op.stride, padding=op.padding)


def _check_codes_fit(graph: Graph, places: dict):
    lo, hi = lane_range(ACT_LANE_BITS)
    for t in places:
        qt = graph.quant.types[t]
        if qt.min < lo or qt.max > hi:
            raise FpgagenError(f"cannot map tensor {t!r}: its type {qt} does not fit the "
                               f"{ACT_LANE_BITS}-bit activation lanes")


# --- layouts and buffers -------------------------------------------------------------------

def _layouts(graph: Graph, lanes: int, producers: dict, im2col: Im2col | None) -> dict:
    """``{tensor: _Layout}``; adds force their conv inputs to the other input's layout."""
    shapes = graph.shapes()
    c_in = shapes[graph.input_name][0]
    if im2col is not None:
        c_in *= im2col.kernel[0] * im2col.kernel[1]
    overrides: dict[str, _Layout] = {}
    for _ in range(len(graph.nodes) + 1):
        lay = {graph.input_name: _contiguous(c_in, lanes)}
        for n in graph.nodes:
            op = n.op
            if isinstance(op, Conv2d):
                lay[n.name] = overrides.get(n.name) or _contiguous(op.out_channels, lanes)
            elif isinstance(op, (MaxPool, Add)):
                lay[n.name] = lay[n.inputs[0]]
            elif isinstance(op, Concat):
                pos, groups = [], 0
                for i in n.inputs:
                    pos += [groups * lanes + p for p in lay[i].positions]
                    groups += lay[i].groups
                lay[n.name] = _Layout(tuple(pos), groups)
            else:
                lay[n.name] = _contiguous(shapes[n.name][0], lanes)
        bad = next((n for n in graph.nodes if isinstance(n.op, Add)
                    and lay[n.inputs[0]] != lay[n.inputs[1]]), None)
        if bad is None:
            return lay
        a, b = bad.inputs
        for mine, other in ((b, a), (a, b)):
            prod = producers.get(mine)
            if prod is not None and isinstance(prod.op, Conv2d) and mine not in overrides:
                overrides[mine] = lay[other]
                break
        else:
            raise FpgagenError(f"cannot map add node {bad.name!r}: its inputs {a!r} "
                               f"({_describe(lay[a])}) and {b!r} ({_describe(lay[b])}) hold "
                               "their channels on different lanes, and neither is a conv "
                               "output that could follow the other")
    raise AssertionError("layout fixing did not converge")


def _place(graph, lanes, layouts, concat_of, step, im2col, reuse_memory) -> dict:
    """Buffers (a concat shares one with its inputs), their liveness and addresses."""
    shapes = graph.shapes()
    end = len(step)  # graph outputs live past the last instruction
    key_of, offset = {}, {}
    for n in graph.nodes:
        if isinstance(n.op, Concat):
            groups = 0
            for i in n.inputs:
                key_of[i], offset[i] = n.name, groups
                groups += layouts[i].groups
    tensors = [graph.input_name] + [n.name for n in graph.nodes
                                    if not isinstance(n.op, GlobalAvgPool)]
    for t in tensors:
        key_of.setdefault(t, t)
    size, first, last = {}, {}, {}
    for t in tensors:
        key = key_of[t]
        _, h, w = shapes[t]
        if t == graph.input_name and im2col is not None:
            _, h, w = shapes[im2col.conv]
        if key == t:
            size[key] = (h, w, layouts[t].groups)
        s = step.get(t, -1)
        if t in step or t == graph.input_name:
            first[key] = min(first.get(key, s), s)
        uses = [step[r.name] for r in graph.consumers(t) if r.name in step]
        if t in graph.outputs:
            uses.append(end)
        last[key] = max([last.get(key, -1), *uses])
    for key in size:
        last[key] = max(last[key], first[key])

    alloc, base = _FirstFit(), {}
    frees: dict[int, list[str]] = {}
    for key in size:
        frees.setdefault(last[key], []).append(key)

    def words(key):
        h, w, p = size[key]
        return h * w * p

    for s in range(-1, end):
        for key in size:
            if first[key] == s and key not in base:
                base[key] = alloc.take(words(key))
        if reuse_memory:
            for key in frees.get(s, ()):
                alloc.give(base[key], words(key))

    places = {}
    for t in tensors:
        key = key_of[t]
        h, w, p = size[key]
        lay = layouts[t]
        places[t] = TensorPlacement(name=t, base=base[key], h=h, w=w, pixel_groups=p,
                                    group_offset=offset.get(t, 0),
                                    channels=len(lay.positions), groups=lay.groups,
                                    positions=lay.positions)
    return places


# --- instructions --------------------------------------------------------------------------

class _Banks:
    """Weight and bias bank contents, appended layer after layer."""

    def __init__(self, hw: HwParams):
        self.hw = hw
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        self.shifts: list[np.ndarray] = []
        self.weight_words = 0
        self.bias_words = 0

    def add(self, weights: np.ndarray, biases: np.ndarray, shifts: np.ndarray):
        """Append ``(cols, words, rows)`` weights and ``(cols, entries)`` biases and
        shifts; returns their base addresses."""
        bases = self.weight_words, self.bias_words
        self.weights.append(weights)
        self.biases.append(biases)
        self.shifts.append(shifts)
        self.weight_words += weights.shape[1]
        self.bias_words += biases.shape[1]
        return bases

    def arrays(self):
        cols, rows = self.hw.pe_cols, self.hw.pe_rows
        if not self.weights:
            return (np.zeros((cols, 1, rows), np.int8), np.zeros((cols, 1), np.int64),
                    np.zeros((cols, 1), np.int64))
        return (np.concatenate(self.weights, axis=1), np.concatenate(self.biases, axis=1),
                np.concatenate(self.shifts, axis=1))


@dataclass
class LowerContext:
    """What an operator's lowering rule (:meth:`fpgagen.operators.OperatorRules.lower`) may
    read and use: the graph, the lanes of a word, every tensor's lane layout and placement,
    the im2col packing of the input, and the weight and bias banks to append to."""

    graph: Graph
    lanes: int
    layouts: dict
    places: dict
    im2col: Im2col | None
    banks: _Banks

    def out_type_fields(self, node: Node) -> dict:
        """``out_signed`` and ``out_bits`` of ``node``'s output type; a type whose codes the
        hardware does not saturate to (:data:`~fpgagen.hw.spec.OUTPUT_CODE_BITS`) is
        refused."""
        t = self.graph.quant.types[node.name]
        if t.bits not in OUTPUT_CODE_BITS:
            widths = " or ".join(str(b) for b in OUTPUT_CODE_BITS)
            raise FpgagenError(f"cannot map {node.op.kind} node {node.name!r}: its output "
                               f"type {t} has {t.bits}-bit codes, and the hardware saturates "
                               f"to {widths}-bit codes (8-bit activations, 16-bit scores; a "
                               f"max pool or concat of the 9-bit network input keeps its "
                               f"type)")
        return dict(out_signed=int(t.signed), out_bits=t.bits)

    @staticmethod
    def read_fields(place: TensorPlacement, prefix: str = "in") -> dict:
        """The base address field of reading ``place`` (``in_base`` or ``in2_base``)."""
        return {f"{prefix}_base": place.base + place.group_offset}

    @staticmethod
    def write_fields(place: TensorPlacement) -> dict:
        """The output fields of writing ``place``."""
        return dict(out_base=place.base, out_h=place.h, out_w=place.w,
                    out_pixel_groups=place.pixel_groups, out_group_offset=place.group_offset,
                    out_groups=place.groups)

    def describe(self, tensor: str) -> str:
        """``"lanes 0..18, 32..50"``: the lanes ``tensor``'s channels occupy."""
        return _describe(self.layouts[tensor])
