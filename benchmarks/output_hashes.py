"""Fingerprints of everything fpgagen produces for a fixed set of configurations, to show
that a change of structure left behaviour as it was.

For each configuration it runs ``fpgagen build`` in a fresh folder and records the exit
status, a hash of the console output and a hash of every file written; for a few reduced
networks it records the scores and per-instruction cycles of the engine model and of the
Verilator simulation. ``--record FILE`` writes the fingerprints; ``--check FILE`` compares
with a recorded file and prints every difference (exit 1 when there is one).

    python benchmarks/output_hashes.py --record benchmarks/output_hashes.json
    python benchmarks/output_hashes.py --check benchmarks/output_hashes.json

Builds that need the real weights of ``../shared`` are left out (and said so) when it is
absent; ``--no-sim`` leaves out the Verilator runs.
"""

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
V1_1 = SHARED / "models" / "squeezenet_v1_1.npz"

_REDUCED = ["--input-size", "64", "--width", "0.25", "--num-classes", "10"]
#: ``id: fpgagen build arguments``.
BUILDS = {
    **{f"{net}-{board}": ["--net", net, "--board", board]
       for net in ("squeezenet1_1", "squeezenet1_0")
       for board in ("max10", "zynq7020", "zynq7045", "ecp5-85", "ice40-up5k")},
    **{f"reduced-{board}": ["--net", "squeezenet1_1", "--board", board, "--pe", pe, *_REDUCED]
       for board, pe in (("max10", "4x4"), ("zynq7020", "4x4"), ("ecp5-85", "4x4"),
                         ("ice40-up5k", "2x2"))},
    "reduced-bypass-zynq7045": ["--net", "squeezenet1_0-complex-bypass", "--board",
                                "zynq7045", "--pe", "8x8", *_REDUCED],
    "weight-bits-6-ecp5-85": ["--net", "squeezenet1_1", "--board", "ecp5-85", "--pe", "4x4",
                              "--weight-bits", "6", *_REDUCED],
    "real-v1_1-zynq7045": ["--net", "squeezenet1_1", "--board", "zynq7045", "--weights",
                           str(V1_1)],
}
#: Builds that need ``../shared``.
NEEDS_SHARED = {"real-v1_1-zynq7045"}

#: ``id: (net, input size, PE side)``: the reduced networks of ``rtl_tests/test_networks.py``.
NETWORKS = {
    "squeezenet1_1-64-8x8": ("squeezenet1_1", 64, 8),
    "squeezenet1_0-simple-bypass-64-16x16": ("squeezenet1_0-simple-bypass", 64, 16),
    "zynqnet-64-8x8": ("zynqnet", 64, 8),
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:20]


def build_fingerprint(args: list[str]) -> dict:
    """Exit status, console hash and ``{relative path: hash}`` of one ``fpgagen build``."""
    with tempfile.TemporaryDirectory(dir=ROOT / "build" if (ROOT / "build").is_dir()
                                     else None) as tmp:
        out = Path(tmp) / "out"
        proc = subprocess.run([sys.executable, "-m", "fpgagen.cli", "build", *args,
                               "--out", str(out)], capture_output=True, cwd=tmp)
        console = proc.stdout.replace(str(out).encode(), b"<out>")
        files = {str(p.relative_to(out)): _sha(p.read_bytes())
                 for p in sorted(out.rglob("*")) if p.is_file()}
        return {"exit": proc.returncode, "stdout": _sha(console),
                "stderr": proc.stderr.decode(errors="replace")[-400:], "files": files}


