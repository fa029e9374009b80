"""A fire module (squeeze 1x1, expand 1x1 and 3x3, concat) with the real SqueezeNet v1.1
fire2 weights, on the generated hardware, bit-exact against the golden model. The input is
a real photo through the real conv1 and pool1 (fused into conv1), at a reduced 63x63 input
so that fire2 runs on 15x15 maps; with 8-bit activations and with wider ones (10 and 12
bits, in lanes of 11 and 13 bits), and with 12-bit weight codes."""

from pathlib import Path

import numpy as np
import pytest

from fpgagen.frontend import load_image_bgr, load_npz_weights
from fpgagen.golden.int_model import run_int
from fpgagen.hw import HwParams
from fpgagen.ir import GlobalAvgPool, Graph, Node
from fpgagen.nets import NetOptions, build_net
from fpgagen.passes import QuantConfig, quantize
from fpgagen.schedule import lower
from fpgagen.sim.network import build_program, run_image

from .conftest import BUILD_ROOT

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
WEIGHTS = SHARED / "models" / "squeezenet_v1_1.npz"
PHOTOS = sorted((SHARED / "images").glob("n*.JPEG"))
SIZE = 63
FIRE2 = ["fire2/squeeze1x1", "fire2/expand1x1", "fire2/expand3x3", "fire2/concat"]


def _fire2_graph(activation_bits: int = 8, weight_bits: int = 8) -> Graph:
    """SqueezeNet v1.1 up to fire2's concat (then a global average pool, so that the concat
    keeps its activation type), real weights, calibrated on the photos."""
    full = load_npz_weights(build_net("squeezenet1_1", NetOptions(input_size=SIZE)), WEIGHTS)
    keep = full.nodes[:[n.name for n in full.nodes].index("fire2/concat") + 1]
    keep.append(Node("scores", GlobalAvgPool(), ("fire2/concat",)))
    graph = Graph("squeezenet1_1-fire2", full.input_shape, keep, ["scores"],
                  input_name=full.input_name, mean=full.mean,
                  params={n.name: full.params[n.name] for n in keep if n.name in full.params})
    photos = np.stack([load_image_bgr(p, SIZE) for p in PHOTOS])
    return quantize(graph, QuantConfig(activation_bits=activation_bits,
                                       weight_bits=weight_bits), calibration_images=photos)


#: ``(array, activation bits, weight bits)``: 8-bit activations, and wider ones in 11- and
#: 13-bit lanes; 12-bit weight codes with 10-bit activations (SqueezeNet v1.0's
#: within-a-point configuration, docs/numerics.md)
CASES = [("8x8", 8, 8), ("16x16", 8, 8), ("8x8", 10, 8), ("16x16", 10, 8), ("8x8", 12, 8),
         ("16x16", 10, 12), pytest.param("16x16", 12, 8, marks=pytest.mark.slow)]


@pytest.mark.parametrize("array, activation_bits, weight_bits", CASES)
def test_fire2_real_weights_bit_exact(array, activation_bits, weight_bits):
    if not WEIGHTS.exists() or not PHOTOS:
        pytest.skip(f"needs {WEIGHTS} and photos in {SHARED / 'images'} (../shared absent)")
    side = int(array.split("x")[0])
    graph = _fire2_graph(activation_bits, weight_bits)
    program = lower(graph, HwParams(pe_rows=side, pe_cols=side), reuse_memory=False)
    assert program.act_lane_bits == max(9, activation_bits + 1)
    suffix = ("" if activation_bits == 8 else f"_act{activation_bits}") + \
        ("" if weight_bits == 8 else f"_w{weight_bits}")
    sim = build_program(program, BUILD_ROOT / f"fire2_{array}{suffix}")
    image = load_image_bgr(PHOTOS[0], SIZE)
    assert "conv1" in program.unstored  # pool1 is fused into conv1: checked through it
    run = run_image(sim, program, graph, image, read_back=["pool1", *FIRE2])
    golden = run_int(graph, image, keep_all=True)
    for name in ["pool1", *FIRE2]:
        np.testing.assert_array_equal(run.tensors[name], golden[name], err_msg=name)
    np.testing.assert_array_equal(run.scores, golden["scores"].ravel())
    assert run.tensors["fire2/concat"].shape == (128, 15, 15)
    assert np.count_nonzero(run.tensors["fire2/concat"]) > 1000
    if activation_bits > 8:  # codes beyond 8 bits went through the lanes
        assert run.tensors["fire2/concat"].max() > 255
    if weight_bits > 8:  # and weight codes beyond 8 bits through the multipliers
        weights = [graph.quant.layers[n].weight for n in FIRE2[:3]]
        assert any(((w < -128) | (w > 127)).any() for w in weights)
    predicted = [l.cycles_predicted for l in program.layers]
    np.testing.assert_array_equal(run.instruction_cycles, predicted)
