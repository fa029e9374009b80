"""Row-band (depth-first) execution: which rows every layer computes in which instruction,
and how many rows of every tensor the activation memory keeps.

The compiler describes the network as *stages* in execution order (one per instruction
stream: the input LOAD, every conv, with its max pool fused or not, every unfused max
pool and add, and the tail that needs whole tensors: a conv read only by the global
average pool runs in channel chunks after all bands, then the GAP). :func:`plan_bands`
splits every stage before the tail into about ``steps`` bands of rows and orders them
deepest first: the next instruction is always a band of the last stage whose input rows
are all there, so the network runs depth-first and each row is consumed soon after it is
written. Tensors read by the tail or that are graph outputs (*sinks*) stay whole.

Each tensor then lives in a *ring* of ``R`` rows (row ``y`` in slot ``y mod R``): ``R`` is
the largest distance, at any write, between the newest row written and the oldest row a
reader still needs (:data:`~fpgagen.hw.isa.Instr` documents the addressing). ``steps = 1``
gives the whole-tensor schedule of one instruction per layer.
"""

from dataclasses import dataclass, field

from ..errors import FpgagenError
from ..hw.spec import ACT_LANE_BITS

__all__ = ["Stage", "Band", "BandPlan", "plan_bands", "pooled_rows_done", "conv_rows_for",
           "BufferPlan", "ActivationPlan"]


@dataclass(frozen=True)
class Stage:
    """One stream of instructions over a tensor's rows.

    Attributes
    ----------
    name : str
        The graph node (or the graph input, for the LOAD).
    out : str or None
        The buffer the stage writes (``None``: the GAP's scores).
    inputs : tuple of str
        Buffers read (two for an add, none for the LOAD).
    rows : int
        Rows of the stage's loop (the conv output's rows when pooling is fused).
    in_rows : int
        Rows of the input tensors.
    kernel, stride, pad : int
        The vertical window of the reads (1, 1, 0 for add and LOAD).
    pool : tuple or None
        ``(k, s, pooled_rows)`` of a fused max pool: the stage writes pooled rows.
    out_rows : int
        Rows of the tensor written (pooled rows when fused).
    tail : bool
        Runs after all bands on whole inputs (the GAP, and a conv read only by it).
    region : int
        The region the stage belongs to: regions run one after the other, each in its own
        bands; a buffer read by a later region is kept whole.
    sources : tuple of str
        The stages that write the tensors this one reads (a concat buffer may also hold
        tensors it does not read).
    """

    name: str
    out: str | None
    inputs: tuple[str, ...]
    rows: int
    in_rows: int = 0
    kernel: int = 1
    stride: int = 1
    pad: int = 0
    pool: tuple[int, int, int] | None = None
    out_rows: int = 0
    tail: bool = False
    region: int = 0
    sources: tuple[str, ...] = ()

    def need(self, done: int) -> int:
        """Input rows needed (from row 0) to compute loop rows ``0 .. done - 1``."""
        if done <= 0 or not self.inputs:
            return 0
        return min(self.in_rows, (done - 1) * self.stride - self.pad + self.kernel)

    def low(self, done: int) -> int:
        """The lowest input row the loop rows from ``done`` on read (``in_rows`` once the
        stage is complete)."""
        if done >= self.rows:
            return self.in_rows
        return min(self.in_rows, max(0, done * self.stride - self.pad))

    def written(self, done: int) -> int:
        """Rows of the output tensor complete after loop rows ``0 .. done - 1``."""
        if self.pool is None:
            return done
        return pooled_rows_done(done, *self.pool, self.rows)

    def loop_rows_for(self, out_rows: int) -> int:
        """Loop rows needed so that ``out_rows`` rows of the output are complete."""
        if self.pool is None:
            return min(out_rows, self.rows)
        return conv_rows_for(out_rows, *self.pool, self.rows)


