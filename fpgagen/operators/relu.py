"""Rectified linear unit (``Relu``): executed by the models, fused into the convolution
before it for the hardware (:class:`fpgagen.passes.FuseRelu`)."""

import numpy as np

from ..ir.ops import Relu
from ..numerics.primitives import saturate
from .base import FUSED_ONLY, OperatorRules, register

__all__ = ["ReluRules"]


@register
class ReluRules(OperatorRules):
    """``max(x, 0)``; no instruction of its own."""

    op_type = Relu
    lowering = FUSED_ONLY

    def run_float(self, node, ins, params):
        return np.maximum(ins[0], 0)

    def run_int(self, node, ins, lq, out_type):
        return saturate(np.maximum(ins[0], 0), out_type)

    def nonnegative(self, node, inputs_nonnegative):
        return True
