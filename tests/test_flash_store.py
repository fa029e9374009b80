"""Weights in flash (``HwParams.weight_store = "flash"``): the load fields of the
instruction set, the flash image (read back as the loader reads it, it holds exactly the
bank words the ROM design holds), the staging halves and relative addresses, where the
loads are issued, their stalls, and the engine model bit-exact against the golden model on
random graphs (dense and compressed)."""

import dataclasses
import os
import random

import numpy as np
import pytest

from fpgagen.errors import FpgagenError
from fpgagen.hw import HwParams
from fpgagen.hw.cost import flash_load_cycles, flash_stalls
from fpgagen.hw.flash_timing import read_cycles
from fpgagen.hw.isa import (INSTRUCTION_BITS, Instr, LoadFields, Opcode, pack_flash_instruction,
                            pack_instruction, unpack_flash_instruction)
from fpgagen.hw.params import FlashTiming, WeightStore
from fpgagen.hw.spec import BIAS_WORD
from fpgagen.hw.timing import (FLASH_BOOT_LAUNCH_LAG, FLASH_LAUNCH_ISSUE_LAG,
                               FLASH_LOAD_DONE_LAG, FLASH_LOAD_START_LAG,
                               FLASH_SEGMENT_FETCH_LAG, FLASH_SEGMENT_GAP)
from fpgagen.hw.weight_stream import STREAM_START, items_per_word
from fpgagen.schedule import pack_input, run_program
from fpgagen.hw.direct_codebook import is_direct
from fpgagen.schedule.flash_store import (CHUNK_KINDS, KINDS, SCHEDULE_WORD_BITS, deserialize,
                                          flash_image, load_count, load_points, read_load,
                                          read_segment, run_flash_words, segments, serialize)
from fpgagen.schedule.weight_chunks import least_chunk_bits
from fpgagen.testing import compare_blocks, draw_graph_spec, numpy_draw, prepare

SEED = int(os.environ.get("FPGAGEN_RANDOM_SEED") or random.SystemRandom().randrange(2 ** 32))
#: Random graphs lowered per run and kind (dense, compressed).
GRAPHS = int(os.environ.get("FPGAGEN_FLASH_GRAPHS", 8))


# --- parameters and instruction fields -------------------------------------------------------

def test_weight_store_parameters():
    hw = HwParams(pe_rows=4, pe_cols=4, weight_chunk_bits=512, weight_store="flash")
    assert hw.weight_store is WeightStore.FLASH and hw.in_flash
    assert hw.flash == FlashTiming(latency=5, burst_limit=128, words_per=4, clocks_per=7)
    assert HwParams().weight_store is WeightStore.BRAM and not HwParams().in_flash
    with pytest.raises(ValueError, match="weight_store='flash' needs weight_chunk_bits"):
        HwParams(weight_store="flash")
    with pytest.raises(ValueError, match=r"weight_store must be one of \['bram', 'flash'\], "
                                         r"not 'rom'"):
        HwParams(weight_store="rom")
    with pytest.raises(ValueError, match=r"words_per / clocks_per must be at most 1, not 8/7"):
        FlashTiming(words_per=8)


def test_load_fields_pack_above_the_instruction():
    instr = Instr(op=Opcode.CONV, kh=3, kw=3, weight_base=17, bias_base=2)
    load = LoadFields(wait_load=1, wait_half=1, load=1, load_half=0, load_base=123456,
                      load_bias_words=3, load_mask_words=0, load_weight_words=99)
    word = pack_flash_instruction(instr, load)
    assert word & ((1 << INSTRUCTION_BITS) - 1) == pack_instruction(instr)
    assert unpack_flash_instruction(word) == (instr, load)
    assert unpack_flash_instruction(pack_instruction(instr)) == (instr, LoadFields())
    with pytest.raises(ValueError, match=r"load field load_half=2 does not fit"):
        LoadFields(load_half=2)


