"""``fpgagen build`` as named steps over one typed configuration: compile the network for a
board, fit its memories and logic, propose options that fit when it does not, and write the
RTL, the schedule, the vendor project and the reports."""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from .devices.board import Board, list_boards, load_board
from .emit.atomic import check_folder, install, staging_folder
from .errors import FpgagenError
from .fit import logic_model
from .fit.layers import layer_rows, performance
from .fit.memories import board_memories
from .fit.multipliers import default_pe
from .fit.placement import MemoryFit, fit_memories
from .fit.proposals import DesignPoint, Proposal, propose, propose_flash
from .fit.verdict import Verdict, make_verdict
from .flow import FlowConfig, step_import, step_quantize
from .hw.params import FlashTiming, HwParams, WeightStore
from .hw.spec import act_lane_bits
from .schedule.memory_map import MemoryMap, MemoryRole
from .ir import Graph
from .ir.weight_format import WeightFormat
from .nets import NetOptions, canonical_name

__all__ = ["BuildConfig", "Analysis", "BuildResult", "step_out_dir", "step_hw", "step_weight_store",
           "flash_timing", "default_chunk_bits", "DEFAULT_CHUNK_GROUPS", "step_lower",
           "step_plan",
           "step_analyze", "step_probe", "step_accuracy", "step_propose", "rank_proposals",
           "candidate_formats", "point_flow", "step_layer_formats", "RESHAPE_NOTE",
           "FLASH_PROPOSALS_NOTE", "conv_weights", "step_schedule", "step_rtl",
           "step_project",
           "step_reports", "step_install", "run_build", "previous_files", "estimate_logic",
           "report_data", "REPORT_FILES"]

log = logging.getLogger(__name__)

#: The report files every build writes, in the output folder.
REPORT_FILES = ("report.json", "report.md", "report.html")


@dataclass(frozen=True, kw_only=True)
class BuildConfig:
    """Everything that decides a build."""

    flow: FlowConfig = field(default_factory=FlowConfig)  #: network, weights, quantization
    board: Board  #: the target board (:func:`fpgagen.devices.board.resolve_board`)
    out_dir: Path | str | None = None  #: output folder; ``None``: ``build/<net>-<board>``
    pe: int | None = None  #: side of the square PE array; ``None``: the board's default
    clock_mhz: float | None = None  #: accelerator clock; ``None``: the board's
    force: bool = False  #: overwrite a non-empty output folder
    proposals: bool = True  #: look for options that fit when the design does not
    #: activation memory limit in bytes for the band plan; ``None``: whatever fits the board
    max_activation_bytes: int | None = None
    #: band steps forced (1: whole tensors); ``None``: the plan with the fewest cycles that
    #: fits (:func:`fpgagen.schedule.band_choice.choose_plan`)
    steps: int | None = None
    #: folder of labelled images to measure the accuracy on (``--eval``); ``None``: not
    #: measured
    eval_dir: Path | str | None = None
    #: most images of ``eval_dir`` per measured configuration, evenly spaced; ``None``: all
    eval_limit: int | None = None
    #: most bytes of weight storage (``--weight-budget-kb``): per-layer weight formats are
    #: chosen to fit it (:func:`fpgagen.fit.layer_formats.choose_layer_formats`); ``None``:
    #: the formats of ``flow``
    weight_budget_bytes: int | None = None
    #: where the weights live (``--weight-store``): ROM banks in block RAM, or the board's
    #: on-chip flash, streamed chunk by chunk into staging RAMs (``docs/hardware.md``,
    #: *Weights in flash*)
    weight_store: WeightStore = WeightStore.BRAM
    #: staging budget in bits per PE column (``--weight-chunk-kb``), flash only; ``None``:
    #: :func:`default_chunk_bits`
    weight_chunk_bits: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "weight_store", WeightStore(self.weight_store))

    @property
    def clock(self) -> float:
        return float(self.clock_mhz if self.clock_mhz is not None else self.board.clock_mhz)

    @property
    def out(self) -> Path:
        if self.out_dir is not None:
            return Path(self.out_dir)
        return Path("build") / f"{canonical_name(self.flow.net)}-{self.board.key}"


