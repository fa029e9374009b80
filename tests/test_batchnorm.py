"""BatchNorm folding: the folded conv against conv -> BatchNorm computed directly, Caffe's
statistics, ONNX BatchNormalization at import, and the generated weights of SqueezeNext."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from fpgagen.errors import FpgagenError
from fpgagen.frontend import load_onnx
from fpgagen.frontend.batchnorm import caffe_batchnorm_stats, fold_batchnorm
from fpgagen.frontend.generated import generate_weights
from fpgagen.golden.float_model import bgr_to_float_chw, run_float
from fpgagen.golden.int_model import run_int, scores
from fpgagen.nets import NetOptions, build_net
from fpgagen.passes.calibrate import generated_calibration_images
from fpgagen.passes.quantize import quantize

RNG = np.random.default_rng(77)


def _conv_direct(x, w, b, stride, pad):
    """Direct float64 convolution of ``(C, H, W)`` by ``(O, C, kh, kw)``."""
    o, c, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (xp.shape[1] - kh) // stride + 1
    ow = (xp.shape[2] - kw) // stride + 1
    out = np.zeros((o, oh, ow)) + b[:, None, None]
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i:i + stride * oh:stride, j:j + stride * ow:stride]
            out += np.einsum("oc,chw->ohw", w[:, :, i, j], patch)
    return out


def _bn_direct(y, mean, var, gamma, beta, eps):
    out = np.empty_like(y)
    for c in range(y.shape[0]):
        out[c] = gamma[c] * (y[c] - mean[c]) / np.sqrt(var[c] + eps) + beta[c]
    return out


@pytest.mark.parametrize("kernel,pad,stride", [((3, 3), (1, 1), 1), ((3, 1), (1, 0), 1),
                                               ((1, 3), (0, 1), 2), ((1, 1), (0, 0), 2)])
def test_folded_conv_equals_conv_then_batchnorm(kernel, pad, stride):
    x = RNG.standard_normal((5, 9, 8))
    w = RNG.standard_normal((6, 5, *kernel))
    b = RNG.standard_normal(6)
    mean, var = RNG.standard_normal(6), RNG.uniform(0.1, 3, 6)
    gamma, beta = RNG.uniform(0.3, 2, 6), RNG.standard_normal(6)
    ref = _bn_direct(_conv_direct(x, w, b, stride, pad), mean, var, gamma, beta, 1e-3)
    wf, bf = fold_batchnorm(w, b, mean, var, gamma, beta, eps=1e-3)
    got = _conv_direct(x, wf.astype(np.float64), bf.astype(np.float64), stride, pad)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_conv_without_bias_and_batchnorm_without_scale():
    w = RNG.standard_normal((3, 2, 1, 1))
    wf, bf = fold_batchnorm(w, None, [1.0, 2.0, 3.0], [4.0, 1.0, 0.25], eps=0.0)
    np.testing.assert_allclose(wf[:, :, 0, 0], w[:, :, 0, 0] / np.array([[2.0], [1.0], [0.5]]),
                               rtol=1e-6)
    np.testing.assert_allclose(bf, [-0.5, -2.0, -6.0])


def test_caffe_statistics_divide_by_the_factor():
    mean, var = caffe_batchnorm_stats([2.0, 4.0], [8.0, 2.0], [2.0])
    np.testing.assert_allclose(mean, [1.0, 2.0])
    np.testing.assert_allclose(var, [4.0, 1.0])
    mean, var = caffe_batchnorm_stats([2.0], [8.0], [0.0])
    assert mean.tolist() == [0.0] and var.tolist() == [0.0]


@pytest.mark.parametrize("kwargs,match", [
    (dict(mean=np.zeros(2)), "mean has 2 values, the convolution has 3"),
    (dict(var=-np.ones(3)), "variance -1.0"),
    (dict(gamma=np.array([1.0, np.nan, 1.0])), "gamma has non-finite"),
])
def test_bad_statistics_are_reported(kwargs, match):
    args = dict(weight=np.ones((3, 1, 1, 1)), bias=None, mean=np.zeros(3), var=np.ones(3))
    args.update(kwargs)
    with pytest.raises(FpgagenError, match=match):
        fold_batchnorm(**args)


def _onnx_bn_model(tmp_path, eps=1e-3):
    w = RNG.standard_normal((4, 3, 3, 1)).astype(np.float32)
    stats = [RNG.uniform(0.5, 1.5, 4), RNG.standard_normal(4), RNG.standard_normal(4),
             RNG.uniform(0.2, 2.0, 4)]
    inits = [numpy_helper.from_array(w, "w")] + [
        numpy_helper.from_array(np.asarray(a, np.float32), n)
        for n, a in zip(("g", "b", "m", "v"), stats)]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 0, 1, 0]),
             helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["bn"],
                              name="bn", epsilon=eps),
             helper.make_node("Relu", ["bn"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "bn", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 3, 8, 8])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [1, 4, 8, 8])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    onnx.checker.check_model(model)
    path = tmp_path / "bn.onnx"
    onnx.save(model, str(path))
    return path, model


def test_onnx_batchnorm_is_folded_at_import(tmp_path):
    path, model = _onnx_bn_model(tmp_path)
    graph = load_onnx(path)
    assert [n.op.kind for n in graph.nodes] == ["conv2d"] and graph.nodes[0].op.relu
    assert graph.nodes[0].op.padding == (1, 0)
    x = RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)
    ref = ReferenceEvaluator(model).run(None, {"x": x})[0][0]
    got = run_float(graph, x[0])[graph.outputs[0]]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_onnx_batchnorm_not_after_a_conv_is_refused(tmp_path):
    path, model = _onnx_bn_model(tmp_path)
    nodes = list(model.graph.node)
    nodes[1].input[0] = "x"  # normalize the input instead of the conv output
    del model.graph.node[:]
    model.graph.node.extend([nodes[1], helper.make_node("Relu", ["bn"], ["y"])])
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 3
    onnx.save(model, str(path))
    with pytest.raises(FpgagenError, match="only be folded into the Conv"):
        load_onnx(path)


@pytest.mark.parametrize("net", ["squeezenext-23", "squeezenext-23v5", "squeezenext-23-g"])
def test_generated_squeezenext_weights_keep_activations_sane(net):
    graph = generate_weights(build_net(net, NetOptions(input_size=64)))
    # every conv but the classifier has a folded BatchNorm: per-channel biases, not the
    # plain generator's N(0.05, 0.02); the classifier has none
    biases = graph.params["stage2/block1/reduce1"]["bias"]
    assert biases.std() > 0.05 and not graph.params["fc"]["bias"].any()
    images = generated_calibration_images(graph, count=3, seed=99)
    for image in images:
        env = run_float(graph, bgr_to_float_chw(image, graph.mean), keep_all=True)
        logits = env["fc"].ravel()
        assert np.isfinite(logits).all() and 0.1 < logits.std() < 1000
        assert max(float(np.abs(v).max()) for k, v in env.items() if k != "data") < 1e4


def test_generated_squeezenext_runs_in_the_int_golden_model():
    # Add -> Relu stays two nodes until the Add with fused ReLU exists: the golden model
    # runs the separate Relu. The int8 model follows the float one (correlation of the
    # logits measured 0.63-0.81 at 64x64, 0.957-0.975 at 227x227: quantization noise grows
    # through 21 residual blocks) and saturates few values of any tensor.
    graph = generate_weights(build_net("squeezenext-23v5", NetOptions(input_size=64)))
    q = quantize(graph)
    for image in generated_calibration_images(graph, count=2, seed=5):
        ref = run_float(graph, bgr_to_float_chw(image, graph.mean))["fc"].ravel()
        env = run_int(q, image, keep_all=True)
        got = scores(q, env["fc"]).ravel()
        assert np.isfinite(got).all() and np.corrcoef(ref, got)[0, 1] > 0.6
        for name, codes in env.items():
            t = q.quant.types.get(name)
            if name not in ("data", "fc") and t is not None:
                low = codes <= t.min if t.signed else np.zeros(codes.shape, bool)
                assert np.mean(low | (codes >= t.max)) < 0.05, name
