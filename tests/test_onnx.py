"""ONNX import and export: round trips of the built-in networks, a hand-built model checked
against NumPy, and one clear error for every unsupported construct."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from fpgagen.errors import FpgagenError
from fpgagen.frontend import export_onnx, generate_weights, load_onnx
from fpgagen.golden.float_model import run_float
from fpgagen.ir import Conv2d, GlobalAvgPool, MaxPool
from fpgagen.nets import NetOptions, build_net

RNG = np.random.default_rng(1234)


# --- helpers ---------------------------------------------------------------------------
def _tensor(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _init(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def _save(tmp_path, nodes, inits, inputs=None, outputs=None, opset=13, name="model.onnx"):
    """Write a model reading ``x`` (1, 3, 8, 8) and producing ``y`` unless told otherwise."""
    inputs = inputs if inputs is not None else [_tensor("x", [1, 3, 8, 8])]
    outputs = outputs if outputs is not None else [_tensor("y", ["n", "c", "h", "w"])]
    graph = helper.make_graph(nodes, "test", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _conv_model(tmp_path, out="y", **conv_attrs):
    """``x -> Conv(4 filters, 3x3) -> out`` with the given Conv attributes."""
    w = RNG.standard_normal((4, 3, 3, 3))
    nodes = [helper.make_node("Conv", ["x", "w"], [out], name="conv", **conv_attrs)]
    return nodes, [_init("w", w)]


def _np_conv(x, w, b, pad):
    """Direct convolution, stride 1: ``(C, H, W)`` with ``(O, C, kh, kw)`` weights."""
    o, c, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    oh, ow = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
    out = np.zeros((o, oh, ow), np.float64) + b[:, None, None]
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("oc,chw->ohw", w[:, :, i, j], xp[:, i:i + oh, j:j + ow])
    return out


# --- round trips of the built-in networks ----------------------------------------------
@pytest.mark.parametrize("net", ["squeezenet1_1", "squeezenet1_0-simple-bypass", "zynqnet"])
def test_round_trip_of_builtin_nets(tmp_path, net):
    graph = generate_weights(build_net(net, NetOptions(input_size=64)), seed=3)
    path = tmp_path / f"{net}.onnx"
    export_onnx(graph, path)
    back = load_onnx(path, mean=graph.mean)

    assert back.name == net
    assert back.input_shape == graph.input_shape and back.mean == graph.mean
    assert back.nodes == graph.nodes  # same names, ops (relu fused again) and wiring
    assert back.outputs == graph.outputs
    x = RNG.standard_normal(graph.input_shape).astype(np.float32)
    want = run_float(graph, x)[graph.outputs[0]]
    got = run_float(back, x)[back.outputs[0]]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("net", ["squeezenet1_1", "squeezenet1_0-complex-bypass", "zynqnet"])
def test_exported_model_means_the_same_to_onnx_reference(tmp_path, net):
    # onnx's own reference evaluator, independent of fpgagen, runs the exported file.
    graph = generate_weights(build_net(net, NetOptions(input_size=48, width=0.25)))
    model = export_onnx(graph, tmp_path / "net.onnx", opset=11)
    assert model.opset_import[0].version == 11
    x = RNG.standard_normal(graph.input_shape).astype(np.float32)
    (ref,) = ReferenceEvaluator(str(tmp_path / "net.onnx")).run(None, {"data": x[None]})
    want = run_float(graph, x)[graph.outputs[0]]
    np.testing.assert_allclose(ref[0], want, rtol=1e-5, atol=1e-5)


def test_export_needs_weights(tmp_path):
    with pytest.raises(FpgagenError, match=r"no weights for conv node 'conv1'"):
        export_onnx(build_net("squeezenet1_1", NetOptions(input_size=64)), tmp_path / "a.onnx")


def test_export_rejects_bad_opset(tmp_path):
    graph = generate_weights(build_net("squeezenet1_1", NetOptions(input_size=64)))
    with pytest.raises(FpgagenError, match=r"opset .* not 9"):
        export_onnx(graph, tmp_path / "a.onnx", opset=9)


# --- a hand-built model against NumPy --------------------------------------------------
def test_hand_built_model_matches_numpy(tmp_path):
    w1, b1 = RNG.standard_normal((4, 3, 3, 3)), RNG.standard_normal(4)
    w2 = RNG.standard_normal((4, 4, 1, 1))
    w3, b3 = RNG.standard_normal((4, 4, 3, 3)), RNG.standard_normal(4)
    w4, b4 = RNG.standard_normal((8, 4, 1, 1)), RNG.standard_normal(8)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2],
                         strides=[2, 2]),  # floor mode: 9 -> 4
        helper.make_node("Conv", ["p1", "w2"], ["e1"], name="expand1"),  # no bias
        helper.make_node("Relu", ["e1"], ["e1r"], name="expand1_relu"),
        helper.make_node("Constant", [], ["w3"], name="w3_const", value=_init("w3", w3)),
        helper.make_node("Conv", ["p1", "w3", "b3"], ["e3"], name="expand3", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["e3"], ["e3r"], name="expand3_relu"),
        helper.make_node("Concat", ["e1r", "e3r"], ["cat"], name="concat", axis=1),
        helper.make_node("Conv", ["p1", "w4", "b4"], ["proj"], name="proj"),
        helper.make_node("Add", ["cat", "proj"], ["sum"], name="bypass"),
        helper.make_node("AveragePool", ["sum"], ["gap"], name="gap", kernel_shape=[4, 4]),
        helper.make_node("Dropout", ["gap"], ["drop"], name="drop"),
        helper.make_node("Flatten", ["drop"], ["flat"], name="flatten", axis=1),
        helper.make_node("Softmax", ["flat"], ["y"], name="prob", axis=1),
    ]
    inits = [_init("w1", w1), _init("b1", b1), _init("w2", w2), _init("b3", b3),
             _init("w4", w4), _init("b4", b4)]
    path = _save(tmp_path, nodes, inits, inputs=[_tensor("x", ["batch", 3, 9, 9])],
                 outputs=[_tensor("y", ["batch", 8])], name="hand.onnx")
    graph = load_onnx(path)

    assert graph.name == "hand" and graph.input_name == "x" and graph.input_shape == (3, 9, 9)
    assert graph.outputs == ["gap"]  # Dropout, Flatten and Softmax are dropped
    ops = {n.name: n.op for n in graph.nodes}
    assert ops["relu1"] == Conv2d(4, 3, padding=1, relu=True)  # conv1 -> relu1 fused
    assert ops["pool1"] == MaxPool(2, 2, 0, ceil_mode=False)
    assert ops["proj"] == Conv2d(8, 1, relu=False)
    assert ops["gap"] == GlobalAvgPool()
    np.testing.assert_array_equal(graph.params["expand1_relu"]["bias"], np.zeros(4))

    x = RNG.standard_normal((3, 9, 9))
    r1 = np.maximum(_np_conv(x, w1, b1, 1), 0)
    p1 = r1[:, :8, :8].reshape(4, 4, 2, 4, 2).max(axis=(2, 4))
    e1 = np.maximum(_np_conv(p1, w2, np.zeros(4), 0), 0)
    e3 = np.maximum(_np_conv(p1, w3, b3, 1), 0)
    total = np.concatenate([e1, e3]) + _np_conv(p1, w4, b4, 0)
    logits = total.mean(axis=(1, 2))

    got = run_float(graph, x.astype(np.float32))["gap"]
    assert got.shape == (8, 1, 1)
    np.testing.assert_allclose(got.ravel(), logits, rtol=1e-4, atol=1e-4)
    prob = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert list(np.argsort(-got.ravel())) == list(np.argsort(-prob))


def test_ceil_mode_and_mean_and_generated_names(tmp_path):
    nodes, inits = _conv_model(tmp_path, out="c")
    nodes[0].name = ""  # unnamed: gets op type + index
    nodes += [helper.make_node("MaxPool", ["c"], ["p"], name="dup", kernel_shape=[3, 3],
                               strides=[2, 2], ceil_mode=1),
              helper.make_node("Relu", ["p"], ["y"], name="dup")]  # names not unique
    graph = load_onnx(_save(tmp_path, nodes, inits), name="net", mean=(1.0, 2.0, 3.0))
    assert graph.name == "net" and graph.mean == (1.0, 2.0, 3.0)
    assert [n.name for n in graph.nodes] == ["Conv0", "MaxPool1", "Relu2"]
    assert graph.nodes[1].op.ceil_mode is True
    assert graph.shapes()["MaxPool1"] == (4, 3, 3)  # ceil((6 - 3) / 2) + 1


def test_mean_must_match_channels(tmp_path):
    nodes, inits = _conv_model(tmp_path)
    with pytest.raises(FpgagenError, match=r"mean has 2 values .* 3 channel"):
        load_onnx(_save(tmp_path, nodes, inits), mean=(1.0, 2.0))


# --- errors ------------------------------------------------------------------------------
def test_unsupported_operator_names_op_and_node(tmp_path):
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "fw"], ["y"], name="fc1")]
    path = _save(tmp_path, nodes, [_init("fw", RNG.standard_normal((192, 10)))],
                 outputs=[_tensor("y", [1, 10])])
    with pytest.raises(FpgagenError, match=r"^unsupported ONNX operator 'MatMul' at node 'fc1'$"):
        load_onnx(path)


def test_unsupported_operator_without_name_gives_index(tmp_path):
    nodes, inits = _conv_model(tmp_path, out="c")
    nodes.append(helper.make_node("Sigmoid", ["c"], ["y"]))
    with pytest.raises(FpgagenError, match=r"unsupported ONNX operator 'Sigmoid' at node '#1'"):
        load_onnx(_save(tmp_path, nodes, inits))


def test_asymmetric_pads(tmp_path):
    nodes, inits = _conv_model(tmp_path, pads=[0, 0, 1, 1])
    with pytest.raises(FpgagenError, match=r"Conv node 'conv': asymmetric pads \[0, 0, 1, 1\]"):
        load_onnx(_save(tmp_path, nodes, inits))


def test_grouped_conv_that_does_not_divide_the_channels(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="dw", group=3)]
    inputs = [_tensor("x", [1, 4, 8, 8])]
    path = _save(tmp_path, nodes, [_init("w", np.ones((6, 1, 3, 3)))], inputs=inputs)
    with pytest.raises(FpgagenError, match=r"Conv node 'dw': group=3 does not divide its "
                                           r"4 input and 6 output channels"):
        load_onnx(path)


def test_dilated_conv(tmp_path):
    nodes, inits = _conv_model(tmp_path, dilations=[2, 2])
    with pytest.raises(FpgagenError, match=r"Conv node 'conv': dilations \[2, 2\] .*not supported"):
        load_onnx(_save(tmp_path, nodes, inits))


def test_auto_pad_same(tmp_path):
    nodes, inits = _conv_model(tmp_path, auto_pad="SAME_UPPER")
    with pytest.raises(FpgagenError, match=r"Conv node 'conv': auto_pad=SAME_UPPER"):
        load_onnx(_save(tmp_path, nodes, inits))


def test_nan_weight_names_tensor(tmp_path):
    nodes, inits = _conv_model(tmp_path)
    w = numpy_helper.to_array(inits[0]).copy()
    w[1, 2, 0, 1] = np.nan
    with pytest.raises(FpgagenError, match=r"tensor 'w' of Conv node 'conv' holds 1 NaN/Inf "
                                           r"value\(s\), first at index \(1, 2, 0, 1\): nan"):
        load_onnx(_save(tmp_path, nodes, [_init("w", w)]))


def test_weight_must_be_constant(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Conv", ["x", "r"], ["y"], name="conv")]
    with pytest.raises(FpgagenError, match=r"Conv node 'conv': weight 'r' is not an initializer"):
        load_onnx(_save(tmp_path, nodes, []))


def test_concat_axis_2(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Concat", ["x", "r"], ["y"], name="cat", axis=2)]
    with pytest.raises(FpgagenError, match=r"Concat node 'cat': axis 2 is not supported"):
        load_onnx(_save(tmp_path, nodes, []))


def test_add_with_broadcast(tmp_path):
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["g"], name="gap"),
             helper.make_node("Add", ["x", "g"], ["y"], name="add")]
    with pytest.raises(FpgagenError, match=r"Add node 'add': .*broadcasting is not supported"):
        load_onnx(_save(tmp_path, nodes, []))


def test_average_pool_not_over_whole_input(tmp_path):
    nodes = [helper.make_node("AveragePool", ["x"], ["y"], name="avg", kernel_shape=[2, 2],
                              strides=[2, 2])]
    with pytest.raises(FpgagenError, match=r"AveragePool node 'avg': kernel \[2, 2\] .* 8x8 "
                                           r"input is not a global average"):
        load_onnx(_save(tmp_path, nodes, []))


def test_padded_average_pool_over_whole_input(tmp_path):
    nodes = [helper.make_node("AveragePool", ["x"], ["y"], name="avg", kernel_shape=[8, 8],
                              pads=[1, 1, 1, 1])]
    with pytest.raises(FpgagenError, match=r"AveragePool node 'avg': .*pads \[1, 1, 1, 1\]"):
        load_onnx(_save(tmp_path, nodes, []))


def test_two_graph_inputs(tmp_path):
    nodes = [helper.make_node("Add", ["x", "z"], ["y"], name="add")]
    inputs = [_tensor("x", [1, 3, 8, 8]), _tensor("z", [1, 3, 8, 8])]
    with pytest.raises(FpgagenError, match=r"exactly one input, found 2: \['x', 'z'\]"):
        load_onnx(_save(tmp_path, nodes, [], inputs=inputs))


def test_two_graph_outputs(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu"),
             helper.make_node("Relu", ["y"], ["z"], name="relu2")]
    outputs = [_tensor("y", [1, 3, 8, 8]), _tensor("z", [1, 3, 8, 8])]
    with pytest.raises(FpgagenError, match=r"exactly one output, found 2"):
        load_onnx(_save(tmp_path, nodes, [], outputs=outputs))


def test_dynamic_input_shape(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    inputs = [_tensor("x", [1, 3, "height", "width"])]
    with pytest.raises(FpgagenError, match=r"input 'x' has shape \(1, 3, height, width\)"):
        load_onnx(_save(tmp_path, nodes, [], inputs=inputs))


def test_batch_of_two(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    with pytest.raises(FpgagenError, match=r"input 'x' has shape \(2, 3, 8, 8\)"):
        load_onnx(_save(tmp_path, nodes, [], inputs=[_tensor("x", [2, 3, 8, 8])]))


def test_flatten_in_the_middle(tmp_path):
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat"),
             helper.make_node("Relu", ["f"], ["y"], name="relu")]
    with pytest.raises(FpgagenError, match=r"Relu node 'relu' reads 'f', an output of Flatten "
                                           r"node 'flat'; .* only supported at the end"):
        load_onnx(_save(tmp_path, nodes, []))


def test_softmax_that_would_change_ranking(tmp_path):
    nodes = [helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=1)]
    with pytest.raises(FpgagenError, match=r"Softmax node 'sm' normalizes over axis 1 .* 64 "
                                           r"separate groups"):
        load_onnx(_save(tmp_path, nodes, []))


def test_ceil_mode_agrees_with_onnx_reference(tmp_path):
    # After a 3x3 conv, 6x6 pooled by (2, 1) windows with stride 3: ceil((6 - k) / 3) + 1 = 3
    # windows, but the 3rd would start at 6, outside the input; ONNX (like PyTorch) drops
    # it, and so must the IR.
    nodes, inits = _conv_model(tmp_path, out="c")
    nodes.append(helper.make_node("MaxPool", ["c"], ["y"], name="mp", kernel_shape=[2, 1],
                                  strides=[3, 3], ceil_mode=1))
    path = _save(tmp_path, nodes, inits)
    graph = load_onnx(path)
    x = RNG.standard_normal((3, 8, 8)).astype(np.float32)
    (ref,) = ReferenceEvaluator(str(path)).run(None, {"x": x[None]})
    got = run_float(graph, x)["mp"]
    assert got.shape == ref.shape[1:] == (4, 2, 2)
    np.testing.assert_allclose(got, ref[0], rtol=1e-5, atol=1e-5)


def test_file_that_is_not_onnx(tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(bytes(range(256)) * 4 + b"definitely not a protobuf")
    with pytest.raises(FpgagenError, match=r"(cannot read '.*garbage\.onnx' as|"
                                           r"'.*garbage\.onnx' is not a valid) an? ONNX "):
        load_onnx(path)


def test_missing_file(tmp_path):
    with pytest.raises(FpgagenError, match=r"ONNX file not found: .*nothing\.onnx"):
        load_onnx(tmp_path / "nothing.onnx")


# --- group convolution and 3x1 / 1x3 kernels ---------------------------------------------
def test_grouped_nonsquare_conv_matches_onnx_reference(tmp_path):
    """A grouped 3x1 (pads ``[1, 0, 1, 0]``) then a 1x3 of stride 2 (pads ``[0, 1, 0,
    1]``): fpgagen's float model of the import equals onnx's reference evaluator."""
    w1, b1 = RNG.standard_normal((6, 2, 3, 1)), RNG.standard_normal(6)
    w2 = RNG.standard_normal((4, 3, 1, 3))
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["a"], name="g3x1", group=2,
                              kernel_shape=[3, 1], pads=[1, 0, 1, 0]),
             helper.make_node("Relu", ["a"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "w2"], ["y"], name="g1x3", group=2,
                              kernel_shape=[1, 3], strides=[2, 2], pads=[0, 1, 0, 1])]
    path = _save(tmp_path, nodes, [_init("w1", w1), _init("b1", b1), _init("w2", w2)],
                 inputs=[_tensor("x", [1, 4, 8, 8])])
    graph = load_onnx(path)
    ops = {n.name: n.op for n in graph.nodes}
    assert ops["relu"] == Conv2d(6, (3, 1), 1, (1, 0), True, 2)
    assert ops["g1x3"] == Conv2d(4, (1, 3), 2, (0, 1), False, 2)
    x = RNG.standard_normal((4, 8, 8)).astype(np.float32)
    (ref,) = ReferenceEvaluator(str(path)).run(None, {"x": x[None]})
    np.testing.assert_allclose(run_float(graph, x)["g1x3"], ref[0], rtol=1e-5, atol=1e-5)


def test_group_zoo_round_trip_and_reference(tmp_path):
    from fpgagen.testing.group_graphs import group_zoo
    graph = generate_weights(group_zoo(12), seed=5)
    path = tmp_path / "group_zoo.onnx"
    export_onnx(graph, path)
    back = load_onnx(path, mean=graph.mean)
    # the import keeps what the output reads: the 5x5/2 first conv, the grouped 1x1
    ours = {n.name: n for n in graph.nodes}
    assert [n.name for n in back.nodes] == ["conv5x5s2", "stem16", "wide32", "g2_1x1_c32",
                                            "end", "gap"]
    assert all(n == ours[n.name] for n in back.nodes)
    x = RNG.standard_normal(graph.input_shape).astype(np.float32)
    (ref,) = ReferenceEvaluator(str(path)).run(None, {"data": x[None]})
    want = run_float(graph, x)[graph.outputs[0]]
    np.testing.assert_allclose(ref[0], want, rtol=1e-5, atol=1e-5)


def test_pads_differing_top_and_bottom_of_a_3x1(tmp_path):
    w = RNG.standard_normal((4, 3, 3, 1))
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="c3x1", kernel_shape=[3, 1],
                              pads=[1, 0, 0, 0])]
    with pytest.raises(FpgagenError, match=r"Conv node 'c3x1': asymmetric pads "
                                           r"\[1, 0, 0, 0\]"):
        load_onnx(_save(tmp_path, nodes, [_init("w", w)]))
