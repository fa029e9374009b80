"""Exact timing of weight reads from the on-chip user flash: the Avalon-MM data interface of
Intel's On-Chip Flash IP as modelled by :class:`fpgagen.gateware.flash_model.FlashModel`,
read by :class:`fpgagen.gateware.flash_reader.FlashReader`. Pure Python, shared by the
gateware (parameter checks) and the cycle model, so that the two cannot drift.

The flash (parameters ``latency``, ``burst_limit``, ``words_per`` / ``clocks_per``): a read
command of ``b`` words accepted in cycle ``a`` presents word ``k`` (``0 <= k < b``) in cycle
``a + burst_word_cycle(k, ...)`` = ``a + latency + floor(k * clocks_per / words_per)``; it
keeps ``waitrequest`` high from cycle ``a + 1`` through the cycle of its last word, and may
accept the next command in the cycle after that.

The reader (start in cycle 0, consumer always ready): see :func:`read_cycles`.
"""

import operator

__all__ = ["READER_FIFO_LATENCY", "check_flash_timing", "burst_word_cycle", "burst_sizes",
           "min_fifo_depth", "read_cycles"]

#: Cycles from a word's ``readdatavalid`` to the cycle it is on the reader's stream (its
#: FIFO reads a block memory, then registers the word).
READER_FIFO_LATENCY = 2


def _int(name: str, value, least: int) -> int:
    """``value`` as an int of at least ``least``, or a ValueError naming it."""
    try:
        if isinstance(value, bool):
            raise TypeError
        v = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, not {value!r}") from None
    if v < least:
        raise ValueError(f"{name} must be at least {least}, not {value!r}")
    return v


def check_flash_timing(latency, burst_limit, words_per, clocks_per) -> tuple:
    """Check the flash's timing parameters; return them as ints.

    Parameters
    ----------
    latency : int
        Cycles from the cycle a read command is accepted to the cycle of its first word
        (at least 1).
    burst_limit : int
        Most words in one read command (at least 1).
    words_per, clocks_per : int
        Sustained throughput within a burst, ``words_per`` words every ``clocks_per``
        cycles: at most one word a cycle (``1 <= words_per <= clocks_per``).

    Raises
    ------
    ValueError
        Naming the bad value.
    """
    latency = _int("latency", latency, 1)
    burst_limit = _int("burst_limit", burst_limit, 1)
    words_per = _int("words_per", words_per, 1)
    clocks_per = _int("clocks_per", clocks_per, 1)
    if words_per > clocks_per:
        raise ValueError(f"the flash delivers at most one word a cycle: words_per / "
                         f"clocks_per must be at most 1, not {words_per}/{clocks_per}")
    return latency, burst_limit, words_per, clocks_per


def burst_word_cycle(k: int, latency: int, words_per: int, clocks_per: int) -> int:
    """Cycles from the acceptance of a read command to the cycle its word ``k`` (0-based)
    is presented (``readdatavalid`` high): ``latency + floor(k * clocks_per / words_per)``."""
    k = _int("k", k, 0)
    latency, _, words_per, clocks_per = check_flash_timing(latency, 1, words_per, clocks_per)
    return latency + k * clocks_per // words_per


def burst_sizes(count: int, burst_limit: int) -> list:
    """The bursts the reader issues for ``count`` words: ``burst_limit`` words each, the
    last one the rest."""
    count = _int("count", count, 1)
    burst_limit = _int("burst_limit", burst_limit, 1)
    full, rest = divmod(count, burst_limit)
    return [burst_limit] * full + ([rest] if rest else [])


def min_fifo_depth(burst_limit) -> int:
    """The fewest words the reader's FIFO may hold: a whole burst, and at least 3 (a FIFO
    of two, one word in its memory and one in its output register, cannot take words in
    back-to-back cycles)."""
    return max(3, _int("burst_limit", burst_limit, 1))


def _issue_wait(prev, nxt, fifo_depth, words_per, clocks_per) -> int:
    """Cycles burst ``nxt`` waits for FIFO room after the flash could accept it (the cycle
    after the last word of burst ``prev``), the consumer always ready."""
    def cycle(k):
        return k * clocks_per // words_per

    last = cycle(prev - 1)
    for wait in range(READER_FIFO_LATENCY + 1):
        # in cycle p + 1 + wait (p: the last word's), the FIFO counts the words of burst
        # prev presented from cycle p + 1 + wait - READER_FIFO_LATENCY on
        first = last + 1 + wait - READER_FIFO_LATENCY
        held = sum(1 for k in range(max(0, prev - READER_FIFO_LATENCY), prev)
                   if cycle(k) >= first)
        if held + nxt <= fifo_depth:
            return wait
    raise AssertionError("unreachable: the FIFO holds a whole burst")


def read_cycles(count, latency, burst_limit, words_per, clocks_per, *,
                fifo_depth=None) -> int:
    """Cycles from ``start`` (cycle 0) to the cycle the reader's stream delivers its last
    word (``valid`` and ``ready`` high), the consumer always ready.

    With bursts ``b_0, b_1, ...`` (:func:`burst_sizes`), burst ``j`` accepted in cycle
    ``a_j``, its last word presented by the flash in cycle ``p_j``, and ``f(k) = floor(k *
    clocks_per / words_per)``::

        a_0     = 1                          (start is registered)
        p_j     = a_j + latency + f(b_j - 1)
        a_{j+1} = p_j + 1 + w_{j+1}
        result  = p_last + READER_FIFO_LATENCY

    A word presented in cycle ``p`` is on the stream in cycle ``p + 2`` and is counted
    against the FIFO's room until then. ``w_{j+1}`` is the least ``w >= 0`` such that
    ``b_{j+1}`` plus the words of burst ``j`` presented in cycles ``>= p_j - 1 + w`` fit in
    ``fifo_depth``; with the default depth ``burst_limit + 2`` it is always 0 and::

        result = 2 + sum_j (latency + f(b_j - 1) + 1)

    Parameters
    ----------
    count : int
        Words to read (at least 1).
    latency, burst_limit, words_per, clocks_per : int
        The flash's timing (:func:`check_flash_timing`); ``burst_limit`` is the reader's,
        at most the flash's.
    fifo_depth : int or None
        The reader's FIFO depth (at least :func:`min_fifo_depth`); None for the reader's
        default, ``burst_limit + 2``.

    Raises
    ------
    ValueError
        Naming the bad value.
    """
    count = _int("count", count, 1)
    latency, burst_limit, words_per, clocks_per = check_flash_timing(
        latency, burst_limit, words_per, clocks_per)
    if fifo_depth is None:
        fifo_depth = burst_limit + READER_FIFO_LATENCY
    fifo_depth = _int("fifo_depth", fifo_depth, min_fifo_depth(burst_limit))
    sizes = burst_sizes(count, burst_limit)
    cycles = 1
    for j, b in enumerate(sizes):
        if j:
            cycles += 1 + _issue_wait(sizes[j - 1], b, fifo_depth, words_per, clocks_per)
        cycles += latency + (b - 1) * clocks_per // words_per
    return cycles + READER_FIFO_LATENCY
