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
from ..hw.isa import Instr, Instruction, Opcode, unpack_instruction
from ..hw.spec import ACT_LANE_BITS, lane_range
from ..numerics.lanes import wrap
from ..operators import rules_for_opcode
from .pack import unpack_tensor
from .program import Program

__all__ = ["EngineResult", "run_program"]

_OP_FIELD = dict(iter(Instruction))["op"]


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


class _Engine:
    """The memories, the loop nest and the memory accesses every opcode shares; what an
    opcode does with the words is its operator's rule
    (:meth:`fpgagen.operators.OperatorRules.execute`)."""

    def __init__(self, program: Program, input_words: np.ndarray):
        hw = program.hw
        self.lanes, self.cols = hw.pe_rows, hw.pe_cols
        words = np.asarray(input_words)
        want = (program.input_words, self.lanes)
        if words.shape != want or not np.issubdtype(words.dtype, np.integer):
            raise FpgagenError(f"input words must be integers of shape {want}, got "
                               f"{words.dtype} {words.shape}")
        lo, hi = lane_range(ACT_LANE_BITS)
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
    def loop(self, f: Instr):
        """Input word addresses and validity of every iteration, ``(OG', P, KK, IG)``
        (``OG'`` is ``out_groups`` for depthwise instructions, else 1: the reads do not
        depend on ``og``), and the taps ``(KK,)``."""
        out_h, out_w, kh, kw = f.out_h, f.out_w, f.kh, f.kw
        pix = np.arange(out_h * out_w)
        oy, ox = pix // out_w, pix % out_w
        tap = np.arange(kh * kw)
        ky, kx = tap // kw, tap % kw
        if f.op == Opcode.ADD:  # both taps read (oy, ox); tap 1 from in2_base
            iy = np.broadcast_to(oy[:, None], (len(pix), len(tap)))
            ix = np.broadcast_to(ox[:, None], (len(pix), len(tap)))
            base = np.where(tap == 1, f.in2_base, f.in_base)[None, :]
        else:
            iy = oy[:, None] * f.stride_h + ky[None, :] - f.pad_h
            ix = ox[:, None] * f.stride_w + kx[None, :] - f.pad_w
            base = np.full((1, len(tap)), f.in_base)
        valid = (iy >= 0) & (iy < f.in_h) & (ix >= 0) & (ix < f.in_w)
        g = np.arange(f.in_groups)
        if f.depthwise:
            grp = np.arange(f.out_groups)[:, None, None, None] + 0 * g
        else:
            grp = g[None, None, None, :]
        addr = (base + (iy * f.in_w + ix) * f.in_pixel_groups)[None, :, :, None] + grp
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

    def write(self, f: Instr, values: np.ndarray):
        """Write output words ``values`` ``(out_groups, P, L)``."""
        og = np.arange(f.out_groups)[:, None]
        pix = np.arange(f.out_h * f.out_w)[None, :]
        addr = f.out_base + pix * f.out_pixel_groups + f.out_group_offset + og
        if addr.size and addr.max() >= len(self.mem):
            raise FpgagenError(f"instruction {self.pc} writes word {addr.max()} outside the "
                               f"activation memory ({len(self.mem)} words)")
        self.mem[addr] = wrap(values, ACT_LANE_BITS)


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
        op = (words[eng.pc] >> _OP_FIELD.offset) & ((1 << _OP_FIELD.width) - 1)
        rules = rules_for_opcode(op)
        f = unpack_instruction(words[eng.pc])
        streamed = rules.execute(eng, f)
        if streamed is not None:
            scores.append(streamed)
        cycles.append(instruction_cycles(f, PIPELINE_OVERHEAD))
        if capture and eng.pc < len(program.layers):
            for t in program.layers[eng.pc].completes:
                if t in program.tensors:
                    tensors[t] = unpack_tensor(program, eng.mem, t)
        if f.last:
            break
        eng.pc += 1
    out = np.concatenate(scores).astype(np.int64) if scores else np.zeros(0, np.int64)
    return EngineResult(act_mem=eng.mem, scores=out, cycles=cycles, tensors=tensors)
