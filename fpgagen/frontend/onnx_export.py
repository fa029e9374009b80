"""Write a float graph as an ONNX model, so that the built-in networks (and any graph the
importer accepts) can be handed to other tools or read back by
:func:`~fpgagen.frontend.onnx_import.load_onnx`."""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import __version__
from ..errors import FpgagenError
from ..ir import Add, Concat, Conv2d, GlobalAvgPool, Graph, MaxPool, Relu

__all__ = ["export_onnx", "MIN_OPSET"]

#: Oldest opset written: MaxPool's ``ceil_mode`` appeared in opset 10.
MIN_OPSET = 10


def export_onnx(graph: Graph, path, opset: int = 13) -> onnx.ModelProto:
    """Write ``graph`` and its float weights as an ONNX model.

    Conv (add) nodes with a fused ReLU become ``Conv`` (``Add``) followed by ``Relu``; the
    ``Relu`` node and its output tensor carry the IR node's name, so that :func:`load_onnx`
    (which fuses the pair again) gives back the same node names. Pools become ``MaxPool``
    (``ceil_mode`` kept) and ``GlobalAveragePool``, then ``Concat`` (axis 1), ``Add`` and
    ``Relu``; the fully connected layer (the output node, a 1x1 conv on a global average
    pool) becomes ``Flatten`` and ``Gemm`` (``transB=1``), its output ``(1, N)``. The input is a
    ``(1, C, H, W)`` float tensor called ``graph.input_name``; the output is
    ``graph.outputs[0]``. Weights are initializers named ``<node>.weight`` and
    ``<node>.bias``. The input mean (``graph.mean``) is not part of the model; pass it to
    ``load_onnx(..., mean=...)`` when reading it back.

    Parameters
    ----------
    graph : Graph
        A single-output graph with float weights attached (``graph.params``).
    path : str or Path
        The ``.onnx`` file to write.
    opset : int
        ONNX operator set version, from :data:`MIN_OPSET` to the newest the installed
        ``onnx`` package knows.

    Returns
    -------
    onnx.ModelProto
        The model written, already checked with ``onnx.checker.check_model``.

    Raises
    ------
    FpgagenError
        If the graph has no weights, several outputs, an operator without an ONNX
        equivalent, or ``opset`` is out of range.
    """
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise FpgagenError(f"ONNX opset must be an int from {MIN_OPSET} to {newest}, not "
                           f"{opset!r}")
    if len(graph.outputs) != 1:
        raise FpgagenError(f"graph {graph.name!r} has {len(graph.outputs)} outputs "
                           f"{graph.outputs}; ONNX export writes single-output graphs")
    shapes = graph.shapes()
    missing = [n.name for n in graph.conv_nodes() if n.name not in graph.params]
    if missing:
        raise FpgagenError(f"graph {graph.name!r} has no weights for conv node "
                           f"{missing[0]!r}; attach weights before exporting to ONNX")
    used = {graph.input_name, *(n.name for n in graph.nodes)}
    nodes, inits = [], []
    for node in graph.nodes:
        nodes.extend(_export_node(graph, node, used, inits))

    out = graph.outputs[0]
    out_shape = shapes[out]
    last = graph.node(out)
    if _fully_connected(graph, last):  # Gemm: (1, N)
        out_shape = out_shape[:1]
    onnx_graph = helper.make_graph(
        nodes, graph.name, inputs=[_value_info(graph.input_name, graph.input_shape)],
        outputs=[_value_info(out, out_shape)], initializer=inits)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(onnx_graph, opset_imports=opsets, producer_name="fpgagen",
                              producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(Path(path)))
    return model


def _value_info(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, *shape])


def _fresh(base: str, used: set) -> str:
    """``base``, or ``base_1``, ``base_2``... whichever is not yet a tensor name."""
    name, k = base, 1
    while name in used:
        name, k = f"{base}_{k}", k + 1
    used.add(name)
    return name


def _fully_connected(graph, node) -> bool:
    """``node`` is the graph output and a fully connected layer
    (:meth:`~fpgagen.ir.Graph.is_fully_connected`), written as ``Flatten`` and ``Gemm``."""
    return node.name == graph.outputs[0] and graph.is_fully_connected(node)


def _export_gemm(graph, node, used, inits) -> list:
    """``Flatten`` (axis 1) then ``Gemm`` (``transB=1``, the weight as ``(N, C)``), then
    ``Relu`` if fused; the last node carries the IR node's name."""
    op, name = node.op, node.name
    params = graph.params[name]
    weight = np.asarray(params["weight"], np.float32)
    w_name, b_name = _fresh(f"{name}.weight", used), _fresh(f"{name}.bias", used)
    inits.append(numpy_helper.from_array(weight.reshape(weight.shape[0], -1), w_name))
    inits.append(numpy_helper.from_array(np.asarray(params["bias"], np.float32), b_name))
    flat = _fresh(f"{name}/flatten", used)
    gemm_out = _fresh(f"{name}/gemm", used) if op.relu else name
    out = [helper.make_node("Flatten", [node.inputs[0]], [flat], name=flat, axis=1),
           helper.make_node("Gemm", [flat, w_name, b_name], [gemm_out], name=gemm_out,
                            transB=1)]
    if op.relu:
        out.append(helper.make_node("Relu", [gemm_out], [name], name=name))
    return out


def _export_node(graph, node, used, inits) -> list:
    """The ONNX node(s) of one IR node; conv weights are appended to ``inits``."""
    op, name, ins = node.op, node.name, list(node.inputs)
    if _fully_connected(graph, node):
        return _export_gemm(graph, node, used, inits)
    if isinstance(op, Conv2d):
        params = graph.params[name]
        w_name, b_name = _fresh(f"{name}.weight", used), _fresh(f"{name}.bias", used)
        inits.append(numpy_helper.from_array(np.asarray(params["weight"], np.float32), w_name))
        inits.append(numpy_helper.from_array(np.asarray(params["bias"], np.float32), b_name))
        conv_out = _fresh(f"{name}/conv", used) if op.relu else name
        ph, pw = op.padding
        conv = helper.make_node("Conv", [ins[0], w_name, b_name], [conv_out], name=conv_out,
                                kernel_shape=list(op.kernel), strides=list(op.stride),
                                pads=[ph, pw, ph, pw], group=op.groups)
        if not op.relu:
            return [conv]
        return [conv, helper.make_node("Relu", [conv_out], [name], name=name)]
    if isinstance(op, MaxPool):
        ph, pw = op.padding
        return [helper.make_node("MaxPool", ins, [name], name=name, kernel_shape=list(op.kernel),
                                 strides=list(op.stride), pads=[ph, pw, ph, pw],
                                 ceil_mode=int(op.ceil_mode))]
    if isinstance(op, Relu):
        return [helper.make_node("Relu", ins, [name], name=name)]
    if isinstance(op, GlobalAvgPool):
        return [helper.make_node("GlobalAveragePool", ins, [name], name=name)]
    if isinstance(op, Concat):
        return [helper.make_node("Concat", ins, [name], name=name, axis=1)]
    if isinstance(op, Add):
        if not op.relu:
            return [helper.make_node("Add", ins, [name], name=name)]
        add_out = _fresh(f"{name}/add", used)
        return [helper.make_node("Add", ins, [add_out], name=add_out),
                helper.make_node("Relu", [add_out], [name], name=name)]
    raise FpgagenError(f"ONNX export: no rule for {op.kind} node {name!r}")
