"""Read the topology of a Caffe network definition (``.prototxt``) into a :class:`Graph`.

Topology only: no ``.caffemodel`` weights, so the graph has no ``params``. The reader
builds the TEST-phase network and accepts the layers of the SqueezeNet and SqueezeNext
definitions:

- ``Data``/``ImageData``/``Input`` layers and the old ``input``/``input_shape``/
  ``input_dim`` fields give the input (a data layer's ``crop_size`` and ``mean_value``);
- ``Convolution`` (kernel, stride, pad per axis, ``group``; ``dilation`` 1 only);
- ``BatchNorm`` and ``Scale`` directly after a convolution are folded away (their
  parameters go into the convolution's weights and bias, see
  :func:`~fpgagen.frontend.batchnorm.fold_batchnorm`);
- ``ReLU`` (``negative_slope`` 0), ``Eltwise`` SUM of two blobs (unit coefficients),
  ``Concat`` along channels, ``Pooling`` MAX (Caffe's ceil rounding unless ``round_mode:
  FLOOR``) and AVE over the whole input (``global_pooling`` or a kernel as large as the
  input, no padding) as a global average pool;
- ``InnerProduct`` as ``Conv2d(num_output, kernel = input height x width)`` (the fully
  connected layer of fpgagen's IR; after a global pool that is a 1x1 convolution);
- ``Dropout`` and ``Split`` (the identity at inference); ``Softmax``, ``SoftmaxWithLoss``
  and ``Accuracy`` mark the network's output and are dropped.

``conv -> ReLU`` pairs are fused as the ONNX importer does
(:class:`~fpgagen.passes.fuse_relu.FuseRelu`). Anything else is one
:class:`~fpgagen.errors.FpgagenError` naming the layer.
"""

from pathlib import Path

from ..errors import FpgagenError
from ..ir import Add, Concat, Conv2d, GlobalAvgPool, Graph, MaxPool, Node, Relu
from ..passes.fuse_relu import FuseRelu
from .files import require_file
from .prototxt_text import TextMessage, parse_text_proto

__all__ = ["load_caffe_prototxt", "caffe_graph", "CAFFE_LAYER_TYPES"]

_DATA_TYPES = ("Data", "ImageData", "Input", "DummyData")
_OUTPUT_TYPES = ("Softmax", "SoftmaxWithLoss", "Accuracy")
_IDENTITY_TYPES = ("Dropout", "Split")
_FOLDED_TYPES = ("BatchNorm", "Scale")
_NODE_TYPES = ("Convolution", "ReLU", "Eltwise", "Concat", "Pooling", "InnerProduct")

#: Every Caffe layer type :func:`load_caffe_prototxt` accepts.
CAFFE_LAYER_TYPES = (*_DATA_TYPES, *_NODE_TYPES, *_FOLDED_TYPES, *_IDENTITY_TYPES,
                     *_OUTPUT_TYPES)


def load_caffe_prototxt(path, name: str | None = None,
                        input_size: int | None = None) -> Graph:
    """The topology of the Caffe network definition in ``path`` (see the module docstring
    for the layers accepted). ``name`` defaults to the file stem; ``input_size`` replaces
    the input height and width of the file (its ``crop_size`` or input shape)."""
    path = Path(path)
    require_file(path, name="Caffe prototxt", expected="a file")
    text = path.read_text(encoding="utf-8", errors="replace")
    return caffe_graph(text, name or path.stem, source=str(path), input_size=input_size)


def caffe_graph(text: str, name: str, source: str = "<prototxt>",
                input_size: int | None = None) -> Graph:
    """The topology of the Caffe network definition ``text`` (see
    :func:`load_caffe_prototxt`)."""
    net = parse_text_proto(text, source)
    return _Reader(net, name, source, input_size).run()


def _ints(msg: TextMessage, key: str) -> list[int]:
    return [int(v) for v in msg.all(key)]


def _pair(param: TextMessage, key: str, default: int, where: str) -> tuple[int, int]:
    """A Caffe per-axis value: ``key_h``/``key_w`` or one or two repeated ``key`` (the
    kernel's is ``kernel_size``)."""
    h, w = param.get(f"{key}_h"), param.get(f"{key}_w")
    key = "kernel_size" if key == "kernel" else key
    if h is not None or w is not None:
        if h is None or w is None:
            raise FpgagenError(f"{where}: {key}_h and {key}_w must be given together, got "
                               f"{key}_h={h!r}, {key}_w={w!r}")
        return int(h), int(w)
    values = _ints(param, key) or [default]
    if len(values) == 1:
        return values[0], values[0]
    if len(values) == 2:
        return values[0], values[1]
    raise FpgagenError(f"{where}: {key} has {len(values)} values {values}; a 2-D layer takes "
                       "one or two")


