"""The graph IR: a topologically ordered list of single-output nodes."""

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import FpgagenError
from .ops import Conv2d, GlobalAvgPool, Op
from .quant import GraphQuant

__all__ = ["Node", "Graph"]


@dataclass(frozen=True)
class Node:
    """One operator application. Its output tensor carries the node's name."""

    name: str
    op: Op
    inputs: tuple[str, ...]

    def __post_init__(self):
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"node name must be a non-empty string, not {self.name!r}")
        object.__setattr__(self, "inputs", tuple(self.inputs))


@dataclass
class Graph:
    """A network: input, nodes in topological order, outputs, parameters.

    Attributes
    ----------
    name : str
        Network name (as in the catalog).
    input_shape : tuple
        ``(channels, height, width)`` of the input tensor, named ``input_name``.
    nodes : list of Node
        In topological order; every input names the graph input or an earlier node.
    outputs : list of str
        Names of the output tensors.
    params : dict
        ``{node_name: {"weight": float32 (O, I, kh, kw), "bias": float32 (O,)}}`` for every
        conv2d node, or empty before weights are attached.
    mean : tuple of float
        Per input channel value subtracted from the raw pixels (Caffe pre-processing).
    quant : GraphQuant or None
        Integer parameters and tensor types once the graph is quantized.
    """

    name: str
    input_shape: tuple[int, int, int]
    nodes: list[Node]
    outputs: list[str]
    input_name: str = "data"
    params: dict = field(default_factory=dict)
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    quant: GraphQuant | None = None

    def __post_init__(self):
        self.input_shape = tuple(int(v) for v in self.input_shape)
        self._shapes = None

    # --- structure -------------------------------------------------------------------
    def node(self, name: str) -> Node:
        """The node called ``name``."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node named {name!r} in graph {self.name!r}")

    def consumers(self, tensor: str) -> list[Node]:
        """Nodes that read ``tensor``."""
        return [n for n in self.nodes if tensor in n.inputs]

    def conv_nodes(self) -> list[Node]:
        """The conv2d nodes, in order."""
        return [n for n in self.nodes if isinstance(n.op, Conv2d)]

    def is_fully_connected(self, node: Node) -> bool:
        """``node`` is a 1x1 conv (stride 1, no padding, one group) on the ``(C, 1, 1)``
        output of a global average pool: a fully connected layer (Caffe InnerProduct, ONNX
        Gemm)."""
        op, src = node.op, node.inputs[0]
        return (isinstance(op, Conv2d) and op.kernel == (1, 1) and op.stride == (1, 1)
                and op.padding == (0, 0) and op.groups == 1 and src != self.input_name
                and isinstance(self.node(src).op, GlobalAvgPool))

    def replace(self, **changes) -> "Graph":
        """A copy with some fields changed (params and quant are shared, not copied)."""
        return replace(self, **changes)

    # --- shapes ----------------------------------------------------------------------
    def shapes(self) -> dict[str, tuple[int, int, int]]:
        """Shape of every tensor, inferred from the input shape; checks the structure."""
        if self._shapes is not None:
            return self._shapes
        shapes = {self.input_name: self.input_shape}
        for n in self.nodes:
            if n.name in shapes:
                raise FpgagenError(f"graph {self.name!r}: tensor name {n.name!r} is defined twice")
            missing = [i for i in n.inputs if i not in shapes]
            if missing:
                raise FpgagenError(f"graph {self.name!r}: node {n.name!r} reads {missing[0]!r}, "
                                   "which is not defined before it")
            shapes[n.name] = n.op.infer_shape(n.name, [shapes[i] for i in n.inputs])
        for o in self.outputs:
            if o not in shapes:
                raise FpgagenError(f"graph {self.name!r}: output {o!r} is not a tensor of it")
        self._shapes = shapes
        return shapes

    def in_shapes(self, node: Node) -> list[tuple[int, int, int]]:
        """Shapes of a node's inputs."""
        shapes = self.shapes()
        return [shapes[i] for i in node.inputs]

    def weight_shapes(self) -> dict[str, tuple[tuple, tuple]]:
        """``{conv name: (weight shape, bias shape)}`` implied by the topology."""
        out = {}
        for n in self.conv_nodes():
            wshape = n.op.weight_shape(self.in_shapes(n)[0][0])
            out[n.name] = (wshape, (n.op.out_channels,))
        return out

    # --- counts ----------------------------------------------------------------------
    def param_count(self) -> int:
        """Number of weights and biases implied by the topology."""
        return sum(int(np.prod(w)) + int(np.prod(b)) for w, b in self.weight_shapes().values())

    def macs_per_node(self) -> dict[str, int]:
        """Multiply-accumulates per image of every node (zero for non-conv nodes)."""
        shapes = self.shapes()
        return {n.name: n.op.macs(self.in_shapes(n), shapes[n.name]) for n in self.nodes}

    def macs(self) -> int:
        """Total multiply-accumulates per image."""
        return sum(self.macs_per_node().values())
