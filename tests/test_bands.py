"""Row bands and fused max pooling in the compiler and the engine model: small graphs whose
bands cross padding rows, stride 2, ceil-mode pooling, concats at channel offsets and
bypass adds, lowered in several band counts on 8x8 and 16x16 arrays, bit for bit against
the golden model; the row arithmetic of pooled bands against brute force; the choice of
a plan."""

import numpy as np
import pytest

from fpgagen.errors import FpgagenError
from fpgagen.golden.int_model import run_int
from fpgagen.hw import HwParams
from fpgagen.hw.isa import Opcode
from fpgagen.hw.pooling import check_fusable, window_events
from fpgagen.ir import GlobalAvgPool
from fpgagen.numerics.primitives import maxpool
from fpgagen.schedule import lower, pack_input, run_program
from fpgagen.schedule.band_choice import (RECHECK, Planner, choose_plan, plan_options,
                                          plan_program, search_plan)
from fpgagen.schedule.bands import conv_rows_for, pooled_rows_done
from fpgagen.schedule.lower import cut_candidates
from fpgagen.testing.band_graphs import BAND_GRAPHS as GRAPHS
from fpgagen.testing.band_graphs import band_graph

HW = {"8x8": HwParams(pe_rows=8, pe_cols=8), "16x16": HwParams(pe_rows=16, pe_cols=16)}


def _quantized(key):
    return band_graph(key)


def _run_and_check(graph, program, image):
    golden = run_int(graph, image, keep_all=True)
    result = run_program(program, pack_input(program, graph, image), capture=True)
    checked = 0
    for name in program.tensors:
        if name == graph.input_name:
            continue
        np.testing.assert_array_equal(result.tensors[name], golden[name], err_msg=name)
        checked += 1
    out = graph.outputs[0]
    if isinstance(graph.node(out).op, GlobalAvgPool):
        np.testing.assert_array_equal(result.scores, golden[out].ravel())
    assert checked >= 1
    assert result.cycles == [info.cycles_predicted for info in program.layers]
    return result


@pytest.mark.parametrize("hw", HW.values(), ids=HW.keys())
@pytest.mark.parametrize("key", GRAPHS)
def test_bands_are_bit_exact(key, hw):
    graph = _quantized(key)
    image = np.random.default_rng(11).integers(0, 256, graph.input_shape[1:] + (3,), np.uint8)
    whole = lower(graph, hw)
    _run_and_check(graph, whole, image)
    rows = graph.input_shape[1]
    cuts = cut_candidates(graph, hw)
    for steps in (2, 3, 5, rows):
        for c in ([], cuts[-1:]):
            program = lower(graph, hw, steps=steps, cuts=c)
            assert len(program.instructions) > len(whole.instructions)
            # rings: some tensor keeps fewer rows than it has
            assert any(not p.whole for p in program.tensors.values()), (steps, c)
            _run_and_check(graph, program, image)


def test_fused_pools_and_what_stays_a_pool_instruction():
    graph = _quantized("ceil-pool")
    program = lower(graph, HW["8x8"], steps=3)
    ops = {info.name: f.op for f, info in zip(program.instructions, program.layers)}
    assert ops["a"] == Opcode.CONV and "p" not in ops  # 3x3/2 unpadded: fused into a
    assert ops["q"] == Opcode.MAXPOOL  # padded: its own instruction
    assert "a" in program.unstored and "p" in program.tensors
    assert graph.shapes()["p"] == (16, 12, 12)
    assert program.pool_depth == 2 * 12  # a's 16 channels: 2 groups x 12 pooled columns
    unfused = lower(graph, HW["8x8"], fuse_pools=False)
    assert sum(f.op == Opcode.MAXPOOL for f in unfused.instructions) == 2


def test_banded_memory_is_smaller_and_reported():
    graph = _quantized("concat")
    hw = HW["8x8"]
    whole = lower(graph, hw)
    banded = lower(graph, hw, steps=8)
    assert banded.act_depth < whole.act_depth
    plan = banded.plan.as_dict()
    assert plan["banded"] and plan["band_steps"] == 8
    assert plan["words"] == banded.act_depth and plan["whole_tensor_words"] == whole.act_depth
    rows = {b["buffer"]: b for b in plan["buffers"]}
    # the fire module's squeeze is read by a 3x3 conv: a few of its rows, not all
    assert rows["f2/s"]["rows_kept"] < rows["f2/s"]["height"]
    # the network output stays whole
    assert rows["f3/cat"]["whole"]


