"""Import a SqueezeNet-family network (topology and float weights) from an ONNX file.

Only the operators the accelerator implements are accepted, plus a few that carry no
computation at inference time; everything else is reported as one clear
:class:`~fpgagen.errors.FpgagenError` naming the operator and the node.
"""

import math
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from ..errors import FpgagenError
from .files import require_file
from ..ir import Add, Concat, Conv2d, GlobalAvgPool, Graph, MaxPool, Node, Relu
from ..passes.fuse_relu import FuseRelu
from .batchnorm import fold_batchnorm
from .npz import check_param_values, npz_key, warn_zero_weights

__all__ = ["load_onnx", "SUPPORTED_OPS"]

#: Operators that become IR nodes.
_COMPUTE_OPS = ("Conv", "Relu", "MaxPool", "Concat", "Add", "GlobalAveragePool",
                "AveragePool", "Gemm")
#: Operators that are the identity at inference time (aliased, no IR node).
_IDENTITY_OPS = ("Dropout", "Identity")
#: Operators accepted only at the end of the graph; the IR output is the tensor before them.
_TAIL_OPS = ("Flatten", "Reshape", "Softmax")
#: Operators folded into the Conv before them (no IR node).
_FOLDED_OPS = ("BatchNormalization",)

#: Every ONNX operator type :func:`load_onnx` accepts (default domain only).
SUPPORTED_OPS = (*_COMPUTE_OPS, *_IDENTITY_OPS, *_TAIL_OPS, *_FOLDED_OPS, "Constant")

_FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
                onnx.TensorProto.BFLOAT16)


def load_onnx(path, name: str | None = None, mean=(0.0, 0.0, 0.0)) -> Graph:
    """Read the topology and float weights of an ONNX model into a :class:`Graph`.

    The model must have one batch-1 NCHW float input of static channel, height and width
    (the batch dimension may be 1 or symbolic) and one output. Supported operators:

    - ``Conv`` (2-D, any ``group`` that divides its channels, ``dilations=1``, symmetric
      ``pads`` (each axis may differ: ``[1, 0, 1, 0]`` for a 3x1), ``auto_pad`` NOTSET or
      VALID; weight and optional bias from initializers or ``Constant`` nodes),
    - ``BatchNormalization`` (inference mode) directly after a ``Conv`` that nothing else
      reads: folded into the conv's weights and bias
      (:func:`~fpgagen.frontend.batchnorm.fold_batchnorm`),
    - ``Relu`` (fused into the preceding conv or add when it is its only reader),
    - ``MaxPool`` (symmetric ``pads``, ``ceil_mode`` kept: ``ceil_mode=0`` is the IR's floor
      mode ``MaxPool(ceil_mode=False)``),
    - ``Concat`` along channels (``axis=1``), ``Add`` of two tensors of equal shape (no
      broadcasting),
    - ``GlobalAveragePool``, and ``AveragePool`` whose unpadded kernel covers the whole input
      (it is a global average pool),
    - ``Gemm`` on the flattened ``(1, C)`` output of a global average pool (after
      ``Flatten`` or ``Reshape``), the fully connected layer: ``transA=0``, weight ``B``
      of shape ``(N, C)`` with ``transB=1`` (or ``(C, N)`` with ``transB=0``), optional
      constant bias ``C`` broadcast to ``(N,)``, ``alpha`` and ``beta`` folded into them;
      it becomes the 1x1 ``Conv2d(N, 1)`` on the ``(C, 1, 1)`` tensor, and its output
      ``(1, N)`` may be followed by the end-of-graph operators,
    - ``Dropout`` and ``Identity`` (the identity at inference),
    - ``Flatten``, ``Reshape`` and ``Softmax`` at the end of the graph only: the IR output is
      the tensor before them. Flatten and Reshape do not change the values. Softmax is
      dropped because it is strictly increasing, so the class ranking (top-1, top-5) of the
      logits is that of the probabilities; it is refused when it normalizes over groups
      smaller than the whole output, where dropping it would change the ranking.

    Conv weights and biases are checked like ``.npz`` weights
    (:func:`~fpgagen.frontend.npz.check_param_values`: real, finite, magnitude below
    ``MAX_ABS_PARAM``), and one warning is logged when a weight tensor is all zero.

    IR node names are the ONNX node names when unique and non-empty, else the op type
    followed by the node's index (``Conv3``); as everywhere in the IR, a tensor carries the
    name of the node producing it, so ``graph.outputs[0]`` is the name of the node behind the
    ONNX output, not the ONNX tensor name. After import, ``conv -> relu`` and ``add -> relu``
    pairs are fused
    (:class:`~fpgagen.passes.fuse_relu.FuseRelu`; the fused node takes the relu's name) and
    nodes that do not contribute to the output are dropped.

    Parameters
    ----------
    path : str or Path
        The ``.onnx`` file (external data, if any, next to it).
    name : str, optional
        Graph name; defaults to the file stem.
    mean : sequence of float
        Per input channel value subtracted from the raw pixels before the network (not part
        of ONNX models). One value is used for every channel; all-zero means no mean.

    Returns
    -------
    Graph
        The network with ``params`` holding float32 weights and biases of every conv node.

    Raises
    ------
    FpgagenError
        If the file cannot be read as an ONNX model or the model uses an operator, attribute
        or value the accelerator does not support; the message names the node or tensor.
    """
    path = Path(path)
    model = _read_model(path)
    graph = _Importer(model, name or path.stem, mean).run()
    warn_zero_weights({npz_key(n, "weight"): p["weight"] for n, p in graph.params.items()},
                      str(path))
    return graph


