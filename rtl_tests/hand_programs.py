"""Helpers of the RTL tests that assemble programs by hand (``test_conv_chain.py``,
``test_bands_rtl.py``): channel groups, tensors as activation words, and the Verilator
build of such a program with its weight and bias banks."""

import numpy as np

from fpgagen.gateware.top import AcceleratorConfig
from fpgagen.schedule.memory_map import MemoryMap
from fpgagen.sim.verilator import build_simulation


def groups(channels: int, lanes: int) -> int:
    """Words per pixel of ``channels`` channels on ``lanes`` lanes."""
    return -(-channels // lanes)


def lanes_of(tensor, lanes: int) -> np.ndarray:
    """``(C, H, W)`` codes as activation words in address order, ``(H * W * G, lanes)``."""
    c, h, w = tensor.shape
    g = groups(c, lanes)
    padded = np.zeros((g * lanes, h, w), np.int64)
    padded[:c] = tensor
    return padded.reshape(g, lanes, h, w).transpose(2, 3, 0, 1).reshape(h * w * g, lanes)


def build_hand_program(words, banks, *, lanes: int, act_depth: int, pool_depth: int,
                       bank_depth: int, build_dir):
    """The Verilator build of the packed instructions ``words`` with ``banks`` (weights,
    biases, shifts) on a ``lanes`` x ``lanes`` array, memory banks of ``bank_depth``
    words."""
    memories = MemoryMap.build(pe_rows=lanes, pe_cols=lanes, weight_bits=8,
                               weight_depth=banks[0].shape[1], bias_depth=banks[1].shape[1],
                               act_depth=act_depth, instructions=len(words), score_groups=0,
                               pool_depth=pool_depth)
    cfg = AcceleratorConfig(program=tuple(words), score_groups=0,
                            memories=memories.with_bank_depths(lambda m: bank_depth),
                            image_dir=str(build_dir.resolve()))
    return build_simulation(cfg, *banks, build_dir)
