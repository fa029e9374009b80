"""The int8 golden model against the float model on the real photos."""

import numpy as np
import pytest

from fpgagen.frontend import load_npz_weights
from fpgagen.golden.int_model import run_int, scores
from fpgagen.nets import build_net
from fpgagen.passes import quantize


def _top5(v):
    return list(np.argsort(-np.asarray(v), kind="stable")[:5])


def _int8_scores_cross_calibrated(graph, images):
    """Scores of each photo from a model calibrated on the other half of the photos, so no
    photo is classified by a model that saw it during calibration."""
    halves = (np.arange(len(images)) < len(images) // 2)
    out = [None] * len(images)
    for test_half in (halves, ~halves):
        qgraph = quantize(graph, calibration_images=images[~test_half])
        for i in np.flatnonzero(test_half):
            out[i] = scores(qgraph, run_int(qgraph, images[i])["pool10"])
    return out


@pytest.mark.parametrize("net,weights,key,min_top1", [
    ("squeezenet1_1", "v1_1_weights", "v1_1_logits", 7),
    ("squeezenet1_0", "v1_0_weights", "v1_0_logits", 7),
])
def test_int8_agrees_with_float_on_real_photos(request, reference, net, weights, key,
                                               min_top1):
    graph = load_npz_weights(build_net(net), request.getfixturevalue(weights))
    images = reference["input_bgr_u8"]
    int8 = _int8_scores_cross_calibrated(graph, images)
    float_top1 = reference[key].argmax(axis=1)
    top1_agree = sum(int(np.argmax(s)) == f for s, f in zip(int8, float_top1))
    in_top5 = sum(f in _top5(s) for s, f in zip(int8, float_top1))
    assert top1_agree >= min_top1
    assert in_top5 == len(images)


def test_int8_with_generated_calibration_on_real_photos(reference, v1_1_weights):
    # Without calibration photos the product calibrates on generated images.
    graph = load_npz_weights(build_net("squeezenet1_1"), v1_1_weights)
    qgraph = quantize(graph)
    images = reference["input_bgr_u8"]
    float_top1 = reference["v1_1_logits"].argmax(axis=1)
    int8 = [scores(qgraph, run_int(qgraph, img)["pool10"]) for img in images]
    assert sum(int(np.argmax(s)) == f for s, f in zip(int8, float_top1)) >= 7
    assert sum(f in _top5(s) for s, f in zip(int8, float_top1)) == len(images)


@pytest.mark.parametrize("bits", [4, 6])
def test_fewer_weight_bits_still_classify(reference, v1_1_weights, bits):
    from fpgagen.passes import QuantConfig

    graph = load_npz_weights(build_net("squeezenet1_1"), v1_1_weights)
    images = reference["input_bgr_u8"]
    qgraph = quantize(graph, QuantConfig(weight_bits=bits), calibration_images=images[:4])
    w = qgraph.quant.layers["conv1"].weight
    assert w.min() >= -(1 << (bits - 1)) and w.max() <= (1 << (bits - 1)) - 1
    float_top1 = reference["v1_1_logits"].argmax(axis=1)
    in_top5 = sum(f in _top5(scores(qgraph, run_int(qgraph, img)["pool10"]))
                  for img, f in zip(images, float_top1))
    assert in_top5 >= (7 if bits == 6 else 3)
