"""Direct codebook layers (``docs/hardware.md``, *Compressed weights*): in a design with
its weights in flash, a ``codebook:B`` layer (every weight stored, no pruning) keeps no
masks and needs no decoder. Its staging words are laid out as a dense layer's (one per
tile word, at the same addresses), each holding the ``pe_rows`` lanes' ``B``-bit indices
(lane ``r`` at bits ``[r*B + B-1 : r*B]``), and the array looks every lane's index up in
a register file of the layer's ``2**B`` codes as it reads the word, at its full rate.

Such a CONV instruction has ``compressed = 0`` and ``index_bits = B``; its codebook is
part of each chunk's flash block (:data:`CODES_PER_FLASH_WORD` codes to a flash word)
and lands in the codebook registers of the chunk's staging half.

Lanes of no input channel hold index 0: their activations are 0 (every producer writes
code 0 in its padding channels). Output channels that do not exist get bias 0 and the
shift :data:`fpgagen.operators.conv.PADDING_SHIFT`, which turns any 32-bit accumulator
into code 0, so they keep that promise although their weights are codes, not zeros.
"""

from .isa import Instr, Opcode

__all__ = ["is_direct", "CODE_BITS", "CODES_PER_FLASH_WORD", "codebook_flash_words"]

#: Width of a code in the codebook registers (a weight code, sign-extended on read).
CODE_BITS = 8
#: Codes packed into one 32-bit flash word (code ``k`` at bits ``[8k + 7 : 8k]``).
CODES_PER_FLASH_WORD = 4


def is_direct(f: Instr) -> bool:
    """``f`` is a CONV of a direct codebook layer (indices looked up as they are read)."""
    return f.op == Opcode.CONV and not f.compressed and f.index_bits > 0


def codebook_flash_words(index_bits: int) -> int:
    """Flash words of a codebook of ``2**index_bits`` codes (0 for ``index_bits`` 0)."""
    if not 0 <= index_bits <= 8:
        raise ValueError(f"index_bits must be in 0..8, not {index_bits!r}")
    if index_bits == 0:
        return 0
    return -(-(1 << index_bits) // CODES_PER_FLASH_WORD)
