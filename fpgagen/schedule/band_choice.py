"""Choosing a band plan: the candidate schedules of a network (whole tensors, or row bands
with a step count per region and region cuts) with their cycles and activation memory,
and the choice of the one with the fewest cycles that a test of fit accepts.

Regions run one after the other, so a plan's costs combine region by region
(:class:`Planner`): a stage runs the same instructions whatever the other regions do
(its bands depend on its own region's steps only), so the cycles of a plan are the sum
of its stages' cycles in their regions' steps, measured once per step count on the
program cut at every candidate (exact but for the flash load stalls, which depend on
the order of the loads across a removed cut); the words live at once during a region
depend on that region's steps alone (what crosses a cut is kept whole), so the most of
them over the regions bounds the plan's activation memory from below. The search
ranks every combination by these sums, then computes the exact activation memory
(:func:`~fpgagen.schedule.lower.plan_memory`, without instructions) and lowers only the
plans it tries."""

from dataclasses import dataclass
from itertools import combinations, product
from typing import Callable

from ..errors import FpgagenError
from ..hw.params import HwParams
from ..hw.spec import ACT_LANE_BITS
from ..ir import Graph
from .lower import cut_candidates, lower, plan_memory, plan_structure

__all__ = ["PlanOption", "Planner", "STEP_OPTIONS", "MAX_CUT_CANDIDATES", "RECHECK",
           "plan_options", "fixed_steps_options", "choose_plan", "search_plan",
           "plan_program", "words_of_bytes", "over_limit"]

#: Band steps tried in every region (1: whole tensors).
STEP_OPTIONS = (1, 2, 4, 8, 16, 32)
#: Region cuts tried in every combination: the last ones of the network (its smallest
#: tensors).
MAX_CUT_CANDIDATES = 4
#: Plans whose estimated cycles are below the exact cycles of the first plan that fits
#: lowered as well, at most (the estimate leaves out how flash loads overlap across a cut).
RECHECK = 4


@dataclass(frozen=True)
class PlanOption:
    """One candidate schedule and what it costs (``cycles`` exact once lowered, else the
    sum of its stages' cycles: :class:`Planner`)."""

    region_steps: tuple[int, ...]  #: band steps of every region in order (1: whole)
    cuts: tuple[str, ...]  #: stages after which a new region starts, in stage order
    cycles: int  #: predicted cycles of the program
    words: int  #: activation memory words
    instructions: int

    @property
    def steps(self) -> int:
        """The most band steps of any region (1: whole tensors everywhere)."""
        return max(self.region_steps)

    def describe(self) -> str:
        """``"32 | fire3/expand3x3 | 4 | fire5/expand3x3 | 1"``: each region's steps
        between the cuts."""
        parts = [str(self.region_steps[0])]
        for c, s in zip(self.cuts, self.region_steps[1:]):
            parts += [c, str(s)]
        return " | ".join(parts)

    def lower(self, graph: Graph, hw: HwParams, **kw):
        """The program of this option."""
        return lower(graph, hw, steps=self.region_steps, cuts=self.cuts, **kw)


