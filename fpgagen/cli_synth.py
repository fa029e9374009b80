"""``fpgagen synth DIR``: synthesize a build folder with Yosys (and, with ``--pnr``, place
and route it with nextpnr) and put the measured figures next to the estimates."""

import argparse
import logging
from pathlib import Path

from .errors import FpgagenError

__all__ = ["add_parser", "run", "format_table"]

log = logging.getLogger("fpgagen")


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``synth`` subcommand on the ``sub`` subparsers."""
    p = sub.add_parser(
        "synth", help="measure a build with Yosys (and nextpnr): LUT, FF, BRAM, DSP, Fmax",
        description="Synthesize the RTL of a build folder (fpgagen build) with YoWASP Yosys "
                    "for the board's family (ECP5: synth_ecp5, 7-series: synth_xilinx, "
                    "iCE40: synth_ice40; MAX 10 has no open flow: use the Quartus project), "
                    "add the measured LUT, FF, block RAM and multiplier counts to "
                    "DIR/report.json (key 'synthesis') and print them next to the "
                    "estimates. --pnr also places and routes with nextpnr (ECP5, iCE40) for "
                    "Fmax. Needs pip install -e '.[synth]'.")
    p.add_argument("dir", type=Path, metavar="DIR", help="build folder with report.json and rtl/")
    p.add_argument("--pnr", action="store_true",
                   help="also run nextpnr (ECP5, iCE40) and report Fmax: placed on "
                        "unconstrained pins with a global clock; on ECP5 out of context "
                        "when the ports outnumber the pins, and with the registers behind "
                        "block RAM outputs and in front of multipliers packed into those "
                        "blocks")
    p.add_argument("--freq", type=float, metavar="MHZ",
                   help="nextpnr target clock (default: the build's clock)")
    p.set_defaults(func=run)
    return p


def format_table(entry: dict) -> str:
    """The comparison of estimates and measurements as text."""
    lines = [f"{'resource':8s} {'estimate':>9s} {'yosys':>9s} {'est/yosys':>9s}"]
    for row in entry["comparison"]:
        est = "-" if row["estimate"] is None else f"{row['estimate']:d}"
        got = "-" if row["measured"] is None else f"{row['measured']:d}"
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        lines.append(f"{row['resource']:8s} {est:>9s} {got:>9s} {ratio:>9s}")
    pnr = entry.get("nextpnr")
    if pnr:
        fmax = "-" if pnr["fmax_mhz"] is None else f"{pnr['fmax_mhz']:.1f} MHz"
        lines.append(f"Fmax {fmax} (target {pnr['target_mhz']:g} MHz, nextpnr)")
    return "\n".join(lines)


def run(args) -> int:
    """Run ``fpgagen synth``; returns the exit status."""
    from .devices.board import resolve_board
    from .synth.report import add_synthesis, load_report, rtl_sources
    from .synth.yosys import OPEN_FLOW_FAMILIES, run_yosys

    report = load_report(args.dir)
    board = resolve_board(report.get("board", ""))
    if board.family not in OPEN_FLOW_FAMILIES:
        raise FpgagenError(f"board {board.name!r} ({board.family}) has no open synthesis "
                           f"flow (Yosys's synth_intel fails on initialised memories); "
                           f"compile the Quartus project in {str(args.dir)!r} instead")
    rtl, sources = rtl_sources(args.dir)
    work = Path(args.dir) / "synth"
    log.info("synthesizing %s with Yosys (%s)", rtl, board.family)
    from .emit.design import TOP_MODULE

    synth = run_yosys(board, rtl, sources, top=TOP_MODULE, work_dir=work, netlist=args.pnr)
    pnr = None
    if args.pnr:
        from .synth.nextpnr import run_nextpnr

        freq = args.freq or float(report.get("options", {}).get("clock_mhz") or
                                  board.clock_mhz)
        log.info("placing and routing with nextpnr at %g MHz", freq)
        pnr = run_nextpnr(board, synth.netlist, freq_mhz=freq, work_dir=work)
    entry = add_synthesis(args.dir, synth, pnr)
    print(f"{board.name} ({board.family}), Yosys in {synth.seconds:.0f} s")
    print(format_table(entry))
    return 0
