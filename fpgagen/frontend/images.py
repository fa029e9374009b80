"""Image loading and Caffe ImageNet pre-processing (see ``../shared/images/README.md``)."""

import logging
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

from ..errors import FpgagenError
from .files import require_file
from ..golden.float_model import bgr_to_float_chw  # noqa: F401  (the float input, re-exported)

__all__ = ["MAX_PIXELS", "IMAGE_SUFFIXES", "load_image_bgr", "resize_bilinear_half_pixel",
           "center_crop", "bgr_to_float_chw"]

log = logging.getLogger(__name__)

#: Largest image :func:`load_image_bgr` decodes, in pixels (width x height): 100 megapixels,
#: about 10000 x 10000. Larger files are refused from their header, before decoding.
MAX_PIXELS = 100_000_000

#: File suffixes taken as images when a folder is given in place of image files.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif",
                            ".tiff"})

# What Pillow and its plugins raise on files they cannot decode (truncated, corrupt).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error,
                  zlib.error)


def resize_bilinear_half_pixel(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres and no anti-aliasing (OpenCV INTER_LINEAR),
    computed in float64 and rounded half-up to uint8. ``img`` is ``(H, W, C)`` uint8."""
    h, w = img.shape[:2]

    def axis(n_out, n_in):
        pos = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
        pos = np.clip(pos, 0.0, n_in - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, pos - lo

    y0, y1, fy = axis(height, h)
    x0, x1, fx = axis(width, w)
    fy = fy[:, None, None]
    fx = fx[None, :, None]

    # Gather the uint8 corner pixels before widening to float64, so memory follows the
    # output size, not the (possibly very large) input.
    def corner(ys, xs):
        return img[ys][:, xs].astype(np.float64)

    top = corner(y0, x0) * (1 - fx) + corner(y0, x1) * fx
    bottom = corner(y1, x0) * (1 - fx) + corner(y1, x1) * fx
    out = top * (1 - fy) + bottom * fy
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def center_crop(img: np.ndarray, size: int) -> np.ndarray:
    """The centred ``size x size`` crop of an ``(H, W, C)`` image."""
    h, w = img.shape[:2]
    if size > h or size > w:
        raise FpgagenError(f"crop {size}x{size} is larger than the image {h}x{w}")
    top, left = (h - size) // 2, (w - size) // 2
    return img[top:top + size, left:left + size]


def load_image_bgr(path, input_size: int = 227, resize: int | None = None) -> np.ndarray:
    """Decode an image file and return the network's uint8 BGR crop ``(S, S, 3)``.

    Caffe convention: RGB, resize to ``resize x resize`` (default 256 when the input is 227,
    else ``round(input_size * 256 / 227)``) ignoring aspect ratio, centre crop
    ``input_size``, then RGB -> BGR.

    Decoding: the EXIF orientation is applied first. Every Pillow mode becomes 8-bit RGB:
    greyscale is replicated, alpha is dropped, palette, 1-bit and CMYK images are converted
    by Pillow. Samples of more than 8 bits keep their top 8 bits (``v >> 8`` for 16-bit
    greyscale, as Pillow already does for 16-bit RGB). Float images (``F``, e.g. float
    TIFF) are taken as ``[0, 1]`` and scaled by 255 (rounded half up); values outside are
    clipped, with a warning, and NaN is refused. 32-bit integer images (``I``) are taken as
    16-bit samples and refused outside ``0..65535``.

    Raises
    ------
    FpgagenError
        If ``path`` is missing or a directory, cannot be decoded, has more than
        :data:`MAX_PIXELS` pixels, or holds NaN or out-of-range integer pixels.
    """
    rgb = _decode_rgb8(Path(path))
    if resize is None:
        resize = 256 if input_size == 227 else max(input_size, round(input_size * 256 / 227))
    img = resize_bilinear_half_pixel(rgb, resize, resize)
    return np.ascontiguousarray(center_crop(img, input_size)[:, :, ::-1])


def _decode_rgb8(path: Path) -> np.ndarray:
    """The ``(H, W, 3)`` uint8 RGB pixels of an image file, upright."""
    from PIL import Image, ImageOps

    require_file(path, name="image", expected="an image file")
    # Pillow warns above its own pixel limit and refuses above twice that: we check our
    # limit from the header and turn Pillow's refusal into one line. Its other warnings
    # (e.g. a damaged TIFF tag) become one logged line instead of Python's two.
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with Image.open(path) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise FpgagenError(f"image {str(path)!r} is too large: {w} x {h} = "
                                       f"{w * h:,d} pixels; the limit is {MAX_PIXELS:,d}")
                ImageOps.exif_transpose(im, in_place=True)
                rgb = _to_rgb8(im, path)
    except Image.DecompressionBombError as e:
        found = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(found[1]):,d} pixels" if found else "too many pixels"
        raise FpgagenError(f"image {str(path)!r} is too large: {size}; the limit is "
                           f"{MAX_PIXELS:,d}") from None
    except _DECODE_ERRORS as e:
        raise FpgagenError(f"cannot decode image {str(path)!r}: "
                           f"{str(e) or type(e).__name__}") from None
    notes = sorted({str(c.message) for c in caught
                    if not issubclass(c.category, Image.DecompressionBombWarning)})
    if notes:
        log.warning("image %r: %s", str(path), "; ".join(notes))
    return rgb


def _to_rgb8(im, path: Path) -> np.ndarray:
    """8-bit RGB of an opened Pillow image, scaling (not clipping) wide samples."""
    if im.mode.startswith("I;16"):
        gray = np.asarray(im) >> 8
    elif im.mode == "I":
        a = np.asarray(im)
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 0xFFFF:
            raise FpgagenError(f"image {str(path)!r} has 32-bit integer pixels in {lo}..{hi}; "
                               f"only 0..65535 (16-bit) is supported")
        gray = a >> 8
    elif im.mode == "F":
        gray = _float_to_u8(np.asarray(im), path)
    else:
        return np.asarray(im.convert("RGB"))
    return np.repeat(gray.astype(np.uint8)[:, :, None], 3, axis=2)


def _float_to_u8(a: np.ndarray, path: Path) -> np.ndarray:
    """Float samples in ``[0, 1]`` as uint8 ``0..255``; outside clipped (warned), NaN refused."""
    nan = np.isnan(a)
    if nan.any():
        y, x = (int(i) for i in np.argwhere(nan)[0])
        raise FpgagenError(f"image {str(path)!r} holds {int(nan.sum())} NaN pixel value(s), "
                           f"first at row {y}, column {x}")
    outside = (a < 0) | (a > 1)
    if outside.any():
        log.warning("image %r: %d float pixel value(s) outside [0, 1] (range %g..%g) "
                    "clipped", str(path), int(outside.sum()), float(a.min()), float(a.max()))
    return np.floor(np.clip(a, 0.0, 1.0).astype(np.float64) * 255 + 0.5).astype(np.uint8)
