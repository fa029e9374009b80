"""Calibration: the generated images (seeded, natural-looking), the class scores' range that
never saturates, ``--calibration`` taking one path per option (repeatable, never swallowing
classify's images) and the ``calibration: ...`` line of the commands that quantize."""

import json

import numpy as np
import pytest
from PIL import Image

from fpgagen.cli import main
from fpgagen.cli_common import calibration_text
from fpgagen.errors import FpgagenError
from fpgagen.frontend import generate_weights
from fpgagen.nets import NetOptions, build_net
from fpgagen.numerics.fixed_point import choose_frac
from fpgagen.operators import rules_for
from fpgagen.passes import calibration_ranges, generated_calibration_images, quantize

#: A network that classifies in well under a second.
TINY = ["--input-size", "32", "--width", "0.25", "--num-classes", "10"]
DEFAULT_LINE = ("calibration: generated images (default; give --calibration DIR for real "
                "photos)")


def _tiny_graph():
    return generate_weights(build_net("squeezenet1_1", NetOptions(input_size=32, width=0.25,
                                                                  num_classes=10)))


def _images(folder, names, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(folder / name)
    return [folder / n for n in names]


# --- generated images ------------------------------------------------------------------

def test_generated_images_are_seeded():
    g = _tiny_graph()
    a = generated_calibration_images(g)
    assert a.shape == (8, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, generated_calibration_images(g))
    assert not np.array_equal(a, generated_calibration_images(g, seed=1))
    np.testing.assert_array_equal(generated_calibration_images(g, 3), a[:3])


def test_generated_images_look_like_pictures():
    # flat regions and edges of every scale, natural colours: not noise, not saturated
    img = generated_calibration_images(build_net("squeezenet1_1"), 1)[0].astype(float)
    assert img.shape == (227, 227, 3)
    assert 40 < img.mean() < 215 and img.std() > 25
    neighbour = np.abs(np.diff(img, axis=1)).mean()
    assert neighbour < 0.4 * img.std()  # neighbouring pixels alike (white noise: ~1.1)
    saturated = ((img == 0) | (img == 255)).mean()
    assert saturated < 0.05


@pytest.mark.parametrize("count", [0, -1, 2.0])
def test_generated_image_count_is_checked(count):
    with pytest.raises(FpgagenError, match=f"at least one generated image, not {count!r}"):
        generated_calibration_images(_tiny_graph(), count)


# --- the class scores never saturate ---------------------------------------------------

def test_class_scores_hold_every_value_of_their_input():
    # an input large enough for a 7x7 conv10, whose average is well below its largest value
    g = generate_weights(build_net("squeezenet1_1", NetOptions(input_size=128, width=0.25,
                                                               num_classes=10)))
    calib = generated_calibration_images(g, 1)
    q = quantize(g, calibration_images=calib).quant
    t_in, t_out = q.types["conv10"], q.types["pool10"]
    assert t_out.bits == 16 and t_out.max * t_out.step >= t_in.max * t_in.step
    # wider than what calibration saw asks for
    assert t_out.frac < choose_frac(calibration_ranges(g, calib)["pool10"], t_out.max)
    # so not even a conv10 output of nothing but its largest code saturates a class score
    node = g.node("pool10")
    full = np.full(g.shapes()["conv10"], t_in.max, dtype=np.int64)
    codes = rules_for(node.op).run_int(node, [full], q.layers["pool10"], t_out)
    assert 0 < codes.max() < t_out.max


# --- --calibration and the calibration line ----------------------------------------------

def _classify(capsys, *args):
    status = main(["classify", *TINY, *map(str, args)])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_calibration_folder_before_positional_images(tmp_path, capsys):
    calib = _images(tmp_path / "calib", ["a.png", "b.png", "c.png"])
    photos = _images(tmp_path, ["x.png", "y.png"], seed=1)
    status, out, err = _classify(capsys, "--calibration", calib[0].parent, *photos, "--json")
    assert status == 0, err
    assert [r["image"] for r in json.loads(out)] == [str(p) for p in photos]
    assert f"calibration: 3 photos from {calib[0].parent}" in err.splitlines()


def test_calibration_repeated(tmp_path, capsys):
    a, b = _images(tmp_path / "calib", ["a.png", "b.png"])
    (other,) = _images(tmp_path / "more", ["c.png"], seed=2)
    (photo,) = _images(tmp_path, ["x.png"], seed=1)
    status, out, err = _classify(capsys, "--calibration", a, "--calibration", b, photo)
    assert status == 0, err
    assert f"calibration: 2 photos from {a.parent}" in err.splitlines()
    assert "x.png" in out
    status, out, err = _classify(capsys, "--calibration", a.parent, "--calibration", other,
                                 "--json", photo)
    assert status == 0, err
    assert (f"calibration: 3 photos from 2 folders ({a.parent}, {other.parent})"
            in err.splitlines())
    assert len(json.loads(out)) == 1


def test_calibration_takes_one_path_per_option(tmp_path, capsys):
    a, b = _images(tmp_path / "calib", ["a.png", "b.png"])
    # the second path is an image to classify, not a calibration image
    status, out, err = _classify(capsys, "--calibration", a, b, "--json")
    assert status == 0, err
    assert [r["image"] for r in json.loads(out)] == [str(b)]
    assert f"calibration: 1 photo ({a})" in err.splitlines()


def test_default_calibration_is_said_and_json_stays_clean(tmp_path, capsys):
    (photo,) = _images(tmp_path, ["x.png"])
    status, out, err = _classify(capsys, "--json", photo)
    assert status == 0, err
    assert len(json.loads(out)) == 1  # the line is on stderr, not in the JSON
    assert DEFAULT_LINE in err.splitlines()
    # --float quantizes nothing, so it says nothing about calibration
    status, out, err = _classify(capsys, "--float", photo)
    assert status == 0 and "calibration:" not in out + err


def test_evaluate_says_its_calibration(tmp_path, capsys):
    folder = tmp_path / "eval"
    _images(folder, ["a.png", "b.png"])
    (folder / "labels.json").write_text(json.dumps({"a.png": 1, "b.png": 2}))
    status = main(["evaluate", *TINY, "--json", str(folder)])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert json.loads(out.out)["calibration"] == "generated images"
    assert DEFAULT_LINE in out.err.splitlines()


def test_build_says_its_calibration(tmp_path, capsys):
    (photo,) = _images(tmp_path / "calib", ["a.png"])
    status = main(["build", "--board", "zynq7045", *TINY, "--pe", "4x4", "--no-proposals",
                   "--out", str(tmp_path / "out"), "--calibration", str(photo)])
    out = capsys.readouterr()
    assert status == 0, out.out + out.err
    assert out.out.splitlines()[0] == f"calibration: 1 photo ({photo})"


@pytest.mark.parametrize("paths, text", [
    ((), "generated images"),
    (("d/a.png",), "1 photo (d/a.png)"),
    (("d/a.png", "d/b.png"), "2 photos from d"),
    (("d/a.png", "e/b.png", "d/c.png"), "3 photos from 2 folders (d, e)"),
])
def test_calibration_text(paths, text):
    assert calibration_text(paths) == text
