"""The cycle model of the accelerator (``docs/hardware.md``, *Cycle model*)."""

from .isa import Instr
from .params import HwParams
from .flash_timing import read_cycles
from .timing import (DECODE_CODEBOOK_LAG, DECODE_PRIME_LAG, DECODE_RELEASE_LAG,
                     DECODE_TILE_LAG, FLASH_BOOT_LAUNCH_LAG, FLASH_LOAD_DONE_LAG,
                     FLASH_LOAD_START_LAG, FLASH_LAUNCH_ISSUE_LAG, FLASH_SEGMENT_FETCH_LAG,
                     FLASH_SEGMENT_GAP, INSTRUCTION_OVERHEAD, POOL_LATENCY)

__all__ = ["PIPELINE_OVERHEAD", "instruction_cycles", "mac_utilization", "decode_stall",
           "flash_load_cycles", "flash_stalls"]

#: Cycles every instruction adds to its reads (:data:`fpgagen.hw.timing.INSTRUCTION_OVERHEAD`).
PIPELINE_OVERHEAD = INSTRUCTION_OVERHEAD


def decode_stall(instr: Instr, tile_cycles, start_items) -> int:
    """Cycles a compressed CONV waits for its decoded weights, beyond
    :func:`instruction_cycles` of its fields.

    Parameters
    ----------
    instr : Instr
    tile_cycles : sequence of int
        Per output group, the decoding cycles of its slowest column
        (:func:`fpgagen.hw.weight_stream.tile_cycles`).
    start_items : sequence of int
        Per column, the item its index stream starts at (skipped one per cycle).

    Returns
    -------
    int
        With ``s`` the start: tile 0 starts at ``g0 = s + max(2**index_bits +
        DECODE_CODEBOOK_LAG, DECODE_PRIME_LAG + max(start_items))``; tile ``k`` is ready at
        ``r_k = g_k + tile_cycles[k] + DECODE_TILE_LAG``, when tile ``k + 1`` may start
        too, but not before ``DECODE_RELEASE_LAG`` cycles after the array started group
        ``k`` (the buffer half of ``k - 1`` is then free); the array starts group ``k`` at ``a_k = max(a_{k-1} + n, r_k)``
        (``n`` iterations per group, ``a_0 >= s + 1``). The stall is how much later the
        last iteration issues than ``s + groups * n``.
    """
    groups = instr.out_groups
    if len(tile_cycles) != groups:
        raise ValueError(f"{len(tile_cycles)} tile cycle counts for {groups} output groups")
    n = instr.out_h * instr.out_w * instr.kh * instr.kw * instr.in_groups
    g = max((1 << instr.index_bits) + DECODE_CODEBOOK_LAG,
            DECODE_PRIME_LAG + max(start_items, default=0))
    a = 1 - n  # a_{-1}, so that a_0 >= s + 1
    for k in range(groups):
        if k >= 2:
            g = max(g, a + DECODE_RELEASE_LAG)  # a is a_{k-1}
        ready = g + tile_cycles[k] + DECODE_TILE_LAG
        a = max(a + n, ready)
        g = ready
    return max(0, a + n - 1 - groups * n)


def instruction_cycles(instr: Instr, overhead: int = PIPELINE_OVERHEAD) -> int:
    """Predicted cycles of one instruction.

    Parameters
    ----------
    instr : Instr
        The instruction; uses ``out_groups``, ``out_h``, ``out_w``, ``kh``, ``kw`` and
        ``in_groups``.
    overhead : int
        Fixed cycles added per instruction.

    Returns
    -------
    int
        ``out_groups * out_h * out_w * kh * kw * in_groups + overhead``: one activation
        read (for LOAD: one streamed word) per cycle, no bubbles; a CONV with fused
        pooling drains :data:`~fpgagen.hw.timing.POOL_LATENCY` cycles longer. LOAD assumes
        the host streams a word every cycle it is asked for one.
    """
    i = instr
    reads = i.out_groups * i.out_h * i.out_w * i.kh * i.kw * i.in_groups
    return reads + int(overhead) + (POOL_LATENCY if i.pool else 0)


def mac_utilization(macs: int, cycles: int, hw: HwParams) -> float:
    """Share of the PE array's multipliers doing useful work: ``macs / (cycles * rows *
    cols)`` (0 for zero cycles)."""
    if cycles <= 0:
        return 0.0
    return macs / (cycles * hw.pe_rows * hw.pe_cols)


