"""Accuracy in the build: --eval in the reports, proposals carrying and ranked by measured
accuracy, no --width / --num-classes proposals with a weights file, weight-format proposals,
and the per-layer format chooser (budget respected, exact bytes, sensitive layer kept)."""

import json
from pathlib import Path

import numpy as np
import pytest

from fpgagen.build_flow import RESHAPE_NOTE, candidate_formats, rank_proposals
from fpgagen.cli import main
from fpgagen.fit.layer_formats import choose_layer_formats
from fpgagen.fit.proposals import DesignPoint, Proposal, propose
from fpgagen.frontend import generate_weights
from fpgagen.frontend.npz import save_npz_weights
from fpgagen.hw.params import HwParams
from fpgagen.nets import NetOptions, build_net
from fpgagen.passes import QuantConfig, quantize
from fpgagen.schedule.lower import lower

SMALL = ["--input-size", "32", "--width", "0.125", "--num-classes", "10", "--pe", "4x4"]


@pytest.fixture
def labelled(tmp_path) -> Path:
    """Three small photos with labels.json."""
    from PIL import Image

    folder = tmp_path / "eval"
    folder.mkdir()
    rng = np.random.default_rng(0)
    labels = {}
    for i in range(3):
        name = f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / name)
        labels[name] = i
    (folder / "labels.json").write_text(json.dumps(labels))
    return folder


def _build(capsys, *args):
    status = main(["build", *map(str, args)])
    return status, capsys.readouterr().out


def test_report_carries_accuracy(tmp_path, capsys, labelled):
    out = tmp_path / "b"
    status, text = _build(capsys, "--board", "zynq7020", "--out", out, *SMALL,
                          "--eval", labelled, "--eval-limit", "2")
    assert status == 0, text
    data = json.loads((out / "report.json").read_text())
    acc = data["accuracy"]
    assert acc["images"] == 2
    assert set(acc["float"]) == {"top1", "top5"} and set(acc["int"]) == {"top1", "top5"}
    assert 0.0 <= acc["agreement"] <= 1.0
    assert "agreement" in (out / "report.md").read_text()
    assert "agreement" in (out / "report.html").read_text()
    assert "accuracy: int top-1" in text


def test_report_without_eval_says_not_measured(tmp_path, capsys):
    out = tmp_path / "b"
    status, text = _build(capsys, "--board", "zynq7020", "--out", out, *SMALL)
    assert status == 0
    data = json.loads((out / "report.json").read_text())
    assert data["accuracy"] is None
    assert "ccuracy not measured" in (out / "report.md").read_text()
    assert "ccuracy not measured" in (out / "report.html").read_text()


def test_proposals_carry_accuracy(tmp_path, capsys, labelled):
    out = tmp_path / "b"
    status, text = _build(capsys, "--board", "ice40-up5k", "--out", out, *SMALL,
                          "--eval", labelled, "--eval-limit", "1")
    assert status == 3, text
    props = json.loads((out / "report.json").read_text())["proposals"]
    assert props
    for p in props:
        numbers_kept = p["width"] == 0.125 and p["num_classes"] == 10
        assert (p["accuracy"] is not None) == numbers_kept, p
        if p["accuracy"] is None:
            assert p["accuracy_text"] == "accuracy not measured"


def _proposal(fps, top1):
    point = DesignPoint(pe=4, weight_bits=8, input_size=32, width=1.0, num_classes=10)
    acc = None if top1 is None else {"int": {"top1": top1}, "float": {"top1": top1}}
    return Proposal("x", point, None, (), None, {"fps": fps}, acc)


def test_proposals_ranked_by_accuracy_then_fps():
    ranked = rank_proposals([_proposal(900, None), _proposal(10, 0.5), _proposal(20, 0.7),
                             _proposal(30, 0.5)])
    assert [(p.performance["fps"]) for p in ranked] == [20, 30, 10, 900]


def test_no_reshape_proposals_with_a_weights_file(tmp_path, capsys):
    g = generate_weights(build_net("squeezenet1_1", NetOptions(input_size=32, width=0.125,
                                                                num_classes=10)))
    npz = tmp_path / "w.npz"
    save_npz_weights(g, npz)
    out = tmp_path / "b"
    status, text = _build(capsys, "--board", "ice40-up5k", "--out", out, *SMALL,
                          "--weights", npz)
    assert status == 3, text
    data = json.loads((out / "report.json").read_text())
    for p in data["proposals"]:
        assert not any(f.startswith(("--width", "--num-classes")) for f in p["flags"]), p
    assert RESHAPE_NOTE in data["notes"]