@dataclass
class Analysis:
    """A compiled program on a board: memories, their placement, logic, verdict, layers and
    performance."""

    program: object
    graph: Graph
    board: Board
    hw: HwParams
    clock_mhz: float
    memories: MemoryMap
    memfit: MemoryFit
    logic: dict
    verdict: Verdict
    layers: list[dict]
    performance: dict

    @property
    def fits(self) -> bool:
        return self.verdict.fits


@dataclass
class BuildResult:
    """What a build produced."""

    config: BuildConfig
    analysis: Analysis
    proposals: list[Proposal]
    accuracy: dict | None  #: the build's measured accuracy, ``None`` without ``--eval``
    files: list[Path]  #: every file written, relative to the output folder
    notes: list[str]  #: things the user should know (skipped outputs)
    report: dict  #: the contents of ``report.json``

    @property
    def fits(self) -> bool:
        return self.analysis.fits


# --- steps ---------------------------------------------------------------------------------

def step_out_dir(cfg: BuildConfig) -> Path:
    """The output folder, checked before anything is compiled; nothing is written.

    Raises
    ------
    FpgagenError
        For an empty path, a file, a folder that cannot be written or created (read-only,
        ``/proc``, ``/sys``: :func:`fpgagen.emit.atomic.check_folder`), and a non-empty
        folder without ``cfg.force``.
    """
    out = check_folder("" if cfg.out_dir == "" else cfg.out)
    if out.is_dir() and any(out.iterdir()) and not cfg.force:
        raise FpgagenError(f"output folder {str(out)!r} is not empty; pass --force to "
                           f"overwrite it")
    return out


def previous_files(out: Path) -> set[str]:
    """The files a previous build in ``out`` wrote, as its ``report.json`` lists them
    (relative paths); empty when ``out`` holds no report of fpgagen."""
    try:
        data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(data, dict) or not str(data.get("generator", "")).startswith("fpgagen"):
        return set()
    files = data.get("files", [])
    return {f for f in files if isinstance(f, str)} if isinstance(files, list) else set()


def step_install(stage: Path, out: Path) -> None:
    """Move the complete build in ``stage`` into ``out`` (:func:`fpgagen.emit.atomic.install`):
    the files the previous build listed in its ``report.json`` go, files fpgagen did not
    write stay (one that a new file replaces is named in a warning), ``report.json`` comes
    last."""
    replaced = install(stage, out, replace=previous_files(out), last=REPORT_FILES)
    if replaced:
        log.warning("replaced %d file%s that the previous build did not list in its "
                    "report.json: %s", len(replaced), "s" if len(replaced) > 1 else "",
                    ", ".join(replaced[:3]) + (", ..." if len(replaced) > 3 else ""))


def step_hw(cfg: BuildConfig) -> HwParams:
    """The PE array: ``cfg.pe`` or the largest square one (up to 16x16) whose multipliers
    the board has (:func:`fpgagen.fit.multipliers.default_pe`), weights in ROM banks (the
    flash store is added once the network is known: :func:`step_weight_store`).

    Raises
    ------
    FpgagenError
        For a bad PE array, the flash store on a board without flash (naming the board and
        its memories), a staging budget without the flash store.
    """
    b = cfg.board
    if cfg.weight_store is WeightStore.FLASH and not b.flash:
        mems = ", ".join(f"{m.name} ({m.kind})" for m in b.memory)
        raise FpgagenError(f"--weight-store flash: board {b.key!r} ({b.name}, {b.device}) "
                           f"has no flash memory; its memories: {mems}")
    if cfg.weight_store is WeightStore.BRAM and cfg.weight_chunk_bits is not None:
        raise FpgagenError("--weight-chunk-kb is the staging budget of --weight-store flash; "
                           "with the weights in block RAM (bram) there is no staging")
    n = cfg.pe if cfg.pe is not None else default_pe(
        cfg.board, cfg.flow.weight_bits, act_lane_bits=act_lane_bits(cfg.flow.activation_bits))
    try:
        return HwParams(pe_rows=n, pe_cols=n)
    except ValueError as e:
        raise FpgagenError(str(e)) from None