def test_serialize_little_endian_words_of_32_bits():
    word = (0x5 << 64) | (0x0123456789ABCDEF)  # a 68-bit bias word
    assert serialize([word], 68) == [0x89ABCDEF, 0x01234567, 0x5]
    assert serialize([0xAB, 0xCD], 8) == [0xAB, 0xCD]
    assert deserialize(serialize([word, 7], 68), 68) == [word, 7]
    with pytest.raises(ValueError, match="does not fit 8 bits"):
        serialize([256], 8)


def test_serialize_runs_bit_dense():
    # 40-bit words (8 lanes of 5-bit indices) follow each other without a gap, the run
    # padded to a whole flash word: 3 words in 120 bits = 4 flash words (not 6)
    a, b, c = 0xAB_1234_5678, 0xCD_9ABC_DEF0, 0x01_0203_0405
    flash = serialize([a, b, c], 40)
    assert flash == [0x12345678, 0x9ABC_DEF0 << 8 & 0xFFFFFFFF | 0xAB,
                     (0xCD << 8 | 0x9A) | (0x0405 << 16), 0x01_0203]
    assert deserialize(flash, 40, 3) == [a, b, c]
    assert [run_flash_words(n, 40) for n in (0, 1, 2, 3, 4)] == [0, 2, 3, 4, 5]
    assert [run_flash_words(n, 68) for n in (1, 2, 8)] == [3, 5, 17]
    # words narrower than a flash word take one each (the loader writes one per cycle)
    assert run_flash_words(5, 16) == 5 and serialize([1, 2], 16) == [1, 2]
    with pytest.raises(ValueError, match="are not a run of 2 40-bit words"):
        deserialize([1, 2, 3, 4], 40, 2)


def test_load_points():
    # chunk 0 at instruction 0 (by the boot load when instruction 0 is chunk 0); chunk j at
    # the first instruction of segment j - 1 (chunk j - 1), after chunk j - 1's load
    assert load_points([1, 2, 3, 4]) == [0, 1, 2, 3]
    assert load_points([0, 1, 5, 6, 9]) == [None, 0, 1, 5, 6]
    assert load_points([3, 8, 9]) == [0, 3, 8]


def test_segments():
    # the boot segment, then each chunk with the instructions up to the next
    assert segments([2, 3, 7], 9) == [(0, 2), (2, 3), (3, 7), (7, 9)]
    assert segments([0, 4], 5) == [(0, 0), (0, 4), (4, 5)]
    assert segments([], 3) == [(0, 3)]


def test_flash_stalls_by_hand():
    timing = FlashTiming(latency=5, burst_limit=4, words_per=4, clocks_per=7)
    lc = flash_load_cycles(10, timing)
    assert lc == FLASH_LOAD_START_LAG + read_cycles(10, 5, 4, 4, 7) + FLASH_LOAD_DONE_LAG
    loads = [LoadFields(load=1, load_half=0), LoadFields(wait_load=1, wait_half=0),
             LoadFields(wait_load=1, wait_half=0, load=1, load_half=1),
             LoadFields(wait_load=1, wait_half=1)]
    stalls = flash_stalls([5, 100, 20, 50], loads, [10, 0, 10, 0], timing)
    # 0: launches, issues the next cycle; 1: waits for the load (done lc after the
    # launch); 2: launches at once (the loader is idle), issues the next cycle; 3: waits
    # for that load
    t1 = 1 + 5
    t2 = lc + 100
    t3 = t2 + 1 + 20
    assert stalls == [FLASH_LAUNCH_ISSUE_LAG, lc - t1, FLASH_LAUNCH_ISSUE_LAG,
                      max(0, t2 + lc - t3)]


