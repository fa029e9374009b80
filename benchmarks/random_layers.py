"""Random layers against the golden model, in bulk: thousands of random layer
configurations (``fpgagen.testing.random_graphs``: conv kernels 1..7 on each axis, strides
1..3, padding 0..7, max pools, concats, adds, closing global average pools; channel counts
that are and are not multiples of the array; random weights, quantization options and
images) on the word-level engine model, and hundreds on the Verilator RTL, several dozen
per build (every tensor read back after the run).

    python benchmarks/random_layers.py [--engine-cases 5000] [--rtl-cases 200] [--seed S]
        [--blocks-per-build 24] [--lanes 2,4,8] [--unmappable]

A case is one drawn block (one layer configuration; a concat or add block with its
branches), judged bit for bit on every tensor it writes. Prints the cases checked, the
mismatches found (each with the graph that replays it), the graphs refused as not mappable
(never counted as checked) and the time of each part; exits with status 1 on a mismatch.
With ``--unmappable`` the engine draws also reach activation widths and 9-bit pools of the
input that the compiler refuses (``fpgagen.testing.UNMAPPABLE_OPTIONS``; counted as
refused). Builds go to ``build/bench/random_layers/``.
"""

import argparse
import dataclasses
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from fpgagen.testing import (UNMAPPABLE_OPTIONS, GraphResult, check_engine, check_rtl,
                             draw_graph_spec, numpy_draw)

ROOT = Path(__file__).resolve().parents[1]
#: Words per memory bank of the RTL builds, drawn per build.
BANK_DEPTHS = (256, 4096)


@dataclasses.dataclass
class Tally:
    """Cases, mismatches and refusals of one part of the run."""

    graphs: int = 0
    cases: int = 0
    constant: int = 0  #: cases whose output holds a single value
    refused_graphs: int = 0
    refused_cases: int = 0
    kinds: Counter = dataclasses.field(default_factory=Counter)
    reasons: Counter = dataclasses.field(default_factory=Counter)
    mismatches: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def add(self, result: GraphResult, label: str):
        self.graphs += 1
        if result.refused:
            self.refused_graphs += 1
            self.refused_cases += len(result.spec.blocks)
            self.reasons[result.refused.splitlines()[0]] += 1
            return
        for case in result.cases:
            self.cases += 1
            self.kinds[case.kind] += 1
            self.constant += case.constant
            if not case.ok:
                self.mismatches.append((label, case, result.spec))

    def report(self, title: str, unit: str):
        print(f"{title}: {self.cases} cases checked in {self.graphs} {unit}, "
              f"{len(self.mismatches)} mismatches, {self.refused_graphs} graphs "
              f"({self.refused_cases} cases) refused as not mappable, {self.seconds:.1f} s")
        print("  cases by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items())))
        print(f"  cases whose output is constant (weak evidence): {self.constant}")
        for reason, n in self.reasons.most_common():
            print(f"  refused {n}x: {reason}")
        for label, case, spec in self.mismatches:
            print(f"  MISMATCH {label}, block {case.block} ({case.kind}): {case.mismatch}\n"
                  f"    replay: {spec}")


def _engine(seed: int, cases: int, unmappable: bool = False) -> Tally:
    tally, t0, k = Tally(), time.perf_counter(), 0
    options = UNMAPPABLE_OPTIONS if unmappable else {}
    while tally.cases < cases:
        spec = draw_graph_spec(numpy_draw(np.random.default_rng([seed, 0, k])), **options)
        tally.add(check_engine(spec), f"engine graph {k}")
        k += 1
    tally.seconds = time.perf_counter() - t0
    return tally


def _rtl(seed: int, cases: int, blocks: int, lanes: list[int]) -> Tally:
    tally, t0, j = Tally(), time.perf_counter(), 0
    while tally.cases < cases:
        rng = np.random.default_rng([seed, 1, j])
        n = lanes[j % len(lanes)]
        spec = draw_graph_spec(numpy_draw(rng), blocks=(blocks, blocks), lanes=(n,))
        bank_depth = int(rng.choice(BANK_DEPTHS))
        build_dir = ROOT / "build" / "bench" / "random_layers" / f"{n}x{n}"
        t = time.perf_counter()
        result = check_rtl(spec, build_dir, bank_depth=bank_depth)
        before = len(tally.mismatches)
        tally.add(result, f"RTL build {j} ({n}x{n} PEs, banks of {bank_depth} words)")
        for _, case, _ in tally.mismatches[before:]:  # is the engine model wrong too?
            engine = check_engine(dataclasses.replace(spec, reuse_memory=False))
            case.mismatch += (" (engine model: " + ("agrees with golden"
                              if engine.cases and engine.cases[case.block].ok else "differs")
                              + ")")
        status = result.refused or (f"{len(result.cases)} cases, "
                                    f"{len(result.mismatches)} mismatches")
        print(f"  RTL build {j}: {n}x{n} PEs, banks of {bank_depth} words: {status} "
              f"({time.perf_counter() - t:.0f} s)", flush=True)
        j += 1
    tally.seconds = time.perf_counter() - t0
    return tally


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine-cases", type=int, default=5000, help="least engine model cases")
    ap.add_argument("--rtl-cases", type=int, default=200, help="least RTL cases (0: none)")
    ap.add_argument("--seed", type=int, default=None, help="seed of every draw (default: new)")
    ap.add_argument("--blocks-per-build", type=int, default=24, help="cases per RTL build")
    ap.add_argument("--lanes", default="2,4,8", help="PE array sizes of the RTL builds, "
                    "taken in turn")
    ap.add_argument("--unmappable", action="store_true",
                    help="let engine draws reach options the compiler refuses "
                         f"({UNMAPPABLE_OPTIONS}; counted as refused)")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2 ** 32)
    lanes = [int(v) for v in args.lanes.split(",")]
    print(f"random layers: --seed {seed}")
    engine = _engine(seed, args.engine_cases, args.unmappable)
    engine.report("engine model vs golden", "graphs")
    found = len(engine.mismatches)
    if args.rtl_cases > 0:
        rtl = _rtl(seed, args.rtl_cases, args.blocks_per_build, lanes)
        rtl.report("RTL vs golden", "builds")
        found += len(rtl.mismatches)
    print(f"total: {found} mismatches")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