def flash_load_cycles(flash_words: int, timing, segment_words: int = 0) -> int:
    """Cycles from the cycle a load is launched to the first cycle the loader is idle and
    the half ready: :data:`~fpgagen.hw.timing.FLASH_LOAD_START_LAG`,
    :func:`~fpgagen.hw.flash_timing.read_cycles` of the block's ``flash_words``, then (the
    schedule in flash) :data:`~fpgagen.hw.timing.FLASH_SEGMENT_GAP` and ``read_cycles`` of
    the segment's ``segment_words`` flash words, and :data:`~fpgagen.hw.timing.
    FLASH_LOAD_DONE_LAG` (``timing``: a :class:`~fpgagen.hw.params.FlashTiming`). A load
    without a block (the boot segment's) reads the segment from the start."""
    t = timing.astuple()
    if flash_words < 0 or segment_words < 0 or flash_words == segment_words == 0:
        raise ValueError(f"a load reads a block or a segment, not {flash_words} and "
                         f"{segment_words} flash words")
    cycles = FLASH_LOAD_START_LAG + FLASH_LOAD_DONE_LAG
    if flash_words:
        cycles += read_cycles(flash_words, *t)
    if flash_words and segment_words:
        cycles += FLASH_SEGMENT_GAP
    if segment_words:
        cycles += read_cycles(segment_words, *t)
    return cycles


def flash_stalls(cycles, loads, flash_words, timing, *, segment_words=None,
                 boot=None) -> list[int]:
    """Per instruction, the cycles its issue waits for the flash loads.

    Parameters
    ----------
    cycles : sequence of int
        Per instruction, its cycles without these stalls.
    loads : sequence of LoadFields
        Per instruction, its load fields.
    flash_words : sequence of int
        Per instruction, the flash words of its load's block (ignored without a load).
    timing : FlashTiming
    segment_words : sequence of int or None
        The schedule in flash: per instruction, the flash words of its load's segment.
    boot : tuple or None
        The schedule in flash: ``(block flash words, segment flash words, half)`` of the
        boot load, which the start pulse launches :data:`~fpgagen.hw.timing.
        FLASH_BOOT_LAUNCH_LAG` cycles before instruction 0 would issue. ``None``: the
        schedule is a ROM (no boot load, no fetch waits).

    Returns
    -------
    list of int
        With ``r`` the cycle an instruction would issue (a fixed offset after the previous
        one's end): the first instruction of a segment (instruction 0, and each one after
        an instruction with ``segment_end``; the segments alternate between the halves,
        the boot segment's first) issues from ``done + FLASH_SEGMENT_FETCH_LAG`` at the
        earliest, ``done`` the first cycle the last load into its half is done; an
        instruction that carries a load launches it in cycle ``l = max(r', idle)`` (``r'``
        after that wait; ``idle``: the first cycle the previous load is done, one load at
        a time) and may issue from ``l + FLASH_LAUNCH_ISSUE_LAG``; one that waits issues
        once the last load into its half is done; a load launched in ``l`` is done from
        ``l +`` :func:`flash_load_cycles`. The stall is the issue cycle less ``r``.
    """
    if segment_words is None:
        segment_words = [0] * len(cycles)
    done = [0, 0]  # per half, the first cycle its last load is done
    idle = 0  # the first cycle the loader is idle
    half = None  # the schedule half of the running segment (None: a schedule ROM)
    if boot is not None:
        block, seg, half = boot
        idle = done[half] = -FLASH_BOOT_LAUNCH_LAG + flash_load_cycles(block, timing, seg)
    t, out, first = 0, [], True
    for n, load, words, seg in zip(cycles, loads, flash_words, segment_words):
        s = t
        if half is not None and first:
            s = max(s, done[half] + FLASH_SEGMENT_FETCH_LAG)
        if load.load:
            launch = max(s, idle)
            idle = done[load.load_half] = launch + flash_load_cycles(words, timing, seg)
            s = launch + FLASH_LAUNCH_ISSUE_LAG
        if load.wait_load:
            s = max(s, done[load.wait_half])
        out.append(s - t)
        t = s + n
        first = half is not None and bool(getattr(load, "segment_end", 0))
        if first:
            half ^= 1
    return out