def test_flash_stalls_with_the_schedule_in_flash():
    timing = FlashTiming(latency=5, burst_limit=4, words_per=4, clocks_per=7)
    seg = flash_load_cycles(0, timing, 36)
    both = flash_load_cycles(10, timing, 18)
    assert seg == FLASH_LOAD_START_LAG + read_cycles(36, 5, 4, 4, 7) + FLASH_LOAD_DONE_LAG
    assert both == (FLASH_LOAD_START_LAG + read_cycles(10, 5, 4, 4, 7) + FLASH_SEGMENT_GAP
                    + read_cycles(18, 5, 4, 4, 7) + FLASH_LOAD_DONE_LAG)
    # boot: two instructions (half 1); instruction 0 carries chunk 0's load (half 0), whose
    # segment is instructions 2 and 3; instruction 2 is chunk 0 and carries chunk 1's load
    loads = [LoadFields(load=1, load_half=0), LoadFields(segment_end=1),
             LoadFields(wait_load=1, wait_half=0, load=1, load_half=1), LoadFields()]
    stalls = flash_stalls([5, 100, 20, 50], loads, [10, 0, 10, 0], timing,
                          segment_words=[18, 0, 18, 0], boot=(0, 36, 1))
    # 0: waits for the boot load (launched FLASH_BOOT_LAUNCH_LAG before it would issue),
    # one cycle to fetch, then launches chunk 0's load and issues the next cycle
    s0 = -FLASH_BOOT_LAUNCH_LAG + seg + FLASH_SEGMENT_FETCH_LAG + FLASH_LAUNCH_ISSUE_LAG
    # 1: from the boot half, no wait; 2: the first of segment 0 (half 0) waits for its load
    t2 = s0 + 5 + 100
    done0 = s0 - FLASH_LAUNCH_ISSUE_LAG + both
    s2 = max(t2, done0 + FLASH_SEGMENT_FETCH_LAG) + FLASH_LAUNCH_ISSUE_LAG
    assert stalls == [s0, 0, s2 - t2, 0]


# --- random graphs -----------------------------------------------------------------------------

def _flash_program(seed: int, compress: bool, activation_bits: int = 8):
    """A random graph with ``activation_bits``-bit activations, lowered for the ROM design
    and for weights in flash with the least budget (so that chunks are many)."""
    rng = np.random.default_rng(seed)
    for _ in range(20):
        spec = draw_graph_spec(numpy_draw(rng), blocks=(2, 4), compress=compress,
                               activation_bits=(activation_bits,))
        if compress and not spec.index_bits:
            continue
        try:
            whole = prepare(spec)
            spec = dataclasses.replace(spec, weight_chunk_bits=least_chunk_bits(whole.program))
            return prepare(spec), prepare(dataclasses.replace(spec, weight_store="flash"))
        except FpgagenError:
            continue
    raise AssertionError(f"seed {seed}: 20 random graphs refused")


def _lane_ints(banks, c, lo, hi, wb):
    lanes = banks[c, lo:hi].astype(np.int64) & ((1 << wb) - 1)
    return [sum(int(v) << (l * wb) for l, v in enumerate(row)) for row in lanes]


def _signed(v, bits):
    return v - ((v >> (bits - 1)) << bits)


def _check_schedule(flash, convs, chunk_loads):
    """The schedule in flash: chunk ``j``'s load reads the schedule words of instructions
    ``c_j .. c_{j+1} - 1`` (``c_j``: the position of chunk ``j``), the boot load those before
    ``c_0`` (or chunk 0's); ``segment_end`` is set exactly before each chunk."""
    st, words = flash.flash, flash.words()
    ends = convs[1:] + [len(words)]
    for load, c, e in zip(chunk_loads, convs, ends):
        assert read_segment(st.image, load) == words[c:e]
        assert load.load_segment_words <= st.segment_depth
    first = convs[0] if convs else len(words)
    if first:
        assert st.boot.load_half == 1 and st.boot.load_bias_words == 0
        assert read_segment(st.image, st.boot) == words[:first]
    assert [l.segment_end for l in st.loads] == [int(i + 1 in convs) for i in range(len(words))]
    assert st.segment_depth == max(e - b for b, e in [(0, first)] + list(zip(convs, ends)))


