"""Activation codes wider than 8 bits (``activation_bits`` 8..12): the quantized types, the
lane width the program, memory map, top level and estimates take from the graph, the
engine model against the golden model on real networks, and default designs unchanged."""

import numpy as np
import pytest

from fpgagen.cli_common import OneLineParser, add_quant_args, flow_config
from fpgagen.devices.board import resolve_board
from fpgagen.errors import FpgagenError
from fpgagen.fit.multipliers import count_multipliers
from fpgagen.frontend import generate_weights
from fpgagen.gateware.pe_array import PEArray
from fpgagen.gateware.pool_unit import PoolUnit
from fpgagen.gateware.postproc import PostProcessor
from fpgagen.gateware.top import AcceleratorConfig
from fpgagen.gateware.vector_unit import VectorUnit
from fpgagen.gateware.weight_decoder import ColumnDecoder
from fpgagen.golden.int_model import run_int
from fpgagen.hw import HwParams
from fpgagen.hw.spec import (ACT_LANE_BITS, GAP_SUM_BITS, OUTPUT_CODE_BITS, act_lane_bits,
                             check_activation_bits, gap_sum_bits, output_code_bits)
from fpgagen.ir import QType
from fpgagen.nets import NetOptions, build_net
from fpgagen.passes import QuantConfig, quantize
from fpgagen.schedule import lower, pack_input, run_program
from fpgagen.schedule.memory_map import MemoryRole, memory_map
from fpgagen.testing import BlockSpec, GraphSpec, LayerSpec, prepare

_GRAPHS = {}


def _graph(bits: int, net: str = "squeezenet1_1", size: int = 32, width: float = 0.25):
    key = (bits, net, size, width)
    if key not in _GRAPHS:
        g = generate_weights(build_net(net, NetOptions(input_size=size, width=width)))
        _GRAPHS[key] = quantize(g, QuantConfig(activation_bits=bits))
    return _GRAPHS[key]


def test_lane_width_functions():
    assert [act_lane_bits(b) for b in range(8, 13)] == [9, 10, 11, 12, 13]
    assert act_lane_bits() == ACT_LANE_BITS == 9
    assert gap_sum_bits(ACT_LANE_BITS) == GAP_SUM_BITS == 18
    assert gap_sum_bits(13) == 22
    assert output_code_bits(8) == OUTPUT_CODE_BITS == (8, 16)
    assert output_code_bits(10) == (10, 16)


@pytest.mark.parametrize("bad", [7, 13, 0, True, 10.0, "10"])
def test_activation_bits_outside_8_to_12_are_refused(bad):
    with pytest.raises(FpgagenError, match=rf"activation_bits must be an integer in 8\.\.12, "
                                           rf"not {bad!r}"):
        QuantConfig(activation_bits=bad)
    with pytest.raises(ValueError, match=r"activation_bits must be"):
        check_activation_bits(bad)


@pytest.mark.parametrize("bits", [8, 10, 12])
def test_quantize_types_follow_activation_bits(bits):
    graph = _graph(bits)
    q = graph.quant
    assert q.activation_bits == bits and q.act_lane_bits == max(9, bits + 1)
    types = q.types
    assert types[graph.input_name] == QType(9, 0, True)  # pixel - mean, whatever the width
    for name, t in types.items():
        if name == graph.input_name:
            continue
        assert t.bits == (16 if name in graph.outputs else bits), (name, t)
    assert types["fire2/concat"].bits == bits and not types["fire2/concat"].signed  # u10...


def test_the_accumulator_check_still_refuses_what_does_not_fit():
    """A 3x3 conv over 512 channels: 8-bit activations fit the 32-bit accumulator, 12-bit
    ones do not (12 + 8 + 13 bits)."""
    def spec(bits):
        wide = BlockSpec("conv", -1, None, (LayerSpec("conv", (1, 1), out_channels=512,
                                                      relu=True),))
        deep = BlockSpec("conv", 0, None, (LayerSpec("conv", (3, 3), out_channels=2,
                                                     padding=(1, 1)),))
        return GraphSpec(height=3, width=3, lanes=2, activation_bits=bits, seed=1,
                         blocks=(wide, deep))

    prepare(spec(8))
    with pytest.raises(FpgagenError, match=r"worst-case accumulator needs 33 bits \(> 32\)"):
        prepare(spec(12))


@pytest.mark.parametrize("bits", [9, 10, 12])
def test_engine_model_matches_golden_with_wide_activations(bits):
    """Whole networks (fused pools, concats, the GAP) on 8x8 and 16x16 arrays, whole
    tensors and row bands: the engine model's every stored tensor and score equals the
    golden model's."""
    graph = _graph(bits, "squeezenet1_0-simple-bypass", size=48, width=0.25)
    img = np.random.default_rng(bits).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    golden = run_int(graph, img, keep_all=True)
    wide_codes = 0
    for side, steps in ((8, 1), (16, 3)):
        program = lower(graph, HwParams(pe_rows=side, pe_cols=side), steps=steps,
                        reuse_memory=False)
        assert program.act_lane_bits == max(9, bits + 1)
        result = run_program(program, pack_input(program, graph, img), capture=True)
        for t in program.tensors:
            if t != graph.input_name:
                np.testing.assert_array_equal(result.tensors[t], golden[t], err_msg=t)
                wide_codes += int((np.abs(golden[t]) > 255).sum())
        np.testing.assert_array_equal(result.scores, golden[graph.outputs[0]].ravel())
        assert result.cycles == [l.cycles_predicted for l in program.layers]
    assert wide_codes > 0  # codes beyond 8 bits were stored and read back


