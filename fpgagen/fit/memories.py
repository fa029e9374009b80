"""The memory map as a board's synthesis flow builds it: the list the block-RAM fit of
``fpgagen build`` and the logic model place and count."""

import dataclasses

import numpy as np

from ..hw.spec import BIAS_WORD
from ..hw.weight_stream import STREAM_START
from ..schedule.memory_map import MemoryMap, MemoryRole, memory_map
from .placement import bank_depth

__all__ = ["synthesized_memories", "board_memories", "counts_as_yosys", "design_memory_map"]


def _constant_bits(fields) -> int:
    """Bit columns that hold the same value in every word of ``fields`` (``(codes (n,),
    bits)``)."""
    const = 0
    for codes, bits in fields:
        codes = np.asarray(codes, dtype=np.int64)
        if codes.size == 0:
            continue
        b = (codes[:, None] >> np.arange(bits)) & 1
        const += int((b == b[:1]).all(axis=0).sum())
    return const


def design_memory_map(program, board) -> MemoryMap:
    """The memory map of ``program``'s accelerator with the bank depths the RTL has on
    ``board``: one row of the blocks the fit chooses for each banked memory, at the width
    the RTL declares (:func:`fpgagen.fit.placement.bank_depth`)."""
    return memory_map(program).with_bank_depths(lambda m: bank_depth(m, board))


def synthesized_memories(program, board) -> MemoryMap:
    """The design's memories (:func:`design_memory_map`) as Yosys builds them on
    ``board``: each weight and bias ROM narrower by the bit columns that are constant over
    all its words (synthesis turns those into constants: the upper bits of the 8-bit
    rounding shift are 0 in every bias word of the networks measured, so a 40-bit bias word
    takes 36 bits, one EBR per 512-word part instead of two; not the staging RAMs of
    weights in flash, which are written at run time), every banked memory with the
    bank depth the RTL has for ``board`` (chosen for the declared width)."""
    hw = program.hw
    wbits = int(program.weight_bits)
    out = []
    for mem in design_memory_map(program, board):
        if mem.kind == "ram":  # staging RAMs of weights in flash: no constant columns
            out.append(mem)
            continue
        if mem.role is MemoryRole.WEIGHTS:
            bank = program.weight_banks[mem.column]
            fields = [(bank[:, r], wbits) for r in range(hw.pe_rows)]
        elif mem.role is MemoryRole.BIAS:
            c = mem.column
            fields = [(program.bias_banks[c], BIAS_WORD["bias"].bits),
                      (program.shift_banks[c], BIAS_WORD["shift"].bits)]
            if program.compressed is not None:
                starts = program.compressed.starts[c]
                fields += [(starts[:, 0], STREAM_START["word"].bits),
                           (starts[:, 1], STREAM_START["item"].bits)]
        else:
            out.append(mem)
            continue
        width = max(1, mem.width - _constant_bits(fields))
        out.append(dataclasses.replace(mem, width=width))
    return MemoryMap(tuple(out))


def board_memories(program, board, *, yosys: bool | None = None) -> MemoryMap:
    """The memories of ``program``'s accelerator as ``board``'s synthesis flow builds them:
    the list the block-RAM fit of ``fpgagen build`` and the logic model use.

    ``yosys``: count them as Yosys does (:func:`synthesized_memories`); ``None``: on the
    families whose project synthesizes with Yosys (:func:`counts_as_yosys`). Elsewhere
    (Quartus, Vivado, whose handling of constant columns in initialised block RAM is not
    measured here) the RTL's widths, :func:`fpgagen.schedule.memory_map.memory_map`: an
    upper bound.
    """
    if yosys is None:
        yosys = counts_as_yosys(board)
    return synthesized_memories(program, board) if yosys else memory_map(program)


def counts_as_yosys(board) -> bool:
    """Whether :func:`board_memories` counts ``board``'s memories as Yosys builds them by
    default: on the families whose project synthesizes with Yosys
    (:attr:`fpgagen.devices.families.FamilyProfile.yosys_flow`)."""
    return board.profile.yosys_flow
