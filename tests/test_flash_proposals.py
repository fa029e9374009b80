"""Proposals with the weights in the board's flash (``fpgagen build`` on a board with a
flash): the per-layer codebook mixes, largest layers to fewer bits first, the first mix that
fits with the largest input size that fits, found with a bounded number of evaluations; and,
end to end on small networks and cut-down MAX 10 board files, proposals whose flags, when
followed, build with exit status 0."""

import json
import re
from pathlib import Path

import pytest

from fpgagen.build_flow import FLASH_PROPOSALS_NOTE
from fpgagen.cli import main
from fpgagen.devices.board import BOARDS_DIR, resolve_board
from fpgagen.fit.proposals import (FLASH_INPUT_SIZE_STEPS, DesignPoint, codebook_mixes,
                                   propose_flash)
from fpgagen.fit.verdict import Resource, Verdict

MAX10 = BOARDS_DIR / "max10.yaml"
#: A small network (generated weights) that builds in seconds.
SMALL = ["--input-size", "64", "--width", "0.25", "--num-classes", "10", "--pe", "4x4"]

#: Weights per conv layer of a made-up network (names as --layer-format takes them).
LAYERS = {"conv1": 10000, "fire2/expand3x3": 90000, "fire3/expand3x3": 300000,
          "conv10": 700000}


def _point(**kw) -> DesignPoint:
    args = dict(pe=8, weight_bits=8, input_size=224, width=1.0, num_classes=1000)
    return DesignPoint(**{**args, **kw})


