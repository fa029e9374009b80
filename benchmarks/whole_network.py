"""SqueezeNet v1.1 at 227x227 on the generated hardware (default 16x16 array): total MACs,
simulated cycles, MAC utilization overall and per layer, the compiler's predicted cycles,
Verilator simulation speed, the build time and peak memory of ``fpgagen build``, and the
time and peak memory of generating the Verilog and memory images of full v1.1.

    python benchmarks/whole_network.py [--pe 16] [--board boards/zynq7045.yaml] [--no-build]

Uses the released weights and a real photo from ../shared when present (else generated
weights and a seeded random image); the design is built under ``build/bench/``.
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _common import SHARED
from fpgagen.frontend import generate_weights, load_npz_weights
from fpgagen.hw import HwParams, mac_utilization
from fpgagen.nets import build_net
from fpgagen.passes import quantize
from fpgagen.sim.simulate import NetworkSimulator

ROOT = Path(__file__).resolve().parents[1]


def _graph_and_image():
    weights, ref = SHARED / "models" / "squeezenet_v1_1.npz", SHARED / "images" / "reference.npz"
    if weights.exists() and ref.exists():
        with np.load(ref) as data:
            photos = data["input_bgr_u8"]
        graph = quantize(load_npz_weights(build_net("squeezenet1_1"), weights),
                         calibration_images=photos)
        return graph, photos[0], "released weights, calibrated on the 8 photos; photo 0"
    graph = quantize(generate_weights(build_net("squeezenet1_1")))
    image = np.random.default_rng(0).integers(0, 256, (227, 227, 3), dtype=np.uint8)
    return graph, image, "generated weights (../shared absent); random image"


_CHILD = ("import resource, sys\n"
          "from fpgagen.cli import main\n"
          "rc = main(sys.argv[1:])\n"
          "print('PEAK_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
          "file=sys.stderr)\n"
          "sys.exit(rc)\n")


_RTL_CHILD = ("import resource, sys, time\n"
              "from pathlib import Path\n"
              "from fpgagen.emit.design import write_rtl\n"
              "from fpgagen.frontend import generate_weights\n"
              "from fpgagen.hw import HwParams\n"
              "from fpgagen.devices.board import load_board\n"
              "from fpgagen.nets import build_net\n"
              "from fpgagen.passes import quantize\n"
              "from fpgagen.schedule import lower\n"
              "t0 = time.perf_counter()\n"
              "graph = quantize(generate_weights(build_net('squeezenet1_1')))\n"
              "program = lower(graph, HwParams(pe_rows=16, pe_cols=16))\n"
              "t1 = time.perf_counter()\n"
              "files = write_rtl(program, Path(sys.argv[1]), board=load_board(sys.argv[2]))\n"
              "t2 = time.perf_counter()\n"
              "size = sum(f.stat().st_size for f in files)\n"
              "print(f'RESULT {t1 - t0:.2f} {t2 - t1:.2f} {len(files)} {size} '\n"
              "      f'{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}')\n")


def _measure_rtl(board: str, out: Path):
    """Time and peak memory of generating the Verilog and memory images of full SqueezeNet
    v1.1 (1.2 M weights, 16x16 array) in a fresh process, whether or not it fits."""
    if out.exists():
        shutil.rmtree(out)
    proc = subprocess.run([sys.executable, "-c", _RTL_CHILD, str(out), board],
                          capture_output=True, text=True)
    found = [line.split()[1:] for line in proc.stdout.splitlines()
             if line.startswith("RESULT")]
    if proc.returncode or not found:
        return None, proc.stdout + proc.stderr
    compile_s, rtl_s, n_files, size, peak_kib = found[0]
    return (float(compile_s), float(rtl_s), int(n_files), int(size), int(peak_kib)), ""


def _measure_build(board: str, out: Path):
    """Wall time and peak resident memory of ``fpgagen build`` (full v1.1, generated
    weights) in a fresh Python process."""
    if out.exists():
        shutil.rmtree(out)
    argv = ["build", "--net", "squeezenet", "--board", board, "--out", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHILD, *argv], capture_output=True,
                          text=True)
    wall = time.perf_counter() - t0
    peak = [int(line.split()[1]) for line in proc.stderr.splitlines()
            if line.startswith("PEAK_KIB")]
    return ["fpgagen", *argv], proc.returncode, wall, (peak[0] if peak else 0), \
        proc.stdout + proc.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pe", type=int, default=16, help="PE array side (default 16)")
    parser.add_argument("--board", default=str(ROOT / "boards" / "zynq7045.yaml"),
                        help="board for the fpgagen build measurement")
    parser.add_argument("--no-build", action="store_true",
                        help="skip the fpgagen build measurement")
    args = parser.parse_args()
    hw = HwParams(pe_rows=args.pe, pe_cols=args.pe)
    graph, image, source = _graph_and_image()
    sim = NetworkSimulator(graph, hw, ROOT / "build" / "bench" / f"squeezenet1_1-227-{hw}",
                           progress=lambda m: print(f"  .. {m}", file=sys.stderr))
    report = sim.run(image)
    program = report.program
    print(f"SqueezeNet v1.1 227x227 on a {hw} array ({hw.pe_rows * hw.pe_cols} MAC units); "
          f"{source}")
    print(f"{'#':>3} {'layer':<22} {'op':<7} {'MACs':>12} {'simulated':>10} {'predicted':>10} "
          f"{'util':>6}")
    for i, (info, cyc) in enumerate(zip(program.layers, report.instruction_cycles)):
        util = mac_utilization(info.macs, int(cyc), hw)
        print(f"{i:3d} {info.name:<22} {info.opcode.name:<7} {info.macs:12,d} {int(cyc):10,d} "
              f"{info.cycles_predicted:10,d} {100 * util:5.1f}%")
    conv = sum(int(c) for l, c in zip(program.layers, report.instruction_cycles) if l.macs)
    print(f"total MACs            {report.macs:,d}")
    print(f"simulated cycles      {report.cycles:,d}")
    print(f"predicted cycles      {report.predicted_cycles:,d} "
          f"({100 * (report.predicted_cycles / report.cycles - 1):+.2f}% vs simulated)")
    print(f"MAC utilization       {100 * report.mac_utilization:.1f}% overall, "
          f"{100 * mac_utilization(report.macs, conv, hw):.1f}% over the conv layers")
    print(f"bit-exact             {report.bit_exact} ({len(report.golden)} scores)")
    print(f"Verilator build       {report.build_seconds:.1f} s")
    print(f"simulation speed      {report.cycles_per_second:,.0f} cycles/s "
          f"({report.run_seconds:.2f} s for one image)")
    if args.no_build:
        return
    measured = _measure_build(args.board, ROOT / "build" / "bench" / "fpgagen-build")
    cmd, rc, wall, peak_kib, output = measured
    print(f"fpgagen build         {' '.join(cmd)}: exit {rc}, {wall:.1f} s, peak memory "
          f"{peak_kib / 1024:.0f} MiB")
    if rc not in (0, 3):
        print(output[-2000:])
    rtl, err = _measure_rtl(args.board, ROOT / "build" / "bench" / "rtl-v1_1-16x16")
    if rtl is None:
        print("Verilog + memory images: FAILED\n" + err[-2000:])
    else:
        compile_s, rtl_s, n_files, size, peak = rtl
        print(f"Verilog + memory images, full v1.1 on 16x16: {rtl_s:.1f} s to write {n_files} "
              f"files ({size / 2**20:.1f} MiB) after {compile_s:.1f} s of import, "
              f"quantization and lowering; peak memory {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
