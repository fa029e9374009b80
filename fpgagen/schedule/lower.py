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
from ..hw.params import HwParams
from ..ir import (Add, AddQuant, AvgPoolQuant, Concat, Conv2d, ConvQuant, GlobalAvgPool, Graph,
                  MaxPool, Node)
from .isa import Opcode, pack_instruction, unpack_instruction
from .program import Im2col, LayerInfo, Program, TensorPlacement

__all__ = ["lower", "ACT_LANE_BITS", "BIAS_BITS", "SHIFT_BITS"]

#: Width of one activation lane (two's complement): every code kept in memory must fit.
ACT_LANE_BITS = 9
#: Width of a bias bank entry's bias (two's complement).
BIAS_BITS = 32
#: Width of a bias bank entry's rounding shift (two's complement).
SHIFT_BITS = 8

_DIRECT_WRITERS = (Conv2d, MaxPool, Add)
_MAPPED = (Conv2d, MaxPool, Add, Concat, GlobalAvgPool)
#: Every instruction field, zero (instructions list all of them).
_ZERO_FIELDS = unpack_instruction(0)


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
    order = [n for n in graph.nodes if not isinstance(n.op, Concat)]
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
    output_channels = 0
    for s, node in enumerate(order):
        op = node.op
        if isinstance(op, Conv2d):
            fields = _conv(graph, node, lanes, layouts, places, im2col, banks)
        elif isinstance(op, MaxPool):
            fields = _maxpool(graph, node, layouts, places)
        elif isinstance(op, Add):
            fields = _add(graph, node, layouts, places)
        else:
            fields = _gap(graph, node, lanes, layouts, places)
            output_channels = shapes[node.name][0]
        fields = {**_ZERO_FIELDS, **fields, "last": int(s == len(order) - 1)}
        try:
            pack_instruction(fields)
        except ValueError as e:
            raise FpgagenError(f"cannot map {op.kind} node {node.name!r}: {e}") from None
        instructions.append(fields)
        infos.append(LayerInfo(name=node.name, opcode=fields["op"], macs=int(macs[node.name]),
                               cycles_predicted=instruction_cycles(fields, PIPELINE_OVERHEAD),
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
        if not isinstance(op, _MAPPED):
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
            if prod is None or not isinstance(prod.op, _DIRECT_WRITERS):
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
    lo, hi = -(1 << (ACT_LANE_BITS - 1)), (1 << (ACT_LANE_BITS - 1)) - 1
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


def _out_type_fields(graph: Graph, node: Node) -> dict:
    t = graph.quant.types[node.name]
    return dict(out_signed=int(t.signed), out_bits=t.bits)


def _read_fields(place: TensorPlacement, prefix: str = "in") -> dict:
    return {f"{prefix}_base": place.base + place.group_offset}


def _write_fields(place: TensorPlacement) -> dict:
    return dict(out_base=place.base, out_h=place.h, out_w=place.w,
                out_pixel_groups=place.pixel_groups, out_group_offset=place.group_offset,
                out_groups=place.groups)


def _conv(graph, node, lanes, layouts, places, im2col, banks) -> dict:
    op: Conv2d = node.op
    q = graph.quant.layers.get(node.name)
    if not isinstance(q, ConvQuant):
        raise FpgagenError(f"conv2d node {node.name!r} has no integer parameters")
    src = node.inputs[0]
    inp, out = places[src], places[node.name]
    in_lay, out_lay = layouts[src], layouts[node.name]
    weight = np.asarray(q.weight)
    kernel, stride, padding = op.kernel, op.stride, op.padding
    if im2col is not None and im2col.conv == node.name:
        # Input channel (ky * kw + kx) * C + c of the packed input.
        weight = weight.transpose(0, 2, 3, 1).reshape(weight.shape[0], -1, 1, 1)
        kernel, stride, padding = (1, 1), (1, 1), (0, 0)
    cols = banks.hw.pe_cols
    og, ig = out_lay.groups, in_lay.groups
    kh, kw = kernel
    lay = np.zeros((og * cols, ig * lanes, kh, kw), dtype=np.int8)
    out_pos = np.asarray(out_lay.positions)
    in_pos = np.asarray(in_lay.positions)
    lay[out_pos[:, None], in_pos[None, :]] = weight
    words = lay.reshape(og, cols, ig, lanes, kh, kw).transpose(1, 0, 4, 5, 2, 3)
    words = words.reshape(cols, og * kh * kw * ig, lanes)
    bias = np.zeros(og * cols, dtype=np.int64)
    shift = np.zeros(og * cols, dtype=np.int64)
    bias[out_pos] = np.asarray(q.bias, dtype=np.int64)
    shift[out_pos] = np.asarray(q.shift, dtype=np.int64)
    for what, values, bits in (("bias", bias, BIAS_BITS), ("shift", shift, SHIFT_BITS)):
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        bad = values[(values < lo) | (values > hi)]
        if bad.size:
            raise FpgagenError(f"cannot map conv2d node {node.name!r}: {what} {int(bad[0])} "
                               f"does not fit the {bits}-bit {what} field of the bias banks")
    weight_base, bias_base = banks.add(words, bias.reshape(og, cols).T.copy(),
                                       shift.reshape(og, cols).T.copy())
    return dict(op=Opcode.CONV, relu=int(op.relu), **_out_type_fields(graph, node),
                **_read_fields(inp), in_h=inp.h, in_w=inp.w, in_groups=ig,
                in_pixel_groups=inp.pixel_groups, depthwise=0, kh=kh, kw=kw,
                stride_h=stride[0], stride_w=stride[1], pad_h=padding[0], pad_w=padding[1],
                **_write_fields(out), weight_base=weight_base, bias_base=bias_base)


def _maxpool(graph, node, layouts, places) -> dict:
    op: MaxPool = node.op
    inp, out = places[node.inputs[0]], places[node.name]
    return dict(op=Opcode.MAXPOOL, **_out_type_fields(graph, node), **_read_fields(inp),
                in_h=inp.h, in_w=inp.w, in_groups=1, in_pixel_groups=inp.pixel_groups,
                depthwise=1, kh=op.kernel[0], kw=op.kernel[1], stride_h=op.stride[0],
                stride_w=op.stride[1], pad_h=op.padding[0], pad_w=op.padding[1],
                **_write_fields(out))


def _add(graph, node, layouts, places) -> dict:
    q = graph.quant.layers.get(node.name)
    if not isinstance(q, AddQuant):
        raise FpgagenError(f"add node {node.name!r} has no integer parameters")
    a, b = (places[i] for i in node.inputs)
    out = places[node.name]
    if a.pixel_groups != b.pixel_groups:
        raise FpgagenError(f"cannot map add node {node.name!r}: its inputs {a.name!r} and "
                           f"{b.name!r} live in buffers of {a.pixel_groups} and "
                           f"{b.pixel_groups} words per pixel; ADD reads both with one stride")
    return dict(op=Opcode.ADD, **_out_type_fields(graph, node), **_read_fields(a),
                **_read_fields(b, "in2"), in_h=a.h, in_w=a.w, in_groups=1,
                in_pixel_groups=a.pixel_groups, depthwise=1, kh=1, kw=2, stride_h=1,
                stride_w=1, pad_h=0, pad_w=0, **_write_fields(out), shift_a=q.left_a,
                shift_b=q.left_b, shift=q.shift)


def _gap(graph, node, lanes, layouts, places) -> dict:
    q = graph.quant.layers.get(node.name)
    if not isinstance(q, AvgPoolQuant):
        raise FpgagenError(f"global_avgpool node {node.name!r} has no integer parameters")
    src = node.inputs[0]
    inp = places[src]
    if layouts[src].positions != tuple(range(inp.channels)):
        raise FpgagenError(f"cannot map global_avgpool node {node.name!r}: its input {src!r} "
                           f"has unused lanes between its channels ({_describe(layouts[src])}:"
                           f" a concat of inputs whose channel counts are not multiples of "
                           f"{lanes}); the score stream needs contiguous channels")
    return dict(op=Opcode.GAP, **_out_type_fields(graph, node), **_read_fields(inp),
                in_h=inp.h, in_w=inp.w, in_groups=1, in_pixel_groups=inp.pixel_groups,
                depthwise=1, kh=inp.h, kw=inp.w, stride_h=1, stride_w=1, pad_h=0, pad_w=0,
                out_h=1, out_w=1, out_groups=inp.groups, out_channels=inp.channels,
                multiplier=q.multiplier, shift=q.shift)
