"""nextpnr place and route of a Yosys netlist, for Fmax and the critical path."""

import json
import logging
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..devices.families import FAMILIES
from ..emit.vendor import nextpnr_device_args
from ..errors import FpgagenError
from .ecp5_pack import describe, pack_file
from .yosys import find_tool

__all__ = ["NEXTPNR", "PnrResult", "run_nextpnr", "parse_report"]

log = logging.getLogger(__name__)

#: The nextpnr executables per family (YoWASP builds from PyPI).
NEXTPNR = {p.name: p.nextpnr[0] for p in FAMILIES.values() if p.nextpnr is not None}


@dataclass
class PnrResult:
    """What one nextpnr run measured."""

    family: str
    fmax_mhz: float | None  #: achieved clock frequency after routing
    target_mhz: float  #: the ``--freq`` constraint
    critical_path: list = field(default_factory=list)  #: ``[(from, to, delay_ns)]`` hops
    utilization: dict = field(default_factory=dict)  #: ``{bel type: {"used", "available"}}``
    seconds: float = 0.0
    report: Path | None = None
    out_of_context: bool = False  #: ECP5 placed without I/O buffers and global clock
    #: ECP5: what moving registers into block RAM and multiplier registers changed
    #: (:func:`fpgagen.synth.ecp5_pack.pack_registers`), None if not done
    register_packing: dict | None = None

    def summary(self) -> dict:
        """JSON-ready figures."""
        return {"fmax_mhz": self.fmax_mhz, "target_mhz": self.target_mhz,
                "critical_path": [list(h) for h in self.critical_path[:12]],
                "seconds": self.seconds, "out_of_context": self.out_of_context,
                "register_packing": self.register_packing}


def parse_report(report: dict, log_text: str = "") -> tuple:
    """``(fmax_mhz, critical_path, utilization)`` of a nextpnr ``--report`` JSON; the Fmax of
    the last "Max frequency" line of the log when the report has none."""
    fmax = None
    for clock in report.get("fmax", {}).values():
        v = clock.get("achieved")
        if v is not None:
            fmax = v if fmax is None else min(fmax, v)
    if fmax is None and log_text:
        found = re.findall(r"Max frequency for clock\s+'[^']*':\s+([\d.]+) MHz", log_text)
        if found:
            fmax = float(found[-1])
    path = []
    for cp in report.get("critical_paths", [])[:1]:
        for hop in cp.get("path", []):
            src = hop.get("from", {}).get("cell", "?")
            dst = hop.get("to", {}).get("cell", "?")
            path.append((hop.get("type", ""), src, dst, round(float(hop.get("delay", 0.0)), 3)))
    return (round(fmax, 2) if fmax is not None else None, path,
            report.get("utilization", {}))


def run_nextpnr(board, netlist, *, freq_mhz: float, work_dir=None,
                out_of_context: bool | None = None, seed: int = 1,
                timeout: float | None = None,
                pack_registers: bool = True) -> PnrResult:
    """Place and route the Yosys JSON ``netlist`` on the board's device.

    ECP5: with I/O buffers on unconstrained pins (``--lpf-allow-unconstrained``), so the
    clock is promoted to a global network as on a board; a design with more port bits than
    the package has pins is then retried out of context (``--out-of-context``: no I/O
    buffers, no global promotion). ``out_of_context`` forces one or the other. Before
    placing on ECP5, the flip-flops behind the block RAM outputs and in front of the
    multipliers move into those blocks' own registers (:mod:`fpgagen.synth.ecp5_pack`;
    ``pack_registers=False`` places Yosys's netlist as it is). iCE40: unconstrained I/O is allowed. Runs in ``work_dir`` (default: the netlist's folder) with
    relative names (YoWASP cannot see ``/tmp``).

    Raises
    ------
    FpgagenError
        Tool missing, a family without nextpnr, or nextpnr failing.
    """
    if board.family not in NEXTPNR:
        raise FpgagenError(f"board {board.name!r}: no nextpnr flow for family "
                           f"{board.family!r} (nextpnr: {', '.join(NEXTPNR)})")
    exe = find_tool(NEXTPNR[board.family])
    netlist = Path(netlist).resolve()
    work = Path(work_dir).resolve() if work_dir is not None else netlist.parent
    work.mkdir(parents=True, exist_ok=True)
    packing = None
    if board.family == "ecp5" and pack_registers:
        placed = work / f"{netlist.stem}_packed.json"
        packing = pack_file(netlist, placed)
        log.info("register packing: %s", describe(packing))
        netlist = placed
    if board.family == "ecp5" and out_of_context is None:
        try:
            result = _run(exe, board, netlist, work, freq_mhz, seed, timeout, ooc=False)
        except FpgagenError as err:
            log.warning("nextpnr with I/O buffers failed; retrying out of context (%s)",
                        str(err).splitlines()[-1])
            result = _run(exe, board, netlist, work, freq_mhz, seed, timeout, ooc=True)
    else:
        result = _run(exe, board, netlist, work, freq_mhz, seed, timeout,
                      ooc=board.family == "ecp5" and bool(out_of_context))
    result.register_packing = packing
    return result


def _run(exe, board, netlist, work, freq_mhz, seed, timeout, *, ooc: bool) -> PnrResult:
    import os

    net_rel = os.path.relpath(netlist, work)
    cmd = [exe, *nextpnr_device_args(board), "--json", net_rel, "--freq", f"{freq_mhz:g}",
           "--timing-allow-fail", "--seed", str(seed), "--report", "nextpnr_report.json",
           "-l", "nextpnr.log"]
    if board.family == "ecp5":
        cmd.append("--out-of-context" if ooc else "--lpf-allow-unconstrained")
    if board.family == "ice40":
        cmd.append("--pcf-allow-unconstrained")
    log.info("nextpnr: %s", " ".join(cmd[1:]))
    start = time.monotonic()
    report_path = work / "nextpnr_report.json"
    report_path.unlink(missing_ok=True)
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout)
    seconds = round(time.monotonic() - start, 1)
    if proc.returncode != 0 or not report_path.exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise FpgagenError(f"nextpnr failed in {work} (exit {proc.returncode}):\n{tail}")
    log_path = work / "nextpnr.log"
    text = log_path.read_text(errors="replace") if log_path.exists() else proc.stderr
    fmax, path, util = parse_report(json.loads(report_path.read_text()), text)
    return PnrResult(family=board.family, fmax_mhz=fmax, target_mhz=freq_mhz,
                     critical_path=path, utilization=util, seconds=seconds,
                     report=report_path, out_of_context=ooc)
