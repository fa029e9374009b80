"""Host side of a program run: the input words to stream in, and tensors read back from an
activation memory image (``docs/hardware.md``, *Tensor layout*)."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import FpgagenError
from ..golden.int_model import input_codes
from ..ir import Graph
from .program import Program, TensorPlacement

__all__ = ["pack_input", "pack_tensor", "unpack_tensor", "unpack_rows", "im2col_input"]


def im2col_input(x: np.ndarray, kernel, stride, padding) -> np.ndarray:
    """Window codes of a ``(C, H, W)`` tensor for every output pixel of a convolution:
    ``(kh * kw * C, OH, OW)``, channel ``(ky * kw + kx) * C + c``; padding reads as 0."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    c = x.shape[0]
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    win = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # C, OH, OW, kh, kw
    oh, ow = win.shape[1:3]
    return np.ascontiguousarray(win.transpose(3, 4, 0, 1, 2)).reshape(kh * kw * c, oh, ow)


def _addresses(place: TensorPlacement, lanes: int):
    """Word address (relative to the buffer base) and lane of every code, ``(C, H*W)``."""
    pos = np.asarray(place.positions, dtype=np.int64)
    pix = np.arange(place.h * place.w, dtype=np.int64)
    words = pix[None, :] * place.pixel_groups + place.group_offset + (pos // lanes)[:, None]
    return words, np.broadcast_to((pos % lanes)[:, None], words.shape)


def pack_tensor(place: TensorPlacement, codes: np.ndarray, lanes: int) -> np.ndarray:
    """The words ``(h * w * pixel_groups, lanes)`` int64 of ``codes`` ``(C, H, W)`` laid
    out as at ``place``, every row (every other lane 0): a whole buffer, or the stream of
    a ring's rows in order."""
    codes = np.asarray(codes, dtype=np.int64)
    if codes.shape != (place.channels, place.h, place.w):
        raise FpgagenError(f"tensor {place.name!r} is {place.channels}x{place.h}x{place.w}, "
                           f"got codes of shape {codes.shape}")
    out = np.zeros((place.h * place.w * place.pixel_groups, lanes), dtype=np.int64)
    words, lane = _addresses(place, lanes)
    out[words, lane] = codes.reshape(place.channels, -1)
    return out


def pack_input(program: Program, graph: Graph, bgr_u8: np.ndarray) -> np.ndarray:
    """The words the host streams in: the input tensor's words, row after row (LOAD
    instructions take them in this order).

    Parameters
    ----------
    program : Program
    graph : Graph
        The quantized graph the program was lowered from (for the input mean and shape).
    bgr_u8 : np.ndarray
        ``(H, W, 3)`` uint8 BGR image.

    Returns
    -------
    np.ndarray
        int64 ``(program.input_words, pe_rows)``: lane codes ``pixel - input_mean`` as in
        :func:`fpgagen.golden.int_model.input_codes`, im2col-packed when
        ``program.im2col`` is set.
    """
    if graph.quant is None:
        raise FpgagenError(f"graph {graph.name!r} is not quantized")
    x = input_codes(graph, bgr_u8)
    if tuple(x.shape) != graph.input_shape:
        raise FpgagenError(f"image is {x.shape[1]}x{x.shape[2]}, {graph.name} expects "
                           f"{graph.input_shape[1]}x{graph.input_shape[2]}")
    if program.im2col is not None:
        ic = program.im2col
        x = im2col_input(x, ic.kernel, ic.stride, ic.padding)
    return pack_tensor(program.input, x, program.hw.pe_rows)


def unpack_tensor(program: Program, act_mem: np.ndarray, tensor_name: str) -> np.ndarray:
    """The codes ``(C, H, W)`` int64 of a tensor read from an activation memory image.

    Parameters
    ----------
    program : Program
    act_mem : np.ndarray
        ``(depth, pe_rows)`` lane codes (e.g. :attr:`EngineResult.act_mem`).
    tensor_name : str
        A tensor of ``program.tensors``; for the input of an im2col program these are the
        packed codes ``(kh * kw * C, OH, OW)``.
    """
    place = program.placement(tensor_name)
    if not place.whole:
        raise FpgagenError(f"tensor {tensor_name!r} is kept in a ring of {place.rows} of its "
                           f"{place.h} rows; read rows as they are written (unpack_rows)")
    mem = np.asarray(act_mem)
    lanes = program.hw.pe_rows
    if mem.ndim != 2 or mem.shape[1] != lanes or mem.shape[0] < place.end:
        raise FpgagenError(f"activation memory image of shape {mem.shape} does not hold "
                           f"{tensor_name!r} (words {place.base}..{place.end - 1}, {lanes} "
                           "lanes)")
    words, lane = _addresses(place, lanes)
    codes = mem[place.base + words, lane].astype(np.int64)
    return codes.reshape(place.channels, place.h, place.w)


def unpack_rows(program: Program, act_mem: np.ndarray, place: TensorPlacement, lo: int,
                hi: int) -> np.ndarray:
    """The codes ``(C, hi - lo, W)`` of rows ``lo .. hi - 1`` of the tensor at ``place``
    (in its ring: row ``y`` in slot ``y mod place.rows``)."""
    mem = np.asarray(act_mem)
    lanes = program.hw.pe_rows
    if hi - lo > place.rows:
        raise FpgagenError(f"rows {lo}..{hi - 1} of {place.name!r} do not fit its ring of "
                           f"{place.rows} rows at once")
    pos = np.asarray(place.positions, dtype=np.int64)
    y = np.arange(lo, hi) % place.rows
    pix = (y[:, None] * place.w + np.arange(place.w)[None, :]).reshape(-1)
    words = (place.base + pix[None, :] * place.pixel_groups + place.group_offset
             + (pos // lanes)[:, None])
    if words.size and words.max() >= len(mem):
        raise FpgagenError(f"activation memory image of {len(mem)} words does not hold rows "
                           f"{lo}..{hi - 1} of {place.name!r}")
    codes = mem[words, (pos % lanes)[:, None]]
    return codes.reshape(place.channels, hi - lo, place.w).astype(np.int64)
