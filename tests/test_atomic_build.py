"""Atomic output folders: ``fpgagen build`` writes beside its output folder and moves the build
in only once complete, so a build interrupted (Ctrl-C) or failing at any point leaves the
previous build byte-identical and no staging folder behind; ``--force`` keeps the folder
and the files fpgagen did not write; ``fpgagen simulate`` puts its previous Verilator build
back when a new one fails; output folders that cannot be written are refused with one
line."""

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fpgagen
from fpgagen.cli import main
from fpgagen.emit import atomic
from fpgagen.errors import FpgagenError

#: Small and quick, fits the DE10-Lite.
SMALL = ["--net", "squeezenet", "--board", "max10", "--input-size", "32", "--width", "0.125",
         "--num-classes", "10", "--pe", "4x4"]
#: The same network, too large for the DE10-Lite's block RAM at 64x64 and width 0.5.
NO_FIT = ["--net", "squeezenet", "--board", "max10", "--input-size", "64", "--width", "0.5",
          "--num-classes", "10", "--pe", "4x4", "--no-proposals"]
ROOT = Path(fpgagen.__file__).resolve().parents[1]


def _build(capsys, out, *args):
    status = main(["build", *SMALL, "--out", str(out), *args])
    io = capsys.readouterr()
    return status, io.out, io.err


def _snapshot(folder: Path) -> dict:
    """``{relative path: bytes}`` of every file and ``{relative path: None}`` of every
    folder under ``folder``."""
    out = {}
    for p in sorted(folder.rglob("*")):
        out[p.relative_to(folder).as_posix()] = None if p.is_dir() else p.read_bytes()
    return out


