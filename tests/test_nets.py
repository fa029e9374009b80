"""Built-in topologies: published parameter counts, the paper's metaparameters, options."""

import json

import pytest

from fpgagen.errors import FpgagenError
from fpgagen.ir import Add, Conv2d
from fpgagen.nets import NetOptions, SqueezeNetConfig, build_net, fire_channels

PUBLISHED_PARAMS = {
    "squeezenet1_0": 1_248_424,
    "squeezenet1_1": 1_235_496,
    "squeezenet": 1_235_496,
    "squeezenet1_0-simple-bypass": 1_248_424,
    "zynqnet": 2_528_800,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_parameter_count_matches_publication(name):
    assert build_net(name).param_count() == PUBLISHED_PARAMS[name]


def test_v1_0_metaparameters_give_table_1():
    # SqueezeNet paper, Table 1: (s1x1, e1x1, e3x3) of fire2..fire9.
    table1 = [(16, 64, 64), (16, 64, 64), (32, 128, 128), (32, 128, 128),
              (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)]
    cfg = SqueezeNetConfig(base_e=128, incr_e=128, pct_3x3=0.5, freq=2, sr=0.125)
    assert fire_channels(cfg) == table1


def test_metaparameters_change_the_fire_modules():
    cfg = SqueezeNetConfig(base_e=64, incr_e=32, pct_3x3=0.25, freq=1, sr=0.25)
    assert fire_channels(cfg)[:3] == [(16, 48, 16), (24, 72, 24), (32, 96, 32)]


def test_macs_match_the_caffe_graphs(shared_models):
    for name, fname in (("squeezenet1_1", "squeezenet_v1_1.json"),
                        ("squeezenet1_0", "squeezenet_v1_0.json"), ("zynqnet", "zynqnet.json")):
        ref = json.loads((shared_models / fname).read_text())
        assert build_net(name).macs() == ref["conv_macs_per_image"], name


@pytest.mark.parametrize("name,fname", [("squeezenet1_1", "squeezenet_v1_1.json"),
                                        ("squeezenet1_0", "squeezenet_v1_0.json"),
                                        ("zynqnet", "zynqnet.json")])
def test_layer_shapes_match_the_caffe_graphs(shared_models, name, fname):
    ref = json.loads((shared_models / fname).read_text())["graph"]["layers"]
    shapes = build_net(name).shapes()
    checked = 0
    for layer in ref:
        if layer["type"] in ("Convolution", "Pooling", "Concat"):
            assert shapes[layer["name"]] == tuple(layer["out_shape"]), layer["name"]
            checked += 1
    assert checked >= 30


def test_simple_bypass_adds_around_odd_fires():
    g = build_net("squeezenet1_0-simple-bypass")
    adds = [n for n in g.nodes if isinstance(n.op, Add)]
    assert [n.name for n in adds] == ["fire3/bypass", "fire5/bypass", "fire7/bypass",
                                      "fire9/bypass"]
    assert adds[0].inputs == ("fire3/concat", "fire2/concat")


def test_complex_bypass_adds_1x1_convs_around_even_fires():
    g = build_net("squeezenet1_0-complex-bypass")
    convs = {n.name: n for n in g.nodes if isinstance(n.op, Conv2d)}
    for fire, cin, cout in (("fire2", 96, 128), ("fire4", 128, 256), ("fire6", 256, 384),
                            ("fire8", 384, 512)):
        conv = convs[f"{fire}/bypass_conv1x1"]
        assert conv.op.kernel == (1, 1) and not conv.op.relu
        assert conv.op.weight_shape(g.in_shapes(conv)[0][0]) == (cout, cin, 1, 1)
    extra = 96 * 128 + 128 * 256 + 256 * 384 + 384 * 512 + 128 + 256 + 384 + 512
    assert g.param_count() == PUBLISHED_PARAMS["squeezenet1_0"] + extra


def test_options_shrink_the_network():
    g = build_net("squeezenet", NetOptions(input_size=64, num_classes=10, width=0.5))
    assert g.input_shape == (3, 64, 64)
    assert g.shapes()["pool10"] == (10, 1, 1)
    assert g.node("conv1").op.out_channels == 32
    assert g.node("fire2/expand3x3").op.out_channels == 32


def test_unknown_net_is_named():
    with pytest.raises(FpgagenError, match="unknown network 'resnet50'"):
        build_net("resnet50")


def test_too_small_input_is_refused():
    with pytest.raises(FpgagenError, match="input size 8 is too small for squeezenet1_1: the "
                                           "smallest it takes is 17"):
        build_net("squeezenet", NetOptions(input_size=8))


def test_input_that_vanishes_is_reported():
    with pytest.raises(FpgagenError, match="squeezenet1_0 at input_size 20"):
        build_net("squeezenet1_0", NetOptions(input_size=20))