def flash_timing(board: Board) -> FlashTiming:
    """The :class:`~fpgagen.hw.params.FlashTiming` of ``board``'s (first) flash, from its
    board file: read latency, longest burst, burst throughput."""
    f = board.flash[0]
    words, clocks = f.burst_throughput
    return FlashTiming(latency=f.read_latency_cycles, burst_limit=f.max_burst_words,
                       words_per=words, clocks_per=clocks)


#: Output groups of the heaviest conv that the default staging budget holds
#: (:func:`default_chunk_bits`).
DEFAULT_CHUNK_GROUPS = 2


def default_chunk_bits(graph: Graph, hw: HwParams) -> int:
    """The staging budget of ``--weight-store flash`` without ``--weight-chunk-kb``:
    :data:`DEFAULT_CHUNK_GROUPS` times the smallest budget every conv's single output group
    fits (:func:`fpgagen.schedule.weight_chunks.least_chunk_bits` of the whole-tensor
    program): the heaviest conv loads two output groups per chunk, lighter ones more, so
    the load of the next chunk overlaps the current one and the staging halves stay
    small."""
    from .schedule.weight_chunks import least_chunk_bits

    return max(1, DEFAULT_CHUNK_GROUPS * least_chunk_bits(step_lower(graph, hw)))


def step_weight_store(cfg: BuildConfig, graph: Graph, hw: HwParams) -> HwParams:
    """``hw`` with the weight store of ``cfg``: unchanged for ``bram``; for ``flash``, the
    staging budget (``cfg.weight_chunk_bits`` or :func:`default_chunk_bits`) and the board
    file's flash timing (:func:`flash_timing`)."""
    if cfg.weight_store is WeightStore.BRAM:
        return hw
    from dataclasses import replace

    bits = (cfg.weight_chunk_bits if cfg.weight_chunk_bits is not None
            else default_chunk_bits(graph, hw))
    return replace(hw, weight_store=WeightStore.FLASH, weight_chunk_bits=bits,
                   flash=flash_timing(cfg.board))


def step_lower(graph: Graph, hw: HwParams):
    """The program of ``graph`` on ``hw`` with whole tensors (one instruction per layer)."""
    from .schedule.lower import lower

    return lower(graph, hw)


def step_plan(cfg: BuildConfig, graph: Graph, hw: HwParams) -> Analysis:
    """The band plan with the fewest cycles whose design fits the board (and the
    activation limit), analysed; when none fits, the one with the least activation
    memory. Each region of the plan takes its own step count
    (:func:`fpgagen.schedule.band_choice.search_plan`); ``cfg.steps`` forces that many
    bands in every region (with the cuts that need least memory)."""
    from .schedule.band_choice import (STEP_OPTIONS, Planner, choose_plan,
                                       fixed_steps_options, over_limit, search_plan,
                                       words_of_bytes)

    max_words = None
    if cfg.max_activation_bytes is not None:
        max_words = words_of_bytes(cfg.max_activation_bytes, hw, graph.quant.act_lane_bits)
    analyses = {}
    planner = Planner(graph, hw, (cfg.steps,) if cfg.steps is not None else STEP_OPTIONS)
    if cfg.steps in (None, 1):  # whole tensors have the fewest cycles: when they fit, done
        whole = step_analyze(planner.program((1,), ()), graph, cfg.board, cfg.clock)
        within = max_words is None or whole.program.act_depth <= max_words
        if cfg.steps == 1 and not within:
            raise over_limit(graph, hw, cfg.max_activation_bytes, whole.program.act_depth)
        if cfg.steps == 1 or (whole.fits and within):
            return whole
        analyses[((1,), ())] = whole  # analysed: not again

    def analysis(option):
        key = (option.region_steps, option.cuts)
        if key not in analyses:
            analyses[key] = step_analyze(planner.program(*key), graph, cfg.board, cfg.clock)
        return analyses[key]

    def fits(option) -> bool:
        return analysis(option).fits

    flash_keys = {r.key for r in analysis(planner.least_memory()).verdict.flash}

    def more_memory_may_fit(option) -> bool:
        # only the flash is over (its image grows with the instructions, which fewer bands
        # and so more activation memory reduce)
        over = {r.key for r in analysis(option).verdict.overflows}
        return bool(over) and over <= flash_keys

    if cfg.steps is not None:  # that many bands, the region cuts needing least memory
        chosen, ok = choose_plan(fixed_steps_options(planner, cfg.steps), fits, max_words)
    else:
        chosen, ok = search_plan(planner, fits, max_words,
                                 more_memory_may_fit=more_memory_may_fit)
    if max_words is not None and chosen.words > max_words:
        raise over_limit(graph, hw, cfg.max_activation_bytes, chosen.words)
    log.info("band plan: steps per region %s, %d activation words (%s)", chosen.describe(),
             chosen.words, "fits" if ok else "no plan fits")
    return analysis(chosen)