def _check_image(rom, flash):
    """Every CONV chunk's load, read back from the image, holds the bank words of the
    program before staging (the ROM design's when no layer is a direct codebook layer),
    its bias and index stream starts relative to its half, its codebook, zeros as
    padding."""
    st = flash.flash
    cols, wb = flash.hw.pe_cols, int(flash.weight_bits)
    if not any(is_direct(f) for f in st.bank_instructions):
        # (direct codebook layers store other words, so their chunks may differ)
        assert [f.op for f in flash.instructions] == [f.op for f in rom.instructions]
        assert st.bank_instructions == rom.instructions
        np.testing.assert_array_equal(flash.weight_banks, rom.weight_banks)
    rom = dataclasses.replace(flash, flash=None, instructions=st.bank_instructions)
    assert flash_image(flash) == st.image
    loads = [l for l in st.loads if l.load]
    convs = [(i, f) for i, f in enumerate(rom.instructions) if f.op == Opcode.CONV]
    if convs and convs[0][0] == 0:  # chunk 0 is the boot load's
        loads = [st.boot] + loads
    assert len(loads) == len(convs)
    _check_schedule(flash, [i for i, _ in convs], loads)
    cw = rom.compressed
    for j, ((i, f), load) in enumerate(zip(convs, loads)):
        half = j % 2
        staged = flash.instructions[i]
        assert load.load_half == half
        assert st.loads[i].wait_load == 1 and st.loads[i].wait_half == half
        assert staged.bias_base == half * st.halves["bias"]
        kind = "mask" if f.compressed else "weight"
        assert staged.weight_base == half * st.halves[kind]
        assert {k: v for k, v in staged.fields().items()
                if k not in ("weight_base", "bias_base")} == \
            {k: v for k, v in f.fields().items() if k not in ("weight_base", "bias_base")}
        got = read_load(st, load, cols)
        for k in KINDS:
            assert load_count(load, k) <= st.halves[k]
            assert len(got[k]) == (1 if k in CHUNK_KINDS else cols)
            assert all(len(col) == load_count(load, k) for col in got[k])
        assert st.load_flash_words(load, cols) == sum(
            len(got[k]) * run_flash_words(load_count(load, k), st.run_width(k, load))
            for k in KINDS)
        n = f.out_groups * f.kh * f.kw * f.in_groups
        assert load.load_codebook_bits == f.index_bits
        assert load.load_direct == int(is_direct(f))
        if f.index_bits:  # the codebook, four codes to a flash word
            table = rom.direct_codebook if is_direct(f) else cw.codebook
            codes = [(w >> (8 * k)) & 0xFF for w in got["codebook"][0] for k in range(4)]
            want = [int(v) & 0xFF for v in
                    table[f.codebook_base:f.codebook_base + (1 << f.index_bits)]]
            assert codes[:len(want)] == want and not any(codes[len(want):])
        for c in range(cols):
            bias = got["bias"][c]
            for g in range(f.out_groups):
                w = bias[g]
                b = _signed(w & 0xFFFFFFFF, 32)
                s = _signed((w >> BIAS_WORD["shift"].offset) & 0xFF, 8)
                assert (b, s) == (rom.bias_banks[c, f.bias_base + g],
                                  rom.shift_banks[c, f.bias_base + g])
            assert not any(bias[f.out_groups:])
            if not f.compressed:
                lane = f.index_bits if is_direct(f) else wb
                want = _lane_ints(rom.weight_banks, c, f.weight_base, f.weight_base + n, lane)
                assert got["weight"][c][:n] == want and not any(got["weight"][c][n:])
                continue
            masks = [int(v) for v in cw.masks[c, f.weight_base:f.weight_base + n]]
            assert got["mask"][c][:n] == masks and not any(got["mask"][c][n:])
            first = int(cw.starts[c, f.bias_base, 0])
            stored = sum(bin(m).count("1") for m in masks)
            for g in range(f.out_groups):
                top = bias[g] >> BIAS_WORD.bits
                word = top & ((1 << STREAM_START["word"].bits) - 1)
                item = top >> STREAM_START["item"].offset
                assert item == cw.starts[c, f.bias_base + g, 1]
                if stored:
                    assert word == (half * st.halves["weight"]
                                    + cw.starts[c, f.bias_base + g, 0] - first)
            per = items_per_word(f.index_bits, wb * flash.hw.pe_rows)
            item0 = int(cw.starts[c, f.bias_base, 1])
            used = (item0 + stored - 1) // per + 1 if stored else 0
            words = got["weight"][c]
            assert words[:used] == _lane_ints(rom.weight_banks, c, first, first + used, wb)
            assert not any(words[used:])