def network_fingerprint(net: str, size: int, side: int, build_root: Path, sim: bool) -> dict:
    """Engine-model (and, with ``sim``, Verilator) scores and instruction cycles of a reduced
    network with generated weights on one random image."""
    import numpy as np

    from fpgagen.frontend import generate_weights
    from fpgagen.hw import HwParams
    from fpgagen.nets import NetOptions, build_net
    from fpgagen.passes import quantize
    from fpgagen.schedule import lower, pack_input, run_program

    graph = quantize(generate_weights(build_net(net, NetOptions(input_size=size))))
    image = np.random.default_rng(3).integers(0, 256, (size, size, 3), dtype=np.uint8)
    hw = HwParams(pe_rows=side, pe_cols=side)
    program = lower(graph, hw)
    eng = run_program(program, pack_input(program, graph, image))
    out = {"engine_scores": _sha(np.asarray(eng.scores, np.int64).tobytes()),
           "engine_cycles": [int(c) for c in eng.cycles],
           "schedule": _sha(b"".join(w.to_bytes(64, "little") for w in program.words()))}
    if sim:
        from fpgagen.sim.simulate import simulate_image

        rep = simulate_image(graph, hw, image, build_root / f"{net}-{size}-{side}")
        out["sim_scores"] = _sha(np.asarray(rep.scores, np.int64).tobytes())
        out["sim_cycles"] = [int(c) for c in rep.instruction_cycles]
    return out


def fingerprints(sim: bool) -> dict:
    """Every fingerprint (see the module docstring)."""
    builds = {k: v for k, v in BUILDS.items() if k not in NEEDS_SHARED or V1_1.exists()}
    skipped = sorted(set(BUILDS) - set(builds))
    if skipped:
        print(f"left out (no {SHARED}): {', '.join(skipped)}", file=sys.stderr)
    result = {"builds": {}, "networks": {}}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for key, fp in zip(builds, pool.map(build_fingerprint, builds.values())):
            result["builds"][key] = fp
            print(f"build {key}: exit {fp['exit']}, {len(fp['files'])} files", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        for key, (net, size, side) in NETWORKS.items():
            result["networks"][key] = network_fingerprint(net, size, side, Path(tmp), sim)
            print(f"network {key}: done", file=sys.stderr)
    return result


def compare(old: dict, new: dict) -> list[str]:
    """Every difference between two fingerprint sets, one line each."""
    diffs = []
    for section in ("builds", "networks"):
        for key in sorted(set(old[section]) | set(new[section])):
            a, b = old[section].get(key), new[section].get(key)
            if a is None or b is None:
                if key in NEEDS_SHARED and b is None:
                    continue
                diffs.append(f"{section}/{key}: only in {'new' if a is None else 'recorded'}")
                continue
            for field in sorted(set(a) | set(b)):
                if field == "stderr":
                    continue
                if field == "files":
                    fa, fb = a["files"], b["files"]
                    for path in sorted(set(fa) | set(fb)):
                        if fa.get(path) != fb.get(path):
                            diffs.append(f"{section}/{key}/{path}: {fa.get(path)} -> "
                                         f"{fb.get(path)}")
                elif a.get(field) != b.get(field):
                    diffs.append(f"{section}/{key}: {field} {a.get(field)} -> {b.get(field)}")
    return diffs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--record", type=Path, metavar="FILE", help="write the fingerprints")
    g.add_argument("--check", type=Path, metavar="FILE", help="compare with a recorded file")
    p.add_argument("--no-sim", action="store_true", help="leave out the Verilator runs")
    args = p.parse_args()
    new = fingerprints(sim=not args.no_sim)
    if args.record:
        args.record.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
        n = sum(len(b["files"]) for b in new["builds"].values())
        print(f"recorded {len(new['builds'])} builds ({n} files) and "
              f"{len(new['networks'])} networks in {args.record}")
        return 0
    old = json.loads(args.check.read_text())
    if args.no_sim:
        for fp in old["networks"].values():
            fp.pop("sim_scores", None)
            fp.pop("sim_cycles", None)
    diffs = compare(old, new)
    n = sum(len(b["files"]) for b in new["builds"].values())
    print(f"checked {len(new['builds'])} builds ({n} files) and {len(new['networks'])} "
          f"networks against {args.check}: {len(diffs)} difference(s)")
    for d in diffs:
        print(f"  {d}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