# --- row arithmetic of fused pooling -----------------------------------------------------

@pytest.mark.parametrize("ceil", [True, False])
@pytest.mark.parametrize("k,s", [(2, 2), (3, 2), (2, 1), (3, 3), (4, 3), (1, 1)])
def test_pooled_rows_follow_the_window_rule(k, s, ceil):
    """``pooled_rows_done`` and ``conv_rows_for`` agree with the hardware's window rule
    (the row where each window completes) for every prefix of rows."""
    for n in range(k, 30):
        pooled = maxpool(np.zeros((1, n, 1)), (k, 1), (s, 1), (0, 0), ceil).shape[1]
        t = np.arange(n)
        ev = window_events(t, t == n - 1, s, k - s, pooled)
        completed_at = {int(ev.window[i]): int(t[i]) for i in range(n) if ev.emits[i]}
        assert sorted(completed_at) == list(range(pooled))
        for rows in range(n + 1):
            done = sum(1 for j in completed_at if completed_at[j] < rows)
            assert pooled_rows_done(rows, k, s, pooled, n) == done
        for p in range(pooled + 1):
            c = conv_rows_for(p, k, s, pooled, n)
            assert pooled_rows_done(c, k, s, pooled, n) >= p
            assert c == 0 or pooled_rows_done(c - 1, k, s, pooled, n) < p


def test_which_pools_fuse():
    assert check_fusable((3, 3), (2, 2), (0, 0), (56, 56)) is None
    assert "pads" in check_fusable((3, 3), (2, 2), (1, 1), (56, 56))
    assert "not square" in check_fusable((3, 2), (2, 2), (0, 0), (56, 56))
    assert "neither" in check_fusable((5, 5), (2, 2), (0, 0), (56, 56))
    assert "wide" in check_fusable((3, 3), (2, 2), (0, 0), (56, 3))


# --- the plan -------------------------------------------------------------------------------

def test_plan_choice_takes_the_fewest_cycles_that_fit():
    graph = _quantized("concat")
    hw = HW["8x8"]
    options = plan_options(graph, hw)
    assert options[0].steps == 1  # whole tensors: fewest instructions
    assert [o.cycles for o in options] == sorted(o.cycles for o in options)
    everything, ok = choose_plan(options, lambda o: True)
    assert ok and everything == options[0]
    smallest = min(o.words for o in options)
    limited, ok = choose_plan(options, lambda o: o.words <= smallest)
    assert ok and limited.words == smallest
    assert all(o.cycles >= limited.cycles for o in options if o.words <= smallest)
    tried = []
    none, ok = choose_plan(options, lambda o: tried.append(o) or False)
    assert not ok and none.words == smallest
    # an option needing as many words as one that failed is not tried
    assert len({o.words for o in tried}) == len(tried)
    capped, ok = choose_plan(options, lambda o: True, max_words=smallest)
    assert ok and capped.words == smallest


def test_bad_plans_are_refused():
    graph = _quantized("padding")
    with pytest.raises(FpgagenError, match="band steps must be a positive integer, not 0"):
        lower(graph, HW["8x8"], steps=0)
    with pytest.raises(FpgagenError, match=r"cannot cut the band schedule after \['b'\]"):
        lower(graph, HW["8x8"], steps=2, cuts=["b"])


# --- a step count per region ------------------------------------------------------------

