"""Choosing a band plan: the candidate schedules of a network (whole tensors, or row bands
in several step counts and region cuts) with their cycles and activation memory, and the
choice of the one with the fewest cycles that a test of fit accepts."""

from dataclasses import dataclass
from itertools import combinations
from typing import Callable

from ..errors import FpgagenError
from ..hw.params import HwParams
from ..hw.spec import ACT_LANE_BITS
from ..ir import Graph
from .lower import cut_candidates, lower

__all__ = ["PlanOption", "STEP_OPTIONS", "MAX_CUT_CANDIDATES", "plan_options", "choose_plan",
           "plan_program", "words_of_bytes", "over_limit"]

#: Band steps tried (1: whole tensors).
STEP_OPTIONS = (1, 2, 4, 8, 16, 32)
#: Region cuts tried in every combination: the last ones of the network (its smallest
#: tensors).
MAX_CUT_CANDIDATES = 4


@dataclass(frozen=True)
class PlanOption:
    """One candidate schedule and what it costs."""

    steps: int  #: band steps (1: whole tensors)
    cuts: tuple[str, ...]  #: stages after which a new region starts
    cycles: int  #: predicted cycles of the program
    words: int  #: activation memory words
    instructions: int

    def lower(self, graph: Graph, hw: HwParams, **kw):
        """The program of this option."""
        return lower(graph, hw, steps=self.steps, cuts=self.cuts, **kw)


def plan_options(graph: Graph, hw: HwParams, steps_options=STEP_OPTIONS) -> list[PlanOption]:
    """Every candidate schedule of ``graph`` on ``hw``, fewest cycles first (then least
    memory). Raises what :func:`~fpgagen.schedule.lower.lower` raises for a graph that does
    not map."""
    cuts = cut_candidates(graph, hw)[-MAX_CUT_CANDIDATES:]
    subsets = [c for n in range(len(cuts) + 1) for c in combinations(cuts, n)]
    rows = max(h for _, h, _ in graph.shapes().values())
    out = []
    for steps in steps_options:
        if steps > 1 and steps > rows and len(steps_options) > 1:
            continue  # no stage has that many rows: the same as fewer steps
        for c in (subsets if steps > 1 else [()]):
            p = lower(graph, hw, steps=steps, cuts=c)
            out.append(PlanOption(steps=steps, cuts=tuple(c), cycles=p.cycles_predicted,
                                  words=p.act_depth, instructions=len(p.instructions)))
    return sorted(out, key=lambda o: (o.cycles, o.words, o.steps))


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


def words_of_bytes(nbytes: int, hw: HwParams) -> int:
    """Activation words (``pe_rows`` lanes of 9 bits) in ``nbytes`` bytes."""
    return int(nbytes) * 8 // (hw.pe_rows * ACT_LANE_BITS)


def over_limit(graph: Graph, hw: HwParams, limit_bytes: int, words: int) -> FpgagenError:
    """The error for an activation limit of ``limit_bytes`` that no plan meets, naming the
    ``words`` of the smallest."""
    return FpgagenError(f"no band plan of {graph.name} on {hw.pe_rows}x{hw.pe_cols} PEs "
                        f"needs at most {limit_bytes:,d} bytes of activation memory; the "
                        f"smallest needs {words * hw.pe_rows * ACT_LANE_BITS // 8:,d} bytes")


def plan_program(graph: Graph, hw: HwParams, *, steps: int | None = None,
                 max_activation_bytes: int | None = None):
    """The program of ``graph`` on ``hw`` without a board to fit: whole tensors by
    default; with ``steps``, that many bands and the region cuts needing least memory;
    with ``max_activation_bytes``, the plan with the fewest cycles within that memory
    (:class:`FpgagenError` when none is)."""
    if steps in (None, 1):  # whole tensors: the fewest cycles
        program = lower(graph, hw)
        if max_activation_bytes is None or \
                program.act_depth <= words_of_bytes(max_activation_bytes, hw):
            return program
        if steps == 1:
            raise over_limit(graph, hw, max_activation_bytes, program.act_depth)
    if steps is not None:  # that many bands, the region cuts needing least memory
        options = sorted(plan_options(graph, hw, (steps,)), key=lambda o: (o.words, o.cycles))
    else:
        options = plan_options(graph, hw)
    limit = None if max_activation_bytes is None else words_of_bytes(max_activation_bytes,
                                                                      hw)
    chosen, ok = choose_plan(options, lambda o: True, limit)
    if not ok:
        raise over_limit(graph, hw, max_activation_bytes, chosen.words)
    return chosen.lower(graph, hw)
