"""Per-layer weight formats of the quantization pass: dense, codebook:B (k-means with linear
initialization, or the weights' own values when few enough) and pruned:B (zeros not
stored); the text form, the per-layer overrides, the command-line options, and the Deep
Compression release of SqueezeNet v1.0 keeping its codebooks exactly."""

import json

import numpy as np
import pytest

from fpgagen.cli import main
from fpgagen.errors import FpgagenError
from fpgagen.frontend import generate_weights, load_npz_weights
from fpgagen.ir import Conv2d, ConvQuant
from fpgagen.ir.weight_format import WeightFormat, WeightKind
from fpgagen.nets import NetOptions, build_net
from fpgagen.numerics.codebook import codebook_codes, linear_kmeans, share_weights
from fpgagen.passes import QuantConfig, generated_calibration_images, quantize

TINY = NetOptions(input_size=32, width=0.25, num_classes=10)
TINY_ARGS = ["--net", "squeezenet1_1", "--input-size", "32", "--width", "0.25",
             "--num-classes", "10"]


def _tiny_graph(pruned_share=0.0, distinct=None, seed=1):
    """The tiny SqueezeNet with generated weights; ``pruned_share`` of every conv's weights
    set to zero, and (``distinct``) every weight replaced by one of that many values."""
    g = generate_weights(build_net("squeezenet1_1", TINY), seed=0)
    rng = np.random.default_rng(seed)
    params = {}
    for name, p in g.params.items():
        w = np.array(p["weight"], dtype=np.float32)
        if distinct is not None:
            table = np.sort(rng.normal(0, float(np.abs(w).max()) / 2, distinct))
            w = table[rng.integers(0, distinct, w.shape)].astype(np.float32)
        w[rng.random(w.shape) < pruned_share] = 0
        params[name] = {**p, "weight": w}
    return g.replace(params=params)


def _quantize(g, **config):
    return quantize(g, QuantConfig(**config),
                    calibration_images=generated_calibration_images(g, 1))


def _convs(q):
    return {k: v for k, v in q.quant.layers.items() if isinstance(v, ConvQuant)}


# --- the text form --------------------------------------------------------------------------

@pytest.mark.parametrize("text,kind,bits", [
    ("dense", WeightKind.DENSE, 0), ("codebook:6", WeightKind.CODEBOOK, 6),
    ("pruned:8", WeightKind.PRUNED, 8), (" Pruned:2 ", WeightKind.PRUNED, 2),
])
def test_parse(text, kind, bits):
    fmt = WeightFormat.parse(text)
    assert (fmt.kind, fmt.index_bits) == (kind, bits)
    assert WeightFormat.parse(str(fmt)) == fmt
    assert fmt.compressed == (kind is not WeightKind.DENSE)


@pytest.mark.parametrize("text,message", [
    ("", "not ''"), ("sparse:4", "not 'sparse:4'"), ("codebook", "not 'codebook'"),
    ("codebook:", "not 'codebook:'"),
    ("codebook:1", "2 <= B <= 8 index bits, not 'codebook:1'"),
    ("pruned:9", "not 'pruned:9'"), ("pruned:x", "not 'pruned:x'"),
    ("pruned:-3", "not 'pruned:-3'"),
    ("dense:8", "takes no index bits, not 'dense:8'"),
])
def test_bad_texts_are_refused_with_the_value(text, message):
    with pytest.raises(FpgagenError, match=message):
        WeightFormat.parse(text)


def test_bad_constructor_values():
    with pytest.raises(FpgagenError, match="not 'huffman'"):
        WeightFormat("huffman", 4)
    with pytest.raises(FpgagenError, match="2..8, not 9"):
        WeightFormat(WeightKind.CODEBOOK, 9)
    with pytest.raises(FpgagenError, match="no index bits, not 4"):
        WeightFormat("dense", 4)
    assert WeightFormat("pruned", 5) == WeightFormat(WeightKind.PRUNED, 5)


# --- k-means --------------------------------------------------------------------------------

