"""SqueezeNext in the catalog: layer by layer against the authors' Caffe files, and the
parameter and MAC counts of the paper's Table 3."""

import pytest

from fpgagen.errors import FpgagenError
from fpgagen.frontend.caffe_prototxt import load_caffe_prototxt
from fpgagen.ir import Add, Conv2d
from fpgagen.nets import NET_NAMES, NetOptions, build_net
from fpgagen.nets.squeezenext import unfolded_counts
from fpgagen.passes.fuse_relu import FuseRelu

FILES = [("1.0-SqNxt-23", "squeezenext-23", 1.0),
         ("1.0-G-SqNxt-23", "squeezenext-23-g", 1.0),
         ("1.0-SqNxt-23v5", "squeezenext-23v5", 1.0),
         ("2.0-SqNxt-23", "squeezenext-23", 2.0),
         ("2.0-SqNxt-23v5", "squeezenext-23v5", 2.0)]

#: SqueezeNext paper, Table 3: (parameters in millions, MACs in millions).
TABLE3 = {("squeezenext-23", 1.0): (0.72, 282), ("squeezenext-23v2", 1.0): (0.74, 228),
          ("squeezenext-23v3", 1.0): (0.74, 228), ("squeezenext-23v4", 1.0): (0.77, 228),
          ("squeezenext-23v5", 1.0): (0.94, 228), ("squeezenext-23", 2.0): (2.4, 749),
          ("squeezenext-23v4", 2.0): (2.56, 708), ("squeezenext-23v5", 2.0): (3.23, 708)}


def _structure(graph):
    """Every node as (op, indices of its inputs, output shape): independent of names."""
    index = {graph.input_name: -1}
    shapes = graph.shapes()
    rows = []
    for i, n in enumerate(graph.nodes):
        index[n.name] = i
        rows.append((n.op, tuple(index[x] for x in n.inputs), shapes[n.name]))
    return rows


@pytest.mark.parametrize("fname,net,width", FILES)
@pytest.mark.parametrize("size", [227, 64])
def test_catalog_matches_the_caffe_file_layer_by_layer(shared_models, fname, net, width, size):
    ref = load_caffe_prototxt(shared_models / "squeezenext" / f"{fname}.prototxt",
                              input_size=size)
    ours, _ = FuseRelu().apply(build_net(net, NetOptions(width=width, input_size=size)))
    a, b = _structure(ref), _structure(ours)
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        assert x == y, f"node {i}: {ref.nodes[i].name} {x} != {ours.nodes[i].name} {y}"
    assert ref.mean == ours.mean and ref.input_shape == ours.input_shape
    assert ref.param_count() == ours.param_count() and ref.macs() == ours.macs()


def test_block_structure():
    g = build_net("squeezenext-23")
    block = [n for n in g.nodes if n.name.startswith("stage1/block2/")]
    convs = [n.op for n in block if isinstance(n.op, Conv2d)]
    assert [(c.out_channels, c.kernel, c.padding) for c in convs] == [
        (16, (1, 1), (0, 0)), (8, (1, 1), (0, 0)), (16, (1, 3), (0, 1)),
        (16, (3, 1), (1, 0)), (32, (1, 1), (0, 0))]
    assert block[-1].op == Add(relu=True) and block[-1].name == "stage1/block2/sum"
    assert g.node("stage1/block2/sum").inputs == ("stage1/block1/sum", "stage1/block2/expand")
    # the fully connected layer: GAP then a 1x1 conv without ReLU on (128, 1, 1)
    assert g.node("fc").inputs == ("pool_final",) and g.node("fc").op == Conv2d(1000, 1)
    assert g.shapes()["pool_final"] == (128, 1, 1)


@pytest.mark.parametrize("variant,blocks", [(2, [6, 6, 8, 1]), (3, [4, 8, 8, 1]),
                                            (4, [2, 10, 8, 1]), (5, [2, 4, 14, 1])])
def test_variants_blocks_and_conv1(variant, blocks):
    g = build_net(f"squeezenext-23v{variant}")
    counted = [sum(1 for n in g.nodes if n.name.startswith(f"stage{s}/") and
                   n.name.endswith("/sum")) for s in (1, 2, 3, 4)]
    assert counted == blocks
    assert g.node("conv1").op.kernel == (5, 5)


def test_grouped_network_groups():
    g = build_net("squeezenext-23-g")
    groups = {n.name.split("/")[-1]: n.op.groups for n in g.conv_nodes()}
    assert groups == {"conv1": 1, "proj": 1, "reduce1": 2, "reduce2": 1, "conv3x1": 2,
                      "conv1x3": 2, "expand": 1, "conv_final": 1, "fc": 1}


