"""A small helper that appends nodes to a graph under construction."""

from ..ir import Add, Concat, Conv2d, GlobalAvgPool, Graph, MaxPool, Node

__all__ = ["GraphBuilder", "scale_channels"]


def scale_channels(channels: float, width: float) -> int:
    """Channel count after the ``width`` multiplier: rounded, at least 1."""
    return max(1, int(round(channels * width)))


class GraphBuilder:
    """Collects nodes in order; each method returns the new tensor's name."""

    def __init__(self, name: str, input_shape, mean=(0.0, 0.0, 0.0), input_name="data"):
        self.name = name
        self.input_shape = tuple(input_shape)
        self.input_name = input_name
        self.mean = tuple(float(m) for m in mean)
        self.nodes: list[Node] = []

    def _add(self, name, op, inputs):
        self.nodes.append(Node(name, op, tuple(inputs)))
        return name

    def conv(self, name, x, out_channels, kernel, stride=1, padding=0, relu=True, groups=1):
        return self._add(name, Conv2d(out_channels, kernel, stride, padding, relu, groups),
                         [x])

    def maxpool(self, name, x, kernel=3, stride=2, padding=0, ceil_mode=True):
        return self._add(name, MaxPool(kernel, stride, padding, ceil_mode), [x])

    def concat(self, name, *xs):
        return self._add(name, Concat(), xs)

    def add(self, name, a, b, relu=False):
        return self._add(name, Add(relu=relu), [a, b])

    def global_avgpool(self, name, x):
        return self._add(name, GlobalAvgPool(), [x])

    def build(self, outputs) -> Graph:
        g = Graph(self.name, self.input_shape, list(self.nodes), list(outputs),
                  input_name=self.input_name, mean=self.mean)
        g.shapes()
        return g
