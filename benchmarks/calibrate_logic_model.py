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

With ``--compressed`` it calibrates the weight decoders instead: the same network at pe
2x2, 4x4 and 8x8 (1000 classes) with every convolution compressed
(:func:`fpgagen.testing.compressed.compress_randomly` drawn as
``fpgagen.fit.logic_model.CALIBRATION_COMPRESSION`` says: index widths 8, 6, 4 and
densities 0.35, 1.0 in turn), synthesized the same way; the difference to the dense design
of the same pe, less the difference of their memory logic, is fitted as

    lut = lut_dec_mac * n**2 + lut_dec_lane * n + lut_dec_ctrl
    ff  = ff_dec_mac  * n**2 + ff_dec_lane  * n + ff_dec_ctrl

(three designs, three coefficients: an exact fit unless a coefficient comes out negative).

    python benchmarks/calibrate_logic_model.py                       # fit the recorded runs
    python benchmarks/calibrate_logic_model.py --rerun               # synthesize (10-25 min)
    python benchmarks/calibrate_logic_model.py --compressed          # the decoder term
    python benchmarks/calibrate_logic_model.py --compressed --rerun  # synthesize (~30 min)

(The times: 10 minutes on an idle machine, 25 and 30 on two cores shared with other work.)

The recorded measurements (``MEASURED``, which is ``fpgagen.fit.logic_model.CALIBRATION``,
and ``MEASURED_COMPRESSED``, ``CALIBRATION_COMPRESSED``) are the ones this script printed on
the development machine with ``--rerun``. The work folders are ``build/calibrate/``.
"""

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from fpgagen.flow import FlowConfig, step_import, step_quantize
from fpgagen.devices.board import resolve_board
from fpgagen.fit.logic_model import (CALIBRATION, CALIBRATION_COMPRESSED,
                                     CALIBRATION_COMPRESSION, COEFFICIENTS, DECODER_TERMS,
                                     estimate_logic, memory_logic)
from fpgagen.hw.params import HwParams
from fpgagen.nets import NetOptions
from fpgagen.schedule.lower import lower
from fpgagen.testing.compressed import compress_randomly

ROOT = Path(__file__).resolve().parents[1]
BOARDS = {"ecp5": "ecp5-85", "zynq7": "zynq7020"}
NET = dict(input_size=32, width=0.125)
#: (pe, classes) of the calibration designs (32x32 input, width 0.125).
CONFIGS = ((2, 1000), (4, 1000), (8, 1000), (4, 10))
#: (pe, classes) of the compressed calibration designs.
COMPRESSED_CONFIGS = ((2, 1000), (4, 1000), (8, 1000))
#: The terms of the dense fit (the decoder's: ``fpgagen.fit.logic_model.DECODER_TERMS``).
DENSE_TERMS = ("lut_mac", "lut_lane", "lut_ctrl", "ff_mac", "ff_lane", "ff_ctrl")

#: The recorded Yosys 0.70 counts (lut, ff, bram, dsp) per (family, pe, classes): the data
#: the model's coefficients were fitted to, kept in one place with them.
MEASURED = CALIBRATION
MEASURED_COMPRESSED = CALIBRATION_COMPRESSED


def graph(classes, *, compressed=False):
    """The quantized calibration network (every convolution compressed if asked)."""
    cfg = FlowConfig(net="squeezenet1_1", net_options=NetOptions(num_classes=classes, **NET))
    g = step_quantize(step_import(cfg), cfg)
    if compressed:
        draw = CALIBRATION_COMPRESSION
        g = compress_randomly(g, np.random.default_rng(draw["seed"]), draw["index_bits"],
                              draw["density"])
    return g


def programs(configs=CONFIGS, *, compressed=False):
    graphs = {classes: graph(classes, compressed=compressed) for _, classes in configs}
    return {(pe, classes): lower(graphs[classes], HwParams(pe_rows=pe, pe_cols=pe))
            for pe, classes in configs}


def synthesize(progs, *, tag="") -> dict:
    from fpgagen.emit.design import TOP_MODULE, VERILOG_FILES, write_rtl
    from fpgagen.synth.yosys import run_yosys

    out = {}
    for family, key in BOARDS.items():
        board = resolve_board(key)
        for (n, classes), program in progs.items():
            rtl = ROOT / "build" / "calibrate" / f"{family}-pe{n}-c{classes}{tag}" / "rtl"
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


def _named(terms, lut, ff) -> dict:
    """``{term: coefficient}`` of a LUT and a flip-flop fit (``terms``: LUT's then FF's)."""
    return {t: round(float(v), 1) for t, v in zip(terms, [*lut, *ff])}


def fit(measured, progs) -> dict:
    """The dense coefficients per family."""
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
        coefficients[family] = _named(DENSE_TERMS, cl, cf)
    return coefficients


def fit_decoders(measured_z, measured, progs_z, progs) -> dict:
    """The decoder coefficients per family: compressed less dense of the same pe and
    classes, each less its memory logic."""
    coefficients = {}
    for family, key in BOARDS.items():
        board = resolve_board(key)
        rows, lut, ff = [], [], []
        for (n, classes), program in progs_z.items():
            mem_z = memory_logic(program, board, yosys=True)
            mem = memory_logic(progs[n, classes], board, yosys=True)
            z, d = measured_z[family, n, classes], measured[family, n, classes]
            rows.append([n * n, n, 1])
            lut.append(z["lut"] - d["lut"] - (mem_z["lut"] - mem["lut"]))
            ff.append(z["ff"] - d["ff"] - (mem_z["ff"] - mem["ff"]))
            print(f"{family:6s} {n}x{n:<2d} {classes:4d}: compressed - dense = LUT "
                  f"{z['lut'] - d['lut']:+6d} FF {z['ff'] - d['ff']:+6d} BRAM "
                  f"{z['bram'] - d['bram']:+3d}; memory logic LUT "
                  f"{mem_z['lut'] - mem['lut']:+7.1f} FF {mem_z['ff'] - mem['ff']:+7.1f}")
        a = np.array(rows, float)
        cl, cf = _fit(a, np.array(lut, float)), _fit(a, np.array(ff, float))
        coefficients[family] = _named(DECODER_TERMS, cl, cf)
    return coefficients


def _table(measured, progs):
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rerun", action="store_true", help="synthesize again with Yosys")
    ap.add_argument("--compressed", action="store_true",
                    help="calibrate the weight decoders on compressed designs (the dense "
                         "designs' recorded runs are the baseline)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    progs = programs()
    if args.compressed:
        progs_z = programs(COMPRESSED_CONFIGS, compressed=True)
        measured_z = synthesize(progs_z, tag="-z") if args.rerun else MEASURED_COMPRESSED
        coefficients = fit_decoders(measured_z, MEASURED, progs_z, progs)
        progs, measured = progs_z, measured_z
    else:
        measured = synthesize(progs) if args.rerun else MEASURED
        coefficients = fit(measured, progs)
    print("COEFFICIENTS (paste into fpgagen.fit.logic_model):")
    for family, c in coefficients.items():
        print(f"    {family!r}: {c},")
    # the estimates below use the coefficients just fitted
    for family, c in coefficients.items():
        COEFFICIENTS[family].update(c)
    _table(measured, progs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
