"""The fit verdict (used / available per resource), the per-layer resource table, and
proposals: concrete changes of options that make a design fit, each checked by the same
model.

Resources: block RAM (every block type of the board, in that type's blocks), hard
multipliers, LUTs and flip-flops. A design fits when every resource is within the device.
"""

import math
from dataclasses import dataclass, field, replace
from typing import Callable

from .board import Board
from .bram_fit import MemoryFit
from .params import PE_SIZES, HwParams
from .spec import ACT_LANE_BITS

__all__ = ["Resource", "Verdict", "make_verdict", "multipliers_per_mac", "mac_multipliers",
           "default_pe", "layer_rows", "performance", "DesignPoint", "Proposal", "propose",
           "ACT_OPERAND_BITS", "WIDTH_STEPS", "INPUT_SIZE_STEPS", "CLASS_STEPS"]

#: Width of the activation operand of every multiplier (9-bit two's complement codes).
ACT_OPERAND_BITS = ACT_LANE_BITS

#: Width multipliers tried by the proposals, largest first.
WIDTH_STEPS = (0.75, 0.5, 0.375, 0.25, 0.1875, 0.125, 0.0625)
#: Input sizes tried by the proposals, largest first.
INPUT_SIZE_STEPS = (192, 160, 128, 112, 96, 80, 64, 48, 32)
#: Class counts tried by the proposals, largest first.
CLASS_STEPS = (100, 10)


# --- resources and verdict ----------------------------------------------------------------

@dataclass(frozen=True)
class Resource:
    """One resource of the device.

    Attributes
    ----------
    key : str
        ``bram`` (the main block RAM), ``dsp``, ``lut``, ``ff``, or the lower-case name of
        another memory block type (``spram``).
    unit : str
        What is counted (``M9K``, ``RAMB18E1``, ``18x18``, ``LUT``, ``FF``).
    used, available : int
    """

    key: str
    unit: str
    used: int
    available: int

    @property
    def fits(self) -> bool:
        return self.used <= self.available

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.available if self.available else math.inf

    @property
    def ratio(self) -> float:
        """``used / available``: how many times the device's amount the design needs."""
        return self.used / self.available if self.available else math.inf

    @property
    def over(self) -> int:
        """How many more than available (0 when it fits)."""
        return max(0, self.used - self.available)


@dataclass(frozen=True)
class Verdict:
    """Used and available amounts of every resource and whether the design fits."""

    resources: tuple[Resource, ...]

    @property
    def fits(self) -> bool:
        return all(r.fits for r in self.resources)

    @property
    def overflows(self) -> tuple[Resource, ...]:
        return tuple(r for r in self.resources if not r.fits)

    def __getitem__(self, key: str) -> Resource:
        for r in self.resources:
            if r.key == key:
                return r
        raise KeyError(key)


def multipliers_per_mac(board: Board, weight_bits: int = 8) -> float:
    """Hard multipliers one MAC unit takes on ``board``: a ``9 x weight_bits`` signed
    product.

    ``18x18`` on MAX 10: half (Quartus packs two products in one multiplier's 9x9 mode);
    ``18x18`` on ECP5: one (the sysDSP has a 9x9 mode, but Yosys's ``synth_ecp5``, the flow
    of the ECP5 project, maps every product to its own MULT18X18D); ``dsp48e1``: one (its
    25x18 multiplier cannot be shared by two products with 9-bit activations); ``mac16``
    (iCE40): one (its 8x8 halves are too narrow for 9-bit activations). Unknown types: one.
    """
    if board.multiplier == "18x18" and board.family == "max10" \
            and max(ACT_OPERAND_BITS, weight_bits) <= 9:
        return 0.5
    return 1.0


def mac_multipliers(hw: HwParams, board: Board, weight_bits: int = 8) -> int:
    """Hard multipliers of the PE array (``pe_rows * pe_cols`` MAC units)."""
    return math.ceil(hw.pe_rows * hw.pe_cols * multipliers_per_mac(board, weight_bits))


def default_pe(board: Board, weight_bits: int = 8, largest: int = 16,
               count: Callable[[int], int] | None = None) -> int:
    """Side of the largest square PE array (at most ``largest``) whose multipliers the
    board has; 2 when even that does not fit.

    ``count(n)``: the multipliers of an ``n x n`` design (default: those of the PE array,
    :func:`mac_multipliers`).
    """
    if count is None:
        def count(n):
            return mac_multipliers(HwParams(pe_rows=n, pe_cols=n), board, weight_bits)
    for n in sorted((s for s in PE_SIZES if s <= largest), reverse=True):
        if count(n) <= board.multipliers:
            return n
    return min(PE_SIZES)


