"""The operator registry: one rule set per operator (float and golden execution,
quantization, lowering, engine-model semantics), found by operator type or by opcode."""

from . import add, concat, conv, global_avgpool, maxpool, relu  # noqa: F401  (registration)
from .base import (FREE, FUSED_ONLY, LOWERED, OperatorRules, register, registered, rules_for,
                   rules_for_opcode)

__all__ = ["OperatorRules", "register", "registered", "rules_for", "rules_for_opcode",
           "LOWERED", "FREE", "FUSED_ONLY"]