def estimate_logic(hw: HwParams, board: Board, program) -> dict:
    """LUTs, flip-flops and hard multipliers of :func:`fpgagen.fit.logic_model.estimate_logic`
    (``model`` names it in the report)."""
    out = logic_model.estimate_logic(hw, board, program)
    return {"lut": int(out["lut"]), "ff": int(out["ff"]), "dsp": int(out["dsp"]),
            "model": logic_model.__name__}


def step_analyze(program, graph: Graph, board: Board, clock_mhz: float) -> Analysis:
    """Memories, their placement on the board's blocks, the logic estimate, the verdict,
    the per-layer table and the performance of ``program``."""
    memories = board_memories(program, board)
    memfit = fit_memories(memories, board)
    logic = estimate_logic(program.hw, board, program)
    verdict = make_verdict(board, memfit, logic, program)
    return Analysis(program=program, graph=graph, board=board, hw=program.hw,
                    clock_mhz=clock_mhz, memories=memories, memfit=memfit, logic=logic,
                    verdict=verdict, layers=layer_rows(program, graph, memfit),
                    performance=performance(program, clock_mhz))


def design_point(cfg: BuildConfig, analysis: Analysis) -> DesignPoint:
    """The options of an analysed design, with the network's defaults resolved."""
    g = analysis.graph
    flow = cfg.flow
    return DesignPoint(pe=analysis.hw.pe_rows,
                       weight_bits=int(analysis.program.weight_bits),
                       input_size=int(g.input_shape[1]), width=float(flow.net_options.width),
                       num_classes=int(g.shapes()[g.outputs[0]][0]),
                       weight_format=str(flow.weight_format),
                       layer_formats=tuple(sorted((k, str(v))
                                                  for k, v in flow.layer_formats.items())),
                       weight_store=analysis.hw.weight_store.value,
                       activation_bits=int(flow.activation_bits))


def point_flow(cfg: BuildConfig, point: DesignPoint) -> FlowConfig:
    """The flow of ``cfg`` with the options of ``point`` (weights and calibration kept)."""
    from dataclasses import replace

    return replace(cfg.flow, net_options=NetOptions(input_size=point.input_size,
                                                    num_classes=point.num_classes,
                                                    width=point.width),
                   weight_bits=point.weight_bits, weight_format=point.weight_format,
                   layer_formats=dict(point.layer_formats),
                   activation_bits=point.activation_bits)


def real_weights(cfg: BuildConfig) -> bool:
    """Whether the build has trained weights (a ``--weights`` file)."""
    return cfg.flow.weights is not None