def make_verdict(board: Board, memfit: MemoryFit, logic: dict) -> Verdict:
    """The verdict of a design: its memory placement plus the logic estimate ``logic``
    (``{"lut", "ff", "dsp"}``)."""
    totals = memfit.totals
    res = []
    for block in board.memory:
        key = "bram" if block is board.block_ram else block.name.lower()
        res.append(Resource(key, block.name, totals[block.name], block.count))
    res.sort(key=lambda r: r.key != "bram")
    res += [Resource("dsp", board.multiplier, int(logic["dsp"]), board.multipliers),
            Resource("lut", "LUT", int(logic["lut"]), board.luts),
            Resource("ff", "FF", int(logic["ff"]), board.ffs)]
    return Verdict(tuple(res))


# --- per-layer table ------------------------------------------------------------------------

def _apportion(shares: list[float], total: int) -> list[int]:
    """Integers proportional to ``shares`` summing to ``total`` (largest remainder; ties to
    the earlier entry)."""
    s = sum(shares)
    if total <= 0 or s <= 0:
        return [0] * len(shares)
    exact = [total * x / s for x in shares]
    out = [math.floor(x) for x in exact]
    order = sorted(range(len(shares)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[:total - sum(out)]:
        out[i] += 1
    return out


def _spans(entries: list[tuple[int, int]], depth: int) -> dict[int, int]:
    """``{instruction index: words}`` from ``(index, base)`` of the layers sharing a bank."""
    entries = sorted(entries, key=lambda e: (e[1], e[0]))
    out = {}
    for k, (i, base) in enumerate(entries):
        end = entries[k + 1][1] if k + 1 < len(entries) else depth
        out[i] = end - base
    return out


def layer_rows(program, graph, memfit: MemoryFit) -> list[dict]:
    """One row per instruction: name, opcode, output shape, MACs, predicted cycles, MAC
    utilization, weights (count, bits, bank words, stored bytes), the layer's share of the
    weight and bias bank blocks, and the bytes of its output tensor in the activation
    memory.

    The banks are shared by all layers, so a layer's ``bram`` is its share of the banks'
    blocks in proportion to the words it occupies (integers by largest remainder that sum
    to the banks' blocks). The activation memory is shared and not apportioned.
    """
    from .isa import Opcode
    from .spec import ACT_LANE_BITS

    hw = program.hw
    rows, cols = hw.pe_rows, hw.pe_cols
    wbits = int(getattr(program, "weight_bits", 8))
    convs = [(i, f) for i, f in enumerate(program.instructions) if f.op == Opcode.CONV]
    wwords = _spans([(i, f.weight_base) for i, f in convs], program.weight_depth)
    bwords = _spans([(i, f.bias_base) for i, f in convs], program.bias_depth)
    wblocks = memfit.blocks_of("weights_")
    bblocks = memfit.blocks_of("bias_")
    wshare = _apportion([wwords.get(i, 0) for i in range(len(program.layers))], wblocks)
    bshare = _apportion([bwords.get(i, 0) for i in range(len(program.layers))], bblocks)
    shapes = graph.shapes()
    weights = graph.weight_shapes()
    out = []
    for i, (f, info) in enumerate(zip(program.instructions, program.layers)):
        op = f.op
        w = weights.get(info.name)
        count = math.prod(w[0]) if w else 0
        words = wwords.get(i, 0)
        place = program.tensors.get(info.output)
        act_words = place.h * place.w * place.groups if place is not None else 0
        util = info.macs / (info.cycles_predicted * rows * cols) if info.cycles_predicted else 0
        out.append({
            "index": i, "name": info.name, "op": op.name.lower(),
            "shape": list(shapes.get(info.name, ())),
            "macs": int(info.macs), "cycles": int(info.cycles_predicted),
            "mac_utilization": round(util, 4),
            "weights": int(count), "weight_bits": wbits if count else 0,
            "weight_words": int(words),
            "weight_bytes": words * rows * cols * wbits // 8,
            "bram": wshare[i] + bshare[i],
            "activation_bytes": act_words * rows * ACT_LANE_BITS // 8,
        })
    return out


def performance(program, clock_mhz: float) -> dict:
    """Throughput from the cycle model: ``cycles`` of the program, ``frame_cycles`` with
    the input streamed in (one word per cycle) and the scores streamed out (three cycles
    each), frames per second at ``clock_mhz``."""
    hw = program.hw
    cycles = int(program.cycles_predicted)
    frame = int(program.input_words) + cycles + 3 * int(program.output_channels)
    macs = int(program.macs)
    util = macs / (cycles * hw.pe_rows * hw.pe_cols) if cycles else 0.0
    return {"macs": macs, "cycles": cycles, "frame_cycles": frame,
            "mac_utilization": round(util, 4), "clock_mhz": float(clock_mhz),
            "latency_ms": round(1e3 * frame / (clock_mhz * 1e6), 4),
            "fps": round(clock_mhz * 1e6 / frame, 3) if frame else 0.0}


# --- proposals ------------------------------------------------------------------------------

@dataclass(frozen=True)
class DesignPoint:
    """The options that size a design (with the network's defaults resolved)."""

    pe: int  #: side of the square PE array
    weight_bits: int
    input_size: int
    width: float
    num_classes: int

    def flags(self, base: "DesignPoint") -> list[str]:
        """Command-line options that turn ``base`` into this point."""
        out = []
        if self.pe != base.pe:
            out.append(f"--pe {self.pe}x{self.pe}")
        if self.weight_bits != base.weight_bits:
            out.append(f"--weight-bits {self.weight_bits}")
        if self.width != base.width:
            out.append(f"--width {self.width:g}")
        if self.input_size != base.input_size:
            out.append(f"--input-size {self.input_size}")
        if self.num_classes != base.num_classes:
            out.append(f"--num-classes {self.num_classes}")
        return out


@dataclass(frozen=True)
class Proposal:
    """A change of options that fits, with the verdict and figures the model gives it.

    Attributes
    ----------
    what : str
        Short description (``smaller input``).
    point : DesignPoint
    board : Board
    flags : list of str
        Options to add or change (``--board`` included when the board changes).
    verdict : Verdict
    performance : dict
        As :func:`performance`.
    """

    what: str
    point: DesignPoint
    board: Board
    flags: tuple[str, ...]
    verdict: Verdict
    performance: dict = field(default_factory=dict)


#: ``evaluate(point, board) -> (verdict, performance)``, or ``None`` when the point cannot be
#: compiled (e.g. too small an input for the network).
Evaluator = Callable[[DesignPoint, Board], "tuple[Verdict, dict] | None"]


class _Search:
    """Evaluations with a cache and a budget of network configurations (a configuration is
    quantized once; its PE arrays and boards are cheap)."""

    def __init__(self, evaluate: Evaluator, budget: int):
        self.evaluate = evaluate
        self.budget = budget
        self.cache = {}
        self.configs = set()

    def check(self, point: DesignPoint, board: Board):
        key = (point, board.key, board.name)
        if key not in self.cache:
            config = replace(point, pe=0)
            if config not in self.configs:
                if len(self.configs) >= self.budget:
                    return None
                self.configs.add(config)
            self.cache[key] = self.evaluate(point, board)
        return self.cache[key]

    def fitting(self, point: DesignPoint, board: Board, shrink: bool = True):
        """``(point, verdict, perf)`` of ``point`` or else (``shrink``) of the same point on
        the largest smaller PE array that fits; ``None`` when nothing fits. Smaller arrays
        are tried while multipliers or logic overflow, or block RAM by less than 2x (a
        narrower array pads fewer lanes, but never halves the memory)."""
        for pe in sorted((p for p in PE_SIZES if p <= point.pe), reverse=True):
            cand = replace(point, pe=pe)
            got = self.check(cand, board)
            if got is None:
                return None
            verdict, perf = got
            if verdict.fits:
                return cand, verdict, perf
            logic = any(r.key in ("dsp", "lut", "ff") for r in verdict.overflows)
            memory = max((r.ratio for r in verdict.overflows
                          if r.key not in ("dsp", "lut", "ff")), default=0.0)
            if not shrink or (not logic and memory >= 2.0):
                return None
        return None

    def mildest(self, points, board: Board):
        """The first of ``points`` (ordered mildest first) that fits on its own PE array,
        else the first that fits on a smaller one; by bisection (a point is assumed to fit
        when a milder one does)."""
        for shrink in (False, True):
            got = self._bisect(points, board, shrink)
            if got is not None:
                return got
        return None

    def _bisect(self, points, board: Board, shrink: bool):
        if not points:
            return None
        best = self.fitting(points[-1], board, shrink)
        if best is None:
            return None
        lo, hi = 0, len(points) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            got = self.fitting(points[mid], board, shrink)
            if got is not None:
                hi, best = mid, got
            else:
                lo = mid + 1
        return best


def _combinations(search: _Search, base: DesignPoint, board: Board, widths, sizes, extra):
    """For each width, the largest input size that fits, on the design's PE array and on a
    smaller one: the fitting (width, input size) pairs to choose from. Widths are tried from
    the smallest up and the search stops at the first width that fits at no size."""
    out = []
    for w in reversed(widths):
        pts = [replace(base, width=w, input_size=s, **extra) for s in sizes]
        found = [got for shrink in (False, True)
                 if (got := search._bisect(pts, board, shrink)) is not None]
        if not found:
            break
        out += found
    return out


def _combo_score(got):
    """Rank fitting combinations: the most MACs per frame kept, then the most frames/s."""
    _, _, perf = got
    return (perf.get("macs", 0), perf.get("fps", 0.0))


def _describe(point: DesignPoint, base: DesignPoint, other_board: bool) -> str:
    """What a proposal changes, in words (``a larger board, smaller input``)."""
    parts = ["a larger board"] if other_board else []
    for changed, words in ((point.pe < base.pe, "smaller PE array"),
                           (point.weight_bits < base.weight_bits, "fewer weight bits"),
                           (point.width < base.width, "smaller width"),
                           (point.input_size < base.input_size, "smaller input"),
                           (point.num_classes < base.num_classes, "fewer classes")):
        if changed:
            parts.append(words)
    return ", ".join(parts) or "unchanged"


def _steps(values, current):
    return [v for v in values if v < current]


def propose(base: DesignPoint, board: Board, evaluate: Evaluator, *, boards=(),
            narrow_weights: bool = True, base_blocks: dict | None = None, limit: int = 8,
            budget: int = 120) -> list[Proposal]:
    """Changes of options that make ``base`` fit, each checked with ``evaluate``.

    In order, on ``board``: a smaller PE array alone; one option changed (fewer weight bits,
    a smaller width, a smaller input, fewer classes: the mildest value that fits); if none
    of those fits, combinations of width and input size (the pair that keeps the most MACs
    on the design's PE array, and on any array), also with the fewest weight bits and with
    fewer classes (the pair keeping the most MACs on any array). Then each larger board of
    ``boards`` (more block RAM bits) with the same options or, failing that, the mildest
    smaller input that fits there. Candidates are tried on the design's PE array first and,
    when none fits there, on smaller arrays (see ``_Search.fitting``).

    Parameters
    ----------
    base : DesignPoint
        The options of the design that does not fit.
    board : Board
    evaluate : callable
        ``evaluate(point, board) -> (Verdict, performance dict)`` or ``None``.
    boards : iterable of Board
        Other boards to propose.
    narrow_weights : bool
        Whether stored weights shrink with ``--weight-bits`` (else that option is not
        proposed).
    base_blocks : dict, optional
        ``{"weights": n, "activation": n}``: main block RAM blocks of the base design's
        weight banks and activation memory on ``board``. A single option that cannot shrink
        the part that alone overflows is then not tried (fewer weight bits or classes when
        the activation memory alone is too large, a smaller input when the weights are).
    limit : int
        Most proposals returned.
    budget : int
        Most network configurations evaluated.
    """
    search = _Search(evaluate, budget)
    found: list[Proposal] = []

    def add(got, on=board) -> bool:
        if got is None:
            return False
        point, verdict, perf = got
        if len(found) < limit and not any(p.point == point and p.board is on for p in found):
            flags = ([f"--board {on.key}"] if on is not board else []) + point.flags(base)
            found.append(Proposal(_describe(point, base, on is not board), point, on,
                                  tuple(flags), verdict, perf))
        return True

    wb_steps = [b for b in (6, 4) if b < base.weight_bits] if narrow_weights else []
    widths = _steps(WIDTH_STEPS, base.width)
    sizes = _steps(INPUT_SIZE_STEPS, base.input_size)
    classes = _steps(CLASS_STEPS, base.num_classes)
    avail = board.block_ram.count
    act_too_big = base_blocks is not None and base_blocks["activation"] > avail
    weights_too_big = base_blocks is not None and base_blocks["weights"] > avail

    single = add(search.fitting(base, board))
    axes = [
        [] if act_too_big else [replace(base, weight_bits=b) for b in wb_steps],
        [replace(base, width=w) for w in widths],
        [] if weights_too_big else [replace(base, input_size=s) for s in sizes],
        [] if act_too_big else [replace(base, num_classes=c) for c in classes],
    ]
    for points in axes:
        single = add(search.mildest(points, board)) or single

    if not single:
        extras = [{}]
        if wb_steps:
            extras.append({"weight_bits": wb_steps[-1]})
        if classes:
            extras.append({"num_classes": classes[0]})
        for extra in extras:
            pairs = _combinations(search, base, board, [base.width, *widths],
                                  [base.input_size, *sizes], extra)
            same_pe = [g for g in pairs if g[0].pe == base.pe]
            if not extra and same_pe:
                add(max(same_pe, key=_combo_score))
            if pairs:
                add(max(pairs, key=_combo_score))

    bigger = sorted((b for b in boards if b.block_ram_bits > board.block_ram_bits),
                    key=lambda b: (b.block_ram_bits, b.key))
    for other in bigger:
        if not add(search.fitting(base, other), on=other):
            add(search.mildest([replace(base, input_size=s) for s in sizes], other), on=other)
    return found
