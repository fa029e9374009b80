"""From a quantized graph to the accelerator's program: lowering, the memory map, input
packing and a word-level model of the engine (the instruction set, defined in
:mod:`fpgagen.hw.isa`, is re-exported here for convenience)."""

from .engine_model import EngineResult, run_program
from ..hw.isa import (ADDR_BITS, DIM_BITS, INSTRUCTION_BITS, Instr, Instruction, Opcode,
                      pack_instruction, unpack_instruction)
from .lower import lower
from .pack import pack_input, pack_tensor, unpack_tensor
from .program import Im2col, LayerInfo, Program, TensorPlacement
from .weight_chunks import instruction_weight_bits

__all__ = ["Opcode", "Instr", "Instruction", "INSTRUCTION_BITS", "ADDR_BITS", "DIM_BITS",
           "pack_instruction", "unpack_instruction", "Program", "LayerInfo", "TensorPlacement",
           "Im2col", "lower", "pack_input", "pack_tensor", "unpack_tensor", "run_program",
           "EngineResult", "instruction_weight_bits"]
