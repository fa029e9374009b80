"""``fpgagen simulate`` end to end on a small network, and its errors."""

import json

import numpy as np
import pytest
from PIL import Image

from fpgagen.cli import main

from .conftest import BUILD_ROOT


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "noise.png"
    rgb = np.random.default_rng(5).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)
    return path


def test_simulate_json(photo, capsys):
    status = main(["simulate", "--net", "squeezenet", "--input-size", "35", "--width", "0.25",
                   "--pe", "4x4", "--image", str(photo), "--json",
                   "--build-dir", str(BUILD_ROOT / "cli_simulate")])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    out = json.loads(captured.out)
    assert out["bit_exact"] is True and out["mismatches"] == 0
    assert out["cycles"] == out["predicted_cycles"] > 0
    assert out["macs"] > 0
    assert out["mac_utilization"] == pytest.approx(out["macs"] / (out["cycles"] * 16))
    assert len(out["top5"]) == 5
    for index, name, score in out["top5"]:
        assert isinstance(index, int) and isinstance(name, str) and isinstance(score, float)
    scores = [s for _, _, s in out["top5"]]
    assert scores == sorted(scores, reverse=True)
    assert "simulating" in captured.err  # progress goes to stderr, not into the JSON


def test_simulate_missing_image(tmp_path, capsys):
    status = main(["simulate", "--input-size", "35", "--image", str(tmp_path / "nope.jpg")])
    err = capsys.readouterr().err
    assert status == 2
    assert "image not found" in err and "nope.jpg" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("pe", ["3x3", "16x8", "banana"])
def test_simulate_bad_pe(pe, photo, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--pe", pe, "--image", str(photo)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--pe" in err and pe in err


def test_simulate_board_json(photo, capsys):
    """The iCE40 UP5K's design of a tiny network: build's 2x2 array and band plan (the one
    needing least memory, as nothing fits the board), the board's memory banks, bit-exact."""
    from fpgagen.build_flow import BuildConfig, step_hw, step_plan
    from fpgagen.devices.board import resolve_board
    from fpgagen.flow import FlowConfig, step_import, step_quantize
    from fpgagen.nets import NetOptions

    options = ["--input-size", "32", "--width", "0.0625", "--num-classes", "10"]
    status = main(["simulate", "--board", "boards/ice40-up5k.yaml", *options, "--image",
                   str(photo), "--json", "--build-dir", str(BUILD_ROOT / "cli_simulate_board")])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    out = json.loads(captured.out)
    assert out["bit_exact"] is True and out["mismatches"] == 0
    assert out["cycles"] == out["predicted_cycles"] > 0
    flow = FlowConfig(net_options=NetOptions(input_size=32, width=0.0625, num_classes=10))
    cfg = BuildConfig(flow=flow, board=resolve_board("ice40-up5k"))
    hw = step_hw(cfg)
    analysis = step_plan(cfg, step_quantize(step_import(flow), flow), hw)
    assert (out["board"], out["pe"], out["fits"]) == ("ice40-up5k", str(hw), analysis.fits)
    assert out["band_steps"] == analysis.program.plan.steps > 1
    assert out["predicted_cycles"] == analysis.program.cycles_predicted
    assert out["clock_mhz"] == cfg.board.clock_mhz
    assert out["fps"] == pytest.approx(analysis.performance["fps"])
