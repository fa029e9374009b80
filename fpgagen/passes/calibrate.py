"""Calibration: the range of every tensor of the float network over sample inputs."""

import numpy as np

from ..errors import FpgagenError
from ..golden.float_model import bgr_to_float_chw, run_float
from ..ir import Graph

__all__ = ["calibration_ranges", "generated_calibration_images"]


def generated_calibration_images(graph: Graph, count: int = 4, seed: int = 0) -> np.ndarray:
    """Seeded stand-in images ``(N, H, W, 3)`` uint8 for calibration when no photos are
    given: colour "pink" noise (power spectrum ~ 1/f, as natural images), which drives the
    deep layers much closer to their real ranges than white noise does. Real photos remain
    better: deep-layer ranges from these are still several times too small."""
    rng = np.random.default_rng(seed)
    _, h, w = graph.input_shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    freq = np.sqrt(fy ** 2 + fx ** 2)
    freq[0, 0] = 1.0
    mix = np.full((3, 3), 0.5) + 0.5 * np.eye(3)  # correlated colour channels
    out = np.empty((count, h, w, 3), dtype=np.uint8)
    for i in range(count):
        planes = []
        for _ in range(3):
            spectrum = (rng.standard_normal(freq.shape)
                        + 1j * rng.standard_normal(freq.shape)) / freq
            planes.append(np.fft.irfft2(spectrum, s=(h, w)))
        img = np.stack(planes, axis=-1) @ mix
        img = (img - img.mean()) / img.std()
        out[i] = np.clip(img * 60 + rng.uniform(80, 170, 3), 0, 255).astype(np.uint8)
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