def test_kmeans_linear_init_is_deterministic():
    x = np.random.default_rng(3).standard_t(3, 5000)
    c0, _ = linear_kmeans(x, 16, iterations=0)
    np.testing.assert_array_equal(c0, np.linspace(x.min(), x.max(), 16))
    c1, l1 = linear_kmeans(x, 16)  # converged
    c2, l2 = linear_kmeans(x.copy(), 16)
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_array_equal(l1, l2)
    assert np.all(np.diff(c1) > 0)
    # each value in its nearest cluster, each centroid the mean of its values (converged)
    nearest = np.argmin(np.abs(x[:, None] - c1[None, :]), axis=1)
    np.testing.assert_array_equal(l1, nearest)
    for k in np.unique(l1):
        assert c1[k] == pytest.approx(x[l1 == k].mean())


def test_kmeans_lowers_the_error_of_the_linear_start():
    x = np.random.default_rng(4).normal(0, 1, 20000)
    errors = []
    for it in (0, 1, 50):
        c, lab = linear_kmeans(x, 8, iterations=it)
        errors.append(float(np.mean((c[lab] - x) ** 2)))
    assert errors[0] > errors[1] > errors[2]


def test_share_weights_keeps_few_distinct_values_exactly():
    rng = np.random.default_rng(5)
    table = rng.normal(0, 0.1, 40)
    w = table[rng.integers(0, 40, (8, 4, 3, 3))]
    shared = share_weights(w, 6, pruned=False)
    assert shared.kept
    np.testing.assert_array_equal(shared.codebook, np.unique(w))
    np.testing.assert_array_equal(shared.decoded(), w)
    # one more distinct value than entries: k-means instead
    shared = share_weights(np.linspace(-1, 1, 65), 6, pruned=False)
    assert not shared.kept and len(shared.codebook) <= 64


def test_share_weights_pruned_leaves_zeros_unstored():
    rng = np.random.default_rng(6)
    w = rng.normal(0, 1, (16, 8, 3, 3))
    w[rng.random(w.shape) < 0.6] = 0
    shared = share_weights(w, 4, pruned=True)
    np.testing.assert_array_equal(shared.index == -1, w == 0)
    assert 0 not in shared.codebook and len(shared.codebook) <= 16
    assert shared.codebook.min() >= w.min() and shared.codebook.max() <= w.max()
    # all zero: nothing stored
    empty = share_weights(np.zeros((2, 2, 1, 1)), 4, pruned=True)
    assert (empty.index == -1).all() and len(empty.codebook) == 1


def _code_error(shared, codes, frac):
    return float(np.sum(shared.counts() * (codes * 2.0 ** -frac - shared.codebook) ** 2))


def test_codebook_codes_within_weight_bits_with_least_error():
    from fpgagen.numerics.fixed_point import choose_frac

    shared = share_weights(np.random.default_rng(7).normal(0, 0.2, 3000), 5, pruned=False)
    for bits in (4, 8):
        qmax = (1 << (bits - 1)) - 1
        codes, frac = codebook_codes(shared, bits)
        assert codes.min() >= -qmax - 1 and codes.max() <= qmax
        first = choose_frac(float(np.abs(shared.codebook).max()), qmax)
        assert frac >= first
        for f in range(first, first + 4):
            other = np.clip(np.round(shared.codebook * 2.0 ** f), -qmax - 1, qmax)
            assert _code_error(shared, codes, frac) <= _code_error(shared, other, f)


def test_codebook_codes_clip_a_rare_large_entry():
    # 999 weights near 0.05 and one of 1.0, which needs frac 6 (127 / 128 < 1 < 127 / 64):
    # frac 7 clips it to 127 / 128 but halves the step of the 999
    w = np.concatenate([np.linspace(0.04, 0.06, 999), [1.0]])
    shared = share_weights(w, 8, pruned=False)
    codes, frac = codebook_codes(shared, 8)
    assert frac == 7 and codes.max() == 127
    no_clip = np.round(shared.codebook * 2.0 ** 6)
    assert _code_error(shared, codes, frac) < _code_error(shared, no_clip, 6)