class Planner:
    """The costs of the band plans of ``graph`` on ``hw``, each measured once and combined
    region by region (see the module docstring).

    Parameters
    ----------
    graph, hw
        What :func:`~fpgagen.schedule.lower.lower` takes.
    steps_options : sequence of int
        Step counts a region may take (a count above the most rows of any stage is
        dropped: the same as fewer).
    """

    def __init__(self, graph: Graph, hw: HwParams, steps_options=STEP_OPTIONS):
        self.graph, self.hw = graph, hw
        rows = max(h for _, h, _ in graph.shapes().values())
        self.steps_options = tuple(s for s in steps_options
                                   if s == 1 or s <= rows or len(steps_options) == 1)
        self.cuts = tuple(cut_candidates(graph, hw)[-MAX_CUT_CANDIDATES:])
        self.structure = plan_structure(graph, hw)
        self.cache: dict = {}  # the lowering's plan-independent work
        self._memory: dict = {}
        self._programs: dict = {}
        self._stage_cycles: dict = {}
        self._candidates = None

    def subsets(self) -> list[tuple[str, ...]]:
        """Every subset of the candidate cuts, in stage order."""
        return [c for n in range(len(self.cuts) + 1) for c in combinations(self.cuts, n)]

    def memory(self, steps: tuple[int, ...], cuts: tuple[str, ...]):
        """:func:`~fpgagen.schedule.lower.plan_memory` of the plan, computed once."""
        key = (tuple(steps), tuple(cuts))
        if key not in self._memory:
            self._memory[key] = plan_memory(self.graph, self.hw, steps=key[0], cuts=key[1],
                                            structure=self.structure)
        return self._memory[key]

    def program(self, steps: tuple[int, ...], cuts: tuple[str, ...]):
        """The lowered program of the plan, computed once."""
        key = (tuple(steps), tuple(cuts))
        if key not in self._programs:
            self._programs[key] = lower(self.graph, self.hw, steps=key[0], cuts=key[1],
                                        cache=self.cache)
        return self._programs[key]

    def stage_cycles(self, steps: int) -> dict[str, int]:
        """``{stage: cycles}`` of every stage run in ``steps`` bands (from the program in
        ``steps`` bands cut at every candidate)."""
        if steps not in self._stage_cycles:
            # in one band everywhere, cuts change nothing: the whole-tensor program
            cuts = self.cuts if steps > 1 else ()
            program = self.program((steps,) * (len(cuts) + 1), cuts)
            out: dict[str, int] = {}
            for info in program.layers:
                out[info.name] = out.get(info.name, 0) + int(info.cycles_predicted)
            self._stage_cycles[steps] = out
        return self._stage_cycles[steps]

    def estimate(self, steps: tuple[int, ...], cuts: tuple[str, ...]) -> tuple[int, int]:
        """``(cycles, words)``: the sum of the stages' cycles in their regions' steps and
        the most words live at once in any region (a lower bound of the activation
        memory's words)."""
        region_of = self.memory((1,) * (len(cuts) + 1), cuts).region_of
        cycles = 0
        for stage, region in region_of.items():
            cycles += self.stage_cycles(steps[region]).get(stage, 0)
        live = max(self.memory((s,) * (len(cuts) + 1), cuts).region_live[r]
                   for r, s in enumerate(steps))
        return cycles, live

    def exact(self, steps: tuple[int, ...], cuts: tuple[str, ...]) -> PlanOption:
        """The option of the plan, lowered: its exact cycles, words and instructions."""
        p = self.program(steps, cuts)
        return PlanOption(region_steps=tuple(steps), cuts=tuple(cuts),
                          cycles=p.cycles_predicted, words=p.act_depth,
                          instructions=len(p.instructions))

    def candidates(self) -> list[tuple[int, int, tuple[int, ...], tuple[str, ...]]]:
        """``(estimated cycles, live words, steps, cuts)`` of every combination of cuts
        and steps per region, fewest estimated cycles first (then fewest live words);
        whole tensors are the plan of steps 1 without cuts only."""
        if self._candidates is not None:
            return self._candidates
        out = []
        for cuts in self.subsets():
            for steps in product(self.steps_options, repeat=len(cuts) + 1):
                if cuts and all(s == 1 for s in steps):
                    continue  # cuts change nothing without bands
                cycles, live = self.estimate(steps, cuts)
                out.append((cycles, live, steps, cuts))
        self._candidates = sorted(out, key=lambda c: (c[0], c[1], max(c[2]), len(c[3])))
        return self._candidates

    def least_memory(self) -> PlanOption:
        """The plan with the least activation memory (then the fewest estimated cycles),
        lowered: candidates in the order of their live words, whose exact words are computed
        until the live words reach the least found."""
        best = None
        for est, live, steps, cuts in sorted(self.candidates(), key=lambda c: (c[1], c[0])):
            if best is not None and live > best[0]:
                break
            key = (self.memory(steps, cuts).words, est)
            if best is None or key < best[:2]:
                best = key + (steps, cuts)
        return self.exact(best[2], best[3])


def search_plan(planner: Planner, fits: Callable[[PlanOption], bool],
                max_words: int | None = None, recheck: int = RECHECK, *,
                more_memory_may_fit: Callable[[PlanOption], bool] | None = None) \
        -> tuple[PlanOption, bool]:
    """The plan with the fewest cycles that ``fits`` accepts within ``max_words``
    activation words (when given), and ``True``; when none does, the one with the least
    memory and ``False``.

    Plans are tried in the order of their estimated cycles (:meth:`Planner.candidates`);
    a plan whose live words (a lower bound) or exact words exceed ``max_words``, or that
    needs at least as many words as one that did not fit, is not lowered. Once one fits,
    up to ``recheck`` more plans whose estimate is below its exact cycles are tried too,
    and the one with the fewest exact cycles is taken. The plan with the least memory
    (:meth:`Planner.least_memory`) is tried first: when it does not fit, no plan does.

    ``more_memory_may_fit(option)``, for a plan that does not fit, says whether its
    failure is one that more activation memory cannot make worse (a flash design whose
    image, which grows with its instructions, is too big for the flash, while its block
    RAM fits): such a plan does not stop the search nor bound the words of the plans
    tried; instead a plan with the same cuts and at least as many bands in every region
    (so at least as many instructions) is not tried."""
    may_fit = more_memory_may_fit or (lambda option: False)
    least = planner.least_memory()
    if not fits(least) and not may_fit(least):  # every plan needs at least its words
        return least, False
    failed = None
    dominated: list[tuple[tuple[int, ...], tuple[str, ...]]] = []
    best = None
    extra = 0
    for est, live, steps, cuts in planner.candidates():
        if best is not None and (est >= best.cycles or extra >= recheck):
            break
        if max_words is not None and live > max_words:
            continue
        if failed is not None and live >= failed:
            continue
        if any(c == cuts and all(s >= t for s, t in zip(steps, st)) for st, c in dominated):
            continue
        words = planner.memory(steps, cuts).words
        if max_words is not None and words > max_words:
            continue
        if failed is not None and words >= failed:
            continue
        option = planner.exact(steps, cuts)
        if best is not None:
            extra += 1
        if fits(option):
            if best is None or (option.cycles, option.words) < (best.cycles, best.words):
                best = option
        elif may_fit(option):
            dominated.append((tuple(steps), tuple(cuts)))
        else:
            failed = option.words if failed is None else min(failed, option.words)
    if best is not None:
        return best, True
    return least, max_words is None or least.words <= max_words


