"""The network as band stages (:class:`fpgagen.schedule.bands.Stage`) for the lowering:
which max pools run inside the convolutions before them, which buffer every tensor lives
in, what each stage reads and writes, where a region may be cut, and the plan's bands as
instructions (with the channel chunks of the conv before the GAP)."""

import dataclasses
from dataclasses import dataclass

from ..errors import FpgagenError
from ..hw.pooling import check_fusable
from ..ir import Add, Concat, Conv2d, GlobalAvgPool, Graph, MaxPool
from .bands import Band, BandPlan, Stage
from .program import TensorWrite

__all__ = ["Network", "Run", "fusions", "fully_connected", "network_stages", "expand",
           "cut_positions"]


@dataclass
class Network:
    """The network as band stages, and where each tensor's codes go."""

    stages: list
    heights: dict  # buffer -> rows
    widths: dict  # buffer -> (w, pixel groups)
    sinks: set
    same_rows: list
    key_of: dict  # tensor -> buffer
    offset: dict  # tensor -> first group in its buffer
    fused_pools: set  # max pool nodes run inside their convs
    fusion: dict  # fused conv -> its max pool
    pool_offset: dict  # fused conv -> first group it writes in its pool's output
    stored: set  # tensors held in the activation memory
    chunked: str | None = None  # the conv before the GAP, run in channel chunks
    chunk_groups: int = 0
    unstored: set = dataclasses.field(default_factory=set)  # computed, never held whole


@dataclass(frozen=True)
class Run:
    """One instruction: a band of a stage, or a channel chunk of a tail stage."""

    band: Band
    chunk: tuple[int, int] | None = None
    writes: tuple = ()


def fusions(graph: Graph, shapes: dict, layouts: dict) -> dict[str, str]:
    """``{conv: max pool}`` for every max pool fused into the conv(s) before it: the pool's
    input is a conv's output, or a concat of conv outputs, read by the pool alone."""
    out = {}
    outputs = set(graph.outputs)
    for n in graph.nodes:
        if not isinstance(n.op, MaxPool):
            continue
        src = n.inputs[0]
        op = n.op
        if check_fusable(op.kernel, op.stride, op.padding, shapes[src][1:]) is not None:
            continue
        prod = graph.node(src) if src != graph.input_name else None
        if prod is None or src in outputs or len(graph.consumers(src)) != 1:
            continue
        if isinstance(prod.op, Conv2d):
            convs = [src]
        elif isinstance(prod.op, Concat):
            convs = list(prod.inputs)
            if not all(c != graph.input_name and isinstance(graph.node(c).op, Conv2d)
                       and c not in outputs and len(graph.consumers(c)) == 1 for c in convs):
                continue
        else:
            continue
        for c in convs:
            out[c] = n.name
    return out


def fully_connected(graph: Graph) -> str | None:
    """The fully connected layer: the conv (1x1, stride 1, no padding, one group) that is
    the only reader of a global average pool, the last node and the only graph output (its
    output goes to the score memory); ``None`` if there is none."""
    if not graph.nodes or list(graph.outputs) != [graph.nodes[-1].name]:
        return None
    last = graph.nodes[-1]
    if not graph.is_fully_connected(last) or len(graph.consumers(last.inputs[0])) != 1:
        return None
    return last.name