@pytest.mark.parametrize("bits", [8, 10, 12])
def test_program_memory_map_and_top_level_take_the_lane_width(bits):
    graph = _graph(bits)
    lane = max(9, bits + 1)
    program = lower(graph, HwParams(pe_rows=8, pe_cols=8))
    assert program.act_lane_bits == lane
    mm = memory_map(program)
    assert mm.one(MemoryRole.ACTIVATIONS).width == 8 * lane
    assert mm.one(MemoryRole.POOL_STATE).width == 8 * lane
    assert mm.one(MemoryRole.SCORES).width == 8 * 16  # the scores stay 16 bits
    assert (mm.pe_rows, mm.act_lane_bits) == (8, lane)
    cfg = AcceleratorConfig.for_program(program, mm.with_bank_depths(lambda m: 4096))
    assert (cfg.pe_rows, cfg.act_lane_bits, cfg.activation_bits) == (8, lane, bits)
    plan = program.plan
    assert plan.bytes(plan.words) == plan.words * 8 * lane // 8
    if bits > 8:  # activation memory grows by lane / 9
        default = lower(_graph(8), HwParams(pe_rows=8, pe_cols=8))
        assert program.act_depth == default.act_depth
        assert plan.bytes(plan.words) > default.plan.bytes(default.plan.words)


def test_out_of_range_output_codes_name_the_design_widths():
    """A design saturates to its activation width or 16 bits: with 10-bit activations the
    9-bit max pool of the network input is refused with those widths, with 9-bit ones it
    maps (its type is the activations')."""
    pool_of_input = dict(height=4, width=4, lanes=2, seed=27, blocks=(
        BlockSpec("concat", -1, None, (LayerSpec("conv", (1, 1), out_channels=1, relu=True),
                                       LayerSpec("maxpool", (1, 1)))),))
    with pytest.raises(FpgagenError, match=r"has 9-bit codes, and the hardware saturates to "
                                           r"10 or 16-bit codes"):
        prepare(GraphSpec(activation_bits=10, **pool_of_input))
    prep = prepare(GraphSpec(activation_bits=9, **pool_of_input))
    assert prep.program.act_lane_bits == 10


def test_multipliers_of_wide_lanes():
    """Two products share a MAX 10 multiplier only with operands of at most 9 bits; a GAP
    sum beyond 18 bits takes two 18x18 multipliers per lane, one DSP48E1."""
    max10, zynq = resolve_board("max10"), resolve_board("zynq7020")
    assert count_multipliers(8, max10).pe_array == 32
    assert count_multipliers(8, max10, act_lane_bits=10).pe_array == 64
    assert count_multipliers(8, max10).lanes == 8
    assert count_multipliers(8, max10, act_lane_bits=11).lanes == 16
    assert count_multipliers(8, zynq, act_lane_bits=13).lanes == 8


def test_cli_activation_bits_option():
    p = OneLineParser(prog="fpgagen test")
    p.add_argument("--net", default="squeezenet")
    p.add_argument("--input-size", type=int)
    p.add_argument("--num-classes", type=int)
    p.add_argument("--width", type=float, default=1.0)
    add_quant_args(p)
    assert flow_config(p.parse_args([])).activation_bits == 8
    assert flow_config(p.parse_args(["--activation-bits", "10"])).activation_bits == 10
    assert "activation code width, 8..12 (lanes of B+1 bits; more memory)" in \
        " ".join(p.format_help().split())
    with pytest.raises(SystemExit):
        p.parse_args(["--activation-bits", "13"])


def test_logic_estimate_grows_with_the_operands():
    """The logic model's PE array and lanes grow with wider lanes and weight operands
    (none of them shrinks, control is unchanged); a default design is estimated as before
    (the coefficients were fitted on 9 x 8 operands)."""
    from fpgagen.fit.logic_model import logic_blocks

    board, hw = resolve_board("zynq7045"), HwParams(pe_rows=8, pe_cols=8)

    def blocks(weight_bits, activation_bits):
        graph = quantize(generate_weights(build_net("squeezenet1_1", NetOptions(
            input_size=32, width=0.25))), QuantConfig(weight_bits=weight_bits,
                                                      activation_bits=activation_bits))
        return logic_blocks(hw, board, lower(graph, hw))

    base, wide_w, wide = blocks(8, 8), blocks(12, 8), blocks(12, 10)
    assert base["pe_array"]["lut"] < wide_w["pe_array"]["lut"] < wide["pe_array"]["lut"]
    assert base["lanes"]["lut"] == wide_w["lanes"]["lut"] < wide["lanes"]["lut"]
    assert base["control"] == wide["control"]
    coefficients = blocks(4, 8)  # narrower weights are sign-extended to 8-bit operands
    assert coefficients["pe_array"] == base["pe_array"]


@pytest.mark.parametrize("make, message", [
    (lambda: PEArray(pe_rows=2, pe_cols=2, weight_bits=16),
     "weight_bits must be an integer in 4..12, not 16"),
    (lambda: PEArray(pe_rows=2, pe_cols=2, act_bits=8),
     "activation lane must be an integer of 9..13 bits, not 8"),
    (lambda: VectorUnit(lanes=2, lane_bits=14),
     "activation lane must be an integer of 9..13 bits, not 14"),
    (lambda: PoolUnit(lanes=2, depth=4, lane_bits=3),
     "activation lane must be an integer of 9..13 bits, not 3"),
    (lambda: PostProcessor(code_bits=7), "activation_bits must be an integer in 8..12, not 7"),
    (lambda: ColumnDecoder(lanes=2, word_bits=16, tile_depth=4, weight_bits=13),
     "weight_bits must be an integer in 4..12, not 13"),
], ids=["pe-weights", "pe-lanes", "vector", "pool", "postproc", "decoder"])
def test_datapath_blocks_refuse_widths_they_cannot_build(make, message):
    with pytest.raises(ValueError, match=message):
        make()