def _staging(parent: Path) -> list[Path]:
    return sorted(p for p in parent.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def previous_build(tmp_path_factory):
    """A fitting build, with two files of the user's (one at the top, one in ``rtl/``)."""
    out = tmp_path_factory.mktemp("previous") / "out"
    assert main(["build", *SMALL, "--out", str(out)]) == 0
    (out / "notes.txt").write_text("my notes\n")
    (out / "rtl" / "mine.v").write_text("module mine; endmodule\n")
    return out


@pytest.fixture
def out(tmp_path, previous_build):
    """A copy of the previous build in a folder of its own: ``tmp_path/out``."""
    dest = tmp_path / "out"
    shutil.copytree(previous_build, dest)
    return dest


def _interrupt_at(monkeypatch, target: str, exc: BaseException, parent: Path) -> list:
    """Make ``target`` raise ``exc``; returns the list of the files the staging folders in
    ``parent`` held by then, filled when it raises."""
    seen = []

    def interrupted(*args, **kwargs):
        seen.extend(p.relative_to(s).as_posix() for s in _staging(parent)
                    for p in s.rglob("*") if p.is_file())
        raise exc
    monkeypatch.setattr(target, interrupted)
    return seen


@pytest.mark.parametrize("target, exc, written", [
    # Verilog and memory images written, the schedule not yet.
    ("fpgagen.emit.design.write_schedule", KeyboardInterrupt(), "rtl/fpgagen_top.v"),
    # The RTL complete, the vendor project not yet.
    ("fpgagen.build_flow.step_project", KeyboardInterrupt(), "rtl/schedule.bin"),
    # report.json and report.md written, report.html not yet.
    ("fpgagen.emit.reports.render_html", KeyboardInterrupt(), "report.md"),
    ("fpgagen.build_flow.step_project", OSError(28, "No space left on device"),
     "rtl/schedule.bin"),
], ids=["in-rtl", "before-project", "in-reports", "disk-full"])
def test_interrupted_force_build_keeps_the_previous_one(out, monkeypatch, target, exc,
                                                          written):
    before = _snapshot(out)
    seen = _interrupt_at(monkeypatch, target, exc, out.parent)
    # the CLI's boundary: Ctrl-C exits 130, a file-system refusal 2 (one line each)
    status = main(["build", *SMALL, "--out", str(out), "--force", "--clock-mhz", "40"])
    assert status == (130 if isinstance(exc, KeyboardInterrupt) else 2)
    assert written in seen, "the build was not interrupted mid-way"
    assert _snapshot(out) == before
    assert _staging(out.parent) == []


@pytest.mark.parametrize("fail_at", [5, 40], ids=["moving-the-old-out", "moving-the-new-in"])
def test_failed_move_is_undone(out, monkeypatch, capsys, fail_at):
    """Moving the build into the output folder fails half-way (the 31 files of the previous
    build are moved out, then the 31 of the new one in): what was done is undone."""
    before = _snapshot(out)
    rename, calls = os.rename, []

    def failing(src, dst, *a, **k):
        calls.append(dst)
        if len(calls) == fail_at:
            raise OSError(5, "Input/output error")
        return rename(src, dst, *a, **k)
    monkeypatch.setattr(atomic.os, "rename", failing)
    status, _, err = _build(capsys, out, "--force", "--clock-mhz", "40")
    assert len(calls) > fail_at
    assert status == 2 and err.count("\n") == 1
    assert "cannot move the new build into" in err and "Input/output error" in err
    assert _snapshot(out) == before
    assert _staging(out.parent) == []


def test_sigint_during_generation_keeps_the_previous_build(out):
    """The real thing: ``fpgagen build --force`` in a process of its own, sent SIGINT (as
    Ctrl-C does) once it has started writing the RTL."""
    before = _snapshot(out)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    proc = subprocess.Popen([sys.executable, "-m", "fpgagen.cli", "build", *SMALL, "--out",
                             str(out), "--force", "--clock-mhz", "40"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 300
        while not any((s / "rtl").is_dir() for s in _staging(out.parent)):
            assert proc.poll() is None, "the build finished before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, "the interrupt came too late"
    assert err == b"fpgagen: interrupted\n"
    assert _snapshot(out) == before
    assert _staging(out.parent) == []


def test_force_replaces_in_the_same_folder(out, tmp_path, capsys):
    """A forced rebuild writes what a fresh build writes (nothing names the staging folder),
    in the same folder, and keeps the user's files."""
    inode = out.stat().st_ino
    previous = _snapshot(out)
    status, _, err = _build(capsys, out, "--force")
    assert status == 0 and err == ""
    assert out.stat().st_ino == inode
    assert _snapshot(out) == previous
    status, _, _ = _build(capsys, out, "--force", "--clock-mhz", "40")
    assert status == 0
    fresh = tmp_path / "fresh"
    assert _build(capsys, fresh, "--clock-mhz", "40")[0] == 0
    now = _snapshot(out)
    assert now["notes.txt"] == b"my notes\n"
    assert now["rtl/mine.v"] == b"module mine; endmodule\n"
    del now["notes.txt"], now["rtl/mine.v"]
    assert now == _snapshot(fresh)
    assert now != {k: v for k, v in previous.items() if k not in ("notes.txt", "rtl/mine.v")}
    for rel, data in now.items():
        assert data is None or b".tmp-" not in data, rel
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "out"]


def test_force_with_a_design_that_does_not_fit(out, capsys):
    """The previous RTL and project go (and ``rtl/`` keeps only the user's file)."""
    first = set(_snapshot(out))
    assert main(["build", *NO_FIT, "--out", str(out), "--force"]) == 3
    now = _snapshot(out)
    assert not any(f.endswith((".v", ".mif", ".qsf")) for f in now if f != "rtl/mine.v")
    assert {"notes.txt", "rtl/mine.v", "rtl/schedule.bin", "report.json"} <= set(now)
    assert set(now) < first | {"rtl/schedule.txt"}
    assert _staging(out.parent) == []


def test_a_file_fpgagen_did_not_write_is_replaced_with_a_warning(tmp_path, capsys, caplog):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("my report\n")
    with caplog.at_level(logging.WARNING, logger="fpgagen"):
        status, _, _ = _build(capsys, out, "--force")
    assert status == 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "replaced 1 file that the previous build did not list in its report.json: report.md"]
    assert (out / "report.md").read_text() != "my report\n"
    assert (out / "report.json").is_file()


@pytest.mark.parametrize("make, message", [
    (lambda t: "", "the output folder is an empty path; name a folder ('.' for the current "
                   "one)"),
    (lambda t: (t / "file").write_text("x") and t / "file",
     "output folder '{out}' exists and is not a folder"),
    (lambda t: (t / "file").write_text("x") and t / "file" / "sub",
     "cannot create the output folder '{out}': '{t}/file' is not a folder"),
    (lambda t: Path("/proc/fpgagen-out"),
     "cannot write the output folder '{out}': '/proc' takes no new folders ("),
    (lambda t: Path("/proc"),
     "cannot write the output folder '{out}': '/proc' takes no new folders ("),
    (lambda t: Path("/sys/fpgagen-out"),
     "cannot write the output folder '{out}': '/sys' takes no new folders ("),
], ids=["empty", "file", "under-a-file", "proc-new", "proc", "sys"])
def test_unwritable_output_is_one_line(tmp_path, capsys, monkeypatch, make, message):
    monkeypatch.chdir(tmp_path)  # where an empty path would write
    out = make(tmp_path)
    if str(out).startswith(("/proc", "/sys")) and not Path(str(out)[:5]).is_dir():
        pytest.skip("no /proc or /sys here")
    before = sorted(tmp_path.iterdir())
    t0 = time.monotonic()
    status, text, err = _build(capsys, out, "--force")
    assert status == 2 and text == ""
    assert err.startswith("fpgagen: error: " + message.format(out=out, t=tmp_path)), err
    assert err.count("\n") == 1
    assert time.monotonic() - t0 < 20, "refused only after compiling"
    assert sorted(tmp_path.iterdir()) == before


def test_read_only_folder_is_one_line(tmp_path, capsys, monkeypatch):
    out = tmp_path / "ro"
    out.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: the refusal the kernel would give
        def mkdtemp(*args, **kwargs):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(atomic.tempfile, "mkdtemp", mkdtemp)
    else:
        out.chmod(0o555)
    try:
        status, _, err = _build(capsys, out / "build")
    finally:
        out.chmod(0o755)
    assert status == 2
    assert err == (f"fpgagen: error: cannot write the output folder '{out / 'build'}': "
                   f"'{out}' takes no new folders (Permission denied)\n")
    assert list(out.iterdir()) == []


def test_signals_are_deferred_while_files_move():
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with atomic.signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            steps.append("after the signal")
    assert steps == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# --- simulate ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def program():
    from fpgagen.flow import FlowConfig, step_import, step_quantize
    from fpgagen.hw.params import HwParams
    from fpgagen.nets import NetOptions
    from fpgagen.schedule.lower import lower

    cfg = FlowConfig(net="squeezenet", net_options=NetOptions(input_size=32, width=0.125,
                                                              num_classes=10))
    return lower(step_quantize(step_import(cfg), cfg), HwParams(pe_rows=4, pe_cols=4))


def _fake_build(monkeypatch, *, fail: bool, mark: str):
    """``build_simulation`` that writes a little (and fails, with ``fail``) instead of
    running Verilator."""
    import fpgagen.sim.network as network

    def build_simulation(cfg, weights, biases, shifts, build_dir, *, compressed=None):
        assert Path(cfg.image_dir) == build_dir
        (build_dir / "fpgagen_top.v").write_text(f"// generated by fpgagen\n// {mark}\n")
        (build_dir / "Vtop.mk").write_text(mark)
        (build_dir / "obj").mkdir()
        (build_dir / "obj" / "Vtop__ALL.o").write_bytes(mark.encode())
        if fail:
            raise KeyboardInterrupt
        return mark
    monkeypatch.setattr(network, "build_simulation", build_simulation)


def test_simulation_build_interrupted_keeps_the_previous_one(program, tmp_path, monkeypatch):
    from fpgagen.sim.network import build_program

    build_dir = tmp_path / "sim"
    _fake_build(monkeypatch, fail=False, mark="first")
    assert build_program(program, build_dir) == "first"
    (build_dir / "simulation.log").write_text("a previous run\n")
    before = _snapshot(build_dir)
    inode = build_dir.stat().st_ino
    _fake_build(monkeypatch, fail=True, mark="second")
    with pytest.raises(KeyboardInterrupt):
        build_program(program, build_dir)
    assert _snapshot(build_dir) == before
    assert build_dir.stat().st_ino == inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim"]
    _fake_build(monkeypatch, fail=False, mark="third")
    assert build_program(program, build_dir) == "third"
    assert _snapshot(build_dir) == {"Vtop.mk": b"third", "obj": None,
                                    "obj/Vtop__ALL.o": b"third",
                                    "fpgagen_top.v": b"// generated by fpgagen\n// third\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim"]


@pytest.mark.parametrize("existing", [False, True], ids=["new", "empty"])
def test_simulation_build_interrupted_in_a_new_folder(program, tmp_path, monkeypatch,
                                                        existing):
    from fpgagen.sim.network import build_program

    build_dir = tmp_path / "sim"
    if existing:
        build_dir.mkdir()
    _fake_build(monkeypatch, fail=True, mark="x")
    with pytest.raises(KeyboardInterrupt):
        build_program(program, build_dir)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["sim"] if existing else [])
    assert not existing or list(build_dir.iterdir()) == []