def test_kmeans_codes_take_the_nearest_code():
    from fpgagen.numerics.codebook import integer_codebook

    w = np.random.default_rng(8).standard_t(4, (32, 16, 3, 3)) * 0.05
    cb = integer_codebook(w, 6, pruned=False, weight_bits=8)
    assert not cb.kept and len(cb.codes) <= 64
    assert np.all(np.diff(cb.codes) > 0)  # distinct: entries that rounded alike are one
    real = cb.codes * 2.0 ** -cb.frac
    distance = np.abs(w[..., None] - real)
    chosen = np.take_along_axis(distance, cb.index[..., None], axis=-1)[..., 0]
    np.testing.assert_array_equal(chosen, distance.min(axis=-1))


# --- the quantization pass ------------------------------------------------------------------

@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("kind", ["codebook", "pruned"])
def test_compressed_layers_keep_the_invariant(kind, bits):
    g = _tiny_graph(pruned_share=0.5)
    q = _quantize(g, weight_format=WeightFormat(kind, bits))
    for name, lq in _convs(q).items():
        assert lq.compressed and lq.index_bits == bits
        assert len(lq.codebook) <= 1 << bits and lq.index.max() < 1 << bits
        assert lq.index.min() >= (-1 if kind == "pruned" else 0)
        np.testing.assert_array_equal(
            lq.weight, np.where(lq.index >= 0, lq.codebook[np.maximum(lq.index, 0)], 0))
        assert len(set(lq.weight_frac.tolist())) == 1  # one scale for the layer
        assert lq.codebook.min() >= -128 and lq.codebook.max() <= 127
        ConvQuant(**vars(lq))  # the data model's own check
        w = g.params[name]["weight"]
        if kind == "pruned":
            np.testing.assert_array_equal(lq.index == -1, w == 0)


def test_imported_codebook_is_kept_through_the_pass():
    g = _tiny_graph(distinct=20)
    q = _quantize(g, weight_format=WeightFormat.parse("codebook:6"))
    for name, lq in _convs(q).items():
        w = g.params[name]["weight"]
        values, inverse = np.unique(w, return_inverse=True)
        assert len(lq.codebook) == len(values)
        np.testing.assert_array_equal(lq.index, inverse.reshape(w.shape))
        frac = int(lq.weight_frac[0])
        np.testing.assert_array_equal(lq.codebook, np.round(values * 2.0 ** frac))


def test_dense_is_unchanged_and_per_layer_overrides():
    g = _tiny_graph(pruned_share=0.3)
    dense = _quantize(g)
    explicit = _quantize(g, weight_format="dense")
    for name, lq in _convs(dense).items():
        assert not lq.compressed
        np.testing.assert_array_equal(lq.weight, _convs(explicit)[name].weight)
    q = _quantize(g, weight_format="pruned:4",
                  layer_formats={"conv1": "dense", "conv10": WeightFormat.parse("codebook:3")})
    layers = _convs(q)
    assert not layers["conv1"].compressed
    np.testing.assert_array_equal(layers["conv1"].weight, _convs(dense)["conv1"].weight)
    assert layers["conv10"].index_bits == 3 and layers["conv10"].index.min() >= 0
    assert layers["fire2/squeeze1x1"].index_bits == 4
    assert (layers["fire2/squeeze1x1"].index == -1).any()


def test_unknown_layer_is_refused_with_the_valid_names():
    g = _tiny_graph()
    with pytest.raises(FpgagenError, match=r"'fire2/squeze1x1'.*conv1, fire2/squeeze1x1, "):
        _quantize(g, layer_formats={"fire2/squeze1x1": "dense"})
    with pytest.raises(FpgagenError, match="'pool1': no such conv layer"):
        _quantize(g, layer_formats={"pool1": "dense"})
    with pytest.raises(FpgagenError, match="not 'prune:4'"):
        QuantConfig(weight_format="prune:4")
    with pytest.raises(FpgagenError, match="not 6"):
        QuantConfig(layer_formats={"conv1": 6})


# --- the command line -----------------------------------------------------------------------

@pytest.fixture
def tiny_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(
            tmp_path / f"{i}.png")
    (tmp_path / "labels.json").write_text(json.dumps({"0.png": 1, "1.png": 2}))
    return tmp_path


