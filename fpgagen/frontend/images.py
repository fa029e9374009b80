"""Image loading and Caffe ImageNet pre-processing (see ``../shared/images/README.md``)."""

from pathlib import Path

import numpy as np

from ..errors import FpgagenError

__all__ = ["load_image_bgr", "resize_bilinear_half_pixel", "center_crop", "bgr_to_float_chw"]


def resize_bilinear_half_pixel(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres and no anti-aliasing (OpenCV INTER_LINEAR),
    computed in float64 and rounded half-up to uint8. ``img`` is ``(H, W, C)`` uint8."""
    src = img.astype(np.float64)
    h, w = src.shape[:2]

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
    top = src[y0][:, x0] * (1 - fx) + src[y0][:, x1] * fx
    bottom = src[y1][:, x0] * (1 - fx) + src[y1][:, x1] * fx
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
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FpgagenError(f"image not found: {str(path)!r}")
    try:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as e:
        raise FpgagenError(f"cannot decode image {str(path)!r}: {e}") from None
    if resize is None:
        resize = 256 if input_size == 227 else max(input_size, round(input_size * 256 / 227))
    img = resize_bilinear_half_pixel(rgb, resize, resize)
    return np.ascontiguousarray(center_crop(img, input_size)[:, :, ::-1])


def bgr_to_float_chw(bgr_u8: np.ndarray, mean) -> np.ndarray:
    """float32 CHW input of the float network: BGR pixels minus the per-channel mean."""
    x = bgr_u8.astype(np.float32) - np.asarray(mean, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))