def plan_options(graph: Graph, hw: HwParams, steps_options=STEP_OPTIONS) -> list[PlanOption]:
    """Every schedule of ``graph`` on ``hw`` with one step count in all regions (for each
    of ``steps_options``) and every subset of the candidate cuts, lowered, fewest cycles
    first (then least memory). Raises what :func:`~fpgagen.schedule.lower.lower` raises
    for a graph that does not map."""
    planner = Planner(graph, hw, steps_options)
    out = []
    for steps in planner.steps_options:
        for c in (planner.subsets() if steps > 1 else [()]):
            out.append(planner.exact((steps,) * (len(c) + 1), c))
    return sorted(out, key=lambda o: (o.cycles, o.words, o.steps))


def fixed_steps_options(planner: Planner, steps: int) -> list[PlanOption]:
    """The plans with ``steps`` bands in every region, one per subset of the candidate
    cuts, least activation memory first (exact words; cycles estimated until lowered)."""
    out = []
    for c in planner.subsets() if steps > 1 else [()]:
        s = (steps,) * (len(c) + 1)
        mem = planner.memory(s, c)
        out.append(PlanOption(region_steps=s, cuts=c, cycles=planner.estimate(s, c)[0],
                              words=mem.words, instructions=mem.instructions))
    return sorted(out, key=lambda o: (o.words, o.cycles))


def choose_plan(options: list[PlanOption], fits: Callable[[PlanOption], bool],
                max_words: int | None = None) -> tuple[PlanOption, bool]:
    """The option with the fewest cycles that ``fits`` accepts (and that needs at most
    ``max_words`` activation words, when given), and ``True``; when none does, the one
    with the least memory and ``False``. An option needing at least as many words as one
    that did not fit is not tried."""
    failed = None
    for o in options:
        if max_words is not None and o.words > max_words:
            continue
        if failed is not None and o.words >= failed:
            continue
        if fits(o):
            return o, True
        failed = o.words if failed is None else min(failed, o.words)
    return min(options, key=lambda o: (o.words, o.cycles)), False


def words_of_bytes(nbytes: int, hw: HwParams, lane_bits: int = ACT_LANE_BITS) -> int:
    """Activation words (``pe_rows`` lanes of ``lane_bits``) in ``nbytes`` bytes."""
    return int(nbytes) * 8 // (hw.pe_rows * lane_bits)


def _lane_bits(graph: Graph) -> int:
    """The activation lane width of the quantized ``graph``."""
    return graph.quant.act_lane_bits if graph.quant is not None else ACT_LANE_BITS


def over_limit(graph: Graph, hw: HwParams, limit_bytes: int, words: int) -> FpgagenError:
    """The error for an activation limit of ``limit_bytes`` that no plan meets, naming the
    ``words`` of the smallest."""
    return FpgagenError(f"no band plan of {graph.name} on {hw.pe_rows}x{hw.pe_cols} PEs "
                        f"needs at most {limit_bytes:,d} bytes of activation memory; the "
                        f"smallest needs {words * hw.pe_rows * _lane_bits(graph) // 8:,d} "
                        f"bytes")


def plan_program(graph: Graph, hw: HwParams, *, steps: int | None = None,
                 max_activation_bytes: int | None = None):
    """The program of ``graph`` on ``hw`` without a board to fit: whole tensors by
    default; with ``steps``, that many bands in every region and the region cuts needing
    least memory; with ``max_activation_bytes``, the plan with the fewest cycles within
    that memory (steps per region: :func:`search_plan`; :class:`FpgagenError` when none
    is)."""
    if steps in (None, 1):  # whole tensors: the fewest cycles
        program = lower(graph, hw)
        if max_activation_bytes is None or \
                program.act_depth <= words_of_bytes(max_activation_bytes, hw,
                                                    _lane_bits(graph)):
            return program
        if steps == 1:
            raise over_limit(graph, hw, max_activation_bytes, program.act_depth)
    limit = None if max_activation_bytes is None else words_of_bytes(max_activation_bytes,
                                                                      hw, _lane_bits(graph))
    planner = Planner(graph, hw, (steps,) if steps is not None else STEP_OPTIONS)
    if steps is not None:  # that many bands, the region cuts needing least memory
        chosen, ok = choose_plan(fixed_steps_options(planner, steps), lambda o: True, limit)
    else:
        chosen, ok = search_plan(planner, lambda o: True, limit)
    if not ok:
        raise over_limit(graph, hw, max_activation_bytes, chosen.words)
    return planner.program(chosen.region_steps, chosen.cuts)
