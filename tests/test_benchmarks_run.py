"""The benchmark scripts run: ``benchmarks/activation_memory.py`` on a reduced network with
generated weights, one network and one board."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def activation_memory(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # the scripts import ``_common``
    spec = importlib.util.spec_from_file_location("activation_memory",
                                                  BENCH / "activation_memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("_common", None)


def test_activation_memory(activation_memory, tmp_path, capsys):
    out_json = tmp_path / "figures.json"
    rc = activation_memory.main(["--input-size", "64", "--generated", "--net",
                                 "squeezenet1_1", "--board", "zynq7045", "--json",
                                 str(out_json)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "generated weights (--generated)" in text
    assert "squeezenet1_1, 16x16 PEs: activation memory by schedule" in text
    for label in ("whole, unfused", "whole, fused", "2 steps", "32 steps", "<= 256 KB"):
        assert f"\n  {label} " in text
    data = json.loads(out_json.read_text())
    rows = {r["plan"]: r for r in data["nets"]["squeezenet1_1"]["memory"]["16x16"]}
    assert rows["whole, unfused"]["pools_fused"] == 0
    assert rows["whole, fused"]["pools_fused"] == rows["whole, fused"]["pools"] == 3
    # fusing the pools and banding shrink the activation memory
    assert rows["32 steps"]["bytes"] < rows["whole, fused"]["bytes"] \
        < rows["whole, unfused"]["bytes"]
    (board,) = data["nets"]["squeezenet1_1"]["boards"]
    assert board["board"] == "zynq7045" and board["pe"] == "16x16"
    assert board["fits"] is True and board["fps"] > 0
    assert "\n  zynq7045 " in text


def test_activation_memory_bad_pe(activation_memory, capsys):
    with pytest.raises(SystemExit):
        activation_memory.main(["--pe", "3", "--no-boards"])
    assert "--pe '3'" in capsys.readouterr().err
