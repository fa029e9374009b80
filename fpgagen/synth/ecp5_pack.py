"""Register packing on ECP5 between Yosys and nextpnr: the registers that Yosys leaves in the
fabric next to a block RAM's outputs (:mod:`fpgagen.synth.ecp5_outreg`) and in front of a
multiplier's inputs (:mod:`fpgagen.synth.ecp5_dsp_inreg`) move into the blocks' own
registers. Neither pass changes what the circuit computes in any cycle.

Command line: ``python -m fpgagen.synth.ecp5_pack IN.json OUT.json``.
"""

import json
import sys
from pathlib import Path

from .ecp5_dsp_inreg import absorb_input_registers
from .ecp5_outreg import absorb_output_registers

__all__ = ["pack_registers", "pack_file"]


def pack_registers(netlist: dict) -> dict:
    """Both passes on ``netlist`` in place; ``{"ebr_output_registers": ...,
    "dsp_input_registers": ...}`` summaries (JSON-ready)."""
    return {"ebr_output_registers": absorb_output_registers(netlist).as_dict(),
            "dsp_input_registers": absorb_input_registers(netlist).as_dict()}


def pack_file(src, dst) -> dict:
    """:func:`pack_registers` from the JSON file ``src`` into ``dst``."""
    netlist = json.loads(Path(src).read_text())
    summary = pack_registers(netlist)
    Path(dst).write_text(json.dumps(netlist))
    return summary


def describe(summary: dict) -> str:
    """One line of figures for logs."""
    ebr, dsp = summary["ebr_output_registers"], summary["dsp_input_registers"]
    return (f"{ebr['absorbed_blocks']}/{ebr['blocks']} DP16KD use their output registers "
            f"({ebr['removed_flip_flops']} flip-flops removed), "
            f"{dsp['absorbed_multipliers']}/{dsp['multipliers']} MULT18X18D their input "
            f"registers ({dsp['removed_flip_flops']} flip-flops removed)")


def main(argv=None) -> int:
    """``python -m fpgagen.synth.ecp5_pack IN.json OUT.json``"""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m fpgagen.synth.ecp5_pack IN.json OUT.json", file=sys.stderr)
        return 2
    summary = pack_file(*args)
    print(f"ecp5_pack: {describe(summary)}")
    for part in summary.values():
        for name, reason in part["skipped"].items():
            print(f"  kept {name}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
