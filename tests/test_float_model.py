"""The float32 model reproduces the independent reference logits of ../shared/images."""

import numpy as np
import pytest

from fpgagen.frontend import bgr_to_float_chw, load_image_bgr, load_npz_weights
from fpgagen.golden.float_model import run_float
from fpgagen.nets import build_net


@pytest.mark.parametrize("net,weights,key", [
    ("squeezenet1_1", "v1_1_weights", "v1_1_logits"),
    ("squeezenet1_0", "v1_0_weights", "v1_0_logits"),
])
def test_float_logits_match_reference(request, reference, net, weights, key):
    graph = load_npz_weights(build_net(net), request.getfixturevalue(weights))
    for img, expected in zip(reference["input_bgr_u8"], reference[key]):
        logits = run_float(graph, bgr_to_float_chw(img, graph.mean))["pool10"].ravel()
        rel = np.abs(logits - expected).max() / np.abs(expected).max()
        assert rel < 1e-4


def test_preprocessing_reproduces_the_reference_crops(reference, shared_images):
    # The documented procedure of ../shared/images/README.md, reimplemented: exact crops.
    for name, expected in zip(reference["names"], reference["input_bgr_u8"]):
        np.testing.assert_array_equal(load_image_bgr(shared_images / str(name), 227), expected)
