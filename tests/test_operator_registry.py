"""The operator registry: one rule set per operator and opcode, and an operator or opcode
that nobody registered refused with one clear message by every stage that meets it."""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from fpgagen.errors import FpgagenError
from fpgagen.frontend import generate_weights
from fpgagen.golden.float_model import run_float
from fpgagen.golden.int_model import run_int
from fpgagen.hw import HwParams
from fpgagen.hw.isa import INSTRUCTION_BITS, Instruction, Opcode
from fpgagen.ir import Conv2d, GlobalAvgPool, Graph, Node, Op
from fpgagen.operators import LOWERED, registered, rules_for, rules_for_opcode
from fpgagen.passes import quantize
from fpgagen.schedule import lower, pack_input, run_program


@dataclass(frozen=True)
class Sigmoid(Op):
    """An operator fpgagen has no rules for."""

    kind: ClassVar[str] = "sigmoid"

    def infer_shape(self, node_name, in_shapes):
        return in_shapes[0]


def _graph(middle=None):
    nodes = [Node("conv", Conv2d(8, 3, relu=True), ("data",))]
    last = "conv"
    if middle is not None:
        nodes.append(Node("odd", middle, ("conv",)))
        last = "odd"
    nodes.append(Node("gap", GlobalAvgPool(), (last,)))
    return generate_weights(Graph("tiny", (3, 12, 12), nodes, ["gap"],
                                  mean=(104.0, 117.0, 123.0)))


@pytest.fixture(scope="module")
def with_sigmoid():
    """A quantized graph with a node nobody has rules for (the quantization of the same
    graph without it, the odd node typed like its input)."""
    plain = quantize(_graph())
    g = _graph(Sigmoid())
    types = dict(plain.quant.types, odd=plain.quant.types["conv"])
    return g.replace(quant=plain.quant.__class__(types=types, layers=plain.quant.layers,
                                                 input_mean=plain.quant.input_mean))


IMAGE = np.random.default_rng(0).integers(0, 256, (12, 12, 3), dtype=np.uint8)
MESSAGE = r"no rules for operator Sigmoid \('sigmoid'\); registered: add, concat, conv2d"


def test_every_opcode_has_exactly_one_operator():
    owners = {}
    for rules in registered():
        if rules.lowering == LOWERED:
            assert rules.opcode is not None, rules
        if rules.opcode is not None:
            owners.setdefault(rules.opcode, []).append(rules)
    # LOAD is the engine's input port, not an operator
    assert sorted(owners, key=lambda o: o.value) == [o for o in Opcode if o != Opcode.LOAD]
    assert all(len(v) == 1 for v in owners.values())
    for rules in registered():
        assert rules_for(rules.op_type.__new__(rules.op_type)) is rules


def test_float_model_refuses_an_unregistered_operator():
    with pytest.raises(FpgagenError, match=f"float model: {MESSAGE}"):
        run_float(_graph(Sigmoid()), np.zeros((3, 12, 12), np.float32))


def test_quantization_refuses_an_unregistered_operator():
    with pytest.raises(FpgagenError, match=f"quantization: {MESSAGE}"):
        quantize(_graph(Sigmoid()))


def test_golden_model_refuses_an_unregistered_operator(with_sigmoid):
    with pytest.raises(FpgagenError, match=f"golden model: {MESSAGE}"):
        run_int(with_sigmoid, IMAGE)


def test_lowering_refuses_an_unregistered_operator(with_sigmoid):
    with pytest.raises(FpgagenError, match=f"lowering: {MESSAGE}"):
        lower(with_sigmoid, HwParams(pe_rows=4, pe_cols=4))


def test_engine_model_refuses_an_opcode_without_an_operator(monkeypatch):
    graph = quantize(_graph())
    program = lower(graph, HwParams(pe_rows=4, pe_cols=4))
    words = program.words()
    op_field = dict(iter(Instruction))["op"]
    unused = max(o.value for o in Opcode) + 1
    if unused >= 1 << op_field.width:
        pytest.skip(f"the {op_field.width}-bit opcode field has no unused value")
    mask = ((1 << op_field.width) - 1) << op_field.offset
    bad = (words[0] & ~mask) | (unused << op_field.offset)
    assert bad < 1 << INSTRUCTION_BITS
    monkeypatch.setattr(type(program), "words", lambda self: [bad, *words[1:]])
    with pytest.raises(FpgagenError, match=f"engine model: no operator executes opcode "
                                           f"{unused}"):
        run_program(program, pack_input(program, graph, IMAGE))


def test_rules_for_opcode_names_the_registered_ones():
    with pytest.raises(FpgagenError, match="no operator executes opcode 99; registered: "
                                           "CONV, MAXPOOL, GAP, ADD"):
        rules_for_opcode(99)
