"""The whole-network simulation flow: compile a quantized graph for a PE array, build the
design in Verilator, run one image from ``start`` to ``done``, and judge the streamed
scores against the golden model."""

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..golden.int_model import run_int
from ..hw.cost import mac_utilization
from ..hw.params import HwParams
from ..ir import Graph
from ..schedule.band_choice import plan_program
from ..schedule.program import Program
from .network import build_program, run_image

__all__ = ["SimulationReport", "NetworkSimulator", "simulate_image"]

log = logging.getLogger(__name__)


@dataclass
class SimulationReport:
    """Everything one simulated image produced and how it compares."""

    program: Program  #: the compiled program
    scores: np.ndarray  #: class-score codes streamed out by the hardware
    golden: np.ndarray  #: the golden model's codes for the same image
    cycles: int  #: simulated cycles of the program run
    instruction_cycles: np.ndarray  #: simulated cycles of each instruction
    build_seconds: float  #: Verilog generation and Verilator compilation
    run_seconds: float  #: host time of the simulated run (``start`` to ``done``)

    @property
    def bit_exact(self) -> bool:
        """The hardware's scores equal the golden model's, every one."""
        return self.scores.shape == self.golden.shape and bool(np.all(self.scores ==
                                                                      self.golden))

    @property
    def mismatches(self) -> int:
        """Scores that differ from the golden model (all of them on a length mismatch)."""
        if self.scores.shape != self.golden.shape:
            return max(len(self.scores), len(self.golden))
        return int(np.count_nonzero(self.scores != self.golden))

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the network."""
        return self.program.macs

    @property
    def predicted_cycles(self) -> int:
        """The compiler's cycle model for the program."""
        return self.program.cycles_predicted

    @property
    def mac_utilization(self) -> float:
        """``macs / (cycles * pe_rows * pe_cols)`` from the simulated cycles."""
        return mac_utilization(self.macs, self.cycles, self.program.hw)

    @property
    def cycles_per_second(self) -> float:
        """Simulation speed: simulated cycles per host second."""
        return self.cycles / self.run_seconds if self.run_seconds > 0 else 0.0


class NetworkSimulator:
    """A quantized graph compiled for ``hw`` and built in Verilator in ``build_dir``, ready
    to run images (each :meth:`run` is one ``start`` to ``done``).

    ``progress`` is called with a short message before each step (default: log at INFO).
    The band plan is ``steps`` or ``max_activation_bytes``
    (:func:`fpgagen.schedule.band_choice.plan_program`), or a ``program`` of ``graph`` on
    ``hw`` compiled already (``fpgagen simulate --board`` passes the one ``fpgagen build``
    chooses). ``board``: memory banks as the board's RTL has them
    (:func:`fpgagen.sim.network.build_program`); ``None``: deep simulation banks.
    """

    def __init__(self, graph: Graph, hw: HwParams, build_dir,
                 progress: Callable[[str], None] | None = None, *, steps: int | None = None,
                 max_activation_bytes: int | None = None, program: Program | None = None,
                 board=None):
        self.graph = graph
        self._say = progress or log.info
        if program is None:
            self._say(f"compiling {graph.name} for a {hw} PE array")
            program = plan_program(graph, hw, steps=steps,
                                   max_activation_bytes=max_activation_bytes)
        elif program.hw != hw:
            raise ValueError(f"the program is compiled for a {program.hw} PE array, not {hw}")
        elif steps is not None or max_activation_bytes is not None:
            raise ValueError("a compiled program takes no steps or max_activation_bytes")
        self.program = p = program
        self._say(f"{len(p.instructions)} instructions, {p.macs:,d} MACs, "
                  f"{p.cycles_predicted:,d} cycles predicted; generating Verilog and "
                  f"building with Verilator in {build_dir}")
        t0 = time.perf_counter()
        self._sim = build_program(p, Path(build_dir), board=board)
        self.build_seconds = time.perf_counter() - t0
        self._say(f"built in {self.build_seconds:.1f} s")

    def run(self, image: np.ndarray) -> SimulationReport:
        """Run ``image`` (``(H, W, 3)`` uint8 BGR) and compare with the golden model."""
        self._say(f"simulating {self.program.cycles_predicted:,d} cycles")
        run = run_image(self._sim, self.program, self.graph, image)
        self._say(f"simulated {run.cycles:,d} cycles in {run.wall_seconds:.1f} s; running "
                  "the golden model")
        golden = run_int(self.graph, image)[self.graph.outputs[0]]
        return SimulationReport(program=self.program, scores=run.scores,
                                golden=np.asarray(golden, dtype=np.int64).ravel(),
                                cycles=run.cycles, instruction_cycles=run.instruction_cycles,
                                build_seconds=self.build_seconds,
                                run_seconds=run.wall_seconds)


def simulate_image(graph: Graph, hw: HwParams, image: np.ndarray, build_dir,
                   progress: Callable[[str], None] | None = None, **plan) -> SimulationReport:
    """Compile ``graph`` (quantized) for ``hw`` (``plan``: ``steps`` or
    ``max_activation_bytes``, see :func:`fpgagen.schedule.band_choice.plan_program`, or a
    compiled ``program`` and a ``board``), build it in ``build_dir``, run ``image``
    (``(H, W, 3)`` uint8 BGR) and compare with the golden model (see
    :class:`NetworkSimulator`)."""
    return NetworkSimulator(graph, hw, build_dir, progress, **plan).run(image)
