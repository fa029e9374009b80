"""How ``fpgagen.synth.nextpnr.run_nextpnr`` calls nextpnr: ECP5 on unconstrained pins
(global clock) first, out of context when that fails, on the netlist with its block RAM
output registers in use; iCE40 on unconstrained pins. The tool itself is replaced by a
stand-in that records the command line."""

import json
import subprocess

import pytest

from fpgagen.errors import FpgagenError
from fpgagen.devices.board import resolve_board
from fpgagen.synth import nextpnr


class FakeNextpnr:
    """Records each command; fails the runs whose command holds ``fail_with``."""

    def __init__(self, fail_with=None):
        self.commands = []
        self.fail_with = fail_with

    def __call__(self, cmd, cwd, **kwargs):
        self.commands.append(cmd)
        if self.fail_with and self.fail_with in cmd:
            return subprocess.CompletedProcess(cmd, 1, "", "ERROR: Unable to place cell "
                                               "'dbg_data[3]$tr_io', no BELs remaining")
        report = {"fmax": {"clk": {"achieved": 87.5, "constraint": 100}},
                  "critical_paths": [], "utilization": {}}
        (cwd / "nextpnr_report.json").write_text(json.dumps(report))
        return subprocess.CompletedProcess(cmd, 0, "", "")


@pytest.fixture
def fake(monkeypatch, tmp_path):
    (tmp_path / "n.json").write_text(json.dumps({"modules": {}}))

    def install(fail_with=None):
        tool = FakeNextpnr(fail_with)
        monkeypatch.setattr(nextpnr.subprocess, "run", tool)
        monkeypatch.setattr(nextpnr, "find_tool", lambda name: name)
        return tool
    return install


def test_ecp5_places_on_pins_with_a_global_clock(fake, tmp_path):
    tool = fake()
    r = nextpnr.run_nextpnr(resolve_board("ecp5-85"), tmp_path / "n.json", freq_mhz=100)
    assert len(tool.commands) == 1
    assert "--lpf-allow-unconstrained" in tool.commands[0]
    assert "--out-of-context" not in tool.commands[0]
    assert r.fmax_mhz == 87.5 and not r.out_of_context
    assert r.summary()["out_of_context"] is False


def test_ecp5_places_the_netlist_with_registers_packed(fake, tmp_path):
    tool = fake()
    r = nextpnr.run_nextpnr(resolve_board("ecp5-85"), tmp_path / "n.json", freq_mhz=100)
    json_arg = tool.commands[0][tool.commands[0].index("--json") + 1]
    assert json_arg == "n_packed.json" and (tmp_path / "n_packed.json").exists()
    assert r.summary()["register_packing"] == {
        "ebr_output_registers": {"blocks": 0, "absorbed_blocks": 0, "removed_flip_flops": 0,
                                 "skipped": {}},
        "dsp_input_registers": {"multipliers": 0, "absorbed_multipliers": 0,
                                "removed_flip_flops": 0, "skipped": {}}}
    r = nextpnr.run_nextpnr(resolve_board("ecp5-85"), tmp_path / "n.json", freq_mhz=100,
                            pack_registers=False)
    assert tool.commands[-1][tool.commands[-1].index("--json") + 1] == "n.json"
    assert r.register_packing is None


def test_ecp5_falls_back_out_of_context_when_the_pins_run_out(fake, tmp_path):
    tool = fake(fail_with="--lpf-allow-unconstrained")
    r = nextpnr.run_nextpnr(resolve_board("ecp5-85"), tmp_path / "n.json", freq_mhz=100)
    assert ["--lpf-allow-unconstrained" in c for c in tool.commands] == [True, False]
    assert "--out-of-context" in tool.commands[1]
    assert r.out_of_context and r.fmax_mhz == 87.5


def test_forced_modes_do_not_retry(fake, tmp_path):
    tool = fake(fail_with="--lpf-allow-unconstrained")
    with pytest.raises(FpgagenError, match="no BELs remaining"):
        nextpnr.run_nextpnr(resolve_board("ecp5-85"), tmp_path / "n.json", freq_mhz=100,
                            out_of_context=False)
    assert len(tool.commands) == 1
    r = nextpnr.run_nextpnr(resolve_board("ecp5-85"), tmp_path / "n.json", freq_mhz=100,
                            out_of_context=True)
    assert r.out_of_context and "--out-of-context" in tool.commands[-1]


def test_ice40_uses_unconstrained_pins(fake, tmp_path):
    tool = fake()
    r = nextpnr.run_nextpnr(resolve_board("ice40-up5k"), tmp_path / "n.json", freq_mhz=20)
    assert "--pcf-allow-unconstrained" in tool.commands[0]
    assert not any(a in tool.commands[0] for a in ("--out-of-context",
                                                   "--lpf-allow-unconstrained"))
    assert not r.out_of_context and r.register_packing is None