@pytest.mark.parametrize("key", ["stride2", "ceil-pool", "concat", "all"])
def test_regions_with_their_own_steps_are_bit_exact(key):
    """Every region runs in its own number of bands (one region whole, the other banded,
    and two different band counts); the program is bit-exact, its cycles are the engine
    model's, and each region's stages have as many instructions as its steps give."""
    graph = _quantized(key)
    hw = HW["8x8"]
    image = np.random.default_rng(5).integers(0, 256, graph.input_shape[1:] + (3,), np.uint8)
    cuts = cut_candidates(graph, hw)
    cut = cuts[-1]
    shapes = graph.shapes()
    for steps in ((1, 3), (3, 1), (2, 5)):
        program = lower(graph, hw, steps=steps, cuts=[cut])
        assert program.plan.region_steps == steps and program.plan.steps == max(steps)
        assert program.plan.cuts == (cut,)
        _run_and_check(graph, program, image)
        # the instructions of each region's convs: the stages before the cut in steps[0]
        # bands at most, those after in steps[1]
        names = [info.name for info in program.layers]
        order = list(dict.fromkeys(names))
        before = order[:order.index(cut) + 1]
        tail = {graph.outputs[0]} | set(graph.node(graph.outputs[0]).inputs)
        for name in order:
            if name not in shapes or name in tail:
                continue
            s = steps[0] if name in before else steps[1]
            rows = shapes[name][1]
            assert names.count(name) == -(-rows // -(-rows // s)), (steps, name)
    # steps (s, s) is the same program as steps s
    same = lower(graph, hw, steps=(3, 3), cuts=[cut])
    ref = lower(graph, hw, steps=3, cuts=[cut])
    assert same.instructions == ref.instructions and same.act_depth == ref.act_depth


def test_region_steps_are_checked():
    graph = _quantized("concat")
    cut = cut_candidates(graph, HW["8x8"])[-1]
    with pytest.raises(FpgagenError, match=r"must give 2 values .* not 3: \(1, 2, 3\)"):
        lower(graph, HW["8x8"], steps=(1, 2, 3), cuts=[cut])
    with pytest.raises(FpgagenError, match="band steps must be a positive integer, not 0"):
        lower(graph, HW["8x8"], steps=(2, 0), cuts=[cut])


# --- the search over steps per region ----------------------------------------------------

def _every_plan(planner):
    """Every candidate of ``planner``, lowered: ``{(steps, cuts): program}``."""
    return {(steps, cuts): lower(planner.graph, planner.hw, steps=steps, cuts=cuts)
            for _, _, steps, cuts in planner.candidates()}


@pytest.mark.parametrize("key", ["ceil-pool", "all"])
def test_plan_costs_combine_region_by_region(key):
    """With the weights in block RAM, a plan's cycles are the sum of its stages' cycles
    in their regions' steps and its words are those of the program; the live words of
    its regions bound them from below."""
    graph = _quantized(key)
    planner = Planner(graph, HW["8x8"], (1, 2, 3, 7))
    assert planner.cuts
    programs = _every_plan(planner)
    assert any(len(set(steps)) > 1 for steps, _ in programs)
    for (steps, cuts), program in programs.items():
        cycles, live = planner.estimate(steps, cuts)
        assert cycles == program.cycles_predicted, (steps, cuts)
        assert planner.memory(steps, cuts).words == program.act_depth, (steps, cuts)
        assert live <= program.act_depth


@pytest.mark.parametrize("key", ["ceil-pool", "concat", "all"])
def test_search_finds_what_lowering_every_plan_finds(key):
    """For every activation limit between the least and the most words of any plan, the
    search takes the plan that lowering every candidate and keeping the fewest cycles
    within the limit takes (then the fewest words), and lowers far fewer plans."""
    graph = _quantized(key)
    hw = HW["8x8"]
    steps_options = (1, 2, 4, 8)
    everything = _every_plan(Planner(graph, hw, steps_options))
    words = sorted({p.act_depth for p in everything.values()})
    for limit in words[::max(1, len(words) // 6)] + [words[-1]]:
        within = [p for p in everything.values() if p.act_depth <= limit]
        best = min((p.cycles_predicted, p.act_depth) for p in within)
        planner = Planner(graph, hw, steps_options)
        tried = []
        chosen, ok = search_plan(planner, lambda o: tried.append(o) or True, limit)
        assert ok and (chosen.cycles, chosen.words) == best, limit
        program = chosen.lower(graph, hw)
        assert (program.cycles_predicted, program.act_depth) == best
        assert len(tried) <= 1 + RECHECK + 1 < len(everything)


def test_search_with_a_fit_test_and_when_nothing_fits():
    graph = _quantized("all")
    hw = HW["8x8"]
    planner = Planner(graph, hw, (1, 2, 4, 8))
    least = min((planner.memory(s, c).words, e) for e, _, s, c in planner.candidates())
    # only plans needing at most `least + 1/3` of the range fit
    most = max(planner.memory(s, c).words for _, _, s, c in planner.candidates())
    cap = least[0] + (most - least[0]) // 3
    chosen, ok = search_plan(planner, lambda o: o.words <= cap)
    assert ok and chosen.words <= cap
    fitting = [planner.exact(s, c) for _, _, s, c in planner.candidates()
               if planner.memory(s, c).words <= cap]
    assert chosen.cycles == min(o.cycles for o in fitting)
    # nothing fits: the plan with the least memory, after one test of fit
    tried = []
    chosen, ok = search_plan(Planner(graph, hw, (1, 2, 4, 8)),
                             lambda o: tried.append(o) or False)
    assert not ok and len(tried) == 1 and chosen.words == least[0]


def test_search_past_plans_whose_instructions_do_not_fit():
    """A flash design's image grows with its instructions: a plan that fails only for
    that (``more_memory_may_fit``) neither stops the search nor bounds the memory of the
    plans tried, and the choice is the fastest plan that fits, as lowering every plan
    finds it; without ``more_memory_may_fit`` the least-memory plan's failure ends it."""
    graph = _quantized("all")
    hw = HW["8x8"]
    planner = Planner(graph, hw, (1, 2, 4, 8))
    everything = [planner.exact(s, c) for _, _, s, c in planner.candidates()]
    words = sorted({o.words for o in everything})
    cap = words[len(words) // 2]  # block RAM: at most this memory
    least = min(everything, key=lambda o: (o.words, o.cycles))
    most_instructions = least.instructions - 1  # the flash: fewer than the least-memory plan

    def fits(o):
        return o.words <= cap and o.instructions <= most_instructions

    def flash_only(o):
        return o.words <= cap and o.instructions > most_instructions

    fitting = [o for o in everything if fits(o)]
    assert fitting and not fits(least) and flash_only(least)
    chosen, ok = search_plan(Planner(graph, hw, (1, 2, 4, 8)), fits,
                             more_memory_may_fit=flash_only)
    assert ok and fits(chosen)
    assert chosen.cycles == min(o.cycles for o in fitting)
    tried = []
    chosen, ok = search_plan(Planner(graph, hw, (1, 2, 4, 8)),
                             lambda o: tried.append(o) or fits(o))
    assert not ok and len(tried) == 1


def test_plan_program_keeps_steps_everywhere_and_searches_under_a_limit():
    graph = _quantized("all")
    hw = HW["8x8"]
    fixed = plan_program(graph, hw, steps=4)
    assert set(fixed.plan.region_steps) == {4}
    planner = Planner(graph, hw)
    most = max(planner.memory(s, c).words for _, _, s, c in planner.candidates())
    limit = most * 3 // 4
    program = plan_program(graph, hw, max_activation_bytes=limit * 8 * 9 // 8)
    assert program.act_depth <= limit
    with pytest.raises(FpgagenError, match="no band plan of .* needs at most 9 bytes"):
        plan_program(graph, hw, max_activation_bytes=9)


def test_search_with_weights_in_flash():
    """With the weights in flash the stages' cycles include the load stalls, which depend
    on the order of the loads across a cut: the search's choice is lowered, its cycles
    exact, and no plan with one step count everywhere beats it by more than the
    estimate's error (here none does)."""
    graph = _quantized("all")
    hw = HwParams(pe_rows=8, pe_cols=8, weight_chunk_bits=1024, weight_store="flash")
    planner = Planner(graph, hw, (1, 2, 4, 8))
    most = max(planner.memory(s, c).words for _, _, s, c in planner.candidates())
    limit = most * 2 // 3
    chosen, ok = search_plan(planner, lambda o: True, limit)
    program = chosen.lower(graph, hw)
    assert ok and chosen.words == program.act_depth <= limit
    assert chosen.cycles == program.cycles_predicted and program.flash is not None
    uniform = [o for o in plan_options(graph, hw, (1, 2, 4, 8)) if o.words <= limit]
    assert chosen.cycles <= min(o.cycles for o in uniform)
    image = np.random.default_rng(3).integers(0, 256, graph.input_shape[1:] + (3,), np.uint8)
    _run_and_check(graph, program, image)
