"""Run a random graph (:mod:`fpgagen.testing.random_graphs`) through the golden model and
the word-level engine model or the simulated RTL, and judge every block bit for bit.

The weights, the calibration images and the test image come from ``spec.seed``: weight
scales vary over a factor of 16 around He-normal, some layers are sparse or have all-zero
output channels, biases range from negligible to dominant; the test image may lie outside
the calibration range (so that outputs saturate) or be constant.
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import FpgagenError
from ..golden.int_model import run_int
from ..hw import HwParams
from ..ir import Graph
from ..passes import QuantConfig, quantize
from ..schedule import Program, lower, pack_input, run_program
from ..schedule.lower import cut_candidates
from .compressed import compress_randomly
from .random_graphs import GraphSpec, block_tensors, build_graph

__all__ = ["Prepared", "CaseResult", "GraphResult", "prepare", "check_engine", "check_rtl",
           "compare_blocks", "random_params", "random_images"]


def random_params(graph: Graph, rng: np.random.Generator) -> dict:
    """Float weights and biases for every conv of ``graph``, of varied scale and shape."""
    params = {}
    for name, (wshape, bshape) in graph.weight_shapes().items():
        fan_in = int(np.prod(wshape[1:]))
        w = rng.standard_normal(wshape) * np.sqrt(2.0 / fan_in) * 2.0 ** rng.uniform(-2, 2)
        style = rng.integers(0, 4)
        if style == 1:  # sparse
            w *= rng.random(wshape) < 0.2
        elif style == 2:  # some output channels all zero
            w *= (rng.random(wshape[0]) < 0.7)[:, None, None, None]
        elif style == 3:  # uniform, heavier extremes than normal
            w = rng.uniform(-1, 1, wshape) * np.sqrt(6.0 / fan_in) * 2.0 ** rng.uniform(-1, 1)
        b = rng.normal(0.0, 1.0, bshape) * 2.0 ** rng.uniform(-8, 1)
        params[name] = {"weight": w.astype(np.float32), "bias": b.astype(np.float32)}
    return params


def random_images(height: int, width: int, rng: np.random.Generator):
    """Two uint8 calibration images ``(2, H, W, 3)`` and one test image ``(H, W, 3)``."""
    lo = int(rng.integers(0, 128))
    hi = int(rng.integers(lo + 1, 256))
    calib = rng.integers(lo, hi + 1, (2, height, width, 3), dtype=np.uint8)
    kind = rng.integers(0, 4)
    if kind == 0:  # full range: beyond calibration, saturates
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    elif kind == 1:  # the calibration range
        image = rng.integers(lo, hi + 1, (height, width, 3), dtype=np.uint8)
    elif kind == 2:  # constant colour
        image = np.broadcast_to(rng.integers(0, 256, 3, dtype=np.uint8),
                                (height, width, 3)).copy()
    else:
        image = calib[0].copy()
    return calib, image


@dataclass
class Prepared:
    """A spec made concrete: quantized graph, program, test image and golden tensors."""

    spec: GraphSpec
    graph: Graph
    program: Program
    image: np.ndarray
    golden: dict


@dataclass
class CaseResult:
    """One block judged: ``mismatch`` describes the first differing tensor (empty: all
    equal)."""

    block: int
    kind: str
    tensors: tuple[str, ...]
    mismatch: str = ""
    constant: bool = False  #: the block's output holds a single value (weak evidence)

    @property
    def ok(self) -> bool:
        return not self.mismatch


@dataclass
class GraphResult:
    """All blocks of one graph, or why the graph was refused."""

    spec: GraphSpec
    refused: str = ""  #: the FpgagenError of quantization or lowering, if any
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def mismatches(self) -> list[CaseResult]:
        return [c for c in self.cases if not c.ok]


def prepare(spec: GraphSpec, *, reuse_memory: bool | None = None) -> Prepared:
    """Weights, quantization, lowering and golden run of ``spec``. Raises
    :class:`FpgagenError` when quantization or lowering refuses the graph."""
    rng = np.random.default_rng(spec.seed)
    graph = build_graph(spec)
    graph = graph.replace(params=random_params(graph, rng))
    calib, image = random_images(spec.height, spec.width, rng)
    config = QuantConfig(weight_bits=spec.weight_bits, activation_bits=spec.activation_bits,
                         output_bits=16 if spec.has_gap else spec.activation_bits,
                         per_channel=spec.per_channel)
    graph = quantize(graph, config, calibration_images=calib)
    if spec.index_bits:
        graph = compress_randomly(graph, rng, spec.index_bits, spec.density)
    reuse = spec.reuse_memory if reuse_memory is None else reuse_memory
    hw = HwParams(pe_rows=spec.lanes, pe_cols=spec.lanes,
                  weight_chunk_bits=spec.weight_chunk_bits,
                  weight_store=spec.weight_store, flash=spec.flash)
    candidates = cut_candidates(graph, hw)
    cuts = [c for k, c in enumerate(candidates) if spec.cut_mask >> k & 1]
    program = lower(graph, hw, reuse_memory=reuse, steps=spec.steps, cuts=cuts)
    return Prepared(spec, graph, program, image, run_int(graph, image, keep_all=True))


def _first_difference(name: str, got, want) -> str:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"{name}: shape {got.shape}, golden {want.shape}"
    diff = np.argwhere(got != want)
    if not len(diff):
        return ""
    i = tuple(int(v) for v in diff[0])
    return (f"{name}: {len(diff)} of {got.size} codes differ, first at {i}: "
            f"{int(got[i])} vs golden {int(want[i])}")


def compare_blocks(prep: Prepared, tensors: dict, scores) -> list[CaseResult]:
    """Judge every block: ``tensors`` read back (``{name: (C, H, W)}``) and the streamed
    ``scores`` against the golden model."""
    results = []
    for i, (block, names) in enumerate(zip(prep.spec.blocks, block_tensors(prep.spec))):
        case = CaseResult(i, block.kind, names)
        for name in names:
            want = prep.golden[name]
            if name in prep.program.tensors:
                got = tensors.get(name)
                if got is None:
                    case.mismatch = f"{name}: not read back"
                    break
            elif name in prep.program.unstored:
                continue  # never stored whole: a fused max pool's input, checked through it
            else:  # the GAP: its scores
                got, want = np.asarray(scores), want.ravel()
            case.mismatch = _first_difference(name, got, want)
            if case.mismatch:
                break
        case.constant = np.unique(prep.golden[names[-1]]).size <= 1
        results.append(case)
    return results


def check_engine(spec: GraphSpec) -> GraphResult:
    """``spec`` on the engine model, every tensor captured as it completes, against the
    golden model."""
    try:
        prep = prepare(spec)
    except FpgagenError as e:
        return GraphResult(spec, refused=str(e))
    program = prep.program
    result = run_program(program, pack_input(program, prep.graph, prep.image), capture=True)
    return GraphResult(spec, cases=compare_blocks(prep, result.tensors, result.scores))


def check_rtl(spec: GraphSpec, build_dir, *, bank_depth: int = 4096) -> GraphResult:
    """``spec`` built with Verilator in ``build_dir`` (memory banks of ``bank_depth``
    words), run once, and judged against the golden model: every tensor held whole is read
    back at the end (the program is lowered without memory reuse), with the streamed
    scores; when the schedule keeps tensors in rings (row bands), the whole activation
    memory must also equal the engine model's, whose every row is checked against the
    golden model as it is written."""
    from ..sim.network import build_program, run_image

    try:
        prep = prepare(spec, reuse_memory=False)
    except FpgagenError as e:
        return GraphResult(spec, refused=str(e))
    program, graph = prep.program, prep.graph
    sim = build_program(program, build_dir, bank_depth=bank_depth)
    whole = [t for t, p in program.tensors.items() if t != graph.input_name and p.whole]
    rings = [t for t, p in program.tensors.items() if t != graph.input_name and not p.whole]
    run = run_image(sim, program, graph, prep.image, read_back=whole,
                    read_memory=bool(rings))
    tensors = dict(run.tensors)
    if rings:
        engine = run_program(program, pack_input(program, graph, prep.image), capture=True)
        same = np.array_equal(run.act_mem, engine.act_mem)
        for t in rings:  # the engine model's rows, if the final memories agree
            tensors[t] = engine.tensors[t] if same else np.full_like(engine.tensors[t], -999)
    return GraphResult(spec, cases=compare_blocks(prep, tensors, run.scores))
