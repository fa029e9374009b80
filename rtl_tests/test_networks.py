"""Whole networks on the generated hardware: each image streams in after one ``start``,
the design runs every layer by itself, the class scores stream out, and they must equal the
golden model's bit for bit. Simulated cycles must equal the compiler's cycle model."""

from pathlib import Path

import numpy as np
import pytest

from fpgagen.frontend import generate_weights, load_npz_weights
from fpgagen.golden.int_model import scores
from fpgagen.hw import HwParams
from fpgagen.labels import default_labels
from fpgagen.nets import NetOptions, build_net
from fpgagen.passes import QuantConfig, quantize
from fpgagen.sim.simulate import NetworkSimulator, simulate_image

from .conftest import BUILD_ROOT

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
WEIGHTS = SHARED / "models" / "squeezenet_v1_1.npz"
REFERENCE = SHARED / "images" / "reference.npz"

#: ``id: (net, input size, width, PE array side, band steps[, activation bits])``: reduced
#: networks, generated weights; ``None`` steps: whole tensors; 8-bit activations unless
#: given. (``benchmarks/output_hashes.py`` simulates more whole-tensor networks.)
REDUCED = {
    "squeezenet1_1-64-8x8": ("squeezenet1_1", 64, 1.0, 8, None),
    # row bands and fused pooling on every network of the family (v1.1 at full size below)
    "squeezenet1_0-67-8x8-bands": ("squeezenet1_0", 67, 1.0, 8, 6),
    "squeezenet1_0-simple-bypass-67-16x16-bands": ("squeezenet1_0-simple-bypass", 67, 1.0,
                                                   16, 5),
    "squeezenet1_0-complex-bypass-67-8x8-bands": ("squeezenet1_0-complex-bypass", 67, 1.0, 8,
                                                  4),
    "zynqnet-64-8x8-bands": ("zynqnet", 64, 1.0, 8, 8),
    # SqueezeNext (issue 17): 3x1 / 1x3 kernels, folded BatchNorm, sums with ReLU, the
    # fully connected layer after the GAP
    "squeezenext-23v5-64-8x8": ("squeezenext-23v5", 64, 1.0, 8, None),
    # 10-bit activations in 11-bit lanes: bypasses, fused pools, row bands, the GAP
    "squeezenet1_0-simple-bypass-67-0.5-8x8-bands-act10": ("squeezenet1_0-simple-bypass", 67,
                                                           0.5, 8, 4, 10),
}
#: SqueezeNext in full and its other variants (slow): ``id: (net, input size, width, PE array
#: side, band steps)``.
SQUEEZENEXT_SLOW = {
    "squeezenext-23-227-16x16": ("squeezenext-23", 227, 1.0, 16, None),
    "squeezenext-23-g-64-8x8-bands": ("squeezenext-23-g", 64, 1.0, 8, 4),
    "squeezenext-23v2-2.0-64-16x16-bands": ("squeezenext-23v2", 64, 2.0, 16, 3),
}
#: Activation memory the full v1.1 may use (issue 14: at most 256 KB, from 1.38 MB).
ACTIVATION_LIMIT = 256 * 1024


def _check(report, name):
    np.testing.assert_array_equal(report.scores, report.golden, err_msg=name)
    assert report.bit_exact and np.unique(report.scores).size > 10, name
    np.testing.assert_array_equal(report.instruction_cycles,
                                  [l.cycles_predicted for l in report.program.layers])
    print(f"{name}: {report.cycles:,d} cycles, {report.macs:,d} MACs, MAC utilization "
          f"{100 * report.mac_utilization:.1f}%, {report.cycles_per_second:,.0f} simulated "
          f"cycles/s, build {report.build_seconds:.1f} s")


def _simulate_generated(case, net, size, width, side, steps, activation_bits=8, *, seed):
    """``net`` with generated weights and ``activation_bits``-bit activations on a ``side x
    side`` array in ``steps`` bands, one random image of seed ``seed``: the report, checked
    by :func:`_check`."""
    graph = quantize(generate_weights(build_net(net, NetOptions(input_size=size,
                                                                width=width))),
                     QuantConfig(activation_bits=activation_bits))
    image = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    report = simulate_image(graph, HwParams(pe_rows=side, pe_cols=side), image,
                            BUILD_ROOT / f"net_{case}", steps=steps)
    _check(report, case)
    return report


@pytest.mark.parametrize("case", REDUCED)
def test_reduced_network_bit_exact(case):
    net, size, width, side, steps, *bits = REDUCED[case]
    program = _simulate_generated(case, *REDUCED[case], seed=3).program
    assert program.act_lane_bits == max(9, (bits or [8])[0] + 1)
    if steps is not None:  # (at these sizes the rings save little; full size does)
        assert program.plan.steps == steps
        assert any(not b.whole for b in program.plan.buffers)
    assert program.pool_depth > 0 or net == "zynqnet"  # pools fused (ZynqNet has none)


