"""A plain (not editable) install works: the wheel carries the templates and the board
files, and ``fpgagen build`` runs from another folder with nothing of the source tree."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _subpackages() -> set[str]:
    return {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "fpgagen").rglob("*.py")
            if "__pycache__" not in p.parts}


def test_every_subpackage_is_listed_in_pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    assert _subpackages() <= listed, sorted(_subpackages() - listed)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The package installed with pip (not editable) from a copy of the source tree into a
    folder of its own."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("fpgagen", "templates", "boards"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
                           "--target", str(target), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shutil.rmtree(src)  # nothing of the source tree is left to find
    return target


def _run(site: Path, cwd: Path, *args):
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run([sys.executable, "-m", "fpgagen.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=env)


def test_installed_wheel_holds_templates_and_boards(installed, tmp_path):
    assert (installed / "fpgagen" / "boards" / "max10.yaml").is_file()
    assert (installed / "fpgagen" / "templates" / "quartus" / "project.qsf.j2").is_file()
    for name in ("flash_ip.qsys.j2", "flash_board.v.j2"):  # weights in flash
        assert (installed / "fpgagen" / "templates" / "quartus" / name).is_file(), name
    env = dict(os.environ, PYTHONPATH=str(installed))
    where = subprocess.run(
        [sys.executable, "-c", "import fpgagen, fpgagen.resources as r; "
         "print(fpgagen.__file__); print(r.TEMPLATES_DIR); print(r.BOARDS_DIR)"],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=True)
    for line in where.stdout.split():
        assert Path(line).is_relative_to(installed), where.stdout


def test_installed_build_from_another_folder(installed, tmp_path):
    out = tmp_path / "out"
    proc = _run(installed, tmp_path, "build", "--net", "squeezenet", "--board", "max10",
                "--input-size", "64", "--width", "0.25", "--num-classes", "10", "--pe", "4x4",
                "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "FITS on DE10-Lite" in proc.stdout
    for name in ("report.md", "report.html", "fpgagen_top.qsf", "rtl/fpgagen_rom.v",
                 "rtl/fpgagen_ram.v", "rtl/weights_0_0.mif"):
        assert (out / name).is_file(), name
    # the board file as the documentation writes it, from a folder without boards/
    proc = _run(installed, tmp_path, "build", "--board", "boards/max10.yaml", "--out",
                str(tmp_path / "full"), "--no-proposals")
    assert proc.returncode == 3, proc.stderr
    assert "DOES NOT FIT on DE10-Lite" in proc.stdout