def test_cli_evaluate_takes_the_formats(tiny_folder, capsys):
    status = main(["evaluate", *TINY_ARGS, "--weight-format", "pruned:5", "--layer-format",
                   "conv10=dense", "--json", str(tiny_folder)])
    out = capsys.readouterr()
    assert status == 0, out.err
    d = json.loads(out.out)
    assert d["weight_format"] == "pruned:5" and d["layer_formats"] == {"conv10": "dense"}
    assert "pruned:5 (conv10=dense)" in out.err


@pytest.mark.parametrize("args,message", [
    (["--weight-format", "codebook:12"], "'codebook:12'"),
    (["--weight-format", "lzw"], "'lzw'"),
    (["--layer-format", "conv1"], "LAYER=FORMAT such as conv10=codebook:6, not 'conv1'"),
    (["--layer-format", "conv1=pruned"], "'pruned'"),
    (["--layer-format", "conv1=dense", "--layer-format", "conv1=pruned:4"],
     "layer 'conv1' twice"),
    (["--layer-format", "fire2/squeeze=dense"], "'fire2/squeeze': no such conv layer"),
])
def test_cli_bad_formats_exit_2(tiny_folder, capsys, args, message):
    try:  # argparse's own errors leave by SystemExit, the flow's by the return value
        status = main(["evaluate", *TINY_ARGS, *args, str(tiny_folder)])
    except SystemExit as e:
        status = e.code
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_classify_takes_the_format(tiny_folder, capsys):
    status = main(["classify", *TINY_ARGS, "--weight-format", "codebook:4",
                   str(tiny_folder / "0.png")])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert "codebook:4" in out.out


# --- the Deep Compression release -----------------------------------------------------------

def test_deep_compression_v1_0_keeps_its_codebooks(v1_0_weights):
    g = load_npz_weights(build_net("squeezenet1_0"), v1_0_weights)
    q = _quantize(g, weight_format=WeightFormat.parse("pruned:8"))
    convs = [n.name for n in g.nodes if isinstance(n.op, Conv2d)]
    layers = _convs(q)
    assert sorted(layers) == sorted(convs)
    for name in convs:
        w = g.params[name]["weight"]
        lq = layers[name]
        values = np.unique(w[w != 0])
        assert len(values) <= 255
        shared = share_weights(w, 8, pruned=True)
        assert shared.kept
        np.testing.assert_array_equal(shared.codebook, values)
        np.testing.assert_array_equal(shared.decoded(), w)
        # the integer layer has the same structure: one entry per float value, zeros unstored
        assert len(lq.codebook) == len(values)
        np.testing.assert_array_equal(lq.index, shared.index)
        frac = int(lq.weight_frac[0])
        np.testing.assert_array_equal(lq.codebook, np.clip(np.round(values * 2.0 ** frac),
                                                           -128, 127))


@pytest.mark.parametrize("command", ["build", "simulate", "classify", "evaluate"])
def test_every_command_threads_the_formats_into_the_flow(command):
    from fpgagen.cli import build_parser
    from fpgagen.cli_common import flow_config

    extra = {"build": ["--board", "max10"], "simulate": ["--image", "x.png"]}.get(command, [])
    positional = {"classify": ["x.png"], "evaluate": ["folder"]}.get(command, [])
    args = build_parser().parse_args([command, *extra, "--weight-format", "codebook:5",
                                      "--layer-format", "conv1=dense", *positional])
    cfg = flow_config(args)
    assert cfg.weight_format == WeightFormat.parse("codebook:5")
    assert cfg.layer_formats == {"conv1": WeightFormat()}


def test_compressed_layers_lower_and_run_bit_exact():
    # Until the hardware reads codebooks, the schedule stores the decoded codes: the
    # engine model must still give the golden model's scores.
    from fpgagen.golden.int_model import run_int
    from fpgagen.hw import HwParams
    from fpgagen.schedule import lower, pack_input, run_program

    g = _tiny_graph(pruned_share=0.5)
    q = _quantize(g, weight_format="pruned:3", layer_formats={"conv10": "codebook:5"})
    image = generated_calibration_images(g, 1, seed=9)[0]
    program = lower(q, HwParams(pe_rows=4, pe_cols=4))
    result = run_program(program, pack_input(program, q, image))
    np.testing.assert_array_equal(result.scores, run_int(q, image)[q.outputs[0]].ravel())


