"""Fixed latencies of the accelerator's pipeline, shared by the gateware
(:mod:`fpgagen.gateware`) and the cycle model (:mod:`fpgagen.hw.cost`), so the two cannot
drift. Every stage is registered so that no path holds more than one level of arithmetic
or one memory access (see ``docs/hardware.md``, *Pipeline*)."""

__all__ = ["ADDRGEN_LATENCY", "MEMORY_LATENCY", "RAM_WRITE_LATENCY", "PE_ARRAY_LATENCY",
           "POSTPROC_LATENCY", "POOL_LATENCY",
           "VECTOR_LATENCY", "DRAIN_CYCLES", "INSTRUCTION_OVERHEAD", "DECODE_CODEBOOK_LAG",
           "DECODE_PRIME_LAG", "DECODE_TILE_LAG", "DECODE_RELEASE_LAG", "FLASH_LOAD_START_LAG",
           "FLASH_LOAD_DONE_LAG", "FLASH_LAUNCH_ISSUE_LAG", "FLASH_SEGMENT_GAP",
           "FLASH_SEGMENT_FETCH_LAG", "FLASH_BOOT_LAUNCH_LAG"]

#: Address generator: loop counters -> input coordinates -> pixel indices -> products and
#: offsets -> word addresses.
ADDRGEN_LATENCY = 4
#: Block memories (``templates/ram.v.j2``, ``templates/rom.v.j2``): four registers. RAM:
#: block RAM read register -> a register per bank of blocks -> multiplexer over a group of
#: banks -> multiplexer over the groups. ROM: address -> block RAM read register -> after
#: the multiplexer of a memory built from many blocks -> towards the PE array.
MEMORY_LATENCY = 4
#: Activation RAM write port: one register before the write fans out to the banks.
RAM_WRITE_LATENCY = 1
#: PE array: input registers -> products -> partial sums -> column sums -> accumulators.
PE_ARRAY_LATENCY = 5
#: Post-processing: acc + bias -> plus the rounding half -> shift -> ReLU and saturation.
POSTPROC_LATENCY = 4
#: Fused pooling unit, from a conv output word to its pooled word's write: horizontal
#: window register -> pool-state read -> vertical maximum and pool-state write. A CONV
#: with ``pool`` set drains this much longer.
POOL_LATENCY = 3
#: Vector unit, from a pixel's last input: term -> lane accumulator -> scaled (GAP
#: multiplier) -> plus the rounding half -> shift -> saturation.
VECTOR_LATENCY = 6

#: Cycles the sequencer waits after an instruction's last iteration, so that its last
#: result is written before the next instruction starts: through the address generator,
#: the memories, the longer of the two datapaths, the write, and one cycle of margin.
DRAIN_CYCLES = (ADDRGEN_LATENCY + MEMORY_LATENCY
                + max(PE_ARRAY_LATENCY + POSTPROC_LATENCY, VECTOR_LATENCY)
                + RAM_WRITE_LATENCY + 2)

#: Cycles every instruction adds to its reads: FETCH, DECODE and ISSUE (3), the cycle RUN
#: needs to see the address generator finish (1), and DRAIN (``DRAIN_CYCLES + 1``).
INSTRUCTION_OVERHEAD = 3 + 1 + DRAIN_CYCLES + 1

# --- the weight decoder of compressed layers (:mod:`fpgagen.gateware.weight_decoder`) ---
#: From the instruction's start to the first cycle a tile may start, besides the
#: ``2**index_bits`` cycles of the codebook load: its ROM read (MEMORY_LATENCY) and the
#: done flag.
DECODE_CODEBOOK_LAG = MEMORY_LATENCY + 1
#: From the instruction's start until a column has its first index word (the stream start
#: read from the bias bank, then the word: two memory reads, the FIFO, the shift register)
#: and may skip to its start item, one cycle per item.
DECODE_PRIME_LAG = 2 * MEMORY_LATENCY + 3
#: From a tile's start to the cycle its weights are ready (the array may start its group)
#: and the next tile may start, besides the columns' decoding cycles: the start, the
#: codebook read and the done flags.
DECODE_TILE_LAG = 3
#: From the array's first iteration of group ``k - 1`` to the first cycle tile ``k`` may
#: start (it overwrites the buffer half of group ``k - 2``, whose last reads may still be
#: in the address generator): the decoder sees the count of started groups
#: ``ADDRGEN_LATENCY`` cycles late, so that its first write comes after them.
DECODE_RELEASE_LAG = 1 + ADDRGEN_LATENCY

# --- weights in flash (:mod:`fpgagen.gateware.flash_loader`) ---------------------------------
#: From the cycle an instruction launches its load (in ISSUE, once the loader is idle) to
#: the cycle the flash reader sees ``start`` (cycle 0 of
#: :func:`fpgagen.hw.flash_timing.read_cycles`): the loader registers the load's fields.
FLASH_LOAD_START_LAG = 1
#: From the cycle the reader delivers a load's last flash word (written to its staging RAM
#: in that cycle) to the first cycle the loader is idle and the half ready: the reader's
#: ``busy`` falls, then the loader's flags.
FLASH_LOAD_DONE_LAG = 2
#: From the cycle an instruction launches its load to the first cycle it may issue (the
#: launch is registered).
FLASH_LAUNCH_ISSUE_LAG = 1
#: The schedule in flash: from the cycle the reader delivers a block's last flash word to
#: the cycle the segment's read starts (cycle 0 of its
#: :func:`fpgagen.hw.flash_timing.read_cycles`): the reader's ``busy`` falls, then the
#: loader registers the segment's start.
FLASH_SEGMENT_GAP = 2
#: From the first cycle a segment's load is done to the first cycle its first instruction
#: may issue: DECODE takes the word from the schedule buffer in that cycle.
FLASH_SEGMENT_FETCH_LAG = 1
#: From the cycle the start pulse launches the boot load (in IDLE) to the cycle
#: instruction 0 would issue without waiting for it (FETCH, DECODE, ISSUE).
FLASH_BOOT_LAUNCH_LAG = 3
