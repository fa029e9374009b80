"""Fmax of the largest configuration that fits the ECP5-85 (by the fit model): build it,
synthesize with Yosys (synth_ecp5), pack registers into the EBR and multipliers
(``fpgagen.synth.ecp5_pack``), place and route with nextpnr-ecp5 (on unconstrained pins,
speed grade 6), print Fmax and the critical path, and write them into the build's
report.json (key ``synthesis``).

Largest configuration: the PE array is the largest square one whose multipliers fit
(Yosys maps every PE product to its own MULT18X18D: 8x8 takes 76 of 156, 16x16 would take
276), and the network is SqueezeNet v1.1 at the largest width / input size the 208 EBR hold
at 8x8 (``--search`` lists the candidates).

    python benchmarks/fmax_ecp5.py [--out build/fmax-ecp5] [--freq 100]

Needs ``pip install -e ".[synth]"``. Yosys takes about two minutes, nextpnr about a quarter
of an hour (WASM, one thread; 799 s for the 106.5 MHz result in ``docs/synthesis.md``, much
longer when a second nextpnr shares the machine); the run stops after ``--timeout`` seconds
per tool.
"""

import argparse
import logging
import sys
import time
from pathlib import Path

from fpgagen.build_flow import BuildConfig, run_build
from fpgagen.flow import FlowConfig
from fpgagen.devices.board import resolve_board
from fpgagen.nets import NetOptions

ROOT = Path(__file__).resolve().parents[1]

#: Candidates on 8x8 PEs, largest first: (width, input size, classes).
CANDIDATES = [(0.625, 64, 100), (0.5, 128, 100), (0.5, 96, 100), (0.5, 64, 100),
              (0.375, 96, 100), (0.25, 64, 100)]


def _build(out: Path, width: float, size: int, classes: int, pe: int):
    board = resolve_board("ecp5-85")
    cfg = BuildConfig(flow=FlowConfig(net="squeezenet1_1", net_options=NetOptions(
        input_size=size, width=width, num_classes=classes)), board=board,
        pe=pe, out_dir=out, force=True, proposals=False)
    return run_build(cfg)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "fmax-ecp5")
    ap.add_argument("--freq", type=float, default=100.0, help="target MHz (default 100)")
    ap.add_argument("--pe", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=5400.0,
                    help="seconds per tool (default 5400)")
    ap.add_argument("--search", action="store_true", help="list the candidates and stop")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from fpgagen.synth.nextpnr import run_nextpnr
    from fpgagen.synth.report import add_synthesis, rtl_sources
    from fpgagen.synth.yosys import run_yosys

    chosen = None
    for width, size, classes in CANDIDATES:
        result = _build(args.out, width, size, classes, args.pe)
        used = result.report["resources"]
        line = (f"width {width} input {size} classes {classes} pe {args.pe}x{args.pe}: "
                f"fits={result.report['fits']} " + ", ".join(
                    f"{k} {v['used']}/{v['available']}" for k, v in used.items()))
        print(line, flush=True)
        if result.report["fits"] and chosen is None:
            chosen = (width, size, classes)
            if not args.search:
                break
    if chosen is None or args.search:
        return 0 if chosen else 1
    board = resolve_board("ecp5-85")
    rtl_dir, sources = rtl_sources(args.out)
    t0 = time.monotonic()
    synth = run_yosys(board, rtl_dir, sources, top="fpgagen_top", work_dir=args.out / "synth",
                      timeout=args.timeout)
    print(f"yosys: {synth.figures()} in {synth.seconds} s", flush=True)
    pnr = run_nextpnr(board, synth.netlist, freq_mhz=args.freq, work_dir=args.out / "synth",
                      timeout=args.timeout)
    print(f"nextpnr-ecp5: Fmax {pnr.fmax_mhz} MHz (target {args.freq:g}) in {pnr.seconds} s",
          flush=True)
    for hop in pnr.critical_path:
        print("   ", *hop)
    add_synthesis(args.out, synth, pnr, note=f"benchmarks/fmax_ecp5.py: width {chosen[0]}, "
                  f"input {chosen[1]}, {chosen[2]} classes, pe {args.pe}x{args.pe}")
    print(f"total {time.monotonic() - t0:.0f} s; written to {args.out / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