@pytest.mark.slow
@pytest.mark.parametrize("case", SQUEEZENEXT_SLOW)
def test_squeezenext_bit_exact(case):
    """SqueezeNext with generated weights (BatchNorm folded): the full 1.0-SqNxt-23 at
    227x227, the grouped network and a 2.0-wide v2 (5x5 first conv) in row bands."""
    net, size, width, side, steps = SQUEEZENEXT_SLOW[case]
    report = _simulate_generated(case, *SQUEEZENEXT_SLOW[case], seed=5)
    if steps is not None:
        assert report.program.plan.steps == steps


def test_squeezenet1_1_227_real_weights_real_photos():
    """Full SqueezeNet v1.1 at 227x227 with the released weights (calibrated on the
    photos) on the default 16x16 array, two real photos from ``input_bgr_u8``, in the row
    band plan with the fewest cycles whose activation memory is at most 256 KB: at least
    95% of the multipliers busy over the whole run (the input streaming included)."""
    if not WEIGHTS.exists() or not REFERENCE.exists():
        pytest.skip(f"needs {WEIGHTS} and {REFERENCE} (../shared absent)")
    with np.load(REFERENCE) as ref:
        photos, names = ref["input_bgr_u8"], ref["names"]
        float_logits = ref["v1_1_logits"]
    graph = quantize(load_npz_weights(build_net("squeezenet1_1"), WEIGHTS),
                     calibration_images=photos)
    labels = default_labels(1000)
    sim = NetworkSimulator(graph, HwParams(), BUILD_ROOT / "net_squeezenet1_1-227-16x16",
                           max_activation_bytes=ACTIVATION_LIMIT)
    plan = sim.program.plan
    assert plan.steps > 1 and plan.bytes(plan.words) <= ACTIVATION_LIMIT
    print(f"activation memory {plan.bytes(plan.words):,d} bytes in {plan.steps} bands "
          f"(whole tensors: {plan.bytes(plan.whole_words):,d} bytes), "
          f"{len(sim.program.instructions)} instructions")
    for i in (0, 7):  # the tench and Caffe's cat
        report = sim.run(photos[i])
        _check(report, str(names[i]))
        values = scores(graph, report.scores)
        top5 = np.argsort(-values, kind="stable")[:5]
        print(f"{names[i]} top-5 on the hardware: " + "; ".join(
            f"[{k}] {labels[k]} {values[k]:.3f}" for k in top5))
        assert int(np.argmax(float_logits[i])) in top5, names[i]
        assert report.mac_utilization >= 0.95


V10_WEIGHTS = SHARED / "models" / "squeezenet_v1_0.npz"
#: Weight storage Deep Compression reports for SqueezeNet with 8-bit indices (0.66 MB).
DEEP_COMPRESSION_BYTES = 660_000


@pytest.mark.slow
@pytest.mark.parametrize("weight_bits, activation_bits", [(8, 8), (12, 10)],
                         ids=["w8-a8", "w12-a10"])
def test_squeezenet1_0_227_deep_compression_weights(weight_bits, activation_bits):
    """Full SqueezeNet v1.0 at 227x227 with the released Deep Compression weights stored
    as they come (``pruned:8``: the zeros not stored, each layer's codebook kept) on the
    16x16 array, whole tensors: weight storage within Deep Compression's 0.66 MB, the
    scores of a real photo bit-exact, the cycles as predicted. With 8-bit codes calibrated
    on the photos; with 12-bit weight codes and 10-bit activations (within a point of the
    float model on the evaluation photos, ``docs/numerics.md``) as that figure was
    measured, default calibration."""
    if not V10_WEIGHTS.exists() or not REFERENCE.exists():
        pytest.skip(f"needs {V10_WEIGHTS} and {REFERENCE} (../shared absent)")
    from fpgagen.ir.weight_format import WeightFormat

    with np.load(REFERENCE) as ref:
        photos, names = ref["input_bgr_u8"], ref["names"]
    config = QuantConfig(weight_format=WeightFormat.parse("pruned:8"),
                         weight_bits=weight_bits, activation_bits=activation_bits)
    graph = quantize(load_npz_weights(build_net("squeezenet1_0"), V10_WEIGHTS), config,
                     calibration_images=photos if weight_bits == 8 else None)
    suffix = "" if weight_bits == 8 else f"-w{weight_bits}-a{activation_bits}"
    sim = NetworkSimulator(graph, HwParams(),
                           BUILD_ROOT / f"net_squeezenet1_0-227-16x16-dc{suffix}")
    program = sim.program
    storage = program.weight_storage()
    print(f"weights on chip: {storage}")
    assert storage["total"] <= DEEP_COMPRESSION_BYTES
    assert all(f.compressed for f in program.instructions if f.op.name == "CONV")
    assert program.act_lane_bits == max(9, activation_bits + 1)
    report = sim.run(photos[0])
    _check(report, str(names[0]))