@pytest.mark.parametrize("compress, activation_bits",
                         [(False, 8), (True, 8), (False, 10), (True, 12)],
                         ids=["dense", "compressed", "dense-a10", "compressed-a12"])
def test_random_graphs_image_round_trip_and_bit_exact(compress, activation_bits):
    """Weights in flash and activations in lanes of 9 bits or wider (10- and 12-bit codes)."""
    rng = np.random.default_rng(SEED + 7 * compress + activation_bits)
    for _ in range(GRAPHS):
        prep_rom, prep = _flash_program(int(rng.integers(2 ** 32)), compress, activation_bits)
        rom, program = prep_rom.program, prep.program
        assert program.hw.in_flash and rom.flash is None
        assert program.act_lane_bits == max(9, activation_bits + 1)
        if compress:
            assert any(f.compressed or is_direct(f) for f in program.instructions)
        _check_image(rom, program)
        if not any(is_direct(f) for f in program.instructions):
            # (a direct codebook layer waits for no decoder: it may beat the ROM design)
            assert program.cycles_predicted > rom.cycles_predicted
        result = run_program(program, pack_input(program, prep.graph, prep.image),
                             capture=True)
        bad = [c for c in compare_blocks(prep, result.tensors, result.scores) if not c.ok]
        assert not bad, f"seed {SEED}: {prep.spec}, block {bad[0].block}: {bad[0].mismatch}"
        assert result.cycles == [i.cycles_predicted for i in program.layers]


def test_bram_store_is_the_design_as_before():
    prep_rom, _ = _flash_program(SEED, True)
    spec = prep_rom.spec
    again = prepare(dataclasses.replace(spec, weight_store="bram"))
    assert again.program.words() == prep_rom.program.words()
    assert again.program.flash is None
    assert max(w.bit_length() for w in again.program.words()) <= INSTRUCTION_BITS


def test_design_staging_rams_and_flash_bus_ports():
    """The memory map of a flash design has staging RAMs of two halves and a wider
    schedule; its top level reads a flash model, or with ``flash_bus_port`` exposes the
    Avalon-MM master as ``bus__*`` ports."""
    from amaranth.back import verilog

    from fpgagen.gateware.top import Accelerator, AcceleratorConfig
    from fpgagen.hw.isa import LOAD_FIELDS_BITS
    from fpgagen.schedule.memory_map import MemoryRole, memory_map

    _, prep = _flash_program(SEED, True)
    program = prep.program
    st = program.flash
    mm = memory_map(program)
    roles = [(MemoryRole.WEIGHTS, "weight"), (MemoryRole.BIAS, "bias")]
    if program.compressed is not None:
        roles.append((MemoryRole.MASKS, "mask"))
    assert not mm.of(MemoryRole.CODEBOOK)  # the codebooks come with the chunks
    assert mm.one(MemoryRole.WEIGHTS).width == st.widths["weight"]
    for role, kind in roles:
        mems = mm.of(role)
        assert len(mems) == program.hw.pe_cols
        assert {(m.kind, m.banked, m.depth) for m in mems} == {("ram", False, st.depth(kind))}
    # no schedule ROM: the schedule staging buffer, two halves of the longest segment in
    # flip-flops
    sched = mm.one(MemoryRole.SCHEDULE)
    assert sched.width == INSTRUCTION_BITS + LOAD_FIELDS_BITS == SCHEDULE_WORD_BITS
    assert (sched.kind, sched.style, sched.depth) == ("ram", "logic", 2 * st.segment_depth)
    mm = mm.with_bank_depths(lambda m: 64)
    for port in (False, True):
        cfg = AcceleratorConfig.for_program(program, mm, flash_bus_port=port)
        text = verilog.convert(Accelerator(cfg), name="top", emit_src=False)
        head = text[:text.index(");")]  # the top module's port list comes first
        ports = {name for name in ("bus__address", "bus__read", "bus__burstcount",
                                   "bus__waitrequest", "bus__readdata", "bus__readdatavalid")
                 if f" {name}," in head or f" {name}\n" in head}
        assert len(ports) == (6 if port else 0), head