def test_codebook_mixes_move_the_largest_layers_first():
    """The largest layers lose bits first: the first k at 4 bits, the next (at most two)
    at 5, every mix once, ordered by stored index bits (worked out by hand for LAYERS, in
    thousands of bits: all at 6 bits 6,600)."""
    mixes = codebook_mixes(_point(weight_store="flash"), LAYERS)
    assert {m.weight_format for m in mixes} == {"codebook:6"}
    c10, f3, f2, c1 = "conv10", "fire3/expand3x3", "fire2/expand3x3", "conv1"
    expected = [  # stored bits, formats
        (6600, {}),
        (5900, {c10: 5}),
        (5600, {c10: 5, f3: 5}),
        (5200, {c10: 4}),
        (4900, {c10: 4, f3: 5}),
        (4810, {c10: 4, f3: 5, f2: 5}),
        (4600, {c10: 4, f3: 4}),
        (4510, {c10: 4, f3: 4, f2: 5}),
        (4500, {c10: 4, f3: 4, f2: 5, c1: 5}),
        (4420, {c10: 4, f3: 4, f2: 4}),
        (4410, {c10: 4, f3: 4, f2: 4, c1: 5}),
        (4400, {c10: 4, f3: 4, f2: 4, c1: 4}),
    ]
    assert [dict(m.layer_formats) for m in mixes] == [
        {k: f"codebook:{b}" for k, b in f.items()} for _, f in expected]
    assert [_stored_bits(m) // 1000 for m in mixes] == [b for b, _ in expected]
    base = _point()
    assert mixes[3].flags(base) == ["--weight-store flash", "--weight-format codebook:6",
                                    "--layer-format conv10=codebook:4"]


def test_codebook_mixes_keep_cheap_formats_and_override_others_by_name():
    """A base codebook of 5 bits stays the default; a base layer at dense is named at the
    default (the flags could not remove it), one already at 4 bits is not moved again."""
    base = _point(weight_format="codebook:5", weight_store="flash",
                  layer_formats=(("conv1", "dense"), ("conv10", "codebook:4")))
    mixes = codebook_mixes(base, LAYERS)
    assert mixes[0].weight_format == "codebook:5"
    assert dict(mixes[0].layer_formats) == {"conv1": "codebook:5", "conv10": "codebook:4"}
    assert dict(mixes[1].layer_formats) == {"conv1": "codebook:5", "conv10": "codebook:4",
                                            "fire3/expand3x3": "codebook:4"}
    assert "--layer-format conv1=codebook:5" in mixes[0].flags(base)
    assert len(mixes) == 4


def _stored_bits(p: DesignPoint) -> int:
    formats = dict(p.layer_formats)
    bits = {"dense": p.weight_bits}
    return sum(n * bits.get(formats.get(k, p.weight_format),
                            int(formats.get(k, p.weight_format).split(":")[1]))
               for k, n in LAYERS.items())


def test_propose_flash_offers_the_most_bits_then_the_larger_inputs():
    """A made-up model: the image is the stored weight bits plus 10 bits per pixel of the
    input (the schedule), the flash 5,400,000 bits. The dense weights (8,800,000 bits) and
    the all-6-bit mix (6,600,000) exceed even the MAX 10's largest mode (6,029,312 bits):
    they are not evaluated."""
    board = resolve_board("max10")
    calls = []

    def evaluate(p: DesignPoint, b):
        calls.append(p)
        assert p.weight_store == "flash" and b is board
        flash = _stored_bits(p) + 10 * p.input_size ** 2
        verdict = Verdict((Resource("bram", "M9K", 100, 182),),
                          (Resource("ufm", "bytes", flash // 8, 5400000 // 8),))
        return verdict, {"fps": 1000.0 / p.input_size}

    base = _point()
    props = propose_flash(base, board, evaluate, LAYERS)
    # the first mix that fits (5,200,000 bits: up to 141 pixels a side), then the later
    # ones that fit larger inputs (4,900,000: 223; 4,810,000: the base's 224)
    assert [(p.point.input_size, dict(p.point.layer_formats)) for p in props] == [
        (128, {"conv10": "codebook:4"}),
        (208, {"conv10": "codebook:4", "fire3/expand3x3": "codebook:5"}),
        (224, {"conv10": "codebook:4", "fire3/expand3x3": "codebook:5",
               "fire2/expand3x3": "codebook:5"})]
    prop = props[0]
    assert prop.point.pe == base.pe
    assert prop.flags == ("--weight-store flash", "--weight-format codebook:6",
                          "--layer-format conv10=codebook:4", "--input-size 128")
    assert "weights in flash" in prop.what and "smaller input" in prop.what
    assert prop.verdict.fits and prop.performance["fps"] == 1000.0 / 128
    assert "--input-size" not in " ".join(props[-1].flags)
    # the dense weights and the all-6-bit mix exceed the flash's largest mode: not
    # evaluated; the mixes that fit nowhere are rejected by one evaluation each
    assert {_stored_bits(p) for p in calls} == {5900000, 5600000, 5200000, 4900000, 4810000}
    assert sum(_stored_bits(p) == 5900000 for p in calls) == 1
    assert sum(_stored_bits(p) == 5600000 for p in calls) == 1
    sizes = [224, *[s for s in FLASH_INPUT_SIZE_STEPS if s < 224]]
    assert sum(_stored_bits(p) == 5200000 for p in calls) <= 1 + len(sizes).bit_length()


def test_propose_flash_is_bounded_and_empty_without_flash():
    board = resolve_board("max10")
    calls = []

    def never(p, b):
        calls.append(p)
        return Verdict((Resource("bram", "M9K", 999, 182),)), {"fps": 1.0}

    assert propose_flash(_point(), board, never, LAYERS, budget=2) == []
    assert len({(p.weight_format, p.layer_formats) for p in calls}) == 2
    assert propose_flash(_point(), resolve_board("zynq7020"), never, LAYERS) == []


def _build(capsys, *args):
    status = main(["build", *map(str, args)])
    out = capsys.readouterr()
    return status, out.out, out.err


def _board(tmp_path: Path, m9k: int) -> Path:
    """The MAX 10 board file with ``m9k`` M9K blocks."""
    path = tmp_path / f"max10_{m9k}.yaml"
    text, n = re.subn(r"count: 182\b", f"count: {m9k}", MAX10.read_text())
    assert n == 1
    path.write_text(text)
    return path


def _follow(tmp_path, capsys, name, args, proposal):
    """Build with ``args`` plus the proposal's flags; returns the report."""
    out = tmp_path / name
    flags = [w for f in proposal["flags"] for w in f.split(" ", 1)]
    status, text, err = _build(capsys, *args, *flags, "--out", out, "--no-proposals")
    assert status == 0, text + err
    return json.loads((out / "report.json").read_text())


def test_a_block_ram_design_is_proposed_in_flash_and_the_flags_build(tmp_path, capsys):
    """30 M9K: the weights in block RAM do not fit (75 M9K), in flash they do, with the
    same numbers (no other option changed)."""
    board = _board(tmp_path, 30)
    args = ["--board", board, *SMALL]
    status, text, err = _build(capsys, *args, "--out", tmp_path / "base")
    assert status == 3, text + err
    d = json.loads((tmp_path / "base" / "report.json").read_text())
    flash = [p for p in d["proposals"] if p["weight_store"] == "flash"]
    assert [p["flags"] for p in flash] == [["--weight-store flash"]]
    (p,) = flash
    assert p["resources"]["ufm"]["used"] <= p["resources"]["ufm"]["available"]
    assert f"UFM {p['resources']['ufm']['used']:,d}/753,664 bytes" in text
    built = _follow(tmp_path, capsys, "followed", args, p)
    assert built["weight_store"]["store"] == "flash"
    assert built["resources"]["bram"]["used"] == p["resources"]["bram"]["used"]
    assert built["resources"]["ufm"]["used"] == p["resources"]["ufm"]["used"]
    assert built["performance"]["cycles"] == p["performance"]["cycles"]
    for p in d["proposals"]:  # the block RAM ones keep the block RAM
        assert p["weight_store"] == ("flash" if "--weight-store flash" in p["flags"]
                                     else "bram")


def test_a_flash_design_that_does_not_fit_gets_a_smaller_input(tmp_path, capsys):
    """17 M9K: the flash design at 64x64 needs 18; the proposal keeps its codebook and the
    flash and takes the largest smaller input that fits."""
    board = _board(tmp_path, 17)
    args = ["--board", board, "--weight-store", "flash", "--weight-format", "codebook:6",
            *SMALL]
    status, text, err = _build(capsys, *args, "--out", tmp_path / "base")
    assert status == 3, text + err
    d = json.loads((tmp_path / "base" / "report.json").read_text())
    assert FLASH_PROPOSALS_NOTE in d["notes"]
    (p,) = d["proposals"]
    assert p["flags"] == ["--input-size 48"] and p["weight_store"] == "flash"
    assert p["weight_format"] == "codebook:6" and p["pe"] == "4x4"
    built = _follow(tmp_path, capsys, "followed", args, p)
    assert built["resources"]["bram"]["used"] == p["resources"]["bram"]["used"] <= 17
    assert built["performance"]["cycles"] == p["performance"]["cycles"]