def network_stages(graph, shapes, layouts, concat_of, im2col, fusion, order, steps) -> Network:
    """The stages of ``graph`` in execution order: the input's LOAD, then every lowered
    node but the fused max pools (a conv with a fused pool writes the pool's buffer); with
    ``steps > 1`` a conv read only by the GAP runs in channel chunks after the bands (a
    tail stage). The GAP is a tail stage, and so is the fully connected conv after it
    (:func:`fully_connected`); whichever is last writes the score memory, not a buffer.
    Buffers: a concat and its inputs share one, so do a fused pool and its convs'
    outputs."""
    key_of, offset = {}, {}
    for n in graph.nodes:
        if isinstance(n.op, Concat):
            groups = 0
            for i in n.inputs:
                key_of[i], offset[i] = n.name, groups
                groups += layouts[i].groups
    fused_pools = set(fusion.values())
    pool_offset = {c: 0 if graph.node(p).inputs[0] == c else offset[c]
                   for c, p in fusion.items()}
    prepool = set(fusion)
    for p in fused_pools:
        prepool.add(graph.node(p).inputs[0])

    def key(t):
        return key_of.get(t, t)

    gap = next((n for n in order if isinstance(n.op, GlobalAvgPool)), None)
    chunked = None
    if steps > 1 and gap is not None:
        src = gap.inputs[0]
        prod = graph.node(src) if src != graph.input_name else None
        if (prod is not None and isinstance(prod.op, Conv2d) and src not in fusion
                and src not in key_of and src not in graph.outputs
                and len(graph.consumers(src)) == 1):
            chunked = src
    src_h = shapes[graph.input_name][1]
    if im2col is not None:
        src_h = shapes[im2col.conv][1]
    heights, widths = {}, {}

    def tensor_hw(t):
        if t == graph.input_name and im2col is not None:
            return shapes[im2col.conv][1:]
        return shapes[t][1:]

    fc = fully_connected(graph)
    # the tensors the score memory takes: the last GAP's, or the fully connected conv's
    scored = ({fc} if fc is not None else
              {n.name for n in graph.nodes if isinstance(n.op, GlobalAvgPool)})
    for t in [graph.input_name] + [n.name for n in graph.nodes]:
        if t in prepool or t in scored:
            continue
        h, w = tensor_hw(t)
        k = key(t)
        heights[k] = h
        groups = layouts[k].groups if k in layouts else layouts[t].groups
        widths[k] = (w, groups)
    stages = [Stage(name=graph.input_name, out=key(graph.input_name), inputs=(), rows=src_h,
                    out_rows=src_h)]
    same_rows = []
    for n in order:
        op = n.op
        if n.name in fused_pools:
            continue
        h = shapes[n.name][1]
        if isinstance(op, GlobalAvgPool):
            stages.append(Stage(name=n.name, out=None if n.name in scored else key(n.name),
                                inputs=(key(n.inputs[0]),), rows=1,
                                in_rows=heights[key(n.inputs[0])], out_rows=1, tail=True))
            continue
        if n.name == fc:
            stages.append(Stage(name=n.name, out=None, inputs=(key(n.inputs[0]),), rows=1,
                                in_rows=1, out_rows=1, tail=True))
            continue
        src = n.inputs[0]
        in_rows = heights[key(src)]
        if isinstance(op, Conv2d):
            kh, sh, ph = op.kernel[0], op.stride[0], op.padding[0]
            if im2col is not None and im2col.conv == n.name:
                kh, sh, ph = 1, 1, 0
            if n.name in fusion:
                pool = graph.node(fusion[n.name])
                ph_rows = shapes[pool.name][1]
                stages.append(Stage(name=n.name, out=key(pool.name), inputs=(key(src),),
                                    rows=h, in_rows=in_rows, kernel=kh, stride=sh, pad=ph,
                                    pool=(pool.op.kernel[0], pool.op.stride[0], ph_rows),
                                    out_rows=ph_rows))
            else:
                stages.append(Stage(name=n.name, out=key(n.name), inputs=(key(src),), rows=h,
                                    in_rows=in_rows, kernel=kh, stride=sh, pad=ph, out_rows=h,
                                    tail=n.name == chunked))
        elif isinstance(op, MaxPool):
            stages.append(Stage(name=n.name, out=key(n.name), inputs=(key(src),), rows=h,
                                in_rows=in_rows, kernel=op.kernel[0], stride=op.stride[0],
                                pad=op.padding[0], out_rows=h))
        elif isinstance(op, Add):
            a, b = (key(i) for i in n.inputs)
            stages.append(Stage(name=n.name, out=key(n.name), inputs=(a, b), rows=h,
                                in_rows=in_rows, out_rows=h))
            same_rows.append({a, b})
        else:
            raise FpgagenError(f"cannot map {op.kind} node {n.name!r}: no band stage for it")
    # the stages that write each tensor (a fused pool's: its convs; a concat's: its inputs')
    writer = {graph.input_name: [graph.input_name]}
    for st in stages:
        writer.setdefault(fusion.get(st.name, st.name), []).append(st.name)
    for n in graph.nodes:
        if isinstance(n.op, Concat):
            writer[n.name] = [w for i in n.inputs for w in writer.get(i, ())]

    def sources(node_inputs):
        return tuple(dict.fromkeys(w for t in node_inputs for w in writer.get(t, ())))

    stages = [dataclasses.replace(st, sources=sources(graph.node(st.name).inputs))
              if st.name != graph.input_name else st for st in stages]
    sinks = {b for s in stages if s.tail for b in s.inputs}
    sinks |= {key(t) for t in graph.outputs if key(t) in heights}
    if chunked is not None:
        sinks.add(key(chunked))
    stored = {t for t in [graph.input_name] + [n.name for n in graph.nodes]
              if key(t) in heights and t not in prepool and t != chunked}
    chunk_groups = 0
    if chunked is not None:
        og = layouts[chunked].groups
        chunk_groups = -(-og // min(og, steps))
    unstored = set(prepool) | ({chunked} if chunked else set())
    return Network(stages=stages, heights=heights, widths=widths, sinks=sinks, unstored=unstored,
                same_rows=same_rows, key_of=key_of, offset=offset, fused_pools=fused_pools,
                fusion=fusion,
                pool_offset=pool_offset, stored=stored, chunked=chunked,
                chunk_groups=chunk_groups)


def expand(net: Network, plan: BandPlan) -> list[Run]:
    """The plan's bands as instructions: a chunked conv and the GAP alternate chunk by
    chunk; every run lists the stored tensor rows it completes."""
    runs = []
    tail = [b for b in plan.bands if net.stages[b.stage].tail]
    body = [b for b in plan.bands if not net.stages[b.stage].tail]
    for b in body:
        s = net.stages[b.stage]
        writes = []
        lo, hi = s.written(b.lo), s.written(b.hi)
        if hi > lo:
            writes = [TensorWrite(t, lo, hi) for t in _written_tensors(net, s)]
        runs.append(Run(b, writes=tuple(writes)))
    if net.chunked is None:
        for b in tail:
            s = net.stages[b.stage]
            writes = ([TensorWrite(t, 0, s.rows) for t in _written_tensors(net, s)]
                      if s.out is not None else [])
            runs.append(Run(b, writes=tuple(writes)))
        return runs
    conv = next(b for b in tail if net.stages[b.stage].name == net.chunked)
    gap = next(b for b in tail if net.chunked in net.stages[b.stage].inputs)
    gap_stage = net.stages[gap.stage]
    gap_writes = (tuple(TensorWrite(t, 0, 1) for t in _written_tensors(net, gap_stage))
                  if gap_stage.out is not None else ())
    groups = net.widths[net.key_of.get(net.chunked, net.chunked)][1]
    for g0 in range(0, groups, net.chunk_groups):
        chunk = (g0, min(groups, g0 + net.chunk_groups))
        runs.append(Run(conv, chunk=chunk))
        runs.append(Run(gap, chunk=chunk, writes=gap_writes))
    for b in tail:  # the fully connected conv after the GAP
        if b is not conv and b is not gap:
            runs.append(Run(b))
    return runs


def _written_tensors(net: Network, stage: Stage) -> list[str]:
    """The stored tensors a stage's instructions write rows of: its output (for a fused
    conv, the pool's) and the concat that output belongs to."""
    t = net.fusion.get(stage.name, stage.name)
    return [x for x in (t, net.key_of.get(t)) if x is not None and x in net.stored]



def cut_positions(net: Network) -> list[int]:
    """Stage positions ``k`` where a region may start (between stages ``k - 1`` and ``k``)."""
    stages = net.stages
    producer_pos: dict[str, list[int]] = {}
    for i, s in enumerate(stages):
        if s.out is not None:
            producer_pos.setdefault(s.out, []).append(i)
    body = [i for i, s in enumerate(stages) if not s.tail]
    out = []
    for k in range(2, len(body)):
        crossing = {b for s in stages[k:] for b in s.inputs
                    if any(i < k for i in producer_pos.get(b, ()))}
        if len(crossing) != 1:
            continue
        (b,) = crossing
        ps = [stages[i] for i in producer_pos[b]]
        if all(i < k for i in producer_pos[b]) and all(p.out_rows < p.in_rows for p in ps):
            out.append(k)
    return out