@pytest.mark.parametrize("weight_bits", [8, 12])
def test_weight_storage_counts_the_memories_the_design_declares(weight_bits):
    """``Program.weight_storage()`` (the bytes reports and budgets quote) against the
    memory map the top level builds: masks and codebooks, whose entries widen with
    12-bit codes."""
    from fpgagen.hw import HwParams
    from fpgagen.schedule import lower
    from fpgagen.schedule.memory_map import MemoryRole, memory_map

    graph = quantize(generate_weights(build_net("squeezenet1_1", NetOptions(input_size=64))),
                     QuantConfig(weight_bits=weight_bits,
                                 weight_format=WeightFormat.parse("pruned:6")))
    program = lower(graph, HwParams(pe_rows=8, pe_cols=8))
    storage = program.weight_storage()
    mm = memory_map(program)
    (codebook,) = mm.of(MemoryRole.CODEBOOK)
    assert codebook.width == max(8, weight_bits)
    assert storage["codebooks"] == codebook.depth * codebook.width // 8
    assert storage["masks"] == sum(m.depth * m.width for m in mm.of(MemoryRole.MASKS)) // 8
    weights = mm.of(MemoryRole.WEIGHTS)
    assert storage["weight_banks"] == sum(m.depth * m.width for m in weights) // 8


def test_released_weight_format_of_weight_files(tmp_path, v1_0_weights, v1_1_weights):
    """Deep Compression's v1.0 file is pruned and shared (``pruned:8`` keeps it); v1.1's
    dense weights, a file with more than 256 values in a pruned layer, one without zeros,
    and anything but a .npz are not."""
    from fpgagen.frontend.npz import released_weight_format

    assert str(released_weight_format(v1_0_weights)) == "pruned:8"
    assert released_weight_format(v1_1_weights) is None
    rng = np.random.default_rng(0)
    shared = np.where(rng.random((8, 4, 3, 3)) < 0.5, 0, rng.integers(1, 200, (8, 4, 3, 3)))
    np.savez(tmp_path / "shared.npz", **{"a.weight": shared / 100.0, "a.bias": np.zeros(8)})
    assert str(released_weight_format(tmp_path / "shared.npz")) == "pruned:8"
    many = np.where(rng.random((16, 8, 3, 3)) < 0.5, 0, rng.normal(size=(16, 8, 3, 3)))
    np.savez(tmp_path / "many.npz", **{"a.weight": shared / 100.0, "b.weight": many})
    assert released_weight_format(tmp_path / "many.npz") is None
    np.savez(tmp_path / "nozeros.npz", **{"a.weight": shared / 100.0 + 5.0})
    assert released_weight_format(tmp_path / "nozeros.npz") is None
    assert released_weight_format(tmp_path / "missing.npz") is None
    assert released_weight_format(tmp_path / "w.onnx") is None


def test_build_keeps_released_weights_compressed(tmp_path, capsys, v1_0_weights):
    """``fpgagen build --net squeezenet1_0 --weights squeezenet_v1_0.npz --board zynq7045``
    (no --weight-format) stores the Deep Compression weights as they come, within the 0.66
    MB Deep Compression reports, and says so; ``--weight-format dense`` stores them
    dense."""
    base = ["build", "--net", "squeezenet1_0", "--weights", str(v1_0_weights), "--board",
            "zynq7045"]
    assert main([*base, "--out", str(tmp_path / "kept")]) == 0
    out = capsys.readouterr().out
    assert "weight format: pruned:8 (the file's pruned and shared weights kept" in out
    memory = json.loads((tmp_path / "kept" / "report.json").read_text())["memory"]
    assert len(memory["compressed_layers"]) == 26
    assert memory["weight_storage"]["total"] <= 660_000
    assert main([*base, "--weight-format", "dense", "--out", str(tmp_path / "dense")]) == 0
    assert "weight format:" not in capsys.readouterr().out
    memory = json.loads((tmp_path / "dense" / "report.json").read_text())["memory"]
    assert not memory["compressed_layers"]
    assert memory["weight_storage"]["total"] >= 1_244_448  # a byte per weight or more
