"""Accuracy on labelled images: top-1 and top-5 of the float model and of the integer golden
model (the numbers the hardware computes), their top-1 agreement, and the SQNR of every
layer of the integer model against the float one.

A folder of images is labelled by a ``labels.json`` beside them (``{file name: class
index}``), or else by ImageNet WordNet ids at the start of the file names
(``n01440764_tench.JPEG``, the class being the id's line in the bundled synset list).
Images whose class neither gives are skipped and counted.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import FpgagenError
from .frontend import load_image_bgr
from .frontend.images import IMAGE_SUFFIXES
from .golden.float_model import bgr_to_float_chw, run_float
from .golden.int_model import run_int
from .ir import Graph
from .labels import wordnet_ids

__all__ = ["LabelledImages", "labelled_images", "Accuracy", "evaluate"]

_WNID = re.compile(r"^(n\d{8})")


@dataclass(frozen=True)
class LabelledImages:
    """Image files with their class indices, and the images left out (no known class)."""

    files: tuple[Path, ...]
    classes: tuple[int, ...]
    unknown: tuple[Path, ...] = ()
    source: str = ""  #: where the labels came from


def labelled_images(folder, num_classes: int) -> LabelledImages:
    """The labelled images of ``folder`` (see the module docstring).

    Raises
    ------
    FpgagenError
        For a folder that does not exist or holds no images, and for a ``labels.json``
        that is not a JSON object of file names to class indices in ``0 ..
        num_classes - 1``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FpgagenError(f"{str(folder)!r} is not a folder of images")
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FpgagenError(f"{str(folder)!r} holds no images "
                           f"({', '.join(sorted(IMAGE_SUFFIXES))})")
    label_file = folder / "labels.json"
    if label_file.exists():
        try:
            table = json.loads(label_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise FpgagenError(f"cannot read {str(label_file)!r}: {e}") from None
        if not isinstance(table, dict):
            raise FpgagenError(f"{str(label_file)!r} must hold an object {{file name: class "
                               f"index}}, not a {type(table).__name__}")
        for name, c in table.items():
            if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < num_classes:
                raise FpgagenError(f"{str(label_file)!r}: class of {name!r} is {c!r}, not "
                                   f"an index 0..{num_classes - 1}")
        lookup, source = (lambda f: table.get(f.name)), str(label_file)
    else:
        ids = wordnet_ids() if num_classes == 1000 else {}
        lookup = (lambda f: ids.get(m.group(1)) if (m := _WNID.match(f.name)) else None)
        source = "ImageNet WordNet ids in the file names"
    known, classes, unknown = [], [], []
    for f in files:
        c = lookup(f)
        if c is None:
            unknown.append(f)
        else:
            known.append(f)
            classes.append(int(c))
    return LabelledImages(tuple(known), tuple(classes), tuple(unknown), source)


@dataclass
class Accuracy:
    """What :func:`evaluate` measured."""

    images: int
    float_top1: float
    float_top5: float
    int_top1: float
    int_top5: float
    agreement: float  #: share of images where both models give the same top-1 class
    sqnr_db: dict = field(default_factory=dict)  #: ``{layer: dB}`` of the integer model
    skipped: int = 0  #: images of unknown class

    def as_dict(self) -> dict:
        """JSON-ready: ``images``, ``float`` and ``int`` (``{"top1", "top5"}``),
        ``agreement``, ``skipped``, ``sqnr_db``."""
        return {"images": self.images, "skipped": self.skipped,
                "float": {"top1": self.float_top1, "top5": self.float_top5},
                "int": {"top1": self.int_top1, "top5": self.int_top5},
                "agreement": self.agreement,
                "sqnr_db": {k: round(v, 2) for k, v in self.sqnr_db.items()}}


def _top(values: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-np.asarray(values, dtype=np.float64).ravel(), kind="stable")[:k]


def evaluate(float_graph: Graph, int_graph: Graph, data: LabelledImages,
             progress: Callable[[int, int], None] | None = None) -> Accuracy:
    """Top-1 / top-5 of ``float_graph`` and of the quantized ``int_graph`` (the same network)
    on ``data``, their agreement, and per-layer SQNR (signal: the float tensor; noise: the
    integer codes times their step, minus it; summed over the images).
    ``progress(done, total)`` is called after every image."""
    if int_graph.quant is None:
        raise FpgagenError(f"graph {int_graph.name!r} is not quantized")
    n = len(data.files)
    if n == 0:
        raise FpgagenError("no image of a known class to evaluate")
    size = float_graph.input_shape[1]
    out = float_graph.outputs[0]
    hits = dict(f1=0, f5=0, i1=0, i5=0, agree=0)
    signal: dict[str, float] = {}
    noise: dict[str, float] = {}
    types = int_graph.quant.types
    for k, (path, label) in enumerate(zip(data.files, data.classes)):
        image = load_image_bgr(path, size)
        floats = run_float(float_graph, bgr_to_float_chw(image, float_graph.mean),
                           keep_all=True)
        ints = run_int(int_graph, image, keep_all=True)
        f_top, i_top = _top(floats[out], 5), _top(ints[out], 5)
        hits["f1"] += int(f_top[0] == label)
        hits["f5"] += int(label in f_top)
        hits["i1"] += int(i_top[0] == label)
        hits["i5"] += int(label in i_top)
        hits["agree"] += int(f_top[0] == i_top[0])
        for node in int_graph.nodes:
            name = node.name
            if name not in floats or name not in ints:
                continue
            ref = np.asarray(floats[name], dtype=np.float64)
            real = ints[name].astype(np.float64) * types[name].step
            signal[name] = signal.get(name, 0.0) + float(np.sum(ref ** 2))
            noise[name] = noise.get(name, 0.0) + float(np.sum((real - ref) ** 2))
        if progress is not None:
            progress(k + 1, n)
    sqnr = {name: 10 * np.log10(max(signal[name], 1e-30) / max(noise[name], 1e-30))
            for name in signal}
    return Accuracy(images=n, float_top1=hits["f1"] / n, float_top5=hits["f5"] / n,
                    int_top1=hits["i1"] / n, int_top5=hits["i5"] / n,
                    agreement=hits["agree"] / n, sqnr_db=sqnr, skipped=len(data.unknown))
