"""Table 3 and Fig. 6 of the SqueezeNext paper (Gholami et al., CVPR-W 2018) measured on
fpgagen's hardware: per network and PE array size, the cycles of fpgagen's exact cycle model
(the one the RTL tests check, ``docs/hardware.md``, *Cycle model*) normalized as Table 3
does, beside the paper's figure and the paper's two dataflows (weight and output
stationary) as modelled by :mod:`fpgagen.analysis.dataflow`; then MAC utilization per layer
as Fig. 6 does.

    python benchmarks/squeezenext_table3.py [--nets NAME ...] [--pe 8 16]
        [--input-size N] [--setup N] [--fig6 NAME ...] [--json FILE]

Every network is built with generated weights (the cycles do not depend on them) and
lowered for an ``N x N`` PE array without a board (``HwParams(pe_rows=N, pe_cols=N)``): no
memory limit, weights in on-chip ROMs, every layer in one pass over its whole tensors (no
row bands, no weight chunks, no flash), i.e. what a board with enough memory gets. The
networks of Table 3 that the catalog does not have are listed as such; MobileNet needs
depthwise convolution, which fpgagen does not support. See ``docs/table3.md``.
"""

import argparse
import json
import sys
from dataclasses import dataclass

from fpgagen.analysis import dataflow_cycles
from fpgagen.errors import FpgagenError
from fpgagen.frontend import generate_weights
from fpgagen.hw import HwParams, PE_SIZES, mac_utilization
from fpgagen.nets import NET_NAMES, NetOptions, build_net
from fpgagen.passes import FuseRelu, quantize
from fpgagen.schedule import lower


@dataclass(frozen=True)
class _Row:
    """One network of Table 3."""

    label: str  #: as the paper names it
    net: str | None  #: catalog name (None: fpgagen cannot build it)
    width: float  #: channel multiplier
    paper: tuple[float, float]  #: relative time on 8x8 and 16x16 (SqNxt-23v5 = 1.00)
    why_not: str = ""  #: why fpgagen does not build it (net None)


#: Table 3 in the paper's order; relative inference time from its 8x8 / 16x16 columns.
TABLE3 = (
    _Row("SqueezeNet v1.0", "squeezenet1_0", 1.0, (3.42, 2.59)),
    _Row("SqueezeNet v1.1", "squeezenet1_1", 1.0, (1.60, 1.31)),
    _Row("1.0-SqNxt-23", "squeezenext-23", 1.0, (1.17, 1.22)),
    _Row("1.0-SqNxt-23v2", "squeezenext-23v2", 1.0, (1.00, 1.13)),
    _Row("1.0-SqNxt-23v3", "squeezenext-23v3", 1.0, (1.00, 1.08)),
    _Row("1.0-SqNxt-23v4", "squeezenext-23v4", 1.0, (1.00, 1.02)),
    _Row("1.0-SqNxt-23v5", "squeezenext-23v5", 1.0, (1.00, 1.00)),
    _Row("MobileNet", None, 1.0, (2.94, 2.60), "needs depthwise convolution, which fpgagen "
         "does not support"),
    _Row("2.0-SqNxt-23", "squeezenext-23", 2.0, (3.24, 2.72)),
    _Row("2.0-SqNxt-23v4", "squeezenext-23v4", 2.0, (3.17, 2.55)),
    _Row("2.0-SqNxt-23v5", "squeezenext-23v5", 2.0, (3.17, 2.55)),
)
#: The paper's reference (1.00 on both arrays).
REFERENCE = "1.0-SqNxt-23v5"
#: The array sizes of Table 3.
PAPER_PE = (8, 16)


def _select(names) -> list[_Row]:
    """The rows named by Table 3 label or (width 1) catalog name, in Table 3 order."""
    if not names:
        return list(TABLE3)
    wanted = {n.lower() for n in names}
    known = {r.label.lower() for r in TABLE3} | {r.net for r in TABLE3 if r.width == 1.0}
    bad = sorted(wanted - known)
    if bad:
        raise SystemExit(f"--nets: unknown network {bad[0]!r}; Table 3 has: "
                         + ", ".join(r.label for r in TABLE3))
    return [r for r in TABLE3 if r.label.lower() in wanted
            or (r.width == 1.0 and r.net in wanted)]