def pooled_rows_done(conv_rows: int, k: int, s: int, pooled: int, total: int) -> int:
    """Pooled rows complete once ``conv_rows`` of ``total`` conv rows exist: window ``j``
    ends at conv row ``min(j * s + k - 1, total - 1)``."""
    if conv_rows <= 0:
        return 0
    if conv_rows >= total:
        return pooled
    # windows j with j * s + k - 1 <= conv_rows - 1
    return max(0, min(pooled, (conv_rows - k) // s + 1))


def conv_rows_for(pooled_rows: int, k: int, s: int, pooled: int, total: int) -> int:
    """Conv rows needed for ``pooled_rows`` complete pooled rows."""
    if pooled_rows <= 0:
        return 0
    return min(total, (min(pooled_rows, pooled) - 1) * s + k)


@dataclass(frozen=True)
class Band:
    """One instruction of a banded stage: loop rows ``lo .. hi - 1``."""

    stage: int
    lo: int
    hi: int


@dataclass
class BandPlan:
    """The bands in execution order and the ring rows of every buffer.

    Attributes
    ----------
    steps : int
        The most band steps of any region (1: whole tensors everywhere).
    bands : list of Band
        The instructions of the banded stages, in execution order (the tail stages follow,
        one band each over all rows).
    ring_rows : dict
        ``{buffer: rows kept}``.
    region_steps : dict
        ``{region: band steps}``.
    """

    steps: int
    bands: list[Band]
    ring_rows: dict[str, int] = field(default_factory=dict)
    region_steps: dict[int, int] = field(default_factory=dict)


def plan_bands(stages: list[Stage], heights: dict[str, int], sinks: set[str],
               steps, same_rows: list[set[str]] = ()) -> BandPlan:
    """The band schedule and ring sizes of ``stages``, each in about ``steps`` bands.

    Every stage before the tail computes ``ceil(rows / steps)`` loop rows per instruction.
    The schedule is built greedily, deepest stage first: the next instruction is a band
    of the last stage (in execution order) whose inputs already hold every row that band
    reads (or of a ready stage just before it that it does not read from: siblings run in
    program order), so rows are consumed as soon as they can be and the rings stay
    short.

    Parameters
    ----------
    stages : list of Stage
        In a valid execution order (producers before readers); tail stages last.
    heights : dict
        ``{buffer: rows}`` of every buffer.
    sinks : set of str
        Buffers read after the bands (by tail stages or as graph outputs): kept whole.
    steps : int or dict
        Bands per stage (``>= 1``; 1: one instruction per stage, whole tensors), or
        ``{region: steps}``.
    same_rows : list of sets
        Buffers that must keep the same rows (the two inputs of an add read with one ring
        slot).
    """
    regions = sorted({s.region for s in stages if not s.tail})
    per_region = steps if isinstance(steps, dict) else {r: steps for r in regions}
    for r in regions:
        v = per_region.get(r)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise FpgagenError(f"band steps of region {r} must be a positive integer, not "
                               f"{v!r}")
    producers: dict[str, list[int]] = {}
    for i, s in enumerate(stages):
        if s.out is not None and not s.tail:
            producers.setdefault(s.out, []).append(i)
    later = set()  # buffers read by a later region or the tail
    for s in stages:
        for b in s.inputs:
            if any(stages[i].region != s.region or s.tail for i in producers.get(b, ())):
                later.add(b)
    sinks = set(sinks) | later
    done = [0] * len(stages)
    bands: list[Band] = []

    index = {s.name: i for i, s in enumerate(stages)}

    def available(s: Stage) -> int:
        """Rows of its inputs that every stage writing them has completed."""
        try:
            return min(stages[index[p]].written(done[index[p]]) for p in s.sources)
        except KeyError as e:
            raise FpgagenError(f"stage {s.name!r} reads from {e.args[0]!r}, which no band "
                               "stage is") from None

    for r in regions:
        banded = [i for i, s in enumerate(stages) if not s.tail and s.region == r]
        height = {i: -(-stages[i].rows // per_region[r]) for i in banded}

        def ready(i: int) -> bool:
            s = stages[i]
            if done[i] >= s.rows:
                return False
            hi = min(s.rows, done[i] + height[i])
            return not s.inputs or available(s) >= s.need(hi)

        remaining = sum(stages[i].rows for i in banded)
        while remaining:
            i = next((i for i in reversed(banded) if ready(i)), None)
            if i is None:
                raise FpgagenError("band schedule is stuck: no stage can run (a stage reads "
                                   "a buffer written after it)")
            # siblings in program order (the two expands of a fire module)
            while (i - 1 in height and ready(i - 1)
                   and stages[i - 1].name not in stages[i].sources):
                i -= 1
            hi = min(stages[i].rows, done[i] + height[i])
            bands.append(Band(i, done[i], hi))
            remaining -= hi - done[i]
            done[i] = hi
    for i, s in enumerate(stages):
        if s.tail:
            bands.append(Band(i, 0, s.rows))
    return BandPlan(steps=max(per_region.values(), default=1), bands=bands,
                    ring_rows=_ring_rows(stages, bands, heights, sinks, same_rows),
                    region_steps=dict(per_region))


def _ring_rows(stages, bands, heights, sinks, same_rows) -> dict[str, int]:
    """Rows each buffer keeps: at every write, from the oldest row a reader still needs to
    the newest row written."""
    done = [0] * len(stages)
    readers: dict[str, list[int]] = {}
    for i, s in enumerate(stages):
        for b in s.inputs:
            readers.setdefault(b, []).append(i)
    writers: dict[str, list[int]] = {}
    for i, s in enumerate(stages):
        if s.out is not None:
            writers.setdefault(s.out, []).append(i)
    rows = {b: 1 for b in heights}
    for band in bands:
        s = stages[band.stage]
        done[band.stage] = band.hi
        b = s.out
        if b is None:
            continue
        if b in sinks or any(stages[r].tail for r in readers.get(b, ())):
            rows[b] = heights[b]
            continue
        newest = s.written(band.hi)
        # kept: rows a reader still needs, rows another writer (of a concat) has not
        # written yet, and the band's own rows (each to its own slot)
        oldest = min([stages[r].low(done[r]) for r in readers.get(b, ())]
                     + [stages[w].written(done[w]) for w in writers[b] if w != band.stage]
                     + [s.written(band.lo)])
        rows[b] = max(rows[b], min(heights[b], newest - oldest))
    for b, rs in readers.items():  # the hardware keeps ring slots by adding the stride
        rows[b] = max(rows[b], *(stages[r].stride for r in rs))
    for group in same_rows:
        r = max(rows[b] for b in group)
        for b in group:
            rows[b] = r
    return rows


@dataclass(frozen=True)
class BufferPlan:
    """One buffer of the activation memory: what it holds and how many rows it keeps."""

    name: str  #: the buffer (a tensor, or the concat its inputs share)
    tensors: tuple[str, ...]  #: the tensors stored in it
    height: int  #: rows of the tensor
    width: int
    groups: int  #: words per pixel
    rows_kept: int  #: rows the buffer holds (``height``: whole)
    base: int  #: first word
    chunk: bool = False  #: a channel chunk of the conv before the GAP

    @property
    def words(self) -> int:
        return self.rows_kept * self.width * self.groups

    @property
    def whole(self) -> bool:
        return self.rows_kept >= self.height


@dataclass(frozen=True)
class ActivationPlan:
    """How a program uses the activation memory, for the build report.

    ``words`` is the activation memory's depth; ``whole_words`` what the same network
    (fused pooling included) needs with every tensor whole; ``pool_state_words`` the
    pool-state memory of the fused max pools (a memory of its own). ``steps`` is the most
    band steps of any region, ``region_steps`` the steps of every region in order and
    ``cuts`` the stages after which a new region starts."""

    steps: int
    buffers: tuple[BufferPlan, ...]
    words: int
    whole_words: int
    pool_state_words: int
    lanes: int
    region_steps: tuple[int, ...] = ()
    cuts: tuple[str, ...] = ()
    lane_bits: int = ACT_LANE_BITS  #: width of one lane of a word

    def regions_text(self) -> str:
        """``"32 bands up to fire3/expand3x3, 4 bands up to fire5/expand3x3, whole tensors
        after"``: the steps of every region and where it ends (``"8 bands"`` for one step
        count)."""
        steps = self.region_steps or (self.steps,)

        def label(n):
            return "whole tensors" if n == 1 else f"{n} bands"

        if len(set(steps)) == 1:
            return label(steps[0])
        return ", ".join([f"{label(n)} up to {c}" for n, c in zip(steps, self.cuts)]
                         + [f"{label(steps[-1])} after"])

    def bytes(self, words: int) -> int:
        """Bytes of ``words`` activation words (``lanes`` lanes of ``lane_bits``)."""
        return words * self.lanes * self.lane_bits // 8

    def as_dict(self) -> dict:
        """The plan as JSON-ready data."""
        return {
            "band_steps": self.steps,
            "banded": self.steps > 1,
            "region_band_steps": list(self.region_steps or (self.steps,)),
            "region_cuts": list(self.cuts),
            "regions_text": self.regions_text(),
            "words": self.words,
            "bytes": self.bytes(self.words),
            "whole_tensor_words": self.whole_words,
            "whole_tensor_bytes": self.bytes(self.whole_words),
            "pool_state_words": self.pool_state_words,
            "pool_state_bytes": self.bytes(self.pool_state_words),
            "buffers": [{"buffer": b.name, "tensors": list(b.tensors), "height": b.height,
                         "width": b.width, "words_per_pixel": b.groups,
                         "rows_kept": b.rows_kept, "whole": b.whole,
                         "channel_chunk": b.chunk, "words": b.words,
                         "bytes": self.bytes(b.words), "base": b.base}
                        for b in self.buffers],
        }
