"""Typed graph IR: operators, graph, fixed-point types and integer parameters."""

from .graph import Graph, Node
from .ops import Add, Concat, Conv2d, GlobalAvgPool, MaxPool, Op, Relu
from .quant import AddQuant, AvgPoolQuant, ConvQuant, GraphQuant
from .types import QType

__all__ = [
    "Graph", "Node", "Op", "Conv2d", "Relu", "MaxPool", "GlobalAvgPool", "Concat", "Add",
    "QType", "ConvQuant", "AvgPoolQuant", "AddQuant", "GraphQuant",
]
