"""A SqueezeNext block as an ONNX model with its BatchNorms unfolded (Conv -> BatchNormalization
-> Relu, a 3x1 in two groups and a 1x3 with padding on one axis each, the sum with the
block input and its ReLU, GlobalAveragePool -> Flatten -> Gemm without bias), imported by
fpgagen (the BatchNorms folded into the convolutions at import), run on the generated
hardware: the float model of the folded graph equals ONNX's reference evaluator on the
unfolded model, the hardware equals the golden model bit for bit, and every instruction
takes the cycles the model predicts (8x8 in the default run, 16x16 slow)."""

import numpy as np
import pytest

from fpgagen.golden.float_model import bgr_to_float_chw, run_float
from fpgagen.hw import HwParams
from fpgagen.ir import Add, Conv2d
from fpgagen.passes import quantize
from fpgagen.sim.simulate import simulate_image

from .conftest import BUILD_ROOT

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

SIZE = 20
MEAN = (104.0, 117.0, 123.0)
CLASSES = 12
ARRAYS = ["8x8", pytest.param("16x16", marks=pytest.mark.slow)]


def _block_model(rng):
    """The ONNX model: stem conv 3x3/2 (16), then one SqueezeNext block of 16 channels."""
    inits, nodes = [], []

    def conv_bn(name, x, cin, cout, kernel, pads, stride=1, group=1, relu=True):
        w = rng.standard_normal((cout, cin // group, *kernel)) * np.sqrt(2 / (cin // group
                                                                           * np.prod(kernel)))
        stats = dict(g=rng.uniform(0.6, 1.4, cout), b=rng.normal(0.1, 0.2, cout),
                     m=rng.normal(0.0, 0.3, cout), v=rng.uniform(0.3, 2.0, cout))
        inits.append(numpy_helper.from_array(w.astype(np.float32), f"{name}_w"))
        for k, v in stats.items():
            inits.append(numpy_helper.from_array(v.astype(np.float32), f"{name}_{k}"))
        nodes.append(helper.make_node("Conv", [x, f"{name}_w"], [f"{name}_c"], name=name,
                                      kernel_shape=list(kernel), pads=pads,
                                      strides=[stride, stride], group=group))
        nodes.append(helper.make_node(
            "BatchNormalization", [f"{name}_c", *(f"{name}_{k}" for k in "gbmv")],
            [f"{name}_bn"], name=f"{name}_bn", epsilon=1e-5))
        if not relu:
            return f"{name}_bn"
        nodes.append(helper.make_node("Relu", [f"{name}_bn"], [f"{name}_r"],
                                      name=f"{name}_relu"))
        return f"{name}_r"

    a = conv_bn("stem", "x", 3, 16, (3, 3), [1, 1, 1, 1], stride=2)
    y = conv_bn("reduce1", a, 16, 8, (1, 1), [0, 0, 0, 0])
    y = conv_bn("reduce2", y, 8, 8, (1, 1), [0, 0, 0, 0])
    y = conv_bn("conv3x1", y, 8, 16, (3, 1), [1, 0, 1, 0], group=2)
    y = conv_bn("conv1x3", y, 16, 16, (1, 3), [0, 1, 0, 1])
    y = conv_bn("expand", y, 16, 16, (1, 1), [0, 0, 0, 0], relu=False)
    nodes += [helper.make_node("Add", [a, y], ["sum"], name="sum"),
              helper.make_node("Relu", ["sum"], ["sum_r"], name="sum_relu"),
              helper.make_node("GlobalAveragePool", ["sum_r"], ["gap"], name="gap"),
              helper.make_node("Flatten", ["gap"], ["flat"], name="flat"),
              helper.make_node("Gemm", ["flat", "fc_w"], ["y"], name="fc", transB=1)]
    inits.append(numpy_helper.from_array(
        (rng.standard_normal((CLASSES, 16)) * 0.5).astype(np.float32), "fc_w"))
    graph = helper.make_graph(
        nodes, "sqnxt_block",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, CLASSES])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    onnx.checker.check_model(model)
    return model


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    from fpgagen.frontend import load_onnx

    model = _block_model(np.random.default_rng(17))
    path = tmp_path_factory.mktemp("onnx") / "sqnxt_block.onnx"
    onnx.save(model, str(path))
    return model, load_onnx(path, mean=MEAN)


def test_batchnorm_folded_at_import_matches_the_unfolded_model(imported):
    model, graph = imported
    kinds = [type(n.op) for n in graph.nodes]
    assert "BatchNormalization" not in str(kinds) and kinds.count(Conv2d) == 7
    assert graph.node("conv3x1_relu").op.groups == 2
    assert graph.node("conv3x1_relu").op.padding == (1, 0)
    assert graph.node("conv1x3_relu").op.padding == (0, 1)
    assert graph.node("sum_relu").op == Add(relu=True)
    image = np.random.default_rng(3).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    x = bgr_to_float_chw(image, MEAN)
    want = ReferenceEvaluator(model).run(None, {"x": x[None]})[0][0]
    got = run_float(graph, x)[graph.outputs[0]].ravel()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("array", ARRAYS)
def test_onnx_block_bit_exact_on_the_hardware(imported, array):
    _, graph = imported
    side = int(array.split("x")[0])
    rng = np.random.default_rng(5)
    calib = rng.integers(0, 256, (4, SIZE, SIZE, 3), dtype=np.uint8)
    qgraph = quantize(graph, calibration_images=calib)
    image = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    report = simulate_image(qgraph, HwParams(pe_rows=side, pe_cols=side), image,
                            BUILD_ROOT / f"onnx_sqnxt_block_{array}")
    np.testing.assert_array_equal(report.scores, report.golden)
    assert report.bit_exact and np.unique(report.scores).size > CLASSES // 2
    np.testing.assert_array_equal(report.instruction_cycles,
                                  [l.cycles_predicted for l in report.program.layers])
    ops = [f.op.name for f in report.program.instructions]
    assert ops.count("ADD") == 1 and ops[-1] == "CONV"  # the sum; the fully connected conv
