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

__all__ = ["check_flash_timing", "burst_word_cycle", "burst_sizes", "read_cycles"]


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


def read_cycles(count, latency, burst_limit, words_per, clocks_per, *,
                fifo_depth=None) -> int:
    """Cycles from ``start`` (cycle 0) to the cycle the reader's stream delivers its last
    word (``valid`` and ``ready`` high), the consumer always ready.

    With bursts ``b_0, b_1, ...`` (:func:`burst_sizes`), burst ``j`` accepted in cycle
    ``a_j``, its last word presented by the flash in cycle ``p_j``::

        a_0     = 1                                   (start is registered)
        p_j     = a_j + latency + floor((b_j - 1) * clocks_per / words_per)
        a_{j+1} = p_j + 1 + (1 if b_{j+1} == fifo_depth else 0)
        result  = p_last + 1                          (a word passes the FIFO in a cycle)

    that is ``sum_j (latency + floor((b_j - 1) * clocks_per / words_per) + 1) + 1``, plus
    one for every burst after the first that fills the FIFO: it may be issued only when the
    FIFO is empty, the cycle after the previous burst's last word left it.

    Parameters
    ----------
    count : int
        Words to read (at least 1).
    latency, burst_limit, words_per, clocks_per : int
        The flash's timing (:func:`check_flash_timing`); ``burst_limit`` is the reader's,
        at most the flash's.
    fifo_depth : int or None
        The reader's FIFO depth (at least ``burst_limit``); None for the reader's default,
        ``burst_limit + 1``.

    Raises
    ------
    ValueError
        Naming the bad value.
    """
    count = _int("count", count, 1)
    latency, burst_limit, words_per, clocks_per = check_flash_timing(
        latency, burst_limit, words_per, clocks_per)
    if fifo_depth is None:
        fifo_depth = burst_limit + 1
    fifo_depth = _int("fifo_depth", fifo_depth, burst_limit)
    sizes = burst_sizes(count, burst_limit)
    cycles = 1 + sum(latency + (b - 1) * clocks_per // words_per + 1 for b in sizes)
    return cycles + sum(1 for b in sizes[1:] if b == fifo_depth)
