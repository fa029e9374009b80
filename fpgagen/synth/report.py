"""Measured synthesis figures next to the estimates of a build folder's ``report.json``."""

import json
from pathlib import Path

from ..errors import FpgagenError

__all__ = ["load_report", "rtl_sources", "comparison", "add_synthesis", "RESOURCE_KEYS"]

#: The resources compared, in table order.
RESOURCE_KEYS = ("lut", "ff", "bram", "dsp")


def load_report(build_dir) -> dict:
    """The ``report.json`` of a build folder; one-line errors for a missing folder or
    report."""
    build_dir = Path(build_dir)
    if not build_dir.is_dir():
        raise FpgagenError(f"build folder {str(build_dir)!r} does not exist (run fpgagen "
                           f"build first)")
    path = build_dir / "report.json"
    if not path.is_file():
        raise FpgagenError(f"{str(build_dir)!r} has no report.json: not a fpgagen build "
                           f"folder (run fpgagen build --out {build_dir})")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise FpgagenError(f"{str(path)!r} is not valid JSON: {e}") from None


def rtl_sources(build_dir) -> tuple[Path, list[str]]:
    """The RTL folder of a build and its Verilog files (bare names), top level first."""
    rtl = Path(build_dir) / "rtl"
    from ..emit.design import VERILOG_FILES

    missing = [f for f in VERILOG_FILES if not (rtl / f).is_file()]
    if missing:
        raise FpgagenError(f"{str(rtl)!r} has no {', '.join(missing)}: the build wrote no RTL "
                           f"(a design that does not fit gets reports only)")
    return rtl, list(VERILOG_FILES)


def comparison(report: dict, measured: dict) -> list[dict]:
    """Rows ``{"resource", "estimate", "measured", "ratio"}`` for :data:`RESOURCE_KEYS`."""
    rows = []
    for key in RESOURCE_KEYS:
        est = report.get("resources", {}).get(key, {}).get("used")
        got = measured.get(key)
        ratio = round(est / got, 3) if est is not None and got else None
        rows.append({"resource": key, "estimate": est, "measured": got, "ratio": ratio})
    return rows


def add_synthesis(build_dir, synth, pnr=None, *, note: str = "") -> dict:
    """Write the Yosys (and nextpnr) figures into ``build_dir/report.json`` under
    ``synthesis``; returns that entry."""
    from ..emit.reports import render_json

    build_dir = Path(build_dir)
    report = load_report(build_dir)
    entry = {"tool": "yosys", "family": synth.family, "measured": synth.figures(),
             "cells": synth.cells, "seconds": synth.seconds,
             "comparison": comparison(report, synth.figures())}
    if pnr is not None:
        entry["nextpnr"] = pnr.summary()
    if note:
        entry["note"] = note
    report["synthesis"] = entry
    (build_dir / "report.json").write_text(render_json(report), newline="\n")
    return entry
