"""The benchmark scripts run: ``benchmarks/activation_memory.py`` on a reduced network with
generated weights, one network and one board."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _script(monkeypatch, name):
    """The benchmark script ``benchmarks/<name>.py`` as a module, yielded; the scripts
    import ``_common``, dropped again afterwards."""
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("_common", None)


@pytest.fixture
def activation_memory(monkeypatch):
    yield from _script(monkeypatch, "activation_memory")


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


@pytest.fixture
def table3(monkeypatch):
    yield from _script(monkeypatch, "squeezenext_table3")


def test_squeezenext_table3(table3, tmp_path, capsys):
    out_json = tmp_path / "table3.json"
    rc = table3.main(["--nets", "squeezenet1_1", "MobileNet", "--input-size", "64",
                      "--json", str(out_json)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "8x8 PE array: relative time (1.00 = SqueezeNet v1.1)" in text
    assert "16x16 PE array" in text
    assert "MobileNet        not supported: needs depthwise convolution" in text
    assert "Fig. 6: MAC utilization per layer, SqueezeNet v1.1 on 16x16" in text
    assert "per stage (layers grouped by the first part of their name):" in text
    # fire2's three convolutions on 64x64 input: 16x15x15 squeeze, 2 x 64x15x15 expand
    assert f"\n  {'fire2':<28} {64 * 16 * 225 + 64 * 16 * 225 + 64 * 16 * 9 * 225:11,d} " \
        in text
    data = json.loads(out_json.read_text())
    assert data["reference"] == {"8": "SqueezeNet v1.1", "16": "SqueezeNet v1.1"}
    assert data["nets"]["MobileNet"]["paper"] == {"8": 2.94, "16": 2.60}
    res = data["nets"]["SqueezeNet v1.1"]
    assert res["status"] == "ok"
    for pe in ("8", "16"):
        entry = res["pe"][pe]
        fp = entry["fpgagen"]
        # the per-layer figures add up to the program's, and every conv is listed by the
        # dataflow model too
        assert sum(l["cycles"] for l in fp["layers"].values()) == fp["cycles"]
        convs = {n for n, l in fp["layers"].items() if l["macs"]}
        assert convs == set(entry["model"]["ws"]["layers"]) == set(entry["model"]["os"]["layers"])
        assert sum(l["macs"] for l in fp["layers"].values()) == res["macs"]
        assert 0 < fp["util"] <= 1
    # a 16x16 array takes fewer cycles than an 8x8 one in all three models
    assert res["pe"]["16"]["fpgagen"]["cycles"] < res["pe"]["8"]["fpgagen"]["cycles"]
    for flow in ("ws", "os"):
        assert res["pe"]["16"]["model"][flow]["cycles"] < res["pe"]["8"]["model"][flow]["cycles"]


def test_squeezenext_table3_bad_net(table3):
    with pytest.raises(SystemExit, match="unknown network 'alexnet'"):
        table3.main(["--nets", "alexnet"])


def test_squeezenext_table3_unlowerable(table3, monkeypatch, capsys):
    # a network the catalog has but fpgagen cannot lower keeps its dataflow-model columns
    def refuse(graph, hw):
        raise table3.FpgagenError("no lowering for this")

    monkeypatch.setattr(table3, "lower", refuse)
    assert table3.main(["--nets", "squeezenet1_1", "--input-size", "64", "--pe", "8"]) == 0
    text = capsys.readouterr().out
    assert "relative time (1.00 = nothing measured)" in text
    assert "(fpgagen cannot lower it yet: no lowering for this)" in text
    assert "SqueezeNet v1.1    21.6 |            -     -      - |" in text
    assert "Fig. 6" not in text
