"""Concatenation along channels (``Concat``, the fire module's expand outputs): no
instruction; its inputs write side by side into its buffer."""

import numpy as np

from ..ir.ops import Concat
from .base import FREE, OperatorRules, register

__all__ = ["ConcatRules"]


@register
class ConcatRules(OperatorRules):
    """Free in hardware; inputs and output share one fixed-point type."""

    op_type = Concat
    lowering = FREE
    shares_input_type = True

    def nonnegative(self, node, inputs_nonnegative):
        return all(inputs_nonnegative)

    def run_float(self, node, ins, params):
        return np.concatenate(ins, axis=0)

    def run_int(self, node, ins, lq, out_type):
        return np.concatenate(ins, axis=0)