def test_direct_codebook_layers_in_random_flash_programs():
    """Compressed random graphs with unpruned layers (density ``None``): in a flash
    design those are direct codebook layers, whose chunks carry indices and codebook but
    no masks, their staging word is as wide as the widest lanes, and the engine model
    runs the program bit-exact against the golden model."""
    rng = np.random.default_rng(SEED + 11)
    # About half of the compressed random graphs have a direct layer: draw (cheaply) until
    # GRAPHS // 2 of them have been run, so that no seed leaves the check empty.
    seen, wanted = 0, max(1, GRAPHS // 2)
    for _ in range(50 * wanted):
        if seen == wanted:
            break
        _, prep = _flash_program(int(rng.integers(2 ** 32)), True)
        program = prep.program
        st = program.flash
        direct = [f for f in st.bank_instructions if is_direct(f)]
        if not direct:
            continue
        seen += 1
        lane_bits = [f.index_bits if is_direct(f) else program.weight_bits
                     for f in st.bank_instructions if f.op == Opcode.CONV]
        assert st.widths["weight"] == program.hw.pe_rows * max(4, *lane_bits)
        assert st.halves["codebook"] >= max(1 << f.index_bits for f in direct) // 4
        # every chunk's load: by an instruction, or by the boot load when instruction 0 is
        # chunk 0
        loads = [l for l in st.loads if l.load] + [st.boot] * (st.boot.load_weight_words > 0)
        assert sum(l.load_direct for l in loads) == len(direct)
        assert all(l.load_mask_words == 0 and l.load_codebook_bits for l in loads
                   if l.load_direct)
        result = run_program(program, pack_input(program, prep.graph, prep.image),
                             capture=True)
        bad = [c for c in compare_blocks(prep, result.tensors, result.scores) if not c.ok]
        assert not bad, f"seed {SEED}: {prep.spec}, block {bad[0].block}: {bad[0].mismatch}"
    assert seen == wanted, (f"seed {SEED}: {seen} of {50 * wanted} random graphs had a "
                            f"direct codebook layer, not {wanted}")


def test_flash_logic_counts_codebook_registers_and_lookups():
    """The LUT estimate's flash block: nothing with the weights in block RAM; the loader's
    gearbox in any flash design; codebook registers with codebook layers; and per lane of
    the array a lookup with direct codebook layers, so a direct design costs the most."""
    from fpgagen.fit.flash_logic import flash_logic
    from fpgagen.testing.random_graphs import BlockSpec, GraphSpec, LayerSpec

    conv = LayerSpec("conv", (1, 1), out_channels=6, relu=True)
    blocks = (BlockSpec("conv", -1, None, (conv,)), BlockSpec("conv", 0, None, (conv,)))
    base = GraphSpec(height=5, width=5, blocks=blocks, lanes=4, seed=1,
                     weight_chunk_bits=1 << 20, weight_store="flash")
    logic = {}
    for name, bits, density in (("dense", 0, 1.0), ("pruned", 4, 0.5), ("direct", 4, None)):
        program = prepare(dataclasses.replace(base, index_bits=bits, density=density)).program
        assert any(is_direct(f) for f in program.instructions) == (name == "direct")
        logic[name] = flash_logic(program)
    rom = prepare(dataclasses.replace(base, weight_store="bram")).program
    assert flash_logic(rom) == {"lut": 0, "ff": 0}
    assert 0 < logic["dense"]["lut"] < logic["pruned"]["lut"] < logic["direct"]["lut"]
    assert 0 < logic["dense"]["ff"] < logic["pruned"]["ff"] < logic["direct"]["ff"]
