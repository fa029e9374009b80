"""Proposals: concrete changes of options that make a design fit, each checked by the same
model as the design itself."""

import logging
from dataclasses import dataclass, field, replace
from typing import Callable

from ..devices.board import Board
from ..hw.params import PE_SIZES
from ..hw.spec import WEIGHT_BITS
from .verdict import Verdict

__all__ = ["DesignPoint", "Proposal", "propose", "propose_flash", "codebook_mixes",
           "WIDTH_STEPS", "INPUT_SIZE_STEPS", "CLASS_STEPS", "FLASH_MIX_BITS",
           "FLASH_INPUT_SIZE_STEPS"]

log = logging.getLogger(__name__)

#: Width multipliers tried by the proposals, largest first.
WIDTH_STEPS = (0.75, 0.5, 0.375, 0.25, 0.1875, 0.125, 0.0625)
#: Input sizes tried by the proposals, largest first.
INPUT_SIZE_STEPS = (192, 160, 128, 112, 96, 80, 64, 48, 32)
#: Class counts tried by the proposals, largest first.
CLASS_STEPS = (100, 10)
#: Input sizes tried by the flash proposals, largest first: finer than
#: :data:`INPUT_SIZE_STEPS` (a trained network loses accuracy fast as its input shrinks).
FLASH_INPUT_SIZE_STEPS = (208, 192, 176, 160, 144, 128, 112, 96, 80, 64, 48, 32)
#: Index bits of the flash proposals' codebook mixes (:func:`codebook_mixes`): every conv
#: layer at the first, the layers holding the most weights moved to the last, the next
#: ones to the middle.
FLASH_MIX_BITS = (6, 5, 4)
#: Most layers a mix moves to the middle index width (:func:`codebook_mixes`).
FLASH_MIX_MIDDLE = 2