class _Reader:
    """One read: walks the layers in order, mapping Caffe blobs to IR tensors."""

    def __init__(self, net: TextMessage, name: str, source: str, input_size):
        self.net = net
        self.name = name
        self.source = source
        self.input_size = input_size
        self.input_name = None
        self.input_shape = None
        self.mean = (0.0, 0.0, 0.0)
        self.ignored_blobs = set()  # labels: read only by loss and accuracy layers
        self.blob = {}  # Caffe blob -> IR tensor
        self.shapes = {}  # IR tensor -> (C, H, W)
        self.nodes = []
        self.readers = {}  # IR tensor -> number of IR nodes reading it
        self.folded = {}  # IR tensor of a conv -> the folded layer types so far
        self.outputs = []

    def run(self) -> Graph:
        self._net_input()
        layers = self.net.all("layer") or self.net.all("layers")
        if not layers:
            raise FpgagenError(f"{self.source}: no layers")
        for layer in layers:
            if self._in_test_phase(layer):
                self._layer(layer)
        if self.input_shape is None:
            raise FpgagenError(f"{self.source}: no input (an Input or Data layer, or input "
                               "and input_shape fields)")
        outputs = self.outputs or [t for t in self.shapes
                                   if t != self.input_name and not self.readers.get(t)]
        outputs = list(dict.fromkeys(outputs))
        if len(outputs) != 1:
            raise FpgagenError(f"{self.source}: the network must have one output, found "
                               f"{len(outputs)}: {outputs}")
        graph = Graph(self.name, self.input_shape, self.nodes, outputs,
                      input_name=self.input_name, mean=self.mean)
        graph, _ = FuseRelu().apply(graph)
        graph.shapes()
        return graph

    # --- input -----------------------------------------------------------------------
    def _net_input(self):
        names = self.net.all("input")
        if not names:
            return
        if len(names) != 1:
            raise FpgagenError(f"{self.source}: one network input expected, found {names}")
        dims = _ints(self.net.message("input_shape"), "dim") or _ints(self.net, "input_dim")
        self._set_input(str(names[0]), dims, "the network input")

    def _set_input(self, blob, dims, where, mean=None):
        if self.input_shape is not None:
            raise FpgagenError(f"{self.source}: {where} is a second input; fpgagen networks "
                               "have one")
        if len(dims) == 4:
            dims = dims[1:]  # the batch dimension: the IR has none
        if len(dims) != 3 or not all(d >= 1 for d in dims):
            raise FpgagenError(f"{self.source}: {where} needs a (channels, height, width) "
                               f"shape, got {dims}")
        c, h, w = dims
        if self.input_size is not None:
            h = w = self.input_size
        self.input_name = blob
        self.input_shape = (c, h, w)
        self.blob[blob] = blob
        self.shapes[blob] = self.input_shape
        if mean:
            if len(mean) not in (1, c):
                raise FpgagenError(f"{self.source}: {where} has {len(mean)} mean values for "
                                   f"{c} channels")
            self.mean = tuple(float(m) for m in (mean * c if len(mean) == 1 else mean))

    @staticmethod
    def _in_test_phase(layer):
        def phases(key):
            return [rule.get("phase", "TEST") for rule in layer.all(key)]
        include, exclude = phases("include"), phases("exclude")
        return (not include or "TEST" in include) and "TEST" not in exclude

    # --- layers ----------------------------------------------------------------------
    def _layer(self, layer):
        kind = layer.get("type")
        name = str(layer.get("name", ""))
        where = f"{self.source}: layer {name!r} ({kind})"
        bottoms = [str(b) for b in layer.all("bottom")]
        tops = [str(t) for t in layer.all("top")]
        if kind in _DATA_TYPES:
            return self._data(layer, kind, tops, where)
        if kind in _OUTPUT_TYPES:
            read = [b for b in bottoms if b not in self.ignored_blobs]
            self.outputs.extend(self._tensor(b, where) for b in read[:1])
            return None
        if kind not in CAFFE_LAYER_TYPES:
            raise FpgagenError(f"{where}: layer type {kind!r} is not supported; fpgagen reads "
                               f"{', '.join(CAFFE_LAYER_TYPES)}")
        inputs = [self._tensor(b, where) for b in bottoms]
        if kind in _IDENTITY_TYPES:
            for top in tops:
                self.blob[top] = inputs[0]
            return None
        if kind in _FOLDED_TYPES:
            return self._fold(kind, inputs, tops, where)
        if len(tops) != 1:
            raise FpgagenError(f"{where}: one top expected, found {tops}")
        op, inputs = getattr(self, f"_op_{kind}")(layer, inputs, where)
        self._node(name or kind, op, inputs, tops[0])
        return None

    def _tensor(self, blob, where):
        if blob not in self.blob:
            raise FpgagenError(f"{where}: bottom {blob!r} is not produced by an earlier layer")
        return self.blob[blob]

    def _node(self, name, op, inputs, top):
        base, k = name, 1
        while name in self.shapes:
            k += 1
            name = f"{base}_{k}"
        self.shapes[name] = op.infer_shape(name, [self.shapes[i] for i in inputs])
        self.nodes.append(Node(name, op, inputs))
        for i in inputs:
            self.readers[i] = self.readers.get(i, 0) + 1
        self.blob[top] = name

    def _data(self, layer, kind, tops, where):
        if kind == "Input":
            shape = layer.message("input_param").message("shape")
            dims = _ints(shape, "dim")
            mean = None
        else:
            transform = layer.message("transform_param")
            crop = transform.get("crop_size")
            if crop is None:
                raise FpgagenError(f"{where}: without transform_param.crop_size the input "
                                   "size is unknown; pass an input size")
            dims = [3, int(crop), int(crop)]
            mean = [float(m) for m in transform.all("mean_value")]
        self._set_input(tops[0], dims, where, mean)
        self.ignored_blobs.update(tops[1:])

    def _fold(self, kind, inputs, tops, where):
        src = inputs[0]
        producer = next((n for n in self.nodes if n.name == src), None)
        done = self.folded.get(src, ())
        if producer is None or not isinstance(producer.op, Conv2d):
            raise FpgagenError(f"{where}: {kind} can only be folded into the Convolution or "
                               f"InnerProduct that produces its input, not into {src!r}")
        if self.readers.get(src) or kind in done or (kind == "BatchNorm" and done):
            raise FpgagenError(f"{where}: {kind} after {src!r} cannot be folded (the "
                               f"convolution's output is read before it, or it follows "
                               f"{'/'.join(done)})")
        self.folded[src] = (*done, kind)
        for top in tops:
            self.blob[top] = src

    # --- one method per IR-producing layer type ---------------------------------------
    def _op_Convolution(self, layer, inputs, where):
        p = layer.message("convolution_param")
        dilation = _ints(p, "dilation")
        if any(d != 1 for d in dilation):
            raise FpgagenError(f"{where}: dilation {dilation} is not supported (1 only)")
        if p.get("axis", 1) != 1:
            raise FpgagenError(f"{where}: axis {p.get('axis')} is not supported (1 only)")
        kernel = _pair(p, "kernel", 0, where)
        if min(kernel) < 1:
            raise FpgagenError(f"{where}: kernel size missing or not positive: {kernel}")
        op = Conv2d(int(p.get("num_output", 0)) or self._bad(where, "num_output", p),
                    kernel, _pair(p, "stride", 1, where), _pair(p, "pad", 0, where),
                    relu=False, groups=int(p.get("group", 1)))
        return op, inputs[:1]

    def _op_InnerProduct(self, layer, inputs, where):
        p = layer.message("inner_product_param")
        if p.get("axis", 1) != 1 or p.get("transpose", False):
            raise FpgagenError(f"{where}: only axis 1 without transpose is supported")
        _, h, w = self.shapes[inputs[0]]
        num = int(p.get("num_output", 0)) or self._bad(where, "num_output", p)
        return Conv2d(num, (h, w), relu=False), inputs[:1]

    def _op_ReLU(self, layer, inputs, where):
        slope = layer.message("relu_param").get("negative_slope", 0)
        if slope != 0:
            raise FpgagenError(f"{where}: negative_slope {slope} (leaky ReLU) is not supported")
        return Relu(), inputs[:1]

    def _op_Eltwise(self, layer, inputs, where):
        p = layer.message("eltwise_param")
        operation = p.get("operation", "SUM")
        coeff = [float(c) for c in p.all("coeff")]
        if operation not in ("SUM", 1) or any(c != 1.0 for c in coeff):
            raise FpgagenError(f"{where}: only SUM with unit coefficients is supported, got "
                               f"operation {operation!r}, coeff {coeff}")
        if len(inputs) != 2:
            raise FpgagenError(f"{where}: SUM of {len(inputs)} blobs; fpgagen adds two")
        return Add(), inputs

    def _op_Concat(self, layer, inputs, where):
        p = layer.message("concat_param")
        axis = p.get("axis", p.get("concat_dim", 1))
        if axis != 1:
            raise FpgagenError(f"{where}: concatenation along axis {axis}; only channels (1)")
        return Concat(), inputs

    def _op_Pooling(self, layer, inputs, where):
        p = layer.message("pooling_param")
        pool = p.get("pool", "MAX")
        _, h, w = self.shapes[inputs[0]]
        if p.get("global_pooling", False):
            kernel, pad = (h, w), (0, 0)
        else:
            kernel = _pair(p, "kernel", 0, where)
            pad = _pair(p, "pad", 0, where)
        if pool in ("AVE", 1):
            if kernel != (h, w) or pad != (0, 0):
                raise FpgagenError(f"{where}: average pooling {kernel} (pad {pad}) over a "
                                   f"{h}x{w} input; only a global average is supported")
            return GlobalAvgPool(), inputs[:1]
        if pool not in ("MAX", 0):
            raise FpgagenError(f"{where}: pool {pool!r} is not supported (MAX, AVE)")
        ceil = p.get("round_mode", "CEIL") in ("CEIL", 0)
        return MaxPool(kernel, _pair(p, "stride", 1, where), pad, ceil), inputs[:1]

    @staticmethod
    def _bad(where, key, param):
        raise FpgagenError(f"{where}: {key} missing or zero: {param.get(key)!r}")