def _evaluator(cfg: BuildConfig, base: Analysis | None = None):
    """``evaluate(point, board)`` for the proposals: the build's network with its own
    weights (the file's or generated ones; the zeros of pruned formats depend on them), or
    with generated weights when the width or the class count changes or the weights come
    from ONNX (memory, logic and cycles depend on the shapes only), quantized on one
    generated image, and planned and analysed as the build itself is: the band plan of
    :func:`step_plan` on the point's board (whole tensors when they fit, else the plan with
    the fewest cycles that fits; ``cfg``'s ``--steps`` and ``--max-activation-kb`` hold for
    every point). A point with its weights in flash is compiled as ``build --weight-store
    flash`` does: the staging budget of ``cfg`` or the default one, the board's flash
    timing. ``base``: the build's own analysis, reused for its own options and board."""
    from .frontend import generate_weights
    from .nets import build_net
    from .passes import QuantConfig, generated_calibration_images, quantize

    def graph_key(p: DesignPoint):
        return p.numerics()

    graphs, figures = {}, {}
    if base is not None:
        p = design_point(cfg, base)
        gkey = graph_key(p)
        graphs[gkey] = base.graph
        figures[gkey + (p.pe, p.weight_store, cfg.board.key)] = (base.verdict,
                                                                 base.performance)

    def memo(cache: dict, key, point: DesignPoint, make):
        """``cache[key]``, made once by ``make()``; ``None`` when it fails (logged)."""
        if key not in cache:
            try:
                cache[key] = make()
            except FpgagenError as e:
                log.info("proposal %s: %s", point, e)
                cache[key] = None
        return cache[key]

    own = base is not None and not str(cfg.flow.weights or "").lower().endswith(".onnx")
    if own:
        shape = design_point(cfg, base)
        shape = (shape.width, shape.num_classes)

    def make_graph(point: DesignPoint):
        flow = point_flow(cfg, point)
        if own and (point.width, point.num_classes) == shape:
            g = step_import(flow)
        else:
            g = generate_weights(build_net(cfg.flow.net, flow.net_options))
        return quantize(g, QuantConfig(weight_bits=point.weight_bits,
                                       activation_bits=flow.activation_bits,
                                       weight_format=point.weight_format,
                                       layer_formats=dict(point.layer_formats)),
                        calibration_images=generated_calibration_images(g, 1))

    def evaluate(point: DesignPoint, board: Board):
        gkey = graph_key(point)
        graph = memo(graphs, gkey, point, lambda: make_graph(point))
        if graph is None:
            return None
        return memo(figures, gkey + (point.pe, point.weight_store, board.key), point,
                    lambda: _point_figures(cfg, point, graph, board))

    return evaluate


def _point_figures(cfg: BuildConfig, point: DesignPoint, graph: Graph, board: Board):
    """``(verdict, performance)`` of ``point`` on ``board``, compiled as ``build`` compiles
    it: the point's PE array and weight store (:func:`step_hw`, :func:`step_weight_store`)
    and the band plan of :func:`step_plan`."""
    from dataclasses import replace

    store = WeightStore(point.weight_store)
    pcfg = replace(cfg, board=board, pe=point.pe, weight_store=store,
                   weight_chunk_bits=cfg.weight_chunk_bits if store is WeightStore.FLASH
                   else None, flow=point_flow(cfg, point))
    hw = step_weight_store(pcfg, graph, step_hw(pcfg))
    a = step_plan(pcfg, graph, hw)
    return a.verdict, a.performance


def conv_weights(graph: Graph) -> dict:
    """``{conv layer: number of weights}`` of ``graph``."""
    import numpy as np

    from .ir import Conv2d

    return {n.name: int(np.asarray(graph.params[n.name]["weight"]).size)
            for n in graph.nodes if isinstance(n.op, Conv2d) and n.name in graph.params}


#: Share of zero float weights from which ``pruned`` formats are proposed.
SPARSE = 0.5


def candidate_formats(float_graph: Graph, weight_bits: int, current: str = "dense") \
        -> list[str]:
    """Weight formats a proposal may try, the mildest (largest storage) first: ``pruned:B``
    when most conv weights of ``float_graph`` are zeros, else ``codebook:B`` with fewer index
    bits than ``weight_bits`` (B = 8, 6, 5, 4); formats of the kind of a compressed
    ``current`` with fewer index bits than it."""
    import numpy as np

    from .ir import Conv2d
    from .ir.weight_format import WeightFormat

    cur = WeightFormat.parse(current)
    if cur.compressed:
        return [f"{cur.kind.value}:{b}" for b in (6, 5, 4) if b < cur.index_bits]
    ws = [np.asarray(float_graph.params[n.name]["weight"]) for n in float_graph.nodes
          if isinstance(n.op, Conv2d) and n.name in float_graph.params]
    total = sum(w.size for w in ws)
    zeros = sum(int(np.count_nonzero(w == 0)) for w in ws)
    if total and zeros / total >= SPARSE:
        return [f"pruned:{b}" for b in (8, 6, 5, 4)]
    return [f"codebook:{b}" for b in (8, 6, 5, 4) if b < weight_bits]