@pytest.mark.parametrize("net,width", sorted(TABLE3))
def test_macs_match_table3_with_batchnorm_unfolded(net, width):
    # The paper counts BatchNorm's multiply on every conv output as a MAC: with it v1, v5
    # and the 2.0 networks agree to the paper's three digits; v2-v4, which Table 3 gives
    # v5's 228M, have 228.4M-229.0M (their first blocks differ from v5's).
    _, macs = unfolded_counts(build_net(net, NetOptions(width=width)))
    rel = 0.005 if net in ("squeezenext-23v2", "squeezenext-23v3", "squeezenext-23v4") \
        else 0.001
    assert macs / 1e6 == pytest.approx(TABLE3[net, width][1], rel=rel)


@pytest.mark.parametrize("net,width", sorted(TABLE3))
def test_parameters_near_table3(net, width):
    # Caffe's count (weights, BatchNorm mean/variance, Scale gamma/beta) is within 1% of
    # Table 3 but for v1 (+1.2%) and v3 (+2.7%; Table 3 gives v2 and v3 the same 0.74M
    # though v3 moves two blocks from stage 1 to stage 2, +13,824 weights, as v4 does
    # again for +0.03M). fpgagen's folded count (one bias a channel) is below it by 3 of
    # the 4 BatchNorm values a channel. See docs/squeezenext.md.
    graph = build_net(net, NetOptions(width=width))
    params, _ = unfolded_counts(graph)
    paper = TABLE3[net, width][0] * 1e6
    tolerance = {"squeezenext-23": 0.013, "squeezenext-23v3": 0.028}.get(net, 0.01)
    if width != 1.0:
        tolerance = 0.01
    assert params == pytest.approx(paper, rel=tolerance)
    assert graph.param_count() == pytest.approx(paper, rel=0.021)


def test_v3_table3_parameters_inconsistent_with_its_blocks():
    # the documented reason for v3's tolerance, measured: v2 -> v3 and v3 -> v4 each move
    # two blocks from stage 1 (32 channels) to stage 2 (64)
    counts = [build_net(f"squeezenext-23v{v}").param_count() for v in (2, 3, 4)]
    assert counts[1] - counts[0] == counts[2] - counts[1] > 13_000


def test_names_and_options():
    assert {"squeezenext-23", "squeezenext-23v5", "squeezenext-23-g"} <= set(NET_NAMES)
    assert build_net("squeezenext").name == "squeezenext-23"
    g = build_net("squeezenext-23v5", NetOptions(input_size=64, num_classes=10, width=1.5))
    assert g.shapes()["fc"] == (10, 1, 1)
    assert g.shapes()["stage4/block1/sum"] == (384, 2, 2)
    assert build_net("squeezenext-23", NetOptions(input_size=16)).shapes()["pool1"] == \
        (64, 2, 2)
    with pytest.raises(FpgagenError, match="input size 8 is too small for squeezenext-23"):
        build_net("squeezenext-23", NetOptions(input_size=8))
    # stage 1 has 32 channels at width 1: width 0.1 leaves 3, too few for a quarter
    with pytest.raises(FpgagenError, match="width 0.1 gives stage 1 3 channels"):
        build_net("squeezenext-23", NetOptions(width=0.1))


def test_info_prints_both_counts(capsys):
    from fpgagen.cli import main

    assert main(["info", "--net", "squeezenext-23v5"]) == 0
    out = capsys.readouterr().out
    assert "stage3/block14/conv1x3" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("with BatchNorm unfolded") and "MACs per image" in last


def test_info_reads_a_prototxt(shared_models, capsys):
    from fpgagen.cli import main

    path = shared_models / "squeezenext" / "1.0-SqNxt-23.prototxt"
    assert main(["info", "--prototxt", str(path), "--json"]) == 0
    import json
    report = json.loads(capsys.readouterr().out)
    graph = build_net("squeezenext-23")
    assert report["params"] == graph.param_count() and report["macs"] == graph.macs()
    assert report["input_shape"] == [3, 227, 227]


@pytest.mark.parametrize("net", ["squeezenext-23v5", "squeezenext-23-g"])
def test_onnx_round_trip_of_a_generated_squeezenext(tmp_path, net):
    import numpy as np

    from fpgagen.frontend import export_onnx, generate_weights, load_onnx
    from fpgagen.golden.float_model import run_float

    graph = generate_weights(build_net(net, NetOptions(input_size=64)))
    export_onnx(graph, tmp_path / "sqnxt.onnx")
    back = load_onnx(tmp_path / "sqnxt.onnx", mean=graph.mean)
    x = np.random.default_rng(3).standard_normal(graph.input_shape).astype(np.float32)
    np.testing.assert_array_equal(run_float(back, x)[back.outputs[0]],
                                  run_float(graph, x)[graph.outputs[0]])
    assert [n.op for n in back.nodes] == [n.op for n in graph.nodes]  # groups, Add relu, fc
