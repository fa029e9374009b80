"""Calibrate the LUT / flip-flop coefficients of ``fpgagen.fit.logic_model`` against Yosys.

For pe 2x2, 4x4 and 8x8 designs of a small SqueezeNet v1.1 (32x32 input, width 0.125, 1000
classes), and a 4x4 one with 10 classes (other memory geometry and program), the script
synthesizes the generated RTL with ``synth_ecp5`` and ``synth_xilinx
-family xc7 -flatten`` (YoWASP Yosys 0.70), takes the memory logic off (the block-RAM fit's
logic memories, row multiplexers and the registers around block memories, as the model
computes them) and fits

    lut = lut_mac * n**2 + lut_lane * n + lut_ctrl        (n = pe side)
    ff  = ff_mac  * n**2 + ff_lane  * n + ff_ctrl

by least squares, dropping a term whose coefficient comes out negative (7-series flip-flops
per MAC: Yosys packs the product registers into the DSP48E1). It prints the measurements,
the fitted coefficients (paste them into ``COEFFICIENTS``) and the estimate next to Yosys.

    python benchmarks/calibrate_logic_model.py            # fit the recorded measurements
    python benchmarks/calibrate_logic_model.py --rerun    # synthesize again (about 10 min)

The recorded measurements (``MEASURED``, which is ``fpgagen.fit.logic_model.CALIBRATION``) are
the ones this script printed on the development machine with ``--rerun``.
"""

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from fpgagen.flow import FlowConfig, step_import, step_quantize
from fpgagen.devices.board import resolve_board
from fpgagen.fit.logic_model import CALIBRATION, COEFFICIENTS, estimate_logic, memory_logic
from fpgagen.hw.params import HwParams
from fpgagen.nets import NetOptions
from fpgagen.schedule.lower import lower

ROOT = Path(__file__).resolve().parents[1]
BOARDS = {"ecp5": "ecp5-85", "zynq7": "zynq7020"}
NET = dict(input_size=32, width=0.125)
#: (pe, classes) of the calibration designs (32x32 input, width 0.125).
CONFIGS = ((2, 1000), (4, 1000), (8, 1000), (4, 10))

#: The recorded Yosys 0.70 counts (lut, ff, bram, dsp) per (family, pe, classes): the data
#: the model's coefficients were fitted to, kept in one place with them.
MEASURED = CALIBRATION


def programs():
    out = {}
    for pe, classes in CONFIGS:
        cfg = FlowConfig(net="squeezenet1_1", net_options=NetOptions(num_classes=classes,
                                                                     **NET))
        graph = step_quantize(step_import(cfg), cfg)
        out[pe, classes] = lower(graph, HwParams(pe_rows=pe, pe_cols=pe))
    return out


def synthesize(progs) -> dict:
    from fpgagen.emit.design import TOP_MODULE, VERILOG_FILES, write_rtl
    from fpgagen.synth.yosys import run_yosys

    out = {}
    for family, key in BOARDS.items():
        board = resolve_board(key)
        for (n, classes), program in progs.items():
            rtl = ROOT / "build" / "calibrate" / f"{family}-pe{n}-c{classes}" / "rtl"
            write_rtl(program, rtl, board=board)
            r = run_yosys(board, rtl, VERILOG_FILES, top=TOP_MODULE, netlist=False)
            out[family, n, classes] = r.figures()
            print(f"    ({family!r}, {n}, {classes}): {r.figures()},  # {r.seconds} s",
                  flush=True)
    return out


def _fit(columns, y):
    """Least squares with the columns whose coefficient comes out negative dropped."""
    keep = list(range(columns.shape[1]))
    while True:
        coef = np.linalg.lstsq(columns[:, keep], y, rcond=None)[0]
        if (coef >= 0).all() or len(keep) == 1:
            full = np.zeros(columns.shape[1])
            full[keep] = coef
            return full
        keep.pop(int(np.argmin(coef)))


def fit(measured, progs) -> dict:
    coefficients = {}
    for family, key in BOARDS.items():
        board = resolve_board(key)
        rows, lut, ff = [], [], []
        for (n, classes), program in progs.items():
            mem = memory_logic(program, board, yosys=True)
            rows.append([n * n, n, 1])
            lut.append(measured[family, n, classes]["lut"] - mem["lut"])
            ff.append(measured[family, n, classes]["ff"] - mem["ff"])
        a = np.array(rows, float)
        cl, cf = _fit(a, np.array(lut, float)), _fit(a, np.array(ff, float))
        coefficients[family] = {
            "lut_mac": round(float(cl[0]), 1), "lut_lane": round(float(cl[1]), 1), "lut_ctrl": round(float(cl[2]), 1),
            "ff_mac": round(float(cf[0]), 1), "ff_lane": round(float(cf[1]), 1), "ff_ctrl": round(float(cf[2]), 1),
            **{k: COEFFICIENTS[family][k] for k in ("mux_lut", "bank_mux_lut", "ram_ff_bit",
                                                      "ram_ff", "out_ff_bit")}}
    return coefficients


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rerun", action="store_true", help="synthesize again with Yosys")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    progs = programs()
    measured = synthesize(progs) if args.rerun else MEASURED
    coefficients = fit(measured, progs)
    print("COEFFICIENTS = {")
    for family, c in coefficients.items():
        print(f"    {family!r}: {c},")
    print("}")
    # the estimates below use the coefficients just fitted
    for family, c in coefficients.items():
        COEFFICIENTS[family].update(c)
    print(f"{'family':6s} {'pe':>4s} {'cls':>4s} | {'LUT est':>8s} {'Yosys':>7s} {'err':>6s} | "
          f"{'FF est':>7s} {'Yosys':>7s} {'err':>6s} | {'DSP est':>7s} {'Yosys':>5s}")
    for family, key in BOARDS.items():
        board = resolve_board(key)
        for (n, classes), program in progs.items():
            est = estimate_logic(program.hw, board, program, yosys=True)
            m = measured[family, n, classes]
            print(f"{family:6s} {n}x{n:<2d} {classes:4d} | {est['lut']:8d} {m['lut']:7d} "
                  f"{100 * (est['lut'] / m['lut'] - 1):+5.1f}% | {est['ff']:7d} {m['ff']:7d} "
                  f"{100 * (est['ff'] / m['ff'] - 1):+5.1f}% | {est['dsp']:7d} {m['dsp']:5d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
