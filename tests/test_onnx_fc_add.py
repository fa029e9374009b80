"""ONNX import and export of the fully connected layer (``GlobalAveragePool``, ``Flatten``
or ``Reshape``, ``Gemm``) and of ``Add`` followed by ``Relu``: round trips, a hand-built
model checked against NumPy and onnx's reference evaluator, and clear refusals."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from fpgagen.errors import FpgagenError
from fpgagen.frontend import export_onnx, generate_weights, load_onnx
from fpgagen.golden.float_model import run_float
from fpgagen.ir import Add, Conv2d
from fpgagen.testing.fc_graphs import fc_add_graph

RNG = np.random.default_rng(17)


def _save(tmp_path, nodes, inits, out_shape=(1, 5)):
    graph = helper.make_graph(
        nodes, "fc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))],
        initializer=[numpy_helper.from_array(a if a.dtype == np.int64
                                             else np.asarray(a, np.float32), n)
                     for n, a in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    path = tmp_path / "fc.onnx"
    onnx.save(model, str(path))
    return path


def _gap_gemm(flatten="Flatten", trans_b=1, bias=True, alpha=1.0, beta=1.0, tail=()):
    """``x -> Conv(4, 1x1) -> GlobalAveragePool -> Flatten/Reshape -> Gemm(5) [-> tail]``."""
    w = RNG.standard_normal((4, 3, 1, 1))
    b = RNG.standard_normal(4)
    fc = RNG.standard_normal((5, 4))
    fb = RNG.standard_normal(5)
    inits = {"w": w, "b": b, "fc_w": fc if trans_b else fc.T, "shape": None}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
             helper.make_node("GlobalAveragePool", ["c"], ["g"], name="gap")]
    if flatten == "Flatten":
        nodes.append(helper.make_node("Flatten", ["g"], ["f"], name="flat", axis=1))
        del inits["shape"]
    else:
        nodes.append(helper.make_node("Reshape", ["g", "shape"], ["f"], name="flat"))
        inits["shape"] = np.array([1, -1], dtype=np.int64)
    gemm_in = ["f", "fc_w"] + (["fc_b"] if bias else [])
    if bias:
        inits["fc_b"] = fb
    out = "y" if not tail else "gemm_out"
    nodes.append(helper.make_node("Gemm", gemm_in, [out], name="fc", transB=trans_b,
                                  alpha=alpha, beta=beta))
    for k, op in enumerate(tail):
        nodes.append(helper.make_node(op, [out], ["y" if k == len(tail) - 1 else f"t{k}"],
                                      name=f"tail{k}"))
        out = f"t{k}"
    want = lambda x: (alpha * fc @ (np.einsum("oc,chw->ohw", w[:, :, 0, 0], x)
                                    + b[:, None, None]).mean(axis=(1, 2))
                      + (beta * fb if bias else 0))
    return nodes, inits, want


@pytest.mark.parametrize("flatten", ["Flatten", "Reshape"])
@pytest.mark.parametrize("trans_b,bias,alpha,beta", [(1, False, 1.0, 1.0),
                                                     (1, True, 1.0, 1.0),
                                                     (0, True, 0.5, 2.0)])
def test_gemm_after_gap_imports_as_a_1x1_conv(tmp_path, flatten, trans_b, bias, alpha, beta):
    nodes, inits, want = _gap_gemm(flatten, trans_b, bias, alpha, beta, tail=("Softmax",))
    graph = load_onnx(_save(tmp_path, nodes, inits))
    fc = graph.node("fc")
    assert fc.op == Conv2d(5, 1) and fc.inputs == ("gap",) and graph.outputs == ["fc"]
    x = RNG.standard_normal((3, 6, 6)).astype(np.float32)
    got = run_float(graph, x)["fc"]
    assert got.shape == (5, 1, 1)
    np.testing.assert_allclose(got.ravel(), want(x.astype(np.float64)), rtol=1e-4, atol=1e-5)


def test_gemm_not_on_a_flattened_gap_is_refused(tmp_path):
    nodes, inits, _ = _gap_gemm()
    nodes[2] = helper.make_node("Flatten", ["c"], ["f"], name="flat", axis=1)  # no GAP
    inits["fc_w"] = RNG.standard_normal((5, 4 * 36))
    nodes[1] = helper.make_node("Identity", ["c"], ["g"], name="gap")
    path = _save(tmp_path, nodes, inits)
    with pytest.raises(FpgagenError, match=r"Gemm node 'fc': its input 'f' has shape "
                                           r"\(1, 144\) from a \(1, 4, 6, 6\) tensor"):
        load_onnx(path)


def test_gemm_with_a_weight_of_the_wrong_shape_is_refused(tmp_path):
    nodes, inits, _ = _gap_gemm()
    inits["fc_w"] = RNG.standard_normal((5, 3))
    with pytest.raises(FpgagenError, match=r"Gemm node 'fc': weight 'fc_w' with transB=1 "
                                           r"gives a \(5, 3\) matrix, expected \(N, 4\)"):
        load_onnx(_save(tmp_path, nodes, inits))


def test_fc_and_add_relu_round_trip(tmp_path):
    graph = generate_weights(fc_add_graph(), seed=2)
    assert graph.node("sum_relu").op == Add(relu=True)
    path = tmp_path / "fc_add.onnx"
    model = export_onnx(graph, path)
    types = [n.op_type for n in model.graph.node]
    assert types[-2:] == ["Flatten", "Gemm"] and "Relu" in types
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == [1, 20]
    back = load_onnx(path, mean=graph.mean)
    assert back.nodes == graph.nodes and back.outputs == graph.outputs
    x = RNG.standard_normal(graph.input_shape).astype(np.float32)
    want = run_float(graph, x)["fc"]
    np.testing.assert_allclose(run_float(back, x)["fc"], want, rtol=1e-5, atol=1e-5)
    # onnx's own reference evaluator, independent of fpgagen, runs the exported file
    ref = ReferenceEvaluator(model).run(None, {graph.input_name: x[None]})[0]
    np.testing.assert_allclose(ref.ravel(), want.ravel(), rtol=1e-4, atol=1e-4)


def test_gemm_with_a_non_finite_weight_names_the_gemm(tmp_path):
    nodes, inits, _ = _gap_gemm()
    inits["fc_w"] = inits["fc_w"].copy()
    inits["fc_w"][2, 1] = np.nan
    with pytest.raises(FpgagenError, match=r"'fc_w' of Gemm node 'fc'"):
        load_onnx(_save(tmp_path, nodes, inits))
