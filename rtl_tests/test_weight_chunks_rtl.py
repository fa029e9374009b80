"""Weight chunks on the generated hardware: a program whose every CONV is split into chunks
of output groups within a budget of weight bits per PE column
(``HwParams.weight_chunk_bits``), bit-exact against the golden model and cycle-exact
against the cycle model. One Verilator build of a small graph on 4x4 PEs in two row
bands: dense and compressed convolutions, max pools fused into a compressed and a dense
conv (chunks at later pool-state words), a concat, and a compressed conv before the GAP
in channel chunks that are split again; the budget is the tightest every output group
fits, so that most convolutions run one output group per instruction (each compressed
chunk loading its codebook and priming its decoder from its first group's stream
start)."""

import dataclasses

from fpgagen.schedule import Opcode, instruction_weight_bits
from fpgagen.schedule.weight_chunks import least_chunk_bits
from fpgagen.testing import prepare
from fpgagen.testing.random_graphs import BlockSpec, GraphSpec, LayerSpec

from .test_random_layers_rtl import _assert_blocks_equal, _run

LANES = 4
#: Index width of each convolution in graph order (0: dense) and share of stored weights.
INDEX_BITS = (5, 3, 0, 4, 2, 0, 7, 6)
DENSITY = (0.35, 0.6, 1.0, 0.05, 0.05, 1.0, 0.9, 0.2)


def _conv(k, out, stride=1, pad=0, relu=True):
    return LayerSpec("conv", (k, k), (stride, stride), (pad, pad), out_channels=out,
                     relu=relu)


def _pool(k, s):
    return LayerSpec("maxpool", (k, k), (s, s), (0, 0), ceil_mode=True)


def _spec() -> GraphSpec:
    n = LANES
    blocks = (
        BlockSpec("conv", -1, None, (_conv(3, 21, pad=1),)),  # im2col, compressed
        BlockSpec("maxpool", 0, _conv(1, n + 3), (_pool(3, 2),)),  # fused, compressed
        BlockSpec("concat", 1, _conv(1, 2 * n - 3),  # squeeze, dense
                  (_conv(1, n + 1), _conv(3, n + 5, pad=1))),  # expands, compressed
        BlockSpec("maxpool", 2, _conv(1, 2 * n + 1), (_pool(2, 2),)),  # fused, dense
        BlockSpec("gap", 3, _conv(1, n), (_conv(1, 5 * n - 1, relu=False),)),  # chunks
    )
    return GraphSpec(height=13, width=11, blocks=blocks, lanes=n, seed=5, steps=2,
                     index_bits=INDEX_BITS, density=DENSITY)


def test_weight_chunks_bit_exact_and_cycle_exact_on_rtl(build_dir):
    spec = _spec()
    whole = prepare(spec, reuse_memory=False).program
    budget = least_chunk_bits(whole)
    prep = prepare(dataclasses.replace(spec, weight_chunk_bits=budget), reuse_memory=False)
    program = prep.program
    convs = [(f, i.name) for f, i in zip(program.instructions, program.layers)
             if f.op == Opcode.CONV]
    assert all(instruction_weight_bits(program, f) <= budget for f, _ in convs)
    assert len(program.instructions) > len(whole.instructions)
    # chunks of a compressed, a dense, a fused compressed and a fused dense conv that
    # start after the layer's first group, and of the conv before the GAP
    split = {name for f, name in convs
             if f.bias_base > min(g.bias_base for g, n in convs if n == name)}
    assert {"b0/conv", "b2/x1", "b1/stem", "b3/stem", "b4/gap"} <= split
    assert {bool(f.compressed) for f, _ in convs} == {False, True}
    assert {(bool(f.pool), bool(f.compressed)) for f, _ in convs if f.pool} == {
        (True, False), (True, True)}
    run, engine = _run(prep, build_dir, 256)  # cycles checked per instruction too
    _assert_blocks_equal(prep, run, engine, f"weight chunks of {budget} bits")
    assert run.cycles == program.cycles_predicted == engine.total_cycles
    print(f"{len(whole.instructions)} -> {len(program.instructions)} instructions within "
          f"{budget} bits per column; {run.cycles:,d} cycles simulated, "
          f"{program.cycles_predicted:,d} predicted (unsplit: {whole.cycles_predicted:,d})")