def _read_model(path: Path) -> onnx.ModelProto:
    require_file(path, name="ONNX file", expected="a file")
    try:
        model = onnx.load(str(path))
    except (DecodeError, OSError, ValueError, RuntimeError) as e:
        raise FpgagenError(f"cannot read {str(path)!r} as an ONNX model: "
                           f"{_first_line(e) or type(e).__name__}") from None
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError, RuntimeError) as e:
        raise FpgagenError(f"{str(path)!r} is not a valid ONNX model: {_first_line(e)}") from None
    return model


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else ""


class _Importer:
    """One import: walks the ONNX nodes in order and collects IR nodes and parameters."""

    def __init__(self, model: onnx.ModelProto, name: str, mean):
        self.model = model
        self.g = model.graph
        self.name = name
        self.mean = mean
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                          1)
        self.consts = {}  # ONNX tensor -> ndarray (initializers, Constant outputs)
        self.ir_of = {}  # ONNX tensor -> IR tensor
        self.tail = {}  # ONNX tensor -> (IR tensor, ONNX shape, name of the first tail node)
        self.shapes = {}  # IR tensor -> (C, H, W)
        self.flat = {}  # ONNX tensor -> its 2-D shape (1, N) (a Gemm output)
        self.nodes = []
        self.params = {}
        self.used_names = set()
        self.node_names = []  # IR name of each ONNX node
        self.folded_bn = set()  # IR convs a BatchNormalization was folded into

    # --- driver ----------------------------------------------------------------------
    def run(self) -> Graph:
        if len(self.g.output) != 1:
            raise FpgagenError(f"the ONNX graph must have exactly one output, found "
                               f"{len(self.g.output)}: {[o.name for o in self.g.output]}")
        for init in self.g.initializer:
            self.consts[init.name] = numpy_helper.to_array(init)
        input_name, input_shape = self._graph_input()
        mean = self._mean(input_name, input_shape[0])
        self.ir_of[input_name] = input_name
        self.shapes[input_name] = input_shape
        self.used_names.add(input_name)
        self.node_names = self._node_names()
        for index, node in enumerate(self.g.node):
            self._convert(index, node)
        output = self._graph_output()
        nodes, params = self._prune(output)
        graph = Graph(self.name, input_shape, nodes, [output], input_name=input_name,
                      params=params, mean=mean)
        graph, _ = FuseRelu().apply(graph)
        graph.shapes()
        return graph

    def _graph_input(self):
        inits = set(self.consts)
        inputs = [i for i in self.g.input if i.name not in inits]
        if len(inputs) != 1:
            raise FpgagenError(f"the ONNX graph must have exactly one input, found "
                               f"{len(inputs)}: {[i.name for i in inputs]}")
        vi = inputs[0]
        ttype = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
        if ttype is None or ttype.elem_type not in _FLOAT_TYPES:
            elem = onnx.TensorProto.DataType.Name(ttype.elem_type) if ttype else "non-tensor"
            raise FpgagenError(f"graph input {vi.name!r} has type {elem}, expected a float "
                               "tensor")
        dims = ([d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                 for d in ttype.shape.dim] if ttype.HasField("shape") else None)
        shown = "unknown" if dims is None else "(" + ", ".join(str(d) for d in dims) + ")"
        ok = (dims is not None and len(dims) == 4 and (dims[0] == 1 or isinstance(dims[0], str))
              and all(isinstance(d, int) and d > 0 for d in dims[1:]))
        if not ok:
            raise FpgagenError(f"graph input {vi.name!r} has shape {shown}; expected a static "
                               "NCHW shape (1, C, H, W) with batch 1")
        return vi.name, tuple(dims[1:])

    def _graph_output(self) -> str:
        name = self.g.output[0].name
        if name in self.tail:
            ir = self.tail[name][0]
        elif name in self.ir_of:
            ir = self.ir_of[name]
        else:
            raise FpgagenError(f"graph output {name!r} is not computed from the input")
        if ir not in {n.name for n in self.nodes}:
            raise FpgagenError(f"graph output {name!r} is the graph input: nothing to compute")
        return ir

    def _node_names(self) -> list[str]:
        names = [n.name for n in self.g.node]
        counts = {}
        for n in names:
            counts[n] = counts.get(n, 0) + 1
        out = []
        for index, node in enumerate(self.g.node):
            base = node.name if node.name and counts[node.name] == 1 else f"{node.op_type}{index}"
            unique, k = base, 1
            while unique in self.used_names:
                unique, k = f"{base}_{k}", k + 1
            self.used_names.add(unique)
            out.append(unique)
        return out

    def _mean(self, input_name, channels):
        mean = tuple(float(m) for m in np.asarray(self.mean, dtype=np.float64).ravel())
        if all(m == 0.0 for m in mean):
            return (0.0,) * channels
        if len(mean) == 1:
            return mean * channels
        if len(mean) != channels:
            raise FpgagenError(f"mean has {len(mean)} values {mean} but input {input_name!r} "
                               f"has {channels} channel(s)")
        return mean

    def _prune(self, output):
        """Keep the nodes the output depends on (dead branches are not hardware)."""
        needed, producers = {output}, {n.name: n for n in self.nodes}
        for node in reversed(self.nodes):
            if node.name in needed:
                needed.update(i for i in node.inputs if i in producers)
        nodes = [n for n in self.nodes if n.name in needed]
        return nodes, {k: v for k, v in self.params.items() if k in needed}

    # --- node conversion ---------------------------------------------------------------
    def _convert(self, index, node):
        label = node.name or f"#{index}"
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise FpgagenError(f"unsupported ONNX operator '{node.domain}.{op}' at node "
                               f"'{label}'")
        if op not in SUPPORTED_OPS:
            raise FpgagenError(f"unsupported ONNX operator '{op}' at node '{label}'")
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if op == "Constant":
            self._constant(node, label, attrs)
        elif op in _IDENTITY_OPS:
            self._alias(node, label, node.input[0])
        elif op in _TAIL_OPS:
            self._tail_op(node, label, attrs)
        elif op in _FOLDED_OPS:
            self._batchnorm(node, label, attrs)
        elif op == "Concat" and len([i for i in node.input if i]) == 1:
            self._alias(node, label, node.input[0])
        else:
            ir_name = self.node_names[index]
            ir_op, ir_inputs = getattr(self, f"_op_{op}")(node, label, attrs, ir_name)
            shape = ir_op.infer_shape(ir_name, [self.shapes[i] for i in ir_inputs])
            self.nodes.append(Node(ir_name, ir_op, ir_inputs))
            self.shapes[ir_name] = shape
            self.ir_of[node.output[0]] = ir_name
            if op == "Gemm":
                self.flat[node.output[0]] = (1, shape[0])

    def _data(self, node, label, tensor) -> str:
        """The IR tensor behind the data input ``tensor`` of ``node``."""
        if tensor in self.ir_of:
            return self.ir_of[tensor]
        if tensor in self.tail:
            raise FpgagenError(f"{node.op_type} node '{label}' reads {tensor!r}, an output of "
                               f"{self.tail[tensor][2]}; Flatten, Reshape and Softmax are only "
                               "supported at the end of the graph")
        if tensor in self.consts:
            raise FpgagenError(f"{node.op_type} node '{label}' reads the constant {tensor!r} "
                               "as data; only tensors computed from the input are supported")
        raise FpgagenError(f"{node.op_type} node '{label}' reads {tensor!r}, which no "
                           "supported node produces")

    def _alias(self, node, label, tensor):
        if tensor in self.tail:
            self.tail[node.output[0]] = self.tail[tensor]
        else:
            self.ir_of[node.output[0]] = self._data(node, label, tensor)

    def _constant(self, node, label, attrs):
        for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
            if key in attrs:
                value = attrs[key]
                arr = (numpy_helper.to_array(value) if key == "value"
                       else np.asarray(value, np.float32 if "float" in key else np.int64))
                self.consts[node.output[0]] = arr
                return
        raise FpgagenError(f"Constant node '{label}': attribute {sorted(attrs)} is not "
                           "supported (use 'value')")

    def _const(self, node, label, tensor, what) -> np.ndarray:
        if tensor not in self.consts:
            raise FpgagenError(f"{node.op_type} node '{label}': {what} {tensor!r} is not an "
                               "initializer or Constant; it must be a constant tensor")
        return self.consts[tensor]

    # --- end-of-graph operators ----------------------------------------------------------
    def _tail_op(self, node, label, attrs):
        op, src = node.op_type, node.input[0]
        if src in self.tail:
            ir, shape, first = self.tail[src]
        else:
            ir = self._data(node, label, src)
            shape = self.flat.get(src, (1, *self.shapes[ir]))
            first = f"{op} node '{label}'"
        if op == "Flatten":
            axis = _axis(attrs.get("axis", 1), len(shape), node, label)
            shape = (math.prod(shape[:axis]), math.prod(shape[axis:]))
        elif op == "Reshape":
            shape = self._reshape(node, label, attrs, shape)
        else:
            self._check_softmax(node, label, attrs, shape)
        self.tail[node.output[0]] = (ir, tuple(shape), first)

    def _reshape(self, node, label, attrs, shape):
        target = self._const(node, label, node.input[1], "shape").astype(np.int64).tolist()
        if attrs.get("allowzero", 0):
            if 0 in target:
                raise FpgagenError(f"Reshape node '{label}': target shape {target} has a zero "
                                   "dimension")
        else:
            target = [shape[i] if d == 0 and i < len(shape) else d for i, d in enumerate(target)]
        size = math.prod(shape)
        if target.count(-1) == 1:
            rest = math.prod(d for d in target if d != -1)
            target = [size // rest if d == -1 and rest and size % rest == 0 else d
                      for d in target]
        if any(d < 1 for d in target) or math.prod(target) != size:
            raise FpgagenError(f"Reshape node '{label}': cannot reshape {tuple(shape)} to "
                               f"{node.input[1]!r} = {target}")
        return tuple(target)

    def _check_softmax(self, node, label, attrs, shape):
        """Softmax keeps the ranking only when it normalizes over the whole tensor."""
        default = -1 if self.opset >= 13 else 1
        axis = _axis(attrs.get("axis", default), len(shape), node, label)
        if self.opset >= 13:
            others = math.prod(d for i, d in enumerate(shape) if i != axis)
        else:  # opsets 1-12 flatten to 2-D at axis and normalize each row
            others = math.prod(shape[:axis])
        if others != 1:
            raise FpgagenError(f"Softmax node '{label}' normalizes over axis {axis} of shape "
                               f"{tuple(shape)} in {others} separate groups; dropping it would "
                               "change the class ranking")

    # --- operators with an IR node -------------------------------------------------------
    def _op_Conv(self, node, label, attrs, ir_name):
        x = self._data(node, label, node.input[0])
        weight = self._const(node, label, node.input[1], "weight")
        bias_name = node.input[2] if len(node.input) > 2 and node.input[2] else None
        _check_dilations(node, label, attrs)
        in_c = self.shapes[x][0]
        if weight.ndim != 4:
            raise FpgagenError(f"Conv node '{label}': weight {node.input[1]!r} has shape "
                               f"{weight.shape}; only 2-D convolution (4-D weight) is supported")
        out_c, w_in, kh, kw = weight.shape
        groups = attrs.get("group", 1)
        if not isinstance(groups, int) or groups < 1 or in_c % groups or out_c % groups:
            raise FpgagenError(f"Conv node '{label}': group={groups!r} does not divide its "
                               f"{in_c} input and {out_c} output channels")
        if w_in * groups != in_c:
            raise FpgagenError(f"Conv node '{label}': weight {node.input[1]!r} has shape "
                               f"{weight.shape}, expected ({out_c}, {in_c // groups}, {kh}, "
                               f"{kw}) for an input of {in_c} channels in {groups} group(s)")
        kernel = tuple(attrs.get("kernel_shape", (kh, kw)))
        if kernel != (kh, kw):
            raise FpgagenError(f"Conv node '{label}': kernel_shape {list(kernel)} does not match "
                               f"weight {node.input[1]!r} of shape {weight.shape}")
        pads = _pads(node, label, attrs)
        strides = tuple(attrs.get("strides", (1, 1)))
        if bias_name is None:
            bias = np.zeros(out_c, np.float32)
        else:
            bias = self._const(node, label, bias_name, "bias")
            if bias.shape != (out_c,):
                raise FpgagenError(f"Conv node '{label}': bias {bias_name!r} has shape "
                                   f"{bias.shape}, expected ({out_c},)")
        self.params[ir_name] = {"weight": self._float(node.input[1], weight, label),
                                "bias": self._float(bias_name, bias, label)}
        return _make(label, node, Conv2d, out_c, kernel, strides, pads, False, groups), (x,)

    def _float(self, tensor, arr, label, op_type="Conv") -> np.ndarray:
        return check_param_values(arr, f"tensor {tensor!r} of {op_type} node '{label}'")

    def _batchnorm(self, node, label, attrs):
        """Fold a BatchNormalization into the Conv whose output it alone reads."""
        x = self._data(node, label, node.input[0])
        conv = next((n for n in self.nodes if n.name == x), None)
        if conv is None or not isinstance(conv.op, Conv2d) or x not in self.params:
            raise FpgagenError(f"BatchNormalization node '{label}' reads {node.input[0]!r}; "
                               "it can only be folded into the Conv that produces its input")
        if any(x in n.inputs for n in self.nodes) or x in self.folded_bn:
            raise FpgagenError(f"BatchNormalization node '{label}': the Conv output "
                               f"{node.input[0]!r} is read before it or already normalized; "
                               "it cannot be folded")
        if attrs.get("training_mode", 0) or attrs.get("spatial", 1) != 1 \
                or any(o for o in node.output[1:]):
            raise FpgagenError(f"BatchNormalization node '{label}': only inference mode "
                               "(one output, spatial) is supported")
        gamma, beta, mean, var = (self._float(t, self._const(node, label, t, what), label,
                                              "BatchNormalization")
                                  for t, what in zip(node.input[1:5],
                                                     ("scale", "B", "mean", "var")))
        p = self.params[x]
        p["weight"], p["bias"] = fold_batchnorm(p["weight"], p["bias"], mean, var, gamma, beta,
                                                float(attrs.get("epsilon", 1e-5)))
        self.folded_bn.add(x)
        self.ir_of[node.output[0]] = x

    def _op_Relu(self, node, label, attrs, ir_name):
        return Relu(), (self._data(node, label, node.input[0]),)

    def _op_MaxPool(self, node, label, attrs, ir_name):
        x = self._data(node, label, node.input[0])
        _check_dilations(node, label, attrs)
        if len(node.output) > 1 and node.output[1]:
            raise FpgagenError(f"MaxPool node '{label}': the Indices output is not supported")
        kernel = tuple(attrs.get("kernel_shape", ()))
        strides = tuple(attrs.get("strides", (1, 1)))
        pads = _pads(node, label, attrs)
        ceil = bool(attrs.get("ceil_mode", 0))
        return _make(label, node, MaxPool, kernel, strides, pads, ceil), (x,)

    def _op_Concat(self, node, label, attrs, ir_name):
        axis = attrs.get("axis", 1)
        if axis not in (1, -3):
            raise FpgagenError(f"Concat node '{label}': axis {axis} is not supported; only "
                               "concatenation along channels (axis 1) is")
        return Concat(), tuple(self._data(node, label, t) for t in node.input if t)

    def _op_Add(self, node, label, attrs, ir_name):
        a, b = (self._data(node, label, t) for t in node.input)
        if self.shapes[a] != self.shapes[b]:
            raise FpgagenError(f"Add node '{label}': inputs have shapes (1, {self.shapes[a]}) "
                               f"and (1, {self.shapes[b]}); broadcasting is not supported")
        return Add(), (a, b)

    def _op_GlobalAveragePool(self, node, label, attrs, ir_name):
        return GlobalAvgPool(), (self._data(node, label, node.input[0]),)

    def _op_AveragePool(self, node, label, attrs, ir_name):
        x = self._data(node, label, node.input[0])
        _, h, w = self.shapes[x]
        kernel = tuple(attrs.get("kernel_shape", ()))
        pads = tuple(attrs.get("pads", (0, 0, 0, 0)))
        auto_pad = _auto_pad(attrs)
        if kernel != (h, w) or any(pads) or auto_pad not in ("NOTSET", "VALID"):
            raise FpgagenError(f"AveragePool node '{label}': kernel {list(kernel)} with pads "
                               f"{list(pads)} on a {h}x{w} input is not a global average; "
                               "only AveragePool over the whole input without padding is "
                               "supported")
        return GlobalAvgPool(), (x,)


    def _op_Gemm(self, node, label, attrs, ir_name):
        src = node.input[0]
        if src not in self.tail:
            raise FpgagenError(f"Gemm node '{label}' reads {src!r}; only a Gemm on the "
                               "flattened (1, C) output of a global average pool (through "
                               "Flatten or Reshape) is supported (the fully connected layer)")
        x, shape, _ = self.tail[src]
        c = self.shapes[x][0]
        if self.shapes[x][1:] != (1, 1) or tuple(shape) != (1, c):
            raise FpgagenError(f"Gemm node '{label}': its input {src!r} has shape "
                               f"{tuple(shape)} from a (1, {', '.join(map(str, self.shapes[x]))})"
                               f" tensor; only (1, C) from a (1, C, 1, 1) tensor (a global "
                               "average pool, flattened) is supported")
        if attrs.get("transA", 0):
            raise FpgagenError(f"Gemm node '{label}': transA=1 is not supported (the input "
                               "is the (1, C) row of the features)")
        weight = self._const(node, label, node.input[1], "weight B").astype(np.float64)
        if attrs.get("transB", 0) == 0:
            weight = weight.T
        if weight.ndim != 2 or weight.shape[1] != c:
            raise FpgagenError(f"Gemm node '{label}': weight {node.input[1]!r} with "
                               f"transB={attrs.get('transB', 0)} gives a {weight.shape} "
                               f"matrix, expected (N, {c}) for {c} input features")
        n = weight.shape[0]
        bias_name = node.input[2] if len(node.input) > 2 and node.input[2] else None
        bias = np.zeros(n)
        if bias_name is not None:
            given = self._const(node, label, bias_name, "bias C").astype(np.float64)
            try:
                bias = np.broadcast_to(given, (1, n)).reshape(n)
            except ValueError:
                raise FpgagenError(f"Gemm node '{label}': bias {bias_name!r} of shape "
                                   f"{given.shape} does not broadcast to (1, {n})") from None
        weight = weight * float(attrs.get("alpha", 1.0))
        bias = bias * float(attrs.get("beta", 1.0))
        self.params[ir_name] = {
            "weight": self._float(node.input[1], weight.reshape(n, c, 1, 1).astype(np.float32),
                                  label, "Gemm"),
            "bias": self._float(bias_name, bias.astype(np.float32), label, "Gemm")}
        return _make(label, node, Conv2d, n, 1), (x,)


