"""``fpgagen build``: compile a network for a board, report the fit, write the design.

Exit status: 0 when the design fits and everything was written, 3 when it does not fit (the
reports are written, with options that fit), 2 for bad usage or bad input files.
"""

import argparse
from dataclasses import replace
from pathlib import Path

from .build_flow import run_build
from .cli_common import (add_board_arg, add_net_args, add_quant_args, add_weight_store_args,
                         band_steps,
                         calibration_line, clock_mhz, design_config, pe_array, positive_float,
                         positive_int, weight_format_line)
from .emit.reports import summary_text
from .devices.board import resolve_board

__all__ = ["add_parser", "run", "EXIT_FITS", "EXIT_DOES_NOT_FIT"]

#: Exit status when the design fits and every output was written.
EXIT_FITS = 0
#: Exit status when the design does not fit (reports written, no vendor project).
EXIT_DOES_NOT_FIT = 3


def add_parser(sub) -> argparse.ArgumentParser:
    """Add the ``build`` subcommand to the ``fpgagen`` subparsers ``sub``."""
    p = sub.add_parser(
        "build", help="compile a network for a board: fit report, RTL, vendor project",
        description="Compile a network into an accelerator for a board: map every memory "
                    "onto the device's block RAM, estimate multipliers and logic, give the "
                    "fit verdict and options that fit when it does not, and write the RTL, "
                    "the schedule, the vendor project and report.md / report.html / "
                    "report.json. Exit status: 0 fits, 3 does not fit (reports written), "
                    "2 bad usage or input, 1 internal error.")
    add_net_args(p)
    add_quant_args(p)
    add_board_arg(p, required=True)
    # Taken as text so that an empty --out is refused, not read as the current folder.
    p.add_argument("--out", metavar="DIR",
                   help="output folder (default: build/<net>-<board>)")
    p.add_argument("--pe", type=pe_array, metavar="RxC",
                   help="PE array, e.g. 8x8 or 16x16 (default: the largest square array up "
                        "to 16x16 whose multipliers the board has)")
    p.add_argument("--clock-mhz", type=clock_mhz, metavar="MHZ",
                   help="accelerator clock, a finite number of MHz up to 1000 (default: the "
                        "board file's)")
    p.add_argument("--force", action="store_true",
                   help="build into a non-empty output folder: the files of the previous "
                        "build are replaced once the new one is complete, other files stay")
    p.add_argument("--no-proposals", action="store_true",
                   help="do not look for options that fit when the design does not")
    p.add_argument("--max-activation-kb", type=positive_float, metavar="KB",
                   help="the most activation memory the band plan may use, in KB of 1024 "
                        "bytes (a word of N a-bit lanes is aN/8 bytes, a = 9, or B+1 with "
                        "--activation-bits B); refused when no plan "
                        "is that small (default: the plan with the fewest cycles that fits "
                        "the board; each region of the plan takes its own number of row "
                        "bands)")
    p.add_argument("--steps", type=band_steps, metavar="N",
                   help="run every layer in N row bands (1: whole tensors), N in every "
                        "region, instead of choosing the plan with the fewest cycles that "
                        "fits")
    p.add_argument("--eval", type=Path, metavar="DIR",
                   help="folder of labelled images (labels.json or WordNet ids in the file "
                        "names, as for 'fpgagen evaluate'): measure top-1 / top-5 of the float "
                        "model and of the integer golden model of the build, and of every "
                        "proposal that changes the numbers, into the reports (default: "
                        "accuracy not measured)")
    p.add_argument("--eval-limit", type=positive_int, metavar="N",
                   help="with --eval, at most N images per measured configuration, evenly "
                        "spaced over the sorted files (default: all)")
    p.add_argument("--weight-budget-kb", type=positive_float, metavar="KB",
                   help="fit the weights (banks, masks, codebooks, as compiled) in KB of 1024 "
                        "bytes by moving conv layers to cheaper formats (pruned:B when most "
                        "weights are zeros, else codebook:B), the layers whose output noise "
                        "rises least per byte saved first; the choice is added to "
                        "--layer-format and named in the report's notes (the storage of the "
                        "weights in block RAM, also with --weight-store flash)")
    add_weight_store_args(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run ``fpgagen build``; returns the exit status."""
    board = resolve_board(args.board)
    cfg = replace(design_config(args, board), out_dir=args.out, force=args.force,
                  proposals=not args.no_proposals, eval_dir=args.eval,
                  eval_limit=args.eval_limit,
                  weight_budget_bytes=(int(args.weight_budget_kb * 1024)
                                       if args.weight_budget_kb is not None else None))
    result = run_build(cfg)
    print(calibration_line(cfg.flow))
    if line := weight_format_line(args, cfg.flow):
        print(line)
    print(summary_text(result.report, str(cfg.out)))
    return EXIT_FITS if result.fits else EXIT_DOES_NOT_FIT
