"""Random layers against the golden model: Hypothesis draws small graphs of layer
configurations (conv kernels 1..7 on each axis, strides 1..3, padding 0..7, max pools in
ceil and floor mode, concats, adds, a closing global average pool; channel counts that are
and are not multiples of the array; random weights, quantization options and images; see
:mod:`fpgagen.testing.random_graphs`), lowers each for a random PE array and checks every
tensor the word-level engine model writes, and the scores it streams, bit for bit.

Each run explores new graphs: the seed is printed with a failure (and Hypothesis prints the
failing graph as a ``GraphSpec``). Replay with ``FPGAGEN_RANDOM_SEED=<seed> pytest ...``.
``benchmarks/random_layers.py`` runs thousands of cases.
"""

import os
import random
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, note, reject, seed, settings
from hypothesis import strategies as st

from fpgagen.errors import FpgagenError
from fpgagen.schedule import pack_input, run_program
from fpgagen.testing import (BLOCK_KINDS, block_tensors, check_engine, draw_graph_spec,
                             numpy_draw, prepare)

SEED = int(os.environ.get("FPGAGEN_RANDOM_SEED") or random.SystemRandom().randrange(2 ** 32))
#: Random graphs checked per run (each holds 1 to 3 cases, one per block).
EXAMPLES = int(os.environ.get("FPGAGEN_RANDOM_EXAMPLES", 300))


@st.composite
def graph_specs(draw, **options):
    """A :class:`~fpgagen.testing.GraphSpec` whose every choice is a Hypothesis integer,
    so that a failing graph shrinks to a simple one."""
    options.setdefault("weight_bits", (8, 4, 5, 6, 7, 10, 12))
    return draw_graph_spec(lambda lo, hi: draw(st.integers(lo, hi)), compress=True, **options)


@seed(SEED)
@settings(max_examples=EXAMPLES, deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=graph_specs())
def test_engine_model_matches_golden_on_random_layers(spec):
    _check_engine_model(spec)


@seed(SEED)
@settings(max_examples=max(EXAMPLES // 3, 1), deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=graph_specs(activation_bits=(10, 9, 11, 12), pool_input=True))
def test_engine_model_matches_golden_with_wide_activations(spec):
    """As above with activation codes of 9 to 12 bits (lanes of 10 to 13 bits), max pools
    of the input allowed (mappable with 9-bit activations)."""
    _check_engine_model(spec)


def _check_engine_model(spec):
    note(f"replay with FPGAGEN_RANDOM_SEED={SEED}")
    try:
        prep = prepare(spec)
    except FpgagenError:
        reject()  # not mappable (e.g. an add whose operands' scales are 16 bits apart)
    program = prep.program
    result = run_program(program, pack_input(program, prep.graph, prep.image), capture=True)
    checked = 0
    for i, names in enumerate(block_tensors(spec)):
        for name in names:
            if name in program.tensors:
                got, want = result.tensors[name], prep.golden[name]
            elif name in program.unstored:
                continue  # a fused max pool's input (checked through the pool), or the
                # conv before the GAP run in channel chunks (checked through the scores)
            else:  # the closing global average pool: the streamed scores
                got, want = result.scores, prep.golden[name].ravel()
            np.testing.assert_array_equal(got, want, err_msg=f"seed {SEED}, block {i} "
                                          f"{spec.blocks[i]}, tensor {name}")
        checked += 1
    assert checked == len(spec.blocks) >= 1


def test_random_graphs_cover_the_asked_space():
    """The generator reaches every kernel side 1..7 (non-square ones too), stride 1..3,
    padding 0..7, both pooling modes, every block kind, channel counts that are and are
    not multiples of the array, and a GAP; and its graphs are rarely refused."""
    rng = np.random.default_rng(SEED)
    seen = Counter()
    specs = [draw_graph_spec(numpy_draw(rng)) for _ in range(400)]
    for spec in specs:
        seen["lanes", spec.lanes] += 1
        for b in spec.blocks:
            seen["block", b.kind] += 1
            for layer in (b.stem, *b.branches):
                if layer is None:
                    seen["identity", True] += 1
                    continue
                for a in (0, 1):
                    seen[layer.kind, "kernel", layer.kernel[a]] += 1
                    seen[layer.kind, "stride", layer.stride[a]] += 1
                    seen[layer.kind, "pad", layer.padding[a]] += 1
                seen[layer.kind, "square", layer.kernel[0] == layer.kernel[1]] += 1
                if layer.kind == "conv":
                    seen["channels multiple", layer.out_channels % spec.lanes == 0] += 1
                else:
                    seen["ceil", layer.ceil_mode] += 1
    want = [("block", k) for k in (*BLOCK_KINDS, "gap")] + [("identity", True)]
    want += [("lanes", n) for n in (2, 4, 8, 16)]
    for kind in ("conv", "maxpool"):
        want += [(kind, "kernel", k) for k in range(1, 8)]
        want += [(kind, "stride", s) for s in range(1, 4)]
        want += [(kind, "square", b) for b in (True, False)]
    want += [("conv", "pad", p) for p in range(8)] + [("maxpool", "pad", p) for p in range(7)]
    want += [("ceil", b) for b in (True, False)]
    want += [("channels multiple", b) for b in (True, False)]
    for spec in specs[:100]:  # the schedules: fused pools, rings, regions
        seen["banded", spec.steps > 1] += 1
        try:
            program = prepare(spec).program
        except FpgagenError:
            continue
        seen["fused pool", program.pool_depth > 0] += 1
        seen["ring", any(f.in_rows < f.in_h for f in program.instructions)] += 1
    want += [("banded", b) for b in (True, False)] + [("fused pool", True), ("ring", True)]
    missing = [w for w in want if not seen[w]]
    assert not missing, missing
    refused = sum(bool(check_engine(s).refused) for s in specs[:100])
    assert refused <= 2, f"{refused} of 100 random graphs refused"
