"""A word-level model of the accelerator: runs a :class:`Program` on NumPy memories exactly
as ``docs/hardware.md`` describes the engine.

The model decodes the *packed* instruction words (so it checks the encoding too), walks
each instruction's loop nest with index arithmetic (all iterations of an instruction at
once), reads activation words, weight words and bias entries at the addresses the spec
gives, and writes whole output words. Its results must equal the golden model's, bit for
bit; the RTL must equal this model's memory image and score stream.
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import FpgagenError
from ..hw.cost import PIPELINE_OVERHEAD, instruction_cycles
from .isa import Opcode, unpack_instruction
from .lower import ACT_LANE_BITS
from .pack import unpack_tensor
from .program import Program

__all__ = ["EngineResult", "run_program", "ACC_BITS"]

#: Width of a column's accumulator (two's complement, wraps like the hardware's).
ACC_BITS = 32


@dataclass
class EngineResult:
    """What a program run leaves behind.

    Attributes
    ----------
    act_mem : np.ndarray
        int64 ``(act_depth, pe_rows)``: the activation memory image after the run, lane
        codes as signed 9-bit values.
    scores : np.ndarray
        int64 codes streamed out by GAP instructions, in order.
    cycles : list of int
        Cycles of every executed instruction (:func:`fpgagen.hw.cost.instruction_cycles`
        of the decoded fields).
    tensors : dict
        With ``capture=True``: ``{tensor: (C, H, W) codes}`` read back from the memory
        right after the instruction that completes each tensor (before later
        instructions reuse its words).
    """

    act_mem: np.ndarray
    scores: np.ndarray
    cycles: list[int]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def total_cycles(self) -> int:
        """Cycles of the whole run."""
        return sum(self.cycles)


def _wrap(v: np.ndarray, bits: int) -> np.ndarray:
    """Two's complement wrap-around to ``bits`` bits."""
    half = 1 << (bits - 1)
    return ((v + half) & ((1 << bits) - 1)) - half


def _rshift_round(v: np.ndarray, shift) -> np.ndarray:
    """``(v + 2**(s-1)) >> s`` for ``s > 0``, ``v << -s`` otherwise (per element)."""
    s = np.asarray(shift, dtype=np.int64)
    right = np.maximum(s, 0)
    half = np.where(right > 0, np.left_shift(1, np.maximum(right - 1, 0)), 0)
    return np.where(s > 0, (v + half) >> right, v << np.maximum(-s, 0))


def _saturate(v: np.ndarray, bits: int, signed: int) -> np.ndarray:
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return np.clip(v, lo, hi)