# --- attribute helpers ---------------------------------------------------------------------
def _auto_pad(attrs) -> str:
    value = attrs.get("auto_pad", b"NOTSET")
    return value.decode() if isinstance(value, bytes) else str(value)


def _pads(node, label, attrs) -> tuple[int, int]:
    """``(ph, pw)`` of symmetric 2-D ``pads``; errors for other padding."""
    auto_pad = _auto_pad(attrs)
    if auto_pad not in ("NOTSET", "VALID"):
        raise FpgagenError(f"{node.op_type} node '{label}': auto_pad={auto_pad} is not "
                           "supported; give explicit symmetric pads")
    pads = [int(p) for p in attrs.get("pads", (0, 0, 0, 0))]
    if auto_pad == "VALID" and any(pads):
        raise FpgagenError(f"{node.op_type} node '{label}': auto_pad=VALID with pads {pads}")
    if len(pads) != 4:
        raise FpgagenError(f"{node.op_type} node '{label}': pads {pads} are not 2-D; only 2-D "
                           "(NCHW) operators are supported")
    if pads[0] != pads[2] or pads[1] != pads[3]:
        raise FpgagenError(f"{node.op_type} node '{label}': asymmetric pads {pads} are not "
                           "supported (need pads[0] == pads[2] and pads[1] == pads[3])")
    return pads[0], pads[1]


def _check_dilations(node, label, attrs):
    dilations = list(attrs.get("dilations", (1, 1)))
    if any(d != 1 for d in dilations):
        raise FpgagenError(f"{node.op_type} node '{label}': dilations {dilations} are not "
                           "supported (only 1)")


def _axis(axis, rank, node, label) -> int:
    if not -rank <= axis < rank:
        raise FpgagenError(f"{node.op_type} node '{label}': axis {axis} is out of range for "
                           f"rank {rank}")
    return axis % rank


def _make(label, node, cls, *args):
    """Build an IR op, turning attribute errors into one-line FpgagenErrors."""
    try:
        return cls(*args)
    except (ValueError, TypeError) as e:
        raise FpgagenError(f"{node.op_type} node '{label}': {e}") from None
