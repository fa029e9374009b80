"""Build one Amaranth component into a Verilator simulation and run a cocotb module on it.

The unit tests of the hardware blocks use this: the component becomes the Verilog top level
``toplevel`` in its own build folder, and :meth:`ComponentBuild.run` passes stimulus to the
cocotb module and returns what it recorded, both as ``.npz`` files named by the environment
variables ``FPGAGEN_TB_IN`` and ``FPGAGEN_TB_OUT``.

Most of a small Verilator build is spent compiling Verilator's own run-time library
(``verilated*.cpp``), which does not depend on the design: given a ``runtime_cache`` folder,
:func:`build_component` archives those objects there once and links the archive in later
builds (a few seconds a build instead of about 15).
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

import numpy as np

from .verilator import ensure_verilator_on_path, verilate

__all__ = ["ComponentBuild", "build_component"]


class ComponentBuild:
    """A compiled Verilator simulation of one component.

    Parameters
    ----------
    toplevel : str
        Name of the Verilog top module.
    build_dir : path
        Folder holding the Verilog and the Verilator build.
    """

    def __init__(self, toplevel: str, build_dir):
        self._toplevel = toplevel
        self._build_dir = Path(build_dir).resolve()

    @property
    def toplevel(self) -> str:
        """Name of the Verilog top module."""
        return self._toplevel

    @property
    def build_dir(self) -> Path:
        """Folder of the build (absolute)."""
        return self._build_dir

    def run(self, test_module: str, stimulus: Mapping[str, np.ndarray] | None = None, *,
            python_path: Iterable = (), testcase: str | None = None) -> dict:
        """Run the cocotb module ``test_module`` (a dotted module name) on the build.

        ``stimulus`` is saved with :func:`numpy.savez` (no pickles: numbers or strings) to
        the file named by ``FPGAGEN_TB_IN``; whatever the testbench saves to
        ``FPGAGEN_TB_OUT`` comes back as a dict of arrays. ``python_path`` folders are put in
        front of this process's ``sys.path`` for the simulator's Python. A failing cocotb
        test fails the caller (cocotb's runner exits under pytest)."""
        from cocotb_tools.runner import get_runner

        ensure_verilator_on_path()
        paths = [str(Path(p).resolve()) for p in python_path] + sys.path
        with tempfile.TemporaryDirectory(dir=self._build_dir) as tmp:
            tb_in, tb_out = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
            np.savez(tb_in, **dict(stimulus or {}))
            runner = get_runner("verilator")
            runner.test(test_module=test_module, hdl_toplevel=self._toplevel,
                        hdl_toplevel_lang="verilog", testcase=testcase,
                        build_dir=self._build_dir, test_dir=self._build_dir,
                        extra_env={"FPGAGEN_TB_IN": str(tb_in), "FPGAGEN_TB_OUT": str(tb_out),
                                   "PYTHONPATH": os.pathsep.join(paths)})
            if not tb_out.exists():
                raise RuntimeError(f"the testbench {test_module} wrote no results; "
                                   f"see {self._build_dir}")
            with np.load(tb_out, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}


def _runtime_key() -> str:
    """Names what the run-time objects depend on: the tool versions (``verilate`` always
    builds them with the same options: no tracing, coverage, SystemC or timing)."""
    text = repr((metadata.version("verilator"), metadata.version("cocotb"), sys.platform,
                 "VM_TRACE=0"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_RUNTIME_ARCHIVE = "libverilated_runtime.a"


def _store_runtime(build_dir: Path, cache: Path) -> None:
    """Archive the run-time objects of a finished build into ``cache``."""
    objects = sorted(build_dir.glob("verilated*.o"))
    if not objects:
        return
    # Fill a private folder, then rename it into place: concurrent builds never see half.
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache.parent, prefix=f".{cache.name}-"))
    subprocess.run(["ar", "rcs", str(tmp / _RUNTIME_ARCHIVE)] + [str(o) for o in objects],
                   check=True)
    try:
        tmp.rename(cache)
    except OSError:  # another build stored it first
        shutil.rmtree(tmp, ignore_errors=True)


def _runtime_make_flags(cache: Path) -> list:
    """Make variables that skip compiling the run-time library and link the archive
    instead (make's own up-to-date check cannot help: the objects depend on the makefile
    Verilator has just written). Empty when there is no usable archive."""
    archive = cache / _RUNTIME_ARCHIVE
    # The archive path goes through MAKEFLAGS and -Wl, unquoted.
    if not archive.is_file() or not re.fullmatch(r"[\w./+-]+", str(archive)):
        return []
    return ["VK_GLOBAL_OBJS=", f"LIBS=-Wl,--whole-archive,{archive},--no-whole-archive"]


def build_component(component, build_dir, *, toplevel: str = "dut", opt: str = "-O2",
                    runtime_cache=None, extra_verilog: str = "") -> ComponentBuild:
    """Convert the Amaranth ``component`` to Verilog (module ``toplevel``) in ``build_dir``
    and compile it with :func:`fpgagen.sim.verilator.verilate` (every signal public).

    Ports keep Amaranth's flattened names (``act__0``, ``i_stream__valid``); a component
    with synchronous logic gets ``clk`` and ``rst`` (synchronous, active high). ``opt`` is
    the model's C++ optimization flag; ``extra_verilog`` holds the modules the component
    instantiates (the templated RAM), appended to its source. With ``runtime_cache`` (a folder), Verilator's
    run-time library is linked from an archive in a subfolder keyed by the tool versions
    when there is one, and archived there after the build otherwise."""
    from amaranth.back import verilog

    ensure_verilator_on_path()
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{toplevel}.v"
    source.write_text(verilog.convert(component, name=toplevel) + extra_verilog)
    cache = Path(runtime_cache).resolve() / _runtime_key() if runtime_cache else None
    cached = _runtime_make_flags(cache) if cache is not None else []
    # Command-line variables for the make that verilate runs, passed through MAKEFLAGS.
    old = os.environ.get("MAKEFLAGS")
    if cached:
        os.environ["MAKEFLAGS"] = " ".join([old or ""] + cached).strip()
    try:
        verilate([source], toplevel, build_dir, opt=opt)
    finally:
        if old is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = old
    if cache is not None and not cached:
        _store_runtime(build_dir, cache)
    return ComponentBuild(toplevel, build_dir)