class _Verdict:
    def __init__(self, fits):
        self.fits, self.overflows = fits, []


def test_weight_format_proposals_and_no_reshape():
    base = DesignPoint(pe=4, weight_bits=8, input_size=64, width=1.0, num_classes=1000)

    def evaluate(point, board):  # only a pruned format or a smaller width fits
        ok = point.weight_format.startswith("pruned") or point.width < 1.0
        return _Verdict(ok), {"fps": 1.0}

    class Board:
        key, name, block_ram_bits = "b", "b", 1

        class block_ram:
            count = 10

    board = Board()
    found = propose(base, board, evaluate, formats=["pruned:8", "pruned:4"])
    flags = [f for p in found for f in p.flags]
    assert "--weight-format pruned:8" in flags
    assert any(f.startswith("--width") for f in flags)
    found = propose(base, board, evaluate, formats=["pruned:8"], reshape=False)
    flags = [f for p in found for f in p.flags]
    assert "--weight-format pruned:8" in flags
    assert not any(f.startswith(("--width", "--num-classes")) for f in flags)


def test_narrower_activations_are_proposed_for_a_wide_base():
    """A base with 12-bit activations whose activation memory does not fit: the mildest
    narrower width that fits is proposed (``--activation-bits 10``, fewer activation
    bits), even where every weight-side axis is skipped; an 8-bit base gets no such axis."""
    base = DesignPoint(pe=4, weight_bits=8, input_size=64, width=1.0, num_classes=1000,
                       activation_bits=12)
    tried = []

    def evaluate(point, board):  # the activations fit at 10 bits or fewer
        tried.append(point.activation_bits)
        return _Verdict(point.activation_bits <= 10), {"fps": 1.0}

    class Board:
        key, name, block_ram_bits = "b", "b", 1

        class block_ram:
            count = 10

    found = propose(base, Board(), evaluate, base_blocks={"activation": 11, "weights": 1},
                    reshape=False)
    assert [p.flags for p in found] == [("--activation-bits 10",)]
    assert found[0].what == "fewer activation bits" and found[0].point.numerics() != \
        base.numerics()
    tried.clear()
    propose(DesignPoint(pe=4, weight_bits=8, input_size=64, width=1.0, num_classes=1000),
            Board(), evaluate, reshape=False)
    assert set(tried) == {8}


def test_candidate_formats_follow_the_zeros():
    g = generate_weights(build_net("squeezenet1_1", NetOptions(input_size=32, width=0.125,
                                                                num_classes=10)))
    assert candidate_formats(g, 8) == ["codebook:6", "codebook:5", "codebook:4"]
    sparse = g.replace(params={k: {**d, "weight": np.where(np.abs(d["weight"]) < 10,
                                                           0, d["weight"])}
                               for k, d in g.params.items()})
    assert candidate_formats(sparse, 8)[0] == "pruned:8"


def test_layer_formats_respect_the_budget_and_keep_the_sensitive_layer():
    g = generate_weights(build_net("squeezenet1_1", NetOptions(input_size=32, width=0.125,
                                                                num_classes=10)))
    hw = HwParams(pe_rows=4, pe_cols=4)
    full = choose_layer_formats(g, 10 ** 9, ["codebook:4"], hw=hw)
    assert full.fits and not full.formats
    budget = full.base_bytes - 400
    choice = choose_layer_formats(g, budget, ["codebook:6", "codebook:4"], hw=hw)
    assert choice.fits and choice.total_bytes <= budget and choice.formats
    # the figure is the compiled one: quantize with those formats, lower, count
    q = quantize(g, QuantConfig(layer_formats=dict(choice.formats)))
    assert lower(q, hw).weight_storage()["total"] == choice.total_bytes
    # the layer whose move costs most noise per byte stays as it was
    worst = max(choice.moves, key=lambda k: choice.moves[k]["loss"] / choice.moves[k]["saved"])
    layer = worst.split("=")[0]
    assert layer not in choice.formats
    assert choice.moves[worst]["loss"] > 0


def test_weight_budget_option(tmp_path, capsys):
    out = tmp_path / "b"
    status, text = _build(capsys, "--board", "zynq7020", "--out", out, *SMALL,
                          "--weight-budget-kb", "12")
    assert status == 0, text
    data = json.loads((out / "report.json").read_text())
    assert data["memory"]["weight_storage"]["total"] <= 12 * 1024
    assert any(n.startswith("--weight-budget-kb 12") for n in data["notes"])
