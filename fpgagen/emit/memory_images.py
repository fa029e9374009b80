"""Memory images as ``$readmemh`` hex files, one word per line."""

from pathlib import Path

import numpy as np

__all__ = ["pack_lanes", "hex_text", "write_bank_images"]


def pack_lanes(lanes: np.ndarray, lane_bits: int) -> list[int]:
    """Pack rows of lane codes ``(n, lanes)`` (two's complement) into integers, lane ``i``
    at bits ``[lane_bits * i + lane_bits - 1 : lane_bits * i]``."""
    lanes = np.asarray(lanes, dtype=np.int64)
    mask = (1 << lane_bits) - 1
    out = []
    for row in lanes:
        word = 0
        for i, v in enumerate(row.tolist()):
            word |= (v & mask) << (lane_bits * i)
        out.append(word)
    return out


def hex_text(words, width: int) -> str:
    """``$readmemh`` text: one zero-padded hex word per line."""
    digits = (width + 3) // 4
    return "".join(f"{w:0{digits}x}\n" for w in words)


def write_bank_images(folder, weight_banks, bias_banks, shift_banks, weight_bits=8) -> list[Path]:
    """Write ``weights_c.hex`` (lanes x ``weight_bits`` bits) and ``bias_c.hex``
    (shift[39:32], bias[31:0]) for every column ``c``; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    cols, _, rows = weight_banks.shape
    for c in range(cols):
        wp = folder / f"weights_{c}.hex"
        wp.write_text(hex_text(pack_lanes(weight_banks[c], weight_bits), weight_bits * rows))
        words = [((int(s) & 0xFF) << 32) | (int(b) & 0xFFFFFFFF)
                 for b, s in zip(bias_banks[c], shift_banks[c])]
        bp = folder / f"bias_{c}.hex"
        bp.write_text(hex_text(words, 40))
        paths += [wp, bp]
    return paths