#: The note a build with ``--weight-store flash`` carries when it does not fit: only
#: flash designs are proposed for it.
FLASH_PROPOSALS_NOTE = ("with --weight-store flash, the options searched are per-layer "
                        "codebook mixes and smaller inputs with the weights in flash (not "
                        "the PE array, the width or the class count)")

#: The note a build with a weights file carries when it does not fit.
RESHAPE_NOTE = ("a narrower network (--width) or fewer classes (--num-classes) would need "
                "other weights: not proposed with a --weights file")


def step_propose(cfg: BuildConfig, analysis: Analysis, float_graph: Graph | None = None,
                 probe=None, accuracy: dict | None = None) -> list[Proposal]:
    """Options that fit (:func:`fpgagen.fit.proposals.propose`), on this board and on the larger
    bundled ones; empty when the design fits. With a weights file, no width or class count
    changes. With ``probe`` (:class:`~fpgagen.fit.accuracy.AccuracyProbe`), each proposal
    that keeps the width and the classes carries its measured accuracy (``accuracy``: the
    build's own, for proposals that keep its numbers); proposals are ranked by integer top-1
    (measured ones first), then frames per second. On a board with flash, also designs with
    the weights in flash that keep the network
    (:func:`fpgagen.fit.proposals.propose_flash`); a design already in flash gets only
    those (:data:`FLASH_PROPOSALS_NOTE`)."""
    if analysis.fits or not cfg.proposals:
        return []
    boards = []
    for p in list_boards():
        try:
            b = load_board(p)
        except FpgagenError:
            continue
        if b.key != cfg.board.key:
            boards.append(b)
    log.info("looking for options that fit")
    memfit = analysis.memfit
    base_blocks = {"weights": memfit.blocks_of(MemoryRole.WEIGHTS),
                   "activation": memfit.blocks_of(MemoryRole.ACTIVATIONS)}
    base = design_point(cfg, analysis)
    formats = (candidate_formats(float_graph, base.weight_bits, base.weight_format)
               if float_graph is not None else [])
    evaluate = _evaluator(cfg, analysis)
    found = [] if analysis.hw.in_flash else propose(
        base, cfg.board, evaluate, boards=boards, base_blocks=base_blocks, formats=formats,
        reshape=not real_weights(cfg))
    if cfg.board.flash:
        log.info("looking for designs with the weights in flash")
        found += propose_flash(base, cfg.board, evaluate,
                               conv_weights(float_graph if float_graph is not None
                                            else analysis.graph))
    return rank_proposals([_with_accuracy(cfg, p, base, probe, accuracy) for p in found])


def _with_accuracy(cfg: BuildConfig, p: Proposal, base: DesignPoint, probe,
                   accuracy: dict | None) -> Proposal:
    from dataclasses import replace

    if probe is None or (p.point.width, p.point.num_classes) != (base.width,
                                                                 base.num_classes):
        return p
    if p.point.numerics() == base.numerics():
        return replace(p, accuracy=accuracy)
    try:
        return replace(p, accuracy=probe.measure(point_flow(cfg, p.point)))
    except FpgagenError as e:
        log.warning("accuracy of %s not measured: %s", " ".join(p.flags), e)
        return p


def rank_proposals(proposals: list[Proposal]) -> list[Proposal]:
    """Measured proposals first, the highest integer top-1 first; then the most frames per
    second (a stable sort: the search order breaks ties)."""
    def key(p: Proposal):
        acc = p.accuracy
        return (acc is None, -acc["int"]["top1"] if acc else 0.0,
                -float(p.performance.get("fps", 0.0)))
    return sorted(proposals, key=key)


def _write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(data)
    return path


def step_schedule(program, rtl_dir: Path) -> list[Path]:
    """The control schedule alone (:func:`fpgagen.emit.design.write_schedule`, as
    :func:`~fpgagen.emit.design.write_rtl` writes it with the RTL), for a design that does
    not fit."""
    from .emit.design import write_schedule

    return write_schedule(program, rtl_dir)


