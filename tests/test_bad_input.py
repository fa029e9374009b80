"""Every bad input gets one clear line that names what is wrong (never a traceback)."""

import json

import numpy as np
import pytest

from fpgagen.cli import main
from fpgagen.errors import FpgagenError
from fpgagen.frontend import attach_weights, generate_weights, load_npz_weights, npz_key
from fpgagen.nets import NetOptions, build_net
from fpgagen.passes import QuantConfig


@pytest.fixture
def small_arrays():
    g = generate_weights(build_net("squeezenet", NetOptions(input_size=32)))
    return g, {npz_key(n, w): a for n, p in g.params.items() for w, a in p.items()}


def test_missing_key(small_arrays):
    g, arrays = small_arrays
    del arrays["fire3.expand3x3.weight"]
    with pytest.raises(FpgagenError, match=r"missing tensor 'fire3\.expand3x3\.weight'"):
        attach_weights(g, arrays)


def test_extra_key(small_arrays):
    g, arrays = small_arrays
    arrays["fc11.weight"] = np.zeros(3, np.float32)
    with pytest.raises(FpgagenError, match=r"unexpected tensor 'fc11\.weight'"):
        attach_weights(g, arrays)


def test_wrong_shape_names_tensor_expected_and_found(small_arrays):
    g, arrays = small_arrays
    arrays["conv1.weight"] = np.zeros((64, 3, 7, 7), np.float32)
    with pytest.raises(FpgagenError, match=r"'conv1\.weight' has shape \(64, 3, 7, 7\), "
                                           r"expected \(64, 3, 3, 3\)"):
        attach_weights(g, arrays)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weight(small_arrays, bad):
    g, arrays = small_arrays
    arrays["fire2.squeeze1x1.bias"] = arrays["fire2.squeeze1x1.bias"].copy()
    arrays["fire2.squeeze1x1.bias"][5] = bad
    with pytest.raises(FpgagenError, match=r"'fire2\.squeeze1x1\.bias' holds 1 NaN/Inf "
                                           r"value\(s\), first at index \(5,\)"):
        attach_weights(g, arrays)


def test_v1_0_weights_for_v1_1_are_refused(v1_0_weights):
    with pytest.raises(FpgagenError, match=r"'conv1\.weight' has shape \(96, 3, 7, 7\)"):
        load_npz_weights(build_net("squeezenet1_1"), v1_0_weights)


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "w.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(FpgagenError, match="cannot read .*w.npz' as a .npz weights file"):
        load_npz_weights(build_net("squeezenet"), bad)
    with pytest.raises(FpgagenError, match="weights file not found: .*nope.npz"):
        load_npz_weights(build_net("squeezenet"), tmp_path / "nope.npz")


def test_weight_bits_out_of_range():
    with pytest.raises(FpgagenError, match="weight_bits must be an integer in 4..12, not 3"):
        QuantConfig(weight_bits=3)
    with pytest.raises(FpgagenError, match="weight_bits must be an integer in 4..12, not 13"):
        QuantConfig(weight_bits=13)


def test_cli_reports_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "w.npz"
    np.savez(bad, **{"conv1.weight": np.zeros((1,), np.float32)})
    img = tmp_path / "x.png"
    img.write_bytes(b"garbage")
    assert main(["classify", "--weights", str(bad), str(img)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fpgagen: error: ")
    assert "Traceback" not in err


def test_cli_bad_image(tmp_path, capsys):
    img = tmp_path / "x.jpg"
    img.write_bytes(b"garbage")
    assert main(["classify", "--input-size", "32", str(img)]) == 2
    assert "cannot decode image" in capsys.readouterr().err


def test_cli_unknown_net(capsys):
    assert main(["info", "--net", "alexnet"]) == 2
    assert "unknown network 'alexnet'" in capsys.readouterr().err


def test_cli_bad_option_value(capsys):
    with pytest.raises(SystemExit) as e:
        main(["info", "--width", "-1"])
    assert e.value.code == 2
    assert "expected a finite positive number, not '-1'" in capsys.readouterr().err


def test_cli_labels_too_short(tmp_path, capsys, shared_images):
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\n")
    assert main(["classify", "--labels", str(labels), "--input-size", "64",
                 str(shared_images / "caffe_cat.jpg")]) == 2
    assert "has 2 names, the network has 1000 classes" in capsys.readouterr().err


def test_cli_info_json(capsys):
    assert main(["info", "--net", "squeezenet1_0", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["params"] == 1_248_424
    assert sum(layer["macs"] for layer in info["layers"]) == info["macs"]