@dataclass(frozen=True)
class DesignPoint:
    """The options that size a design (with the network's defaults resolved)."""

    pe: int  #: side of the square PE array
    weight_bits: int
    input_size: int
    width: float
    num_classes: int
    weight_format: str = "dense"  #: of every conv layer not in ``layer_formats`` (text form)
    #: ``((conv layer, format text), ...)`` overriding ``weight_format``, sorted
    layer_formats: tuple = ()
    #: where the weights live (``--weight-store``): ``bram`` or ``flash``; it changes the
    #: memories and the cycles, not the numbers
    weight_store: str = "bram"
    #: activation code width (``--activation-bits``)
    activation_bits: int = 8

    def numerics(self) -> tuple:
        """What decides the numbers the network computes (not the PE array)."""
        return (self.weight_bits, self.input_size, self.width, self.num_classes,
                self.weight_format, self.layer_formats, self.activation_bits)

    def flags(self, base: "DesignPoint") -> list[str]:
        """Command-line options that turn ``base`` into this point."""
        out = []
        if self.weight_store != base.weight_store:
            out.append(f"--weight-store {self.weight_store}")
        if self.pe != base.pe:
            out.append(f"--pe {self.pe}x{self.pe}")
        if self.weight_bits != base.weight_bits:
            out.append(f"--weight-bits {self.weight_bits}")
        if self.activation_bits != base.activation_bits:
            out.append(f"--activation-bits {self.activation_bits}")
        if self.weight_format != base.weight_format:
            out.append(f"--weight-format {self.weight_format}")
        old = dict(base.layer_formats)
        out += [f"--layer-format {k}={v}" for k, v in self.layer_formats if old.get(k) != v]
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
        As :func:`fpgagen.fit.layers.performance`.
    """

    what: str
    point: DesignPoint
    board: Board
    flags: tuple[str, ...]
    verdict: Verdict
    performance: dict = field(default_factory=dict)
    #: measured accuracy (:meth:`fpgagen.fit.accuracy.AccuracyProbe.measure`), ``None``: not
    #: measured
    accuracy: dict | None = None


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
    if point.weight_store != base.weight_store:
        parts.append(f"weights in {point.weight_store}")
    for changed, words in ((point.pe < base.pe, "smaller PE array"),
                           (point.weight_bits < base.weight_bits, "fewer weight bits"),
                           (point.activation_bits < base.activation_bits,
                            "fewer activation bits"),
                           (point.weight_format != base.weight_format,
                            f"weights stored {point.weight_format}"),
                           (point.layer_formats != base.layer_formats, "per-layer formats"),
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
            budget: int = 120, formats=(), reshape: bool = True) -> list[Proposal]:
    """Changes of options that make ``base`` fit, each checked with ``evaluate``.

    In order, on ``board``: a smaller PE array alone; one option changed (fewer activation
    bits, down to 8, for a base with wider ones; fewer weight bits, a cheaper weight format
    of ``formats``, a smaller width, a smaller input, fewer classes:
    the mildest value that fits); if none of those fits, combinations of width and input
    size (the pair that keeps the most MACs on the design's PE array, and on any array),
    also with the fewest weight bits, with the mildest weight format and with fewer
    classes (the pair keeping the most MACs on any array). Then each larger board of
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
    formats : sequence of str
        Weight formats to try (``pruned:8``), the mildest (largest storage) first.
    reshape : bool
        Whether the width and the class count may change (not with trained weights, which
        cannot follow).
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

    wb_steps = [b for b in (8, 6, 4) if b < base.weight_bits] if narrow_weights else []
    widths = _steps(WIDTH_STEPS, base.width) if reshape else []
    sizes = _steps(INPUT_SIZE_STEPS, base.input_size)
    classes = _steps(CLASS_STEPS, base.num_classes) if reshape else []
    formats = [f for f in formats if f != base.weight_format]
    avail = board.block_ram.count
    act_too_big = base_blocks is not None and base_blocks["activation"] > avail
    weights_too_big = base_blocks is not None and base_blocks["weights"] > avail

    single = add(search.fitting(base, board))
    # activation codes narrower than the base's (down to 8 bits) shrink the activation
    # memory, the one axis that helps when the activations alone are too big
    act_steps = list(range(base.activation_bits - 1, 7, -1))
    axes = [
        [replace(base, activation_bits=b) for b in act_steps],
        [] if act_too_big else [replace(base, weight_bits=b) for b in wb_steps],
        [] if act_too_big else [replace(base, weight_format=f) for f in formats],
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
        if formats:
            extras.append({"weight_format": formats[0]})
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


def _index_bits(fmt: str, weight_bits: int) -> int:
    """Stored bits per weight of format text ``fmt`` (``dense``: ``weight_bits``)."""
    from ..ir.weight_format import WeightFormat

    f = WeightFormat.parse(fmt)
    return f.index_bits if f.compressed else weight_bits


def _cheap_codebook(fmt: str, bits: int) -> bool:
    """Whether ``fmt`` is a codebook format of at most ``bits`` index bits."""
    from ..ir.weight_format import WeightFormat

    f = WeightFormat.parse(fmt)
    return fmt.startswith("codebook:") and f.index_bits <= bits


def codebook_mixes(base: DesignPoint, layer_weights: dict, bits=FLASH_MIX_BITS) \
        -> list[DesignPoint]:
    """Per-layer codebook mixes of ``base``, least compressed first. With ``bits = (hi,
    mid, lo)``: every conv layer at ``codebook:hi`` (the base's own codebook format or
    per-layer format where it already has that few index bits or fewer); in the layers
    ordered by the weights they hold (``layer_weights``: ``{conv layer: weight count}``,
    most first, ties by name), the first ``k`` at ``codebook:lo`` and the next ``j``
    (up to :data:`FLASH_MIX_MIDDLE`) at ``codebook:mid``, for every ``k`` and ``j``: the
    layers holding most of the weights lose bits first, the small early ones, which
    lose the most accuracy per bit, last. Ordered by their stored index bits, most first
    (then fewer layers at ``lo``). A layer the base names in ``--layer-format`` is
    overridden by name (following the flags must give the same formats)."""
    hi, mid, lo = bits
    default = (base.weight_format if _cheap_codebook(base.weight_format, hi)
               else f"codebook:{hi}")
    own = dict(base.layer_formats)
    formats = {k: (v if _cheap_codebook(v, hi) else default) for k, v in own.items()}

    def point(fmts: dict) -> DesignPoint:
        # layers at the default format need no flag unless the base names them
        kept = {k: v for k, v in fmts.items() if k in own or v != default}
        return replace(base, weight_format=default,
                       layer_formats=tuple(sorted(kept.items())))

    def stored(fmts: dict) -> int:
        return sum(n * _index_bits(fmts.get(k, default), base.weight_bits)
                   for k, n in layer_weights.items())

    order = [n for n in sorted(layer_weights, key=lambda n: (-layer_weights[n], n))
             if not _cheap_codebook(formats.get(n, default), lo)]
    found = {}
    for k in range(len(order) + 1):
        for j in range(FLASH_MIX_MIDDLE + 1):
            fmts = dict(formats)
            fmts.update({n: f"codebook:{lo}" for n in order[:k]})
            fmts.update({n: f"codebook:{mid}" for n in order[k:k + j]
                         if not _cheap_codebook(fmts.get(n, default), mid)})
            p = point(fmts)
            if p not in found:
                found[p] = (-stored(fmts), k, j)
    return sorted(found, key=found.get)


def _weight_bits_of(point: DesignPoint, layer_weights: dict) -> int:
    """The stored weight bits of ``point`` (indices only): a lower bound of its flash
    image."""
    formats = dict(point.layer_formats)
    return sum(n * _index_bits(formats.get(k, point.weight_format), point.weight_bits)
               for k, n in layer_weights.items())


def propose_flash(base: DesignPoint, board: Board, evaluate: Evaluator, layer_weights: dict,
                  *, budget: int = 16, patience: int = 3) -> list[Proposal]:
    """Designs with the weights in ``board``'s flash that keep the network: the base's own
    weight formats, then the per-layer codebook mixes of :func:`codebook_mixes` (most
    stored bits first), each with the largest of ``base.input_size`` and the smaller
    :data:`FLASH_INPUT_SIZE_STEPS` that fits (bisection, a size assumed to fit when a
    larger one does), on the base's PE array. The first mix that fits is proposed (the
    most weight bits), and after it every later mix that fits a larger input than all
    before (fewer weight bits, a larger input: which loses less accuracy is the
    network's affair, so both are offered, ranked by ``--eval`` when given); the walk
    stops at the base's own size or after ``patience`` mixes that fit no larger input.

    Mixes whose weight indices alone exceed the largest capacity of the board's flash are
    not evaluated; a mix is rejected by one evaluation at the smallest input size tried
    (the flash image hardly depends on the input size). At most ``budget`` network
    configurations are evaluated (each a full band-plan search, ~10-30 s for SqueezeNet).
    Empty when the board has no flash or nothing fits. A base with codes wider than 8 bits
    is proposed with 8 (``--weight-bits 8``), the most weights in flash take.
    """
    if not board.flash:
        return []
    capacity = max(f.capacity(m) for f in board.flash for m in f.modes)
    search = _Search(evaluate, budget)
    sizes = [base.input_size, *_steps(FLASH_INPUT_SIZE_STEPS, base.input_size)]
    # the flash takes codes of at most 8 bits: a wider base is proposed with 8
    own = replace(base, weight_store="flash", weight_bits=min(base.weight_bits, WEIGHT_BITS))
    mixes = [own] + [m for m in codebook_mixes(own, layer_weights) if m != own]
    found: list[Proposal] = []
    idle = 0
    for mix in mixes:
        if _weight_bits_of(mix, layer_weights) > capacity:
            continue
        if found:
            best = found[-1].point.input_size
            larger = [s for s in sizes if s > best]
            if not larger or idle >= patience:
                break
        else:
            larger = sizes
        log.info("flash proposals: trying %s", " ".join(mix.flags(base)) or "the design")
        got = search._bisect([replace(mix, input_size=s) for s in larger], board, False)
        if got is not None:
            point, verdict, perf = got
            found.append(Proposal(_describe(point, base, False), point, board,
                                  tuple(point.flags(base)), verdict, perf))
            idle = 0
        elif found:
            idle += 1
        if len(search.configs) >= search.budget:
            break
    return found