"""Calibration: the range of every tensor of the float network over sample inputs.

Without photos, the sample inputs are generated "dead leaves" images (see
:func:`generated_calibration_images`); ``docs/numerics.md`` (*Calibration*) gives the
accuracy they reach against real photos.
"""

import numpy as np

from ..errors import FpgagenError
from ..golden.float_model import bgr_to_float_chw, run_float
from ..ir import Graph

__all__ = ["calibration_ranges", "generated_calibration_images", "GENERATED_COUNT"]

#: How many images :func:`generated_calibration_images` makes by default.
GENERATED_COUNT = 8

#: Shapes per generated image (with radii from :data:`_MIN_RADIUS` times the image size to
#: half of it they cover most of the picture, the first ones partly hidden by later ones).
_SHAPES = 200
#: Smallest shape radius as a fraction of the image side (3 pixels at 227).
_MIN_RADIUS = 3 / 227
#: Brightness of a shape's colour (uniform), its per-channel colour spread (normal, sigma)
#: and the amplitude (sigma) of the 1/f texture laid over the whole image, in pixel values.
_BRIGHTNESS = (20.0, 235.0)
_CHROMA = 30.0
_TEXTURE = 20.0


def _pink_noise(rng, h: int, w: int) -> np.ndarray:
    """One ``(h, w)`` plane of zero-mean, unit-variance noise with a 1/f amplitude spectrum
    (as natural images have)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    freq = np.sqrt(fy ** 2 + fx ** 2)
    freq[0, 0] = 1.0
    spectrum = (rng.standard_normal(freq.shape) + 1j * rng.standard_normal(freq.shape)) / freq
    plane = np.fft.irfft2(spectrum, s=(h, w))
    return (plane - plane.mean()) / plane.std()


def _colour(rng) -> np.ndarray:
    """A BGR colour of natural saturation: a brightness plus a small spread per channel."""
    return rng.uniform(*_BRIGHTNESS) + rng.normal(0.0, _CHROMA, 3)


def _dead_leaves(rng, h: int, w: int) -> np.ndarray:
    """One float ``(h, w, 3)`` "dead leaves" image: discs, rectangles and rotated ellipses
    of plain colours painted over each other, radii drawn with density ~ 1/r^3 (which gives
    the scale invariance of natural images), under a faint 1/f texture."""
    img = np.empty((h, w, 3))
    img[:] = _colour(rng)
    side = min(h, w)
    rmin, rmax = max(1.0, _MIN_RADIUS * side), side / 2
    for _ in range(_SHAPES):
        u = rng.uniform()
        r = (rmin ** -2 - u * (rmin ** -2 - rmax ** -2)) ** -0.5
        cy, cx = rng.uniform(-r, h + r), rng.uniform(-r, w + r)
        kind = rng.integers(3)
        aspect = rng.uniform(0.2, 1.0)
        angle = rng.uniform(0.0, np.pi)
        colour = _colour(rng)
        y0, y1 = max(0, int(cy - r)), min(h, int(cy + r) + 1)
        x0, x1 = max(0, int(cx - r)), min(w, int(cx + r) + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        dy = np.arange(y0, y1)[:, None] - cy
        dx = np.arange(x0, x1)[None, :] - cx
        if kind == 0:  # disc
            inside = dy ** 2 + dx ** 2 < r ** 2
        elif kind == 1:  # rectangle, sides r*a and r/a (clipped to the box)
            a = 0.3 + 0.7 * aspect
            inside = (np.abs(dy) < r * a) & (np.abs(dx) < r / a)
        else:  # ellipse, axes r and r*aspect, rotated
            c, s = np.cos(angle), np.sin(angle)
            along, across = dy * c + dx * s, dx * c - dy * s
            inside = (along / r) ** 2 + (across / (r * aspect)) ** 2 < 1
        img[y0:y1, x0:x1][inside] = colour
    mix = np.full((3, 3), 0.5) + 0.5 * np.eye(3)  # correlated colour channels
    texture = np.stack([_pink_noise(rng, h, w) for _ in range(3)], axis=-1) @ mix
    return img + _TEXTURE * texture


def generated_calibration_images(graph: Graph, count: int = GENERATED_COUNT,
                                 seed: int = 0) -> np.ndarray:
    """Seeded stand-in images ``(N, H, W, 3)`` uint8 BGR for calibration when no photos are
    given: "dead leaves" pictures (overlapping plain shapes of natural colours and sizes
    under a 1/f texture). Edges, corners and flat regions drive every layer of an ImageNet
    network much closer to its range on real photos than noise does: in every layer of
    SqueezeNet v1.0 and v1.1 their largest values are 0.4 to 2.1 times those of eight real
    photos (1/f noise alone: down to 0.13 in the last layers)."""
    if not isinstance(count, int) or count < 1:
        raise FpgagenError(f"calibration needs at least one generated image, not {count!r}")
    rng = np.random.default_rng(seed)
    _, h, w = graph.input_shape
    out = np.empty((count, h, w, 3), dtype=np.uint8)
    for i in range(count):
        out[i] = np.clip(np.rint(_dead_leaves(rng, h, w)), 0, 255).astype(np.uint8)
    return out


def calibration_ranges(graph: Graph, images_bgr_u8) -> dict[str, float]:
    """``{tensor: max |value|}`` over the images (``(N, H, W, 3)`` uint8 BGR)."""
    ranges: dict[str, float] = {}
    for img in images_bgr_u8:
        env = run_float(graph, bgr_to_float_chw(img, graph.mean), keep_all=True)
        for name, value in env.items():
            m = float(np.abs(value).max())
            if not np.isfinite(m):
                raise FpgagenError(f"calibration: tensor {name!r} of {graph.name} is not "
                                   "finite in the float model: the weights overflow float32")
            ranges[name] = max(ranges.get(name, 0.0), m)
    return ranges