def _measure(row: _Row, pes, input_size, setup) -> dict:
    """fpgagen's cycles and the WS/OS model of one network on every array size."""
    if row.net is None:
        return {"status": f"not supported: {row.why_not}"}
    if row.net not in NET_NAMES:
        return {"status": "not in the catalog"}
    graph = build_net(row.net, NetOptions(input_size=input_size, width=row.width))
    out = {"status": "ok", "macs": graph.macs(), "input": list(graph.input_shape),
           "pe": {}}
    try:
        # a ReLU after a sum is its own node in the catalog graph; the hardware fuses it
        qgraph = quantize(generate_weights(FuseRelu().apply(graph)[0]))
    except FpgagenError as e:
        qgraph, out["status"] = None, f"fpgagen cannot quantize it: {e}"
    for pe in pes:
        hw = HwParams(pe_rows=pe, pe_cols=pe)
        entry = {"model": {}}
        for flow in ("ws", "os"):
            layers = dataflow_cycles(graph, pe, pe, flow, setup=setup)
            entry["model"][flow] = {
                "cycles": sum(l.cycles for l in layers),
                "layers": {l.name: {"macs": l.macs, "cycles": l.cycles,
                                    "util": l.utilization} for l in layers}}
        if qgraph is not None:
            try:
                program = lower(qgraph, hw)
            except FpgagenError as e:
                out["status"] = f"fpgagen cannot lower it yet: {e}"
            else:
                layers = {}
                for info in program.layers:
                    lay = layers.setdefault(info.name, {"op": info.opcode.name, "macs": 0,
                                                        "cycles": 0})
                    lay["macs"] += info.macs
                    lay["cycles"] += info.cycles_predicted
                for lay in layers.values():
                    lay["util"] = mac_utilization(lay["macs"], lay["cycles"], hw)
                conv = sum(l["cycles"] for l in layers.values() if l["macs"])
                entry["fpgagen"] = {
                    "cycles": program.cycles_predicted, "conv_cycles": conv,
                    "util": mac_utilization(program.macs, program.cycles_predicted, hw),
                    "act_bytes": program.act_depth * 9 * pe // 8,
                    "layers": layers}
        out["pe"][str(pe)] = entry
    return out


def _reference(rows, results, pe) -> str | None:
    """The row every column is normalized to: SqNxt-23v5 when measured, else the fastest
    network fpgagen measured."""
    done = [r for r in rows if "fpgagen" in results[r.label].get("pe", {}).get(str(pe), {})]
    if not done:
        return None
    if any(r.label == REFERENCE for r in done):
        return REFERENCE
    return min(done, key=lambda r: results[r.label]["pe"][str(pe)]["fpgagen"]["cycles"]).label


def _print_table(rows, results, pe, setup):
    ref = _reference(rows, results, pe)
    print(f"\n{pe}x{pe} PE array: relative time (1.00 = {ref or 'nothing measured'}); "
          f"fpgagen = exact cycle model, every instruction; WS / OS = the paper's dataflows "
          f"(fpgagen.analysis.dataflow, convolutions only, setup {setup} cycles per pass)")
    print(f"  {'network':<16} {'MMACs':>6} | {'fpgagen cyc':>12} {'rel':>5} {'util':>6} | "
          f"{'WS cyc':>11} {'rel':>5} {'util':>6} | {'OS cyc':>11} {'rel':>5} {'util':>6} | "
          f"{'paper':>5} {'p.rel':>5}")
    col = PAPER_PE.index(pe) if pe in PAPER_PE else None
    refres = results[ref]["pe"][str(pe)] if ref else None
    refrow = next((r for r in TABLE3 if r.label == ref), None)
    for row in rows:
        res = results[row.label]
        entry = res.get("pe", {}).get(str(pe))
        paper = "" if col is None else f"{row.paper[col]:5.2f} " + (
            f"{row.paper[col] / refrow.paper[col]:5.2f}" if refrow else "    -")
        if entry is None:
            print(f"  {row.label:<16} {res['status']:<88} | {paper}")
            continue
        macs = res["macs"]
        cells = []
        fp = entry.get("fpgagen")
        if fp:
            rel = fp["cycles"] / refres["fpgagen"]["cycles"]
            cells.append(f"{fp['cycles']:12,d} {rel:5.2f} {100 * fp['util']:5.1f}%")
        else:
            cells.append(f"{'-':>12} {'-':>5} {'-':>6}")
        for flow in ("ws", "os"):
            cyc = entry["model"][flow]["cycles"]
            rel = f"{cyc / refres['model'][flow]['cycles']:5.2f}" if refres else "    -"
            cells.append(f"{cyc:11,d} {rel} {100 * macs / (cyc * pe * pe):5.1f}%")
        print(f"  {row.label:<16} {macs / 1e6:6.1f} | " + " | ".join(cells) + f" | {paper}")
        if res["status"] != "ok":
            print(f"  {'':<16} ({res['status']})")
    if col is not None and refrow and ref != REFERENCE:
        print(f"  (paper: Table 3 as printed, 1.00 = {REFERENCE}; p.rel: renormalized to "
              f"{ref}, the paper's x{refrow.paper[col]:.2f})")


