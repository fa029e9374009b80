"""Intel HEX of 32-bit words, as the MAX 10 On-Chip Flash IP takes its initial contents.

The Intel MAX 10 User Flash Memory User Guide (UG-M10UFM, *Flash Initialization Files*)
says the IP's ``.hex`` initialization file "uses byte addressing" (its ``.mif`` and the
simulation ``.dat`` use word addressing). So word ``k`` of the image is one data record of
4 bytes at byte address ``4 * k``. Within a record the word is written most significant
byte first, the way Intel's tools write a memory word into a HEX data field (``elf2hex``
with ``--width=32``, the word-per-line ``.dat`` format): that byte order is inferred from
those tools, not stated by the user guide, and has not been checked on a board (see
``docs/de10-lite.md``). Addresses of 64 KiB and above come through type 04 (extended
linear address) records."""

from collections.abc import Iterable

__all__ = ["WORD_BYTES", "intel_hex_words"]

#: Bytes of one flash word.
WORD_BYTES = 4


def _record(kind: int, address: int, data: bytes) -> str:
    body = bytes([len(data), (address >> 8) & 0xFF, address & 0xFF, kind]) + data
    checksum = (-sum(body)) & 0xFF
    return ":" + (body + bytes([checksum])).hex().upper()


def intel_hex_words(words: Iterable[int]) -> str:
    """The Intel HEX text of ``words`` (unsigned 32-bit), word ``k`` at byte address
    ``4 * k``, one word per data record, most significant byte first, then the end-of-file
    record.

    Raises
    ------
    ValueError
        For a word that is not an integer from 0 to 2**32 - 1, or more words than 32-bit
        byte addresses reach.
    """
    lines = []
    upper = 0
    for k, word in enumerate(words):
        if isinstance(word, bool) or not (0 <= int(word) < 1 << 32) or int(word) != word:
            raise ValueError(f"flash word {k} is {word!r}, not an unsigned 32-bit integer")
        address = WORD_BYTES * k
        if address >> 32:
            raise ValueError(f"flash word {k} is beyond the 4 GiB an Intel HEX file "
                             f"addresses")
        if address >> 16 != upper:
            upper = address >> 16
            lines.append(_record(0x04, 0, upper.to_bytes(2, "big")))
        lines.append(_record(0x00, address & 0xFFFF, int(word).to_bytes(WORD_BYTES, "big")))
    lines.append(_record(0x01, 0, b""))
    return "\n".join(lines) + "\n"
