"""The DE10-Lite design of the trained SqueezeNet v1.1 (``docs/de10-lite.md``): weights as
per-layer codebooks (6 bits; 5 for fire6 and fire7's expand3x3; 4 for fire8 and fire9's
expand3x3 and conv10) and the schedule in the MAX 10's
user flash, run by ``fpgagen simulate --board boards/max10.yaml`` (the design ``build``
emits, with a model of the flash's Avalon-MM timing) on a shared photo: bit-exact against
the golden model and every cycle as predicted.

The reduced variant (64 x 64 input: the same layers, channels, weights, codebooks, flash
path and PE array, smaller tensors) runs in the default test run; the full-size design
(176 x 176, which fits the 10M50) is slow-marked."""

import json
from pathlib import Path

import pytest

from fpgagen.cli import main
from fpgagen.devices.board import BOARDS_DIR

from .conftest import BUILD_ROOT

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
WEIGHTS = SHARED / "models" / "squeezenet_v1_1.npz"
PHOTO = SHARED / "images" / "n01531178_goldfinch.JPEG"

#: The weight formats of the DE10-Lite design (docs/de10-lite.md).
FORMATS = ["--weight-format", "codebook:6"] + [
    arg for layer, bits in (("fire6/expand3x3", 5), ("fire7/expand3x3", 5),
                            ("fire8/expand3x3", 4), ("fire9/expand3x3", 4), ("conv10", 4))
    for arg in ("--layer-format", f"{layer}=codebook:{bits}")]


def _simulate(size: int, name: str, capsys) -> dict:
    if not (WEIGHTS.exists() and PHOTO.exists()):
        pytest.skip(f"needs {WEIGHTS} and {PHOTO} (../shared absent)")
    status = main(["simulate", "--net", "squeezenet1_1", "--weights", str(WEIGHTS),
                   "--board", str(BOARDS_DIR / "max10.yaml"), "--weight-store", "flash",
                   "--input-size", str(size), *FORMATS, "--image", str(PHOTO), "--json",
                   "--build-dir", str(BUILD_ROOT / name)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    out = json.loads(captured.out)
    assert out["bit_exact"] is True and out["mismatches"] == 0
    assert out["cycles"] == out["predicted_cycles"] > 0
    assert (out["board"], out["pe"]) == ("max10", "8x8")
    return out


def test_de10_lite_design_at_reduced_input(capsys):
    _simulate(64, "de10_lite_64", capsys)


@pytest.mark.slow
def test_de10_lite_design_full_size(capsys):
    out = _simulate(176, "de10_lite_176", capsys)
    assert out["fits"] is True