def _print_fig6(row, res, pe):
    entry = res["pe"][str(pe)]
    fp = entry.get("fpgagen", {}).get("layers", {})
    ws, os_ = entry["model"]["ws"]["layers"], entry["model"]["os"]["layers"]
    print(f"\nFig. 6: MAC utilization per layer, {row.label} on {pe}x{pe} "
          f"(fpgagen: cycles of the layer's instructions, fused pooling included)")
    print(f"  {'layer':<28} {'MACs':>11} {'fpgagen cyc':>11} {'fpgagen':>7} {'WS':>6} "
          f"{'OS':>6}")
    for name, lay in ws.items():
        f = fp.get(name)
        fcyc, futil = (f"{f['cycles']:11,d}", f"{100 * f['util']:6.1f}%") if f \
            else (f"{'-':>11}", f"{'-':>7}")
        print(f"  {name:<28} {lay['macs']:11,d} {fcyc} {futil} {100 * lay['util']:5.1f}% "
              f"{100 * os_[name]['util']:5.1f}%")
    other = sum(l["cycles"] for l in fp.values() if not l["macs"])
    if fp:
        print(f"  {'(other instructions)':<28} {'':>11} {other:11,d}")
    print("  per stage (layers grouped by the first part of their name):")
    for stage, macs, utils in _stages(ws, fp, os_, pe):
        cells = [f"{100 * u:{w - 1}.1f}%" if u is not None else f"{'-':>{w}}"
                 for u, w in zip(utils, (7, 6, 6))]
        print(f"  {stage:<28} {macs:11,d} {'':>11} " + " ".join(cells))


def _stages(ws, fp, os_, pe):
    """``(stage, MACs, (fpgagen, WS, OS utilization))`` per stage of the convolutions in
    ``ws`` (a stage: the layer names up to their first ``/``), in order."""
    stages = {}
    for name, lay in ws.items():
        acc = stages.setdefault(name.split("/")[0], [0, 0, 0, 0])
        acc[0] += lay["macs"]
        acc[1] += fp[name]["cycles"] if name in fp else 0
        acc[2] += lay["cycles"]
        acc[3] += os_[name]["cycles"]
    return [(stage, macs, tuple(macs / (c * pe * pe) if c else None for c in cyc))
            for stage, (macs, *cyc) in stages.items()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nets", nargs="+", metavar="NAME",
                        help="Table 3 labels or catalog names (default: every row)")
    parser.add_argument("--pe", nargs="+", type=int, default=list(PAPER_PE),
                        help="PE array sides (rows = cols; default 8 16)")
    parser.add_argument("--input-size", type=int, default=None,
                        help="input height and width (default: each network's own, 227)")
    parser.add_argument("--setup", type=int, default=None,
                        help="dataflow model: setup cycles per pass (default: the rows)")
    parser.add_argument("--fig6", nargs="*", metavar="NAME", default=None,
                        help="networks to list per layer (default: the reference)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    for pe in args.pe:
        if pe not in PE_SIZES:
            parser.error(f"--pe {pe!r}: the array side must be one of {PE_SIZES}")
    rows = _select(args.nets)
    results = {r.label: _measure(r, args.pe, args.input_size, args.setup) for r in rows}
    size = args.input_size or "each network's own"
    print(f"SqueezeNext Table 3 on fpgagen (input size {size}; generated weights; no board: "
          f"whole layers, weights in ROM)")
    for pe in args.pe:
        _print_table(rows, results, pe, pe if args.setup is None else args.setup)
    fig6 = args.fig6
    if fig6 is None:  # the reference of the first array size, if anything was measured
        fig6 = [n for n in [_reference(rows, results, args.pe[0])] if n]
    for row in _select(fig6) if fig6 else []:
        res = results.get(row.label)
        if res is None or "pe" not in res:
            why = res["status"] if res else "not in --nets"
            print(f"\nFig. 6: {row.label} not measured ({why})")
            continue
        for pe in args.pe:
            _print_fig6(row, res, pe)
    if args.json:
        with open(args.json, "w") as f:
            for row in rows:
                results[row.label]["paper"] = dict(zip(map(str, PAPER_PE), row.paper))
            refs = {str(pe): _reference(rows, results, pe) for pe in args.pe}
            json.dump({"input_size": args.input_size, "reference": refs, "nets": results}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
