"""Accuracy of a build's configurations on labelled images (``fpgagen build --eval``): the
float model and the integer golden model of a configuration (:func:`fpgagen.evaluation.
evaluate`), measured once per configuration of the numbers (input size, weight bits and
formats; the PE array and the board do not change them)."""

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from .errors import FpgagenError
from .evaluation import LabelledImages, evaluate, labelled_images

__all__ = ["AccuracyProbe", "spread"]

log = logging.getLogger(__name__)


def spread(data: LabelledImages, limit: int | None) -> LabelledImages:
    """At most ``limit`` of ``data``'s images, evenly spaced over the sorted files (so that a
    folder sorted by class keeps many classes); all of them when ``limit`` is ``None``."""
    n = len(data.files)
    if limit is None or limit >= n:
        return data
    if limit < 1:
        raise FpgagenError(f"eval limit must be a positive number of images, not {limit!r}")
    picks = sorted({int(i) for i in np.linspace(0, n - 1, limit).round()})
    return replace(data, files=tuple(data.files[i] for i in picks),
                   classes=tuple(data.classes[i] for i in picks))


class AccuracyProbe:
    """Measures and caches the accuracy of configurations of one flow on one folder.

    Parameters
    ----------
    folder : path
        Labelled images (:func:`fpgagen.evaluation.labelled_images`).
    num_classes : int
        Classes of the network (the labels must be below it).
    limit : int, optional
        Most images per configuration (:func:`spread`).
    """

    def __init__(self, folder, num_classes: int, limit: int | None = None):
        self.folder = Path(folder)
        self.num_classes = int(num_classes)
        self.data = spread(labelled_images(self.folder, self.num_classes), limit)
        if not self.data.files:
            raise FpgagenError(f"{str(self.folder)!r} holds no image of a known class")
        self.cache: dict = {}

    @staticmethod
    def key(flow) -> tuple:
        """What decides the numbers of ``flow`` (a :class:`fpgagen.flow.FlowConfig`)."""
        o = flow.net_options
        return (flow.net, str(flow.weights), o.input_size, o.num_classes, o.width,
                flow.weight_bits, flow.activation_bits, str(flow.weight_format),
                tuple(sorted((k, str(v)) for k, v in flow.layer_formats.items())),
                tuple(map(str, flow.calibration)))

    def measure(self, flow, float_graph=None, int_graph=None) -> dict:
        """The accuracy of ``flow`` as JSON-ready data (``images``, ``skipped``, ``float``
        and ``int`` ``{"top1", "top5"}``, ``agreement``, ``output_sqnr_db``, ``folder``);
        ``float_graph`` / ``int_graph``: the flow's graphs when already made."""
        from .flow import step_import, step_quantize

        key = self.key(flow)
        if key not in self.cache:
            if float_graph is None:
                float_graph = step_import(flow)
            if int_graph is None:
                int_graph = step_quantize(float_graph, flow)
            n = len(self.data.files)
            log.info("measuring accuracy on %d images: %s", n, _describe(flow))

            def progress(done, total):
                if done % 10 == 0 or done == total:
                    log.info("  %d/%d images", done, total)

            acc = evaluate(float_graph, int_graph, self.data, progress=progress)
            out = acc.as_dict()
            sqnr = out.pop("sqnr_db")
            out["output_sqnr_db"] = sqnr.get(int_graph.outputs[0])
            out["folder"] = str(self.folder)
            self.cache[key] = out
        return self.cache[key]


def _describe(flow) -> str:
    o = flow.net_options
    text = f"{flow.weight_bits}-bit weights, {flow.weight_format}"
    if flow.activation_bits != 8:
        text += f", {flow.activation_bits}-bit activations"
    if flow.layer_formats:
        text += f" ({len(flow.layer_formats)} layers otherwise)"
    if o.input_size is not None:
        text += f", input {o.input_size}"
    return text