def step_rtl(program, out: Path, board: Board) -> list[Path]:
    """Verilog and memory images in the vendor's format under ``out/rtl``
    (:func:`fpgagen.emit.design.write_rtl`)."""
    from .emit.design import write_rtl

    return [Path(p) for p in write_rtl(program, out / "rtl", board=board)]


def step_project(board: Board, out: Path, rtl_files: list[Path], clock_mhz: float,
                 analysis: "Analysis | None" = None) -> list[Path]:
    """The vendor project (:func:`fpgagen.emit.vendor.write_project`); for a design with its
    weights in flash (``analysis``), with the flash IP in the configuration mode the fit
    chose (:func:`fpgagen.fit.flash.flash_use`) and the image as its initial contents."""
    from .emit.design import FLASH_HEX_FILE, TOP_MODULE
    from .emit.vendor import write_project

    flash = None
    if analysis is not None and analysis.hw.in_flash:
        from .emit.intel_flash import FlashIp
        from .fit.flash import flash_use

        use = flash_use(board, analysis.memfit, analysis.program)[0]
        image = next((Path(f) for f in rtl_files if Path(f).name == FLASH_HEX_FILE), None)
        if image is None:
            raise FpgagenError(f"board {board.name!r}: no {FLASH_HEX_FILE} among the RTL "
                               f"files for the flash IP's initial contents")
        flash = FlashIp(mode=use.mode, burst_count=analysis.hw.flash.burst_limit,
                        image=image)
    return [Path(p) for p in write_project(board, out, top=TOP_MODULE, rtl_files=rtl_files,
                                           clock_mhz=clock_mhz, flash=flash)]


def report_data(cfg: BuildConfig, analysis: Analysis, proposals: list[Proposal],
                files: list[str], notes: list[str], accuracy: dict | None = None) -> dict:
    """The contents of ``report.json`` (and what the Markdown and HTML reports show)."""
    from .emit.reports import build_report_data

    return build_report_data(cfg, analysis, proposals, files, notes, accuracy)


def step_probe(cfg: BuildConfig, float_graph: Graph):
    """The :class:`~fpgagen.fit.accuracy.AccuracyProbe` of ``cfg.eval_dir`` (its labels
    checked before anything is compiled), or ``None`` without ``--eval``."""
    if cfg.eval_dir is None:
        return None
    from .build_accuracy import AccuracyProbe

    classes = int(float_graph.shapes()[float_graph.outputs[0]][0])
    return AccuracyProbe(cfg.eval_dir, classes, cfg.eval_limit)


def step_layer_formats(cfg: BuildConfig, float_graph: Graph, hw: HwParams):
    """``(cfg, choice)``: with ``cfg.weight_budget_bytes``, the per-layer weight formats that
    fit it with the least loss (:func:`fpgagen.fit.layer_formats.choose_layer_formats`,
    candidates of :func:`candidate_formats`, the output noise measured on the calibration
    images) added to ``cfg.flow.layer_formats``; else ``(cfg, None)``."""
    if cfg.weight_budget_bytes is None:
        return cfg, None
    from dataclasses import replace

    from .fit.layer_formats import choose_layer_formats
    from .flow import load_images
    from .passes import QuantConfig

    flow = cfg.flow
    images = (load_images(flow.calibration, float_graph.input_shape[1])
              if flow.calibration else None)
    qc = QuantConfig(weight_bits=flow.weight_bits, activation_bits=flow.activation_bits,
                     weight_format=flow.weight_format,
                     layer_formats=dict(flow.layer_formats))
    formats = candidate_formats(float_graph, flow.weight_bits, str(flow.weight_format))
    if not formats:
        raise FpgagenError(f"--weight-budget-kb: no cheaper weight format than "
                           f"{flow.weight_format} with {flow.weight_bits}-bit weights")
    log.info("choosing per-layer weight formats among %s for %d bytes", ", ".join(formats),
             cfg.weight_budget_bytes)
    choice = choose_layer_formats(float_graph, cfg.weight_budget_bytes, formats, hw=hw,
                                  config=qc, calibration_images=images,
                                  images=None if images is None else images[:4])
    layer_formats = {**flow.layer_formats, **{k: WeightFormat.parse(v)
                                              for k, v in choice.formats.items()}}
    return replace(cfg, flow=replace(flow, layer_formats=layer_formats)), choice


