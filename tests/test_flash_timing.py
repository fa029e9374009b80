# amaranth: UnusedElaboratable=no
"""The timing of flash reads (``fpgagen.hw.flash_timing``): values worked out by hand from
the documented schedule, and the argument checks shared with the flash model and the
reader (``fpgagen.gateware.flash_model``, ``fpgagen.gateware.flash_reader``), each naming
the bad value. That the RTL matches :func:`read_cycles` to the cycle is
``rtl_tests/test_flash_reader.py``."""

import numpy as np
import pytest

from fpgagen.hw.flash_timing import (burst_sizes, burst_word_cycle, check_flash_timing,
                                     min_fifo_depth, read_cycles)

IP = dict(latency=5, burst_limit=8, words_per=4, clocks_per=7)


def test_burst_word_cycles():
    # 4 words every 7 cycles: gaps 1, 2, 2, 2, then again
    assert [burst_word_cycle(k, 5, 4, 7) for k in range(9)] == [5, 6, 8, 10, 12, 13, 15, 17,
                                                                19]
    assert [burst_word_cycle(k, 1, 1, 1) for k in range(4)] == [1, 2, 3, 4]
    # an unreduced ratio is the same ratio
    assert ([burst_word_cycle(k, 3, 8, 14) for k in range(20)]
            == [burst_word_cycle(k, 3, 4, 7) for k in range(20)])


def test_burst_sizes():
    assert burst_sizes(1, 8) == [1]
    assert burst_sizes(8, 8) == [8]
    assert burst_sizes(29, 8) == [8, 8, 8, 5]
    assert burst_sizes(389, 128) == [128, 128, 128, 5]


ONE = dict(latency=5, burst_limit=8, words_per=1, clocks_per=1)


@pytest.mark.parametrize("count, timing, want", [
    # start (1) + first word (latency) + through the FIFO (2)
    (1, dict(latency=1, burst_limit=8, words_per=1, clocks_per=1), 4),
    (2, dict(latency=1, burst_limit=8, words_per=1, clocks_per=1), 5),
    # bursts 8 and 1: 2 + (5 + 12 + 1) + (5 + 0 + 1)
    (9, IP, 26),
    (9, dict(IP, fifo_depth=8), 26),  # the second burst fits beside the first's last word
    # bursts 8 and 8: 2 + (5 + 12 + 1) * 2
    (16, IP, 38),
    (16, dict(IP, fifo_depth=100), 38),
    # the last word of the first burst (its second last came 2 cycles earlier) is counted
    # for 2 more cycles
    (16, dict(IP, fifo_depth=9), 38),
    (16, dict(IP, fifo_depth=8), 40),
    # one word a cycle: the last two words are counted one more cycle
    (16, ONE, 2 + (5 + 7 + 1) * 2),
    (16, dict(ONE, fifo_depth=9), 2 + (5 + 7 + 1) * 2 + 1),
    (16, dict(ONE, fifo_depth=8), 2 + (5 + 7 + 1) * 2 + 2),
    (12, dict(ONE, fifo_depth=8), 2 + (5 + 7 + 1) + (5 + 3 + 1)),
])
def test_read_cycles_by_hand(count, timing, want):
    assert read_cycles(count, **timing) == want


def test_read_cycles_grow_with_count():
    cycles = [read_cycles(n, **IP) for n in range(1, 300)]
    assert np.all(np.diff(cycles) >= 1)
    # in long reads the throughput is words_per / clocks_per, plus each burst's latency
    assert read_cycles(8 * 100, **IP) == 100 * (5 + 7 * 7 // 4 + 1) + 2


@pytest.mark.parametrize("count", [0, -3, 2.5, True, "9", None])
def test_bad_count(count):
    with pytest.raises(ValueError, match=rf"count must be .*not {count!r}"):
        read_cycles(count, **IP)


@pytest.mark.parametrize("words_per, clocks_per", [(7, 4), (2, 1), (5, 4)])
def test_ratio_above_one(words_per, clocks_per):
    with pytest.raises(ValueError, match=rf"at most 1, not {words_per}/{clocks_per}$"):
        read_cycles(10, latency=5, burst_limit=8, words_per=words_per,
                    clocks_per=clocks_per)


@pytest.mark.parametrize("name, value", [
    ("words_per", 0), ("clocks_per", 0), ("words_per", -4), ("clocks_per", 1.75),
    ("latency", 0), ("latency", -1), ("burst_limit", 0), ("burst_limit", 8.0)])
def test_bad_timing(name, value):
    with pytest.raises(ValueError, match=rf"{name} must be .*not {value!r}$"):
        read_cycles(10, **dict(IP, **{name: value}))
    with pytest.raises(ValueError, match=rf"{name} must be .*not {value!r}$"):
        check_flash_timing(**dict(IP, **{name: value}))


def test_bad_fifo_depth():
    with pytest.raises(ValueError, match=r"fifo_depth must be at least 8, not 7$"):
        read_cycles(10, **IP, fifo_depth=7)
    with pytest.raises(ValueError, match=r"fifo_depth must be at least 3, not 2$"):
        read_cycles(10, **dict(IP, burst_limit=2), fifo_depth=2)
    assert min_fifo_depth(1) == 3 and min_fifo_depth(128) == 128


def test_numpy_integers_accepted():
    assert read_cycles(np.int64(9), **IP) == 26
    assert check_flash_timing(np.int32(5), 8, 4, 7) == (5, 8, 4, 7)


def test_gateware_checks():
    from fpgagen.gateware.flash_model import FlashModel
    from fpgagen.gateware.flash_reader import FlashReader

    # (components built here are never elaborated: see the linter comment on line 1)
    with pytest.raises(ValueError, match=r"at most 1, not 8/7$"):
        FlashModel([1, 2, 3], latency=5, burst_limit=8, words_per=8, clocks_per=7)
    with pytest.raises(ValueError, match=r"latency must be at least 1, not 0$"):
        FlashModel([1, 2, 3], latency=0, burst_limit=8, words_per=4, clocks_per=7)
    with pytest.raises(ValueError, match=r"at least one word"):
        FlashModel([], latency=5, burst_limit=8, words_per=4, clocks_per=7)
    with pytest.raises(ValueError, match=r"word 1 does not fit in 32 bits: 4294967296$"):
        FlashModel([1, 1 << 32], latency=5, burst_limit=8, words_per=4, clocks_per=7)
    with pytest.raises(ValueError, match=r"addr_bits must be .* at least 3 for 5 words, "
                                         r"not 2$"):
        FlashModel([0] * 5, latency=5, burst_limit=8, words_per=4, clocks_per=7,
                   addr_bits=2)
    with pytest.raises(ValueError, match=r"fifo_depth must be .* at least 8, not 4$"):
        FlashReader(addr_bits=10, count_bits=10, burst_limit=8, fifo_depth=4)
    with pytest.raises(ValueError, match=r"fifo_depth must be .* at least 3, not 2$"):
        FlashReader(addr_bits=10, count_bits=10, burst_limit=1, fifo_depth=2)
    with pytest.raises(ValueError, match=r"burst_limit must be .* at least 1, not 0$"):
        FlashReader(addr_bits=10, count_bits=10, burst_limit=0)
    model = FlashModel([0] * 5, latency=5, burst_limit=8, words_per=4, clocks_per=7)
    assert len(model.bus.address) == 3 and len(model.bus.burstcount) == 4
    reader = FlashReader(addr_bits=10, count_bits=10, burst_limit=128)
    assert reader.fifo_depth == 130 and len(reader.bus.burstcount) == 8
