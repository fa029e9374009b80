"""What every operator rule set provides, and the registry that finds it.

One class per operator (a subclass of :class:`OperatorRules`, one file each in this folder)
owns everything fpgagen knows about that operator: its float and integer (golden)
execution, its quantization rule, its lowering to instruction fields and the engine-model
semantics of its opcode. The drivers (:mod:`fpgagen.golden.float_model`,
:mod:`fpgagen.golden.int_model`, :mod:`fpgagen.passes.quantize`,
:mod:`fpgagen.schedule.lower`, :mod:`fpgagen.schedule.engine_model`) walk the graph or the
program and ask the registry; an operator or opcode nobody registered raises one clear
:class:`~fpgagen.errors.FpgagenError` in every one of them.
"""

from typing import ClassVar

from ..errors import FpgagenError
from ..hw.isa import Opcode
from ..ir.ops import Op

__all__ = ["OperatorRules", "register", "rules_for", "rules_for_opcode", "registered",
           "LOWERED", "FREE", "FUSED_ONLY"]

#: Lowering kinds: one instruction per node; no instruction (its inputs write in place);
#: never on its own (it must be fused into the node before it).
LOWERED, FREE, FUSED_ONLY = "instruction", "free", "fused only"


class OperatorRules:
    """The rules of one operator type. Subclasses set :attr:`op_type` and override what
    applies; a method that does not apply raises :class:`FpgagenError` naming the stage.

    Attributes
    ----------
    op_type : type
        The :class:`~fpgagen.ir.ops.Op` subclass these rules are for.
    opcode : Opcode or None
        The instruction the operator lowers to (``None``: no instruction of its own).
    lowering : str
        :data:`LOWERED`, :data:`FREE` or :data:`FUSED_ONLY`.
    shares_input_type : bool
        The output has the same fixed-point type as every input (no rescaling: concat,
        max pooling), so quantization gives them one type.
    writes_in_place : bool
        Its instruction writes its output tensor directly in the activation memory, so it
        may write into a concat's buffer.
    bounded_by_input : bool
        No output value is larger in magnitude than the largest its input's type holds (an
        average), so a network output it produces is given at least that range and never
        saturates, whatever calibration saw.
    """

    op_type: ClassVar[type[Op]] = Op
    opcode: ClassVar[Opcode | None] = None
    lowering: ClassVar[str] = LOWERED
    shares_input_type: ClassVar[bool] = False
    writes_in_place: ClassVar[bool] = False
    bounded_by_input: ClassVar[bool] = False

    def _missing(self, stage: str, node=None):
        what = f" node {node.name!r}" if node is not None else ""
        raise FpgagenError(f"{stage}: operator {self.op_type.kind!r}{what} has no rule there")

    # --- float and integer execution ----------------------------------------------------
    def run_float(self, node, ins, params):
        """The float32 output of ``node`` from its input arrays (Caffe's rules)."""
        self._missing("float model", node)

    def run_int(self, node, ins, layer_quant, out_type):
        """The integer output codes of ``node`` (the numerics contract)."""
        self._missing("golden model", node)

    # --- quantization -------------------------------------------------------------------
    def nonnegative(self, node, inputs_nonnegative: list[bool]) -> bool:
        """Whether the output can never be negative, from the structure alone."""
        self._missing("quantization (sign of the output)", node)

    def quantize(self, ctx, node, in_types, out_type):
        """The integer parameters of ``node`` (``None``: it has none). ``ctx`` offers
        ``graph`` and ``config`` (:class:`fpgagen.passes.quantize.QuantConfig`)."""
        return None

    # --- lowering -----------------------------------------------------------------------
    def lower(self, ctx, node) -> dict:
        """The instruction fields of ``node``. ``ctx`` is the lowering's context
        (:class:`fpgagen.schedule.lower.LowerContext`)."""
        self._missing("lowering", node)

    # --- engine model -------------------------------------------------------------------
    def execute(self, engine, instr):
        """Run one decoded instruction on the engine model; returns streamed scores or
        ``None``."""
        self._missing("engine model")


_BY_TYPE: dict[type, OperatorRules] = {}
_BY_OPCODE: dict[Opcode, OperatorRules] = {}


def register(rules_cls: type[OperatorRules]) -> type[OperatorRules]:
    """Class decorator: register one instance of ``rules_cls`` for its operator type (and
    its opcode)."""
    rules = rules_cls()
    if rules.op_type is Op or not issubclass(rules.op_type, Op):
        raise ValueError(f"{rules_cls.__name__} names no operator type (op_type "
                         f"{rules.op_type!r})")
    if rules.op_type in _BY_TYPE:
        raise ValueError(f"operator {rules.op_type.__name__} is registered twice")
    _BY_TYPE[rules.op_type] = rules
    if rules.opcode is not None:
        if rules.opcode in _BY_OPCODE:
            raise ValueError(f"opcode {rules.opcode.name} is registered twice")
        _BY_OPCODE[rules.opcode] = rules
    return rules_cls


def registered() -> tuple[OperatorRules, ...]:
    """Every registered rule set, in registration order."""
    return tuple(_BY_TYPE.values())


def rules_for(op: Op, stage: str = "fpgagen") -> OperatorRules:
    """The rules of ``op``'s type; a :class:`FpgagenError` naming ``stage`` and the
    operator for one nobody registered."""
    try:
        return _BY_TYPE[type(op)]
    except KeyError:
        known = ", ".join(r.op_type.kind for r in _BY_TYPE.values())
        raise FpgagenError(f"{stage}: no rules for operator {type(op).__name__} "
                           f"({getattr(op, 'kind', '?')!r}); registered: {known}") from None


def rules_for_opcode(opcode, stage: str = "engine model") -> OperatorRules:
    """The rules whose instruction is ``opcode``; a :class:`FpgagenError` for an opcode no
    operator lowers to."""
    try:
        return _BY_OPCODE[Opcode(opcode)]
    except (KeyError, ValueError):
        known = ", ".join(o.name for o in sorted(_BY_OPCODE, key=lambda o: o.value))
        raise FpgagenError(f"{stage}: no operator executes opcode {opcode!r}; "
                           f"registered: {known}") from None