def step_accuracy(cfg: BuildConfig, probe, float_graph: Graph, int_graph: Graph) \
        -> dict | None:
    """The accuracy of the built configuration (float and integer golden model) on the
    probe's images, or ``None`` without one."""
    if probe is None:
        return None
    return probe.measure(cfg.flow, float_graph, int_graph)


def step_reports(data: dict, out: Path) -> list[Path]:
    """``report.json``, ``report.md`` and ``report.html``."""
    from .emit.reports import render_html, render_json, render_markdown

    return [_write(out / "report.json", render_json(data)),
            _write(out / "report.md", render_markdown(data)),
            _write(out / "report.html", render_html(data))]


def _choice_note(choice) -> str:
    kb = choice.budget / 1024
    if not choice.formats:
        return (f"--weight-budget-kb {kb:g}: the weights ({choice.total_bytes:,d} bytes) fit "
                f"as they are")
    text = (f"--weight-budget-kb {kb:g}: per-layer formats {' '.join(choice.flags())} "
            f"(weights {choice.base_bytes:,d} -> {choice.total_bytes:,d} bytes)")
    if not choice.fits:
        text += "; every cheaper format taken and the weights still exceed the budget"
    return text


def run_build(cfg: BuildConfig) -> BuildResult:
    """Run every step. The design is analysed and the reports are always written; the RTL
    and the vendor project only when it fits. Everything is written into a staging folder
    beside the output folder and moved in once complete (:func:`step_install`): a failure
    or an interrupt leaves the output folder as it was.

    Raises
    ------
    FpgagenError
        For bad input (network, weights, options, an output folder that cannot be written,
        a non-empty output folder without ``force``).
    """
    if not isinstance(cfg.board, Board):
        raise FpgagenError(f"board must be a Board, not {cfg.board!r}")
    hw = step_hw(cfg)
    out = step_out_dir(cfg)
    float_graph = step_import(cfg.flow)
    probe = step_probe(cfg, float_graph)
    cfg, choice = step_layer_formats(cfg, float_graph, hw)
    graph = step_quantize(float_graph, cfg.flow)
    hw = step_weight_store(cfg, graph, hw)
    log.info("lowering %s to %s PEs", graph.name, hw)
    analysis = step_plan(cfg, graph, hw)
    program = analysis.program
    accuracy = step_accuracy(cfg, probe, float_graph, graph)
    proposals = step_propose(cfg, analysis, float_graph, probe, accuracy)
    # Written beside the output folder and moved in once complete: a failure or Ctrl-C
    # leaves the previous build as it was.
    with staging_folder(out) as stage:
        written: list[Path] = []
        notes: list[str] = []
        if choice is not None:
            notes.append(_choice_note(choice))
        if analysis.fits:
            rtl = step_rtl(program, stage, cfg.board)
            written += rtl + step_project(cfg.board, stage, rtl, cfg.clock, analysis)
        else:
            written += step_schedule(program, stage / "rtl")
            notes.append("the design does not fit: only the reports and the schedule "
                         "(rtl/schedule.bin, rtl/schedule.txt) were written")
            if cfg.proposals and analysis.hw.in_flash:
                notes.append(FLASH_PROPOSALS_NOTE)
            elif cfg.proposals and real_weights(cfg):
                notes.append(RESHAPE_NOTE)
        rel = sorted({str(Path(p).resolve().relative_to(stage.resolve())).replace("\\", "/")
                      for p in written} | set(REPORT_FILES))
        data = report_data(cfg, analysis, proposals, rel, notes, accuracy)
        step_reports(data, stage)
        step_install(stage, out)
    return BuildResult(config=cfg, analysis=analysis, proposals=proposals, accuracy=accuracy,
                       files=[Path(r) for r in rel], notes=notes, report=data)
