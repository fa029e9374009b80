"""Fold a ReLU into the convolution or addition that feeds it."""

import dataclasses

from ..ir import Add, Conv2d, Graph, Node, Relu

__all__ = ["FuseRelu"]


class FuseRelu:
    """Replace ``conv -> relu`` (or ``add -> relu``) by one conv (add) with ``relu=True``
    when the relu is its only reader and it is not a graph output; readers of the relu
    then read the fused node. ``apply(graph) -> (graph, changed)``.
    """

    def apply(self, graph: Graph):
        nodes = list(graph.nodes)
        params = dict(graph.params)
        outputs = list(graph.outputs)
        changed = False
        for relu in [n for n in nodes if isinstance(n.op, Relu)]:
            src = relu.inputs[0]
            producer = next((n for n in nodes if n.name == src), None)
            readers = [n for n in nodes if src in n.inputs]
            if (producer is None or not isinstance(producer.op, (Conv2d, Add)) or producer.op.relu
                    or len(readers) != 1 or src in outputs):
                continue
            fused = Node(relu.name, dataclasses.replace(producer.op, relu=True),
                         producer.inputs)
            nodes = [fused if n is producer else n for n in nodes if n is not relu]
            if producer.name in params:
                params[relu.name] = params.pop(producer.name)
            changed = True
        if not changed:
            return graph, False
        return graph.replace(nodes=nodes, params=params, outputs=outputs), True