def test_simulation_build_refuses_a_folder_of_other_files(program, tmp_path, monkeypatch):
    from fpgagen.sim.network import build_program

    build_dir = tmp_path / "mine"
    build_dir.mkdir()
    (build_dir / "thesis.tex").write_text("...")
    _fake_build(monkeypatch, fail=False, mark="x")
    with pytest.raises(FpgagenError, match="is not empty and holds no previous build of "
                                           "fpgagen; name a new or empty folder"):
        build_program(program, build_dir)
    assert _snapshot(build_dir) == {"thesis.tex": b"..."}


@pytest.fixture
def image(tmp_path):
    from PIL import Image

    path = tmp_path / "image.png"
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda t: "", "the build folder is an empty path"),
    (lambda t: (t / "file").write_text("x") and t / "file",
     "build folder '{out}' exists and is not a folder"),
    (lambda t: Path("/proc/fpgagen-sim"),
     "cannot write the build folder '{out}': '/proc' takes no new folders ("),
    (lambda t: (t / "mine").mkdir() or (t / "mine" / "a.txt").write_text("x") and t / "mine",
     "build folder '{out}' is not empty and holds no previous build of fpgagen"),
], ids=["empty", "file", "proc", "other-files"])
def test_simulate_bad_build_dir_is_one_line(tmp_path, capsys, monkeypatch, image, make,
                                            message):
    monkeypatch.chdir(tmp_path)  # where an empty path would write
    build_dir = make(tmp_path)
    if str(build_dir).startswith("/proc") and not Path("/proc").is_dir():
        pytest.skip("no /proc here")
    before = _snapshot(tmp_path)
    status = main(["simulate", *SMALL[:2], *SMALL[4:], "--image", str(image), "--build-dir",
                   str(build_dir)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("fpgagen: error: " + message.format(out=build_dir)), err
    assert err.count("\n") == 1
    assert _snapshot(tmp_path) == before