class _Engine:
    """The memories and the per-opcode datapaths."""

    def __init__(self, program: Program, input_words: np.ndarray):
        hw = program.hw
        self.lanes, self.cols = hw.pe_rows, hw.pe_cols
        words = np.asarray(input_words)
        want = (program.input_words, self.lanes)
        if words.shape != want or not np.issubdtype(words.dtype, np.integer):
            raise FpgagenError(f"input words must be integers of shape {want}, got "
                               f"{words.dtype} {words.shape}")
        lo, hi = -(1 << (ACT_LANE_BITS - 1)), (1 << (ACT_LANE_BITS - 1)) - 1
        if words.size and (words.min() < lo or words.max() > hi):
            raise FpgagenError(f"input codes must fit {ACT_LANE_BITS}-bit lanes ({lo}..{hi}), "
                               f"got {words.min()}..{words.max()}")
        self.mem = np.zeros((program.act_depth, self.lanes), dtype=np.int64)
        base = program.input.base
        self.mem[base:base + len(words)] = words
        self.weights = program.weight_banks
        self.bias = program.bias_banks
        self.shift = program.shift_banks
        self.pc = 0

    # --- the loop nest ---------------------------------------------------------------------
    def loop(self, f: dict):
        """Input word addresses and validity of every iteration, ``(OG', P, KK, IG)``
        (``OG'`` is ``out_groups`` for depthwise instructions, else 1: the reads do not
        depend on ``og``), and the taps ``(KK,)``."""
        out_h, out_w, kh, kw = f["out_h"], f["out_w"], f["kh"], f["kw"]
        pix = np.arange(out_h * out_w)
        oy, ox = pix // out_w, pix % out_w
        tap = np.arange(kh * kw)
        ky, kx = tap // kw, tap % kw
        if f["op"] == Opcode.ADD:  # both taps read (oy, ox); tap 1 from in2_base
            iy = np.broadcast_to(oy[:, None], (len(pix), len(tap)))
            ix = np.broadcast_to(ox[:, None], (len(pix), len(tap)))
            base = np.where(tap == 1, f["in2_base"], f["in_base"])[None, :]
        else:
            iy = oy[:, None] * f["stride_h"] + ky[None, :] - f["pad_h"]
            ix = ox[:, None] * f["stride_w"] + kx[None, :] - f["pad_w"]
            base = np.full((1, len(tap)), f["in_base"])
        valid = (iy >= 0) & (iy < f["in_h"]) & (ix >= 0) & (ix < f["in_w"])
        g = np.arange(f["in_groups"])
        if f["depthwise"]:
            grp = np.arange(f["out_groups"])[:, None, None, None] + 0 * g
        else:
            grp = g[None, None, None, :]
        addr = (base + (iy * f["in_w"] + ix) * f["in_pixel_groups"])[None, :, :, None] + grp
        valid = np.broadcast_to(valid[None, :, :, None], addr.shape)
        return addr, valid, tap

    def read(self, addr: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Activation words at the valid addresses (invalid reads give 0), ``(..., L)``."""
        a = np.where(valid, addr, 0)
        if a.size and (a.min() < 0 or a.max() >= len(self.mem)):
            bad = a[(a < 0) | (a >= len(self.mem))][0]
            raise FpgagenError(f"instruction {self.pc} reads word {bad} outside the "
                               f"activation memory ({len(self.mem)} words)")
        return np.where(valid[..., None], self.mem[a], 0)

    def write(self, f: dict, values: np.ndarray):
        """Write output words ``values`` ``(out_groups, P, L)``."""
        og = np.arange(f["out_groups"])[:, None]
        pix = np.arange(f["out_h"] * f["out_w"])[None, :]
        addr = f["out_base"] + pix * f["out_pixel_groups"] + f["out_group_offset"] + og
        if addr.size and addr.max() >= len(self.mem):
            raise FpgagenError(f"instruction {self.pc} writes word {addr.max()} outside the "
                               f"activation memory ({len(self.mem)} words)")
        self.mem[addr] = _wrap(values, ACT_LANE_BITS)

    # --- opcodes ---------------------------------------------------------------------------
    def conv(self, f: dict):
        addr, valid, tap = self.loop(f)
        og_n, ig, kk = f["out_groups"], f["in_groups"], len(tap)
        act = self.read(addr, valid)  # (OG', P, KK, IG, L)
        k = kk * ig * self.lanes
        a = act.reshape(act.shape[0], act.shape[1], k).astype(np.float64)
        og = np.arange(og_n)
        waddr = (f["weight_base"] + (og[:, None, None] * kk + tap[None, :, None]) * ig
                 + np.arange(ig)[None, None, :])
        if waddr.max() >= self.weights.shape[1]:
            raise FpgagenError(f"instruction {self.pc} reads weight word {waddr.max()} beyond "
                               f"the banks ({self.weights.shape[1]} words)")
        w = self.weights[:, waddr.ravel(), :].reshape(self.cols, og_n, k)
        w = w.transpose(1, 2, 0).astype(np.float64)  # (OG, K, cols)
        # Exact: |products| < 2**16 and K < 2**20 terms keep every sum below 2**53.
        if a.shape[0] == 1:  # one product for all output groups
            acc = (a[0] @ w.transpose(1, 0, 2).reshape(k, og_n * self.cols))
            acc = acc.reshape(-1, og_n, self.cols).transpose(1, 0, 2)
        else:
            acc = np.matmul(a, w)
        acc = _wrap(acc.astype(np.int64), ACC_BITS)  # (OG, P, cols)
        baddr = f["bias_base"] + og
        if baddr.max() >= self.bias.shape[1]:
            raise FpgagenError(f"instruction {self.pc} reads bias entry {baddr.max()} beyond "
                               f"the banks ({self.bias.shape[1]} entries)")
        bias = self.bias[:, baddr].T[:, None, :]
        shift = self.shift[:, baddr].T[:, None, :]
        v = _rshift_round(acc + bias, shift)
        if f["relu"]:
            v = np.maximum(v, 0)
        self.write(f, _saturate(v, f["out_bits"], f["out_signed"]))

    def maxpool(self, f: dict):
        addr, valid, _ = self.loop(f)
        vals = self.read(addr, valid)  # (OG, P, KK, IG, L)
        empty = ~valid.any(axis=(2, 3))
        if empty.any():
            raise FpgagenError(f"instruction {self.pc} (MAXPOOL) has a window without a "
                               "valid tap")
        low = -(1 << ACT_LANE_BITS)
        vals = np.where(valid[..., None], vals, low)
        self.write(f, vals.max(axis=(2, 3)))

    def gap(self, f: dict) -> np.ndarray:
        addr, valid, _ = self.loop(f)
        total = self.read(addr, valid).sum(axis=(1, 2, 3))  # (OG, L)
        v = _rshift_round(total * f["multiplier"], f["shift"])
        v = _saturate(v, f["out_bits"], f["out_signed"])
        return v.reshape(-1)[:f["out_channels"]]

    def add(self, f: dict):
        addr, valid, tap = self.loop(f)
        vals = self.read(addr, valid)  # (OG, P, 2, IG, L)
        shifts = np.where(tap == 1, f["shift_b"], f["shift_a"])[None, None, :, None, None]
        total = (vals << shifts).sum(axis=(2, 3))
        v = _rshift_round(total, f["shift"])
        self.write(f, _saturate(v, f["out_bits"], f["out_signed"]))


def run_program(program: Program, input_words: np.ndarray, *, capture: bool = False
                ) -> EngineResult:
    """Execute a program on the word-level model of the accelerator.

    Parameters
    ----------
    program : Program
    input_words : np.ndarray
        ``(program.input_words, pe_rows)`` lane codes, as :func:`pack_input` returns; they
        are stored from ``program.input.base``.
    capture : bool
        Also read back every tensor as soon as it is complete (``EngineResult.tensors``).

    Returns
    -------
    EngineResult

    Raises
    ------
    FpgagenError
        For input words of the wrong shape, a program that runs past its end without a
        ``last`` instruction, or an access outside the memories.
    """
    eng = _Engine(program, input_words)
    words = program.words()
    scores, cycles, tensors = [], [], {}
    while True:
        if eng.pc >= len(words):
            raise FpgagenError(f"program {program.name!r} ran past its {len(words)} "
                               "instructions without one marked last")
        f = unpack_instruction(words[eng.pc])
        op = f["op"]
        if op == Opcode.CONV:
            eng.conv(f)
        elif op == Opcode.MAXPOOL:
            eng.maxpool(f)
        elif op == Opcode.GAP:
            scores.append(eng.gap(f))
        else:
            eng.add(f)
        cycles.append(instruction_cycles(f, PIPELINE_OVERHEAD))
        if capture and eng.pc < len(program.layers):
            for t in program.layers[eng.pc].completes:
                if t in program.tensors:
                    tensors[t] = unpack_tensor(program, eng.mem, t)
        if f["last"]:
            break
        eng.pc += 1
    out = np.concatenate(scores).astype(np.int64) if scores else np.zeros(0, np.int64)
    return EngineResult(act_mem=eng.mem, scores=out, cycles=cycles, tensors=tensors)
