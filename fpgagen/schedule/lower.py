"""Lowering: a quantized graph becomes a :class:`~fpgagen.schedule.program.Program` for the
accelerator of ``docs/hardware.md``.

Every conv, max pool, add and global average pool node becomes one instruction per row
band (the conv before the GAP, when banded, one per channel chunk; a group conv whose
groups own their lane groups, one per conv group; every conv, with a weight budget, one
per chunk of output groups that fits it); a concat costs nothing (its
inputs write side by side into its buffer). The steps:

1. check that every node maps (ReLUs fused, the GAP last or read only by the fully
   connected conv that is last, concat inputs written directly);
2. lane layout of every tensor: channel ``ch`` at lane position ``ch``, except in concats,
   whose inputs start at group boundaries; the two inputs of an add must agree, so a conv
   feeding an add adopts the layout of the other input when they differ;
3. buffers: a concat and its inputs share one buffer; buffers get activation memory from
   a first-fit allocator and are freed after their last reader;
4. instructions, weight and bias banks, laid out layer after layer.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..errors import FpgagenError
from ..hw.cost import PIPELINE_OVERHEAD, instruction_cycles
from ..hw.isa import Instr, Opcode
from ..hw.params import HwParams
from ..hw.spec import ACT_LANE_BITS, lane_range, output_code_bits, weight_word_bits
from ..hw.weight_stream import encode_streams
from ..ir import Add, Concat, Conv2d, GlobalAvgPool, Graph, MaxPool, Node
from ..operators import FREE, FUSED_ONLY, LOWERED, rules_for
from .bands import ActivationPlan, BandPlan, BufferPlan, Stage, plan_bands
from .program import CompressedWeights, Im2col, LayerInfo, Program, TensorPlacement
from .stages import (Network, Run, cut_positions, expand, fully_connected, fusions,
                     network_stages)
from .conv_groups import split_conv_groups
from .flash_store import stage_weights
from .weight_chunks import column_weight_bits, out_group_chunks, out_group_fields

__all__ = ["lower", "LowerContext", "cut_candidates", "region_steps", "PlanMemory",
           "plan_memory", "plan_structure"]


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


def lower(graph: Graph, hw: HwParams = HwParams(), *, reuse_memory: bool = True,
          steps=1, cuts=(), fuse_pools: bool = True, cache: dict | None = None) -> Program:
    """Compile a quantized graph into a program for the accelerator.

    Parameters
    ----------
    graph : Graph
        A quantized graph (``graph.quant`` set) whose ReLUs are fused into convolutions.
    hw : HwParams
        Size of the PE array.
    reuse_memory : bool
        Free a buffer after its last reader so that later tensors reuse its words. Without
        it every tensor keeps its own words until the end (larger memory).
    steps : int or sequence of int
        Row-band steps (:mod:`fpgagen.schedule.bands`): 1 runs every layer over its whole
        tensor; more run the network depth-first in that many bands, each tensor kept in
        a ring of the rows its readers still need. A sequence gives the steps of every
        region in order (one more than the cuts): each region runs in its own bands.
    cuts : iterable of str
        Stages (node names, from :func:`cut_candidates`) after which a new region starts:
        regions run one after the other, and the tensor crossing a cut is kept whole.
    fuse_pools : bool
        Fuse every max pool that directly follows a convolution (its only reader) into it.
    cache : dict or None
        Kept between lowerings of the same ``graph`` on the same ``hw`` (band plans
        compared by :mod:`fpgagen.schedule.band_choice`): the work that does not depend
        on the plan (encoded weight streams, flash chunks) is done once.

    Returns
    -------
    Program

    Raises
    ------
    FpgagenError
        For a graph that is not quantized, a node the accelerator cannot map (unfused ReLU,
        a GAP that is neither the last node nor read only by a last 1x1 conv (the fully
        connected layer, whose words go to the score memory), a concat input not written
        directly by a conv, max pool or add, adds of differently laid out inputs), a layer
        whose fields do not fit the instruction format or the banks, or a conv of which
        one output group alone needs more weight bits per PE column than
        ``hw.weight_chunk_bits``.
    """
    if not isinstance(hw, HwParams):
        raise FpgagenError(f"hw must be an HwParams, not {hw!r}")
    if graph.quant is None:
        raise FpgagenError(f"graph {graph.name!r} is not quantized; quantize it before lowering")
    lanes = hw.pe_rows
    shapes = graph.shapes()
    producers = {n.name: n for n in graph.nodes}
    structure = _structure(graph, hw, fuse_pools)
    concat_of, im2col, layouts, order, fusion = structure
    net, plan, runs, cut_order = _schedule(graph, structure, steps, cuts)
    places, buffers = _place(graph, lanes, layouts, net, plan, runs, reuse_memory)
    _check_codes_fit(graph, {t: p for t, p in places.items() if t != fully_connected(graph)})

    macs = graph.macs_per_node()
    if cache is not None:
        g, h, f = cache.setdefault("owner", (graph, hw, fuse_pools))
        if g is not graph or h != hw or f != fuse_pools:
            raise FpgagenError("a lowering cache serves one graph on one hardware")
    banks = _Banks(hw, int(graph.quant.weight_bits),
                   None if cache is None else cache.setdefault("streams", {}))
    ctx = LowerContext(graph=graph, lanes=lanes, layouts=layouts, places=places, im2col=im2col,
                       banks=banks)
    base = {}
    for node in order:  # weights and biases laid out node after node
        if node.name in net.fused_pools:
            continue
        base[node.name] = rules_for(node.op, "lowering").lower(ctx, node)
    pool_bases, pool_depth = {}, 0
    for conv, pool in fusion.items():
        pool_bases[conv] = pool_depth
        pool_depth += layouts[conv].groups * shapes[pool][2]
    compressed = banks.compressed()
    chunker = (_WeightChunker(hw, banks.weight_bits, compressed,
                              None if cache is None else cache.setdefault("chunks", {}))
               if hw.weight_chunk_bits is not None else None)
    instructions, infos = [], []
    output_channels = 0
    for k, run in enumerate(runs):
        stage = net.stages[run.band.stage]
        fields = _band_fields(stage, run, base, net, places, buffers, plan, fusion, shapes,
                              layouts, pool_bases, graph)
        node = producers.get(stage.name)
        if node is not None and stage.out is None:  # the scores: the GAP's, or the FC's
            output_channels = shapes[node.name][0]
        try:
            instr = Instr(**{**fields, "last": int(k == len(runs) - 1)})
        except ValueError as e:
            what = node.op.kind if node is not None else "input"
            raise FpgagenError(f"cannot map {what} node {stage.name!r}: {e}") from None
        run_macs = _band_macs(macs.get(stage.name, 0), run, stage, net, layouts, lanes)
        first = run.chunk[0] if run.chunk is not None else 0
        parts = [(instr, run_macs, first)]
        if stage.name in ctx.group_splits:  # a group conv lowered per group
            split = ctx.group_splits[stage.name]
            parts = [(p, m, first + p.out_group_offset - instr.out_group_offset)
                     for p, m in split_conv_groups(instr, run_macs, split, first,
                                                   layouts[stage.name].positions,
                                                   hw.pe_cols)]
        if chunker is not None and instr.op == Opcode.CONV:
            parts = [(c, cm) for p, m, f0 in parts
                     for c, cm in chunker.split(p, m, stage.name, f0, layouts[stage.name],
                                                lanes)]
        else:
            parts = [(p, m) for p, m, _ in parts]
        for j, (part, part_macs) in enumerate(parts):
            instructions.append(part)
            infos.append(LayerInfo(
                name=stage.name, opcode=part.op, macs=part_macs,
                cycles_predicted=instruction_cycles(part, PIPELINE_OVERHEAD),
                output=stage.out or stage.name,
                writes=run.writes if j == len(parts) - 1 else ()))
    weight_banks, bias_banks, shift_banks = banks.arrays()
    if compressed is not None:  # the decoder's stalls, from the masks as encoded
        memo = {} if cache is None else cache.setdefault("stalls", {})
        infos = [dataclasses.replace(info, cycles_predicted=info.cycles_predicted
                                     + compressed.stall(f, lanes, memo))
                 if f.compressed else info
                 for f, info in zip(instructions, infos)]
    act_depth = max([1] + [b.end for b in buffers.values()])
    whole_words = act_depth
    if plan.steps > 1:  # the same network with whole tensors, for the report
        net1 = network_stages(graph, shapes, layouts, concat_of, im2col, fusion, order, 1)
        plan1 = plan_bands(net1.stages, net1.heights, net1.sinks, 1, net1.same_rows)
        _, buffers1 = _place(graph, lanes, layouts, net1, plan1, expand(net1, plan1),
                             reuse_memory)
        whole_words = max([1] + [b.end for b in buffers1.values()])
    stored = {t: p for t, p in places.items() if t in net.stored}
    program = Program(hw=hw, instructions=instructions, layers=infos, weight_banks=weight_banks,
                   bias_banks=bias_banks, shift_banks=shift_banks, act_depth=act_depth,
                   input=places[graph.input_name], tensors=stored,
                   output_channels=output_channels, im2col=im2col,
                   outputs=list(graph.outputs), name=graph.name,
                   weight_bits=int(graph.quant.weight_bits),
                   act_lane_bits=graph.quant.act_lane_bits, pool_depth=pool_depth,
                   unstored=frozenset(net.unstored),
                   plan=_activation_plan(net, plan, buffers, lanes, pool_depth,
                                         whole_words, cut_order, graph.quant.act_lane_bits),
                   compressed=compressed, direct_codebook=banks.direct_codebook())
    if hw.in_flash:
        program = stage_weights(program, None if cache is None
                                else cache.setdefault("flash", {}))
    return program


def _schedule(graph: Graph, structure, steps, cuts):
    """The band stages of ``graph`` cut into regions after ``cuts``, their band plan in
    ``steps`` (:func:`region_steps`), its instructions (runs) and the cuts in stage
    order."""
    concat_of, im2col, layouts, order, fusion = structure
    cuts = set(cuts)
    per_region = region_steps(steps, len(cuts))
    # the conv before the GAP runs in the last region's chunks
    net = network_stages(graph, graph.shapes(), layouts, concat_of, im2col, fusion, order,
                         per_region[-1])
    valid_cuts = {net.stages[k - 1].name for k in cut_positions(net)}
    if cuts - valid_cuts:
        raise FpgagenError(f"cannot cut the band schedule after {sorted(cuts - valid_cuts)}; "
                           f"possible cuts: {sorted(valid_cuts) or 'none'}")
    region = 0
    for k, stage in enumerate(net.stages):
        net.stages[k] = dataclasses.replace(stage, region=region)
        if stage.name in cuts:
            region += 1
    cut_order = tuple(s.name for s in net.stages if s.name in cuts)
    plan = plan_bands(net.stages, net.heights, net.sinks, dict(enumerate(per_region)),
                      net.same_rows)
    return net, plan, expand(net, plan), cut_order


@dataclass(frozen=True)
class PlanMemory:
    """The activation memory of a band plan, without compiling its instructions."""

    words: int  #: depth of the activation memory (the program's ``act_depth``)
    #: per region (in order), the most words live at once during its instructions
    region_live: tuple[int, ...]
    instructions: int  #: instructions before weight chunking
    #: ``{stage: region}`` of every stage (the graph input's LOAD and the lowered nodes
    #: but fused max pools); tail stages belong to the last region
    region_of: dict


def plan_memory(graph: Graph, hw: HwParams = HwParams(), *, steps=1, cuts=(),
                fuse_pools: bool = True, structure=None) -> PlanMemory:
    """The activation memory :func:`lower` gives ``graph`` on ``hw`` with these ``steps``
    and ``cuts`` (the same words as the program's ``act_depth``), computed from the band
    plan and the buffer allocation alone (no weights, no instructions). ``structure``:
    :func:`plan_structure` of the same graph, hardware and ``fuse_pools``, to reuse."""
    if structure is None:
        structure = plan_structure(graph, hw, fuse_pools)
    net, plan, runs, _ = _schedule(graph, structure, steps, cuts)
    buffers, peaks = _allocate(graph, net, plan, runs, True)
    return PlanMemory(words=max([1] + [b.end for b in buffers.values()]),
                      region_live=tuple(peaks.get(r, 0) for r in sorted(plan.region_steps)),
                      instructions=len(runs),
                      region_of={st.name: st.region for st in net.stages})


def plan_structure(graph: Graph, hw: HwParams = HwParams(), fuse_pools: bool = True):
    """What :func:`plan_memory` derives from the graph alone (checks, layouts, fused
    pools), to pass to it again for other plans of the same graph and hardware."""
    return _structure(graph, hw, fuse_pools)


def region_steps(steps, cuts: int) -> tuple[int, ...]:
    """The band steps of each of the ``cuts + 1`` regions: ``steps`` for all of them (an
    int), or one per region (a sequence of that length)."""
    if isinstance(steps, (list, tuple)):
        values = tuple(steps)
        if len(values) != cuts + 1:
            raise FpgagenError(f"band steps per region must give {cuts + 1} values (one per "
                               f"region of {cuts} cut{'s' if cuts != 1 else ''}), not "
                               f"{len(values)}: {steps!r}")
    else:
        values = (steps,) * (cuts + 1)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise FpgagenError(f"band steps must be a positive integer, not {v!r}")
    return values


def cut_candidates(graph: Graph, hw: HwParams = HwParams()) -> list[str]:
    """The stages after which the band schedule may start a new region: where a single
    tensor of lower resolution than its producer's input (a pooled or strided output)
    carries everything later stages read from before."""
    concat_of, im2col, layouts, order, fusion = _structure(graph, hw, True)
    net = network_stages(graph, graph.shapes(), layouts, concat_of, im2col, fusion, order, 2)
    return [net.stages[k - 1].name for k in cut_positions(net)]


def _structure(graph: Graph, hw: HwParams, fuse_pools: bool):
    """What the lowering derives from the graph alone: the checks, concat inputs, the
    im2col packing, lane layouts, the nodes that become instructions, fused pools."""
    producers = {n.name: n for n in graph.nodes}
    _check_nodes(graph)
    concat_of = _concat_inputs(graph, producers)
    im2col = _im2col(graph)
    layouts = _layouts(graph, hw.pe_rows, producers, im2col)
    order = [n for n in graph.nodes if rules_for(n.op, "lowering").lowering == LOWERED]
    if not order:
        raise FpgagenError(f"cannot map graph {graph.name!r}: it has no conv, pool or add node")
    fusion = fusions(graph, graph.shapes(), layouts) if fuse_pools else {}
    return concat_of, im2col, layouts, order, fusion


# --- checks --------------------------------------------------------------------------------

def _check_nodes(graph: Graph):
    last = graph.nodes[-1].name if graph.nodes else None
    fc = fully_connected(graph)
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
        if (isinstance(op, GlobalAvgPool)
                and (n.name != last or list(graph.outputs) != [n.name])
                and (fc is None or graph.node(fc).inputs[0] != n.name)):
            raise FpgagenError(f"cannot map global_avgpool node {n.name!r}: it must be the last "
                               f"node and the only graph output, or be read only by a 1x1 "
                               f"conv (stride 1, no padding, one group: the fully connected "
                               f"layer) that is (last node {last!r}, outputs "
                               f"{list(graph.outputs)}, readers of {n.name!r}: "
                               f"{[r.name for r in graph.consumers(n.name)]})")
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
    bits = graph.quant.act_lane_bits
    lo, hi = lane_range(bits)
    for t in places:
        qt = graph.quant.types[t]
        if qt.min < lo or qt.max > hi:
            raise FpgagenError(f"cannot map tensor {t!r}: its type {qt} does not fit the "
                               f"{bits}-bit activation lanes")


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


@dataclass(frozen=True)
class _Buffer:
    base: int
    rows: int
    w: int
    groups: int

    @property
    def words(self) -> int:
        return self.rows * self.w * self.groups

    @property
    def end(self) -> int:
        return self.base + self.words


def _place(graph, lanes, layouts, net: Network, plan: BandPlan, runs, reuse_memory):
    """Buffers of ``plan.ring_rows`` rows, their liveness in instructions and addresses;
    ``{tensor: TensorPlacement}`` (also for the convs whose output only the pooling unit
    or the chunk buffer sees: their loop geometry, at no address)."""
    shapes = graph.shapes()
    buffers, _ = _allocate(graph, net, plan, runs, reuse_memory)
    places = {}
    for t in [graph.input_name] + [n.name for n in graph.nodes]:
        if (t != graph.input_name and isinstance(graph.node(t).op, GlobalAvgPool)
                and t not in net.stored):  # a GAP streaming the scores
            continue
        lay = layouts[t]
        b = net.key_of.get(t, t)
        if t in net.stored or t == net.chunked:
            buf = buffers[b]
            h, w = (shapes[t][1:] if t != graph.input_name else
                    (net.heights[b], buf.w))
            places[t] = TensorPlacement(name=t, base=buf.base, h=h, w=w,
                                        pixel_groups=buf.groups,
                                        group_offset=net.offset.get(t, 0),
                                        channels=len(lay.positions), groups=lay.groups,
                                        positions=lay.positions, rows=buf.rows)
        elif t in layouts and t in shapes and t not in net.fused_pools:
            h, w = shapes[t][1:]  # a conv whose output goes to the pooling unit
            places[t] = TensorPlacement(name=t, base=0, h=h, w=w, pixel_groups=lay.groups,
                                        group_offset=0, channels=len(lay.positions),
                                        groups=lay.groups, positions=lay.positions)
    return places, buffers


def _allocate(graph, net: Network, plan: BandPlan, runs, reuse_memory):
    """First-fit addresses of the buffers (``{buffer: _Buffer}`` in the order they are
    first written) and, per region, the most words live at once during its instructions
    (what the region needs, whatever the allocator's fragmentation)."""
    first, last = {}, {}
    end = len(runs)
    for k, run in enumerate(runs):
        s = net.stages[run.band.stage]
        for b in ([s.out] if s.out else []):
            first.setdefault(b, k)
            last[b] = max(last.get(b, k), k)
        for b in s.inputs:
            last[b] = k
    for t in graph.outputs:
        b = net.key_of.get(t, t)
        if b in first:
            last[b] = end
    sizes = {}
    for b, h in net.heights.items():
        if b not in first:
            continue
        w, groups = net.widths[b]
        rows = plan.ring_rows.get(b, h)
        if b == net.chunked:
            groups = net.chunk_groups
            rows = h
        sizes[b] = (rows, w, groups)
    alloc, buffers = _FirstFit(), {}
    frees: dict[int, list[str]] = {}
    starts: dict[int, list[str]] = {}
    for b in sizes:
        frees.setdefault(last[b], []).append(b)
        starts.setdefault(first[b], []).append(b)
    live, peaks = 0, {}
    for k in range(end):
        for b in starts.get(k, ()):
            rows, w, groups = sizes[b]
            buffers[b] = _Buffer(alloc.take(rows * w * groups), rows, w, groups)
            live += buffers[b].words
        region = net.stages[runs[k].band.stage].region
        peaks[region] = max(peaks.get(region, 0), live)
        if reuse_memory:
            for b in frees.get(k, ()):
                alloc.give(buffers[b].base, buffers[b].words)
                live -= buffers[b].words
    return buffers, peaks


# --- instructions --------------------------------------------------------------------------

class _Banks:
    """Weight, mask, bias and codebook contents, appended layer after layer."""

    def __init__(self, hw: HwParams, weight_bits: int, streams: dict | None = None):
        self.hw = hw
        self.streams = streams  # encoded index streams by layer, kept between lowerings
        self.weight_bits = weight_bits
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        self.shifts: list[np.ndarray] = []
        self.starts: list[np.ndarray] = []
        self.masks: list[np.ndarray] = []
        self.codebooks: list[np.ndarray] = []
        self.weight_words = 0
        self.bias_words = 0
        self.mask_words = 0
        self.codebook_words = 0
        self.tile_depth = 0
        self.direct_codebooks: list[np.ndarray] = []
        self.direct_codebook_words = 0

    def add(self, weights: np.ndarray, biases: np.ndarray, shifts: np.ndarray,
            starts: np.ndarray | None = None):
        """Append ``(cols, words, rows)`` weights and ``(cols, entries)`` biases and
        shifts (and index stream starts ``(cols, entries, 2)``, relative to these
        weights); returns their base addresses."""
        bases = self.weight_words, self.bias_words
        if starts is None:
            starts = np.zeros(biases.shape + (2,), dtype=np.int64)
        else:
            starts = starts + np.array([self.weight_words, 0])
        self.weights.append(weights)
        self.biases.append(biases)
        self.shifts.append(shifts)
        self.starts.append(starts)
        self.weight_words += weights.shape[1]
        self.bias_words += biases.shape[1]
        return bases

    def add_compressed(self, index: np.ndarray, groups: int, index_bits: int,
                       codebook: np.ndarray, biases: np.ndarray, shifts: np.ndarray):
        """Append a compressed layer: ``index`` ``(cols, groups * tile, rows)`` in the
        dense word layout (-1: no weight stored), its codebook, biases and shifts; returns
        the mask, bias and codebook base addresses."""
        lanes, wb = self.hw.pe_rows, self.weight_bits
        word_bits = weight_word_bits(lanes, wb)
        key = (len(self.masks), index.shape, groups, index_bits, word_bits)
        if self.streams is not None and key in self.streams \
                and np.array_equal(self.streams[key][0], index):
            enc = self.streams[key][1]
        else:
            enc = encode_streams(index, groups, index_bits, word_bits)
            if self.streams is not None:
                self.streams[key] = (index, enc)
        depth = max(1, max(len(w) for w in enc.index_words))
        words = np.zeros((self.hw.pe_cols, depth), dtype=object)
        for c, col in enumerate(enc.index_words):
            words[c, :len(col)] = col
        # each packed word as the lanes of a weight word (weight_bits each, two's complement)
        shifts_l = np.arange(lanes, dtype=object) * wb
        lane_codes = (words[:, :, None] >> shifts_l) & ((1 << wb) - 1)
        lane_codes = lane_codes.astype(np.int64)
        lane_codes -= (lane_codes >> (wb - 1)) << wb
        _, bias_base = self.add(lane_codes.astype(np.int16), biases, shifts, enc.starts)
        mask_base, cb_base = self.mask_words, self.codebook_words
        self.masks.append(enc.masks)
        self.mask_words += enc.masks.shape[1]
        slots = np.zeros(1 << index_bits, dtype=np.int64)
        slots[:len(codebook)] = codebook
        self.codebooks.append(slots)
        self.codebook_words += len(slots)
        self.tile_depth = max(self.tile_depth, index.shape[1] // groups)
        return mask_base, bias_base, cb_base

    def add_direct(self, index: np.ndarray, index_bits: int, codebook: np.ndarray,
                   biases: np.ndarray, shifts: np.ndarray):
        """Append a direct codebook layer (:mod:`fpgagen.hw.direct_codebook`): ``index``
        ``(cols, words, rows)`` in the dense word layout (the index of every lane), its
        codebook, biases and shifts; returns the weight, bias and codebook base addresses
        (the codebook's in :meth:`direct_codebook`)."""
        if index.size and not 0 <= int(index.min()) <= int(index.max()) < 1 << index_bits:
            raise ValueError(f"indices {int(index.min())}..{int(index.max())} do not fit "
                             f"{index_bits} bits")
        # each lane's index as the byte of a weight-bank lane
        lanes = index.astype(np.uint8).view(np.int8)
        weight_base, bias_base = self.add(lanes, biases, shifts)
        slots = np.zeros(1 << index_bits, dtype=np.int64)
        slots[:len(codebook)] = codebook
        cb_base = self.direct_codebook_words
        self.direct_codebooks.append(slots)
        self.direct_codebook_words += len(slots)
        return weight_base, bias_base, cb_base

    def direct_codebook(self) -> np.ndarray | None:
        """The direct codebook layers' codebooks, ``2**index_bits`` slots each (``None``
        if there are none)."""
        return np.concatenate(self.direct_codebooks) if self.direct_codebooks else None

    def arrays(self):
        cols, rows = self.hw.pe_cols, self.hw.pe_rows
        if not self.weights:
            return (np.zeros((cols, 1, rows), np.int16), np.zeros((cols, 1), np.int64),
                    np.zeros((cols, 1), np.int64))
        return (np.concatenate(self.weights, axis=1), np.concatenate(self.biases, axis=1),
                np.concatenate(self.shifts, axis=1))

    def compressed(self) -> CompressedWeights | None:
        """The compressed layers' masks, starts and codebooks (``None`` if there are
        none)."""
        if not self.masks:
            return None
        return CompressedWeights(masks=np.concatenate(self.masks, axis=1),
                                 starts=np.concatenate(self.starts, axis=1),
                                 codebook=np.concatenate(self.codebooks),
                                 tile_depth=self.tile_depth)


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
    #: conv node -> its per-group lowering (:mod:`fpgagen.operators.conv_groups`), set by
    #: the conv's lowering rule; lowering splits its instructions per group
    group_splits: dict = dataclasses.field(default_factory=dict)

    def out_type_fields(self, node: Node) -> dict:
        """``out_signed`` and ``out_bits`` of ``node``'s output type; a type whose codes the
        hardware does not saturate to (:func:`~fpgagen.hw.spec.output_code_bits` of the
        graph's ``activation_bits``) is refused."""
        quant = self.graph.quant
        t = quant.types[node.name]
        widths = output_code_bits(quant.activation_bits)
        if t.bits not in widths:
            act, score = widths
            raise FpgagenError(f"cannot map {node.op.kind} node {node.name!r}: its output "
                               f"type {t} has {t.bits}-bit codes, and the hardware saturates "
                               f"to {act} or {score}-bit codes ({act}-bit activations, "
                               f"{score}-bit scores; a max pool or concat of the 9-bit "
                               f"network input keeps its type)")
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


# --- bands ---------------------------------------------------------------------------------

def _band_fields(stage: Stage, run: Run, base: dict, net: Network, places: dict, buffers: dict,
                 plan: BandPlan, fusion: dict, shapes: dict, layouts: dict,
                 pool_bases: dict, graph: Graph) -> dict:
    """The instruction fields of one run: the node's whole-tensor fields narrowed to the
    band's rows, the rings' slots, fused pooling, channel chunks."""
    lo, hi = run.band.lo, run.band.hi
    if stage.name == graph.input_name:  # LOAD: rows lo..hi-1 of the input into its ring
        p = places[stage.name]
        return dict(op=Opcode.LOAD, in_base=p.base, in_h=p.h, in_w=p.w,
                    in_groups=p.pixel_groups, in_pixel_groups=p.pixel_groups, kh=1, kw=1,
                    stride_h=1, stride_w=1, out_h=hi - lo, out_w=p.w, out_groups=1,
                    in_y0=lo, in_rows=p.rows, in_slot0=lo % p.rows)
    f = dict(base[stage.name])
    node = graph.node(stage.name)
    src = places[node.inputs[0]]
    if isinstance(node.op, GlobalAvgPool):
        f.update(in_rows=src.rows, in_slot0=0, in_y0=0)
        if run.chunk is not None:
            g0, g1 = run.chunk
            buf = buffers[net.chunked]
            f.update(in_base=buf.base, in_pixel_groups=buf.groups, out_groups=g1 - g0)
            if f.get("gap_store"):  # the chunk's averages into their groups
                f.update(out_group_offset=f["out_group_offset"] + g0)
        return f
    if stage.out is None:  # the fully connected conv: its words go to the score memory
        f.update(out_h=1, in_y0=0, in_rows=src.rows, in_slot0=0, out_rows=1, out_slot0=0,
                 to_scores=1, out_channels=shapes[node.name][0])
        return f
    ring = src.rows
    if isinstance(node.op, Add):
        in_y0 = lo
        in_slot0 = lo % ring
    else:
        in_y0 = lo * f["stride_h"]
        in_slot0 = (in_y0 - f["pad_h"]) % ring
    f.update(out_h=hi - lo, in_y0=in_y0, in_rows=ring, in_slot0=in_slot0)
    if run.chunk is not None:  # a channel chunk of the conv before the GAP
        g0, g1 = run.chunk
        buf = buffers[net.chunked]
        f = out_group_fields(f, g0, g1)
        f.update(out_base=buf.base, out_pixel_groups=buf.groups, out_group_offset=0,
                 out_rows=buf.rows, out_slot0=0)
        return f
    if stage.name in fusion:
        pool = graph.node(fusion[stage.name])
        pp = places[pool.name]
        k, s = pool.op.kernel[0], pool.op.stride[0]
        ph, pw = shapes[pool.name][1:]
        f.update(pool=1, pool_s=s, pool_overlap=k - s, pool_w=pw, pool_h=ph,
                 pool_a0=lo // s, pool_phase0=lo % s, pool_last=int(hi == stage.rows),
                 pool_base=pool_bases[stage.name], out_base=pp.base,
                 out_pixel_groups=pp.pixel_groups,
                 out_group_offset=pp.group_offset + net.pool_offset[stage.name],
                 out_rows=pp.rows, out_slot0=(lo // s) % pp.rows)
        return f
    out = places[stage.name]
    f.update(out_rows=out.rows, out_slot0=lo % out.rows)
    return f


class _WeightChunker:
    """Splits CONV instructions into output-group chunks whose weight data per PE column
    fits ``hw.weight_chunk_bits`` (:mod:`fpgagen.schedule.weight_chunks`); the bands of a
    layer share their split (``plans``: kept between lowerings of one graph, too)."""

    def __init__(self, hw: HwParams, weight_bits: int, compressed: CompressedWeights | None,
                 plans: dict | None = None):
        self.hw, self.weight_bits, self.compressed = hw, weight_bits, compressed
        self.budget = hw.weight_chunk_bits
        self.plans: dict = {} if plans is None else plans

    def bits(self, instr: Instr) -> int:
        return int(column_weight_bits(instr, self.hw, self.weight_bits,
                                      self.compressed).max(initial=0))

    def split(self, instr: Instr, macs: int, layer: str, first_group: int, layout: _Layout,
              lanes: int) -> list[tuple[Instr, int]]:
        """The chunks of ``instr`` (whose group 0 is the layer's ``first_group``) and the
        share of its ``macs`` each does (by the real channels of its groups)."""
        key = (instr.weight_base, instr.bias_base, instr.out_groups, instr.kh, instr.kw,
               instr.in_groups, instr.compressed, instr.index_bits)
        if key not in self.plans:
            self.plans[key] = out_group_chunks(instr, self.budget, self.bits, layer=layer,
                                               first_group=first_group)
        chunks = self.plans[key]
        if len(chunks) == 1:
            return [(instr, macs)]
        pos = np.asarray(layout.positions)

        def done(g):  # macs of the instruction's first g groups
            real = int(((pos >= first_group * lanes) & (pos < (first_group + g) * lanes)).sum())
            total = int(((pos >= first_group * lanes)
                         & (pos < (first_group + instr.out_groups) * lanes)).sum())
            return macs * real // total if total else 0

        fields = instr.fields()
        return [(Instr(**{**out_group_fields(fields, g0, g1),
                          "last": int(instr.last and g1 == instr.out_groups)}),
                 done(g1) - done(g0)) for g0, g1 in chunks]


def _band_macs(macs: int, run: Run, stage: Stage, net: Network, layouts: dict,
               lanes: int) -> int:
    """The node's multiply-accumulates done by one run (its rows, or its channel chunk)."""
    if not macs:
        return 0
    if run.chunk is not None:
        channels = len(layouts[net.chunked].positions)
        g0, g1 = run.chunk
        return macs * max(0, min(channels, g1 * lanes) - g0 * lanes) // channels
    return macs * (run.band.hi - run.band.lo) // stage.rows


def _activation_plan(net: Network, plan: BandPlan, buffers: dict, lanes: int, pool_depth: int,
                     whole_words: int, cuts: tuple[str, ...],
                     lane_bits: int = ACT_LANE_BITS) -> ActivationPlan:
    tensors = {}
    for t in sorted(net.stored):
        tensors.setdefault(net.key_of.get(t, t), []).append(t)
    if net.chunked is not None:
        tensors.setdefault(net.chunked, []).append(net.chunked)
    rows = []
    for b, buf in buffers.items():  # in the order they are first written
        rows.append(BufferPlan(name=b, tensors=tuple(tensors.get(b, (b,))),
                               height=net.heights[b], width=buf.w, groups=buf.groups,
                               rows_kept=buf.rows, base=buf.base,
                               chunk=b == net.chunked))
    return ActivationPlan(steps=plan.steps, buffers=tuple(rows),
                          words=max([1] + [b.end for b in buffers.values()]),
                          whole_words=whole_words, pool_state_words=pool_depth, lanes=lanes,
                          lane_bits=lane_bits,
                          region_steps=tuple(plan.region_steps[r]
                                             for r in sorted(plan.region_steps)),
                          cuts=cuts)
