"""Image and weights files: every Pillow mode and sample depth decodes to the right 8-bit
pixels, and every bad file gets one clear line from the CLI (exit 2, no traceback)."""

import json
import logging
import re
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps

from fpgagen.cli import main
from fpgagen.errors import FpgagenError
from fpgagen.frontend import export_onnx, generate_weights, load_npz_weights, npz_key
from fpgagen.frontend.images import load_image_bgr
from fpgagen.nets import NetOptions, build_net

SIZE = 32  # network input side for the CLI runs: small and quick


def _png(path, width, height, bit_depth, color_type, scanlines: bytes):
    """Write a PNG from its raw scanlines (without filter bytes). Pillow cannot write 16-bit
    RGB, and a huge blank image is quicker to write this way."""
    row = len(scanlines) // height
    raw = b"".join(b"\0" + scanlines[i * row:(i + 1) * row] for i in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))
    return path


def _png16(path, samples: np.ndarray):
    """A 16-bit PNG of ``(H, W)`` greyscale or ``(H, W, 3)`` RGB samples."""
    h, w = samples.shape[:2]
    color_type = 2 if samples.ndim == 3 else 0
    return _png(path, w, h, 16, color_type, samples.astype(">u2").tobytes())


def _blank_png(path, width, height):
    """A 1-bit PNG of ``width x height`` that is a few kB on disk."""
    return _png(path, width, height, 1, 0, bytes(height * ((width + 7) // 8)))


@pytest.fixture(scope="module")
def photo():
    """A small RGB photo-like image (no need for ../shared): smooth gradients and a disc."""
    y, x = np.mgrid[0:48, 0:64]
    rgb = np.stack([x * 4, y * 5, 255 - (x + y) * 2], axis=2)
    rgb[(x - 40) ** 2 + (y - 20) ** 2 < 100] = (250, 30, 60)
    return Image.fromarray(rgb.clip(0, 255).astype(np.uint8))


# --- decoding: modes and sample depths ---------------------------------------------------
def _save(im, path, **kw):
    im.save(path, **kw)
    return path


@pytest.mark.parametrize("mode, suffix", [
    ("1", "png"), ("L", "png"), ("P", "png"), ("RGBA", "png"), ("LA", "png"),
    ("CMYK", "tif"), ("RGB", "bmp")])
def test_8bit_modes_decode_like_pillow_rgb(tmp_path, photo, mode, suffix):
    im = photo.convert(mode)
    path = _save(im, tmp_path / f"x.{suffix}")
    expected = _save(im.convert("RGB"), tmp_path / "rgb.png")
    np.testing.assert_array_equal(load_image_bgr(path, SIZE), load_image_bgr(expected, SIZE))


def _gray16(tmp_path, gray):
    return _save(Image.fromarray(gray.astype(np.uint16) * 257), tmp_path / "g16.png")


def _gray_float(tmp_path, gray):
    return _save(Image.fromarray(gray.astype(np.float32) / 255), tmp_path / "f.tif")


def _gray_int32(tmp_path, gray):
    return _save(Image.fromarray(gray.astype(np.int32) * 257), tmp_path / "i.tif")


@pytest.mark.parametrize("write, mode", [(_gray16, "I;16"), (_gray_float, "F"),
                                         (_gray_int32, "I")])
def test_wide_greyscale_is_scaled_not_clipped(tmp_path, photo, write, mode):
    gray = np.asarray(photo.convert("L"))
    path = write(tmp_path, gray)
    with Image.open(path) as im:
        assert im.mode == mode
    expected = _save(photo.convert("L"), tmp_path / "g8.png")
    np.testing.assert_array_equal(load_image_bgr(path, SIZE), load_image_bgr(expected, SIZE))


def test_16bit_rgb_png_equals_8bit(tmp_path, photo):
    rgb = np.asarray(photo).astype(np.uint16) * 257
    path = _png16(tmp_path / "rgb16.png", rgb)
    expected = _save(photo, tmp_path / "rgb8.png")
    np.testing.assert_array_equal(load_image_bgr(path, SIZE), load_image_bgr(expected, SIZE))


def test_16bit_keeps_the_top_8_bits(tmp_path):
    values = np.array([0, 255, 256, 32767, 32768, 65280, 65535], np.uint16)
    gray = np.repeat(values[None, :], SIZE, axis=0)
    path = _save(Image.fromarray(gray), tmp_path / "g16.png")
    # resize to the image's own width: the identity across each row
    bgr = load_image_bgr(path, input_size=len(values), resize=len(values))
    assert bgr.shape == (len(values), len(values), 3)
    np.testing.assert_array_equal(bgr[0, :, 0], [0, 0, 1, 127, 128, 255, 255])


def test_float_out_of_range_is_clipped_with_one_warning(tmp_path, caplog):
    values = np.array([-0.5, 0.0, 0.5, 1.0, 1.5, 200.0], np.float32)
    path = _save(Image.fromarray(np.repeat(values[None, :], 6, axis=0)), tmp_path / "f.tif")
    with caplog.at_level(logging.WARNING):
        bgr = load_image_bgr(path, input_size=6, resize=6)
    np.testing.assert_array_equal(bgr[0, :, 1], [0, 0, 128, 255, 255, 255])
    [record] = caplog.records
    assert re.search(r"f\.tif': 18 float pixel value\(s\) outside \[0, 1\] \(range -0\.5\.\.200\) "
                     r"clipped", record.getMessage())


def test_exif_orientation_is_applied(tmp_path, photo):
    upright = _save(photo, tmp_path / "upright.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: turn 90 degrees clockwise to view
    stored = _save(photo.transpose(Image.Transpose.ROTATE_90), tmp_path / "rotated.png",
                   exif=exif)
    with Image.open(stored) as im:
        assert ImageOps.exif_transpose(im).size == photo.size
    np.testing.assert_array_equal(load_image_bgr(stored, SIZE), load_image_bgr(upright, SIZE))


def test_16bit_copy_of_a_photo_classifies_the_same(tmp_path, capsys, v1_1_weights,
                                                   shared_images):
    """The issue's acceptance test: 16-bit and float copies of a real photo give the 8-bit
    original's pixels and top-1 (the greyscale copies against the 8-bit greyscale)."""
    with Image.open(shared_images / "n01440764_tench.JPEG") as im:
        rgb = np.asarray(im.convert("RGB"))
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    originals = [shared_images / "n01440764_tench.JPEG",
                 _save(Image.fromarray(gray), tmp_path / "tench_gray8.png")]
    copies = [_png16(tmp_path / "tench_rgb16.png", rgb.astype(np.uint16) * 257),
              _gray16(tmp_path, gray), _gray_float(tmp_path, gray)]
    for copy, original in zip(copies, [originals[0], originals[1], originals[1]]):
        np.testing.assert_array_equal(load_image_bgr(copy), load_image_bgr(original))
    assert main(["classify", "--net", "squeezenet", "--weights", str(v1_1_weights),
                 "--json", *map(str, originals + copies)]) == 0
    top1 = [r["top5"][0][0] for r in json.loads(capsys.readouterr().out)]
    assert top1[2:] == [top1[0], top1[1], top1[1]]


# --- weights: values ---------------------------------------------------------------------
def test_released_weights_load_without_warnings(caplog, v1_1_weights, v1_0_weights):
    with caplog.at_level(logging.WARNING):
        load_npz_weights(build_net("squeezenet1_1"), v1_1_weights)
        load_npz_weights(build_net("squeezenet1_0"), v1_0_weights)
    assert caplog.records == []


def _weights(**changes):
    graph = generate_weights(build_net("squeezenet", NetOptions(input_size=SIZE)))
    arrays = {npz_key(n, w): a for n, p in graph.params.items() for w, a in p.items()}
    arrays.update(changes)
    return arrays


def test_all_zero_weight_layers_warn_in_one_line(tmp_path, caplog, capsys, photo):
    shapes = _weights()
    path = tmp_path / "w.npz"
    np.savez(path, **_weights(**{k: np.zeros_like(shapes[k]) for k in
                                 ("fire3.expand1x1.weight", "conv10.weight", "conv10.bias")}))
    image = _save(photo, tmp_path / "x.png")
    with caplog.at_level(logging.WARNING):
        assert main(["classify", "--input-size", str(SIZE), "--weights", str(path),
                     str(image)]) == 0
    [record] = caplog.records
    assert re.search(r"w\.npz: weight tensor 'fire3\.expand1x1\.weight' \(and 1 more\) are all "
                     r"zero: those layers ignore their input", record.getMessage())


def test_all_zero_bias_is_silent(tmp_path, caplog):
    shapes = _weights()
    path = tmp_path / "w.npz"
    np.savez(path, **_weights(**{k: np.zeros_like(a) for k, a in shapes.items()
                                 if k.endswith(".bias")}))
    with caplog.at_level(logging.WARNING):
        load_npz_weights(build_net("squeezenet", NetOptions(input_size=SIZE)), path)
    assert caplog.records == []


def test_integer_weights_are_accepted(tmp_path):
    shapes = _weights()
    path = tmp_path / "w.npz"
    np.savez(path, **_weights(**{"conv1.weight": np.ones(shapes["conv1.weight"].shape,
                                                         np.int16)}))
    g = load_npz_weights(build_net("squeezenet", NetOptions(input_size=SIZE)), path)
    assert g.params["conv1"]["weight"].dtype == np.float32


# --- the CLI: one line per bad file ------------------------------------------------------
def _bias(value, dtype=np.float32):
    b = _weights()["conv10.bias"].astype(dtype)
    b[3] = value
    return b


@pytest.fixture(scope="module")
def bad(tmp_path_factory, photo):
    """Every bad input file, by name, and a good image ``good.png``."""
    d = tmp_path_factory.mktemp("bad")
    f = {"good.png": _save(photo, d / "good.png")}
    # weights
    (d / "dir.npz").mkdir()
    f["dir.npz"] = d / "dir.npz"
    f["missing.npz"] = d / "missing.npz"
    (d / "empty_file.npz").write_bytes(b"")
    f["empty_file.npz"] = d / "empty_file.npz"
    np.save(d / "array.npy", _weights()["conv1.weight"])
    f["array.npy"] = d / "array.npy"
    (d / "text.npz").write_text("conv1.weight = 0.5\n")
    f["text.npz"] = d / "text.npz"
    np.savez(d / "no_tensors.npz")
    f["no_tensors.npz"] = d / "no_tensors.npz"
    np.savez(d / "whole.npz", **_weights())
    (d / "truncated.npz").write_bytes((d / "whole.npz").read_bytes()[:5000])
    f["truncated.npz"] = d / "truncated.npz"
    variants = {
        "objects.npz": {"conv1.weight": np.array([None, 1.0], dtype=object)},
        "complex.npz": {"conv1.weight": _weights()["conv1.weight"].astype(np.complex64)},
        "bool.npz": {"conv1.weight": _weights()["conv1.weight"] > 0},
        "nan.npz": {"conv10.bias": _bias(np.nan)},
        "bias_1e38.npz": {"conv10.bias": _bias(1e38)},
        "bias_1e39_f64.npz": {"conv10.bias": _bias(1e39, np.float64)},
        "weight_2e6.npz": {"fire9.expand3x3.weight": _weights()["fire9.expand3x3.weight"] * 0
                           + np.float32(2.5e6)},
    }
    for name, change in variants.items():
        np.savez(d / name, **_weights(**change))
        f[name] = d / name
    graph = generate_weights(build_net("squeezenet", NetOptions(input_size=SIZE)))
    graph.params["conv10"]["bias"] = _bias(1e38)
    export_onnx(graph, d / "bias_1e38.onnx")
    f["bias_1e38.onnx"] = d / "bias_1e38.onnx"
    # images
    (d / "photo_dir.jpg").mkdir()
    f["photo_dir.jpg"] = d / "photo_dir.jpg"
    f["missing.png"] = d / "missing.png"
    (d / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    f["garbage.jpg"] = d / "garbage.jpg"
    (d / "truncated.png").write_bytes(f["good.png"].read_bytes()[:200])
    f["truncated.png"] = d / "truncated.png"
    f["huge_256mp.png"] = _blank_png(d / "huge_256mp.png", 16000, 16000)
    f["big_108mp.png"] = _blank_png(d / "big_108mp.png", 12000, 9000)
    a = np.full((6, 8), 0.5, np.float32)
    a[2, 3] = np.nan
    f["nan.tif"] = _save(Image.fromarray(a), d / "nan.tif")
    a = np.full((6, 8), 255, np.int32)
    a[1, 1] = -5
    f["negative.tif"] = _save(Image.fromarray(a), d / "negative.tif")
    return f


WEIGHTS_CASES = [
    ("dir.npz", r"weights '.*dir\.npz' is a directory, not a \.npz file"),
    ("missing.npz", r"weights file not found: '.*missing\.npz'"),
    ("empty_file.npz", r"cannot read '.*empty_file\.npz' as a \.npz weights file: not a zip "
                       r"archive of named tensors \(the file is empty\)"),
    ("array.npy", r"array\.npy' as a \.npz weights file: it is a \.npy file \(a single array\)"),
    ("text.npz", r"text\.npz' as a \.npz weights file: not a zip archive of named tensors "
                 r"\(it starts with b'conv1\.we'\)"),
    ("no_tensors.npz", r"no_tensors\.npz' is an empty \.npz archive: no tensors"),
    ("truncated.npz", r"cannot read '.*truncated\.npz' as a \.npz weights file: "),
    ("objects.npz", r"objects\.npz': tensor 'conv1\.weight' holds Python objects, not numbers"),
    ("complex.npz", r"tensor 'conv1\.weight' has complex dtype complex64; weights must be real"),
    ("bool.npz", r"tensor 'conv1\.weight' has non-numeric dtype bool"),
    ("nan.npz", r"tensor 'conv10\.bias' holds 1 NaN/Inf value\(s\), first at index \(3,\): nan"),
    ("bias_1e38.npz", r"tensor 'conv10\.bias' holds 1 value\(s\) of magnitude >= 1e\+06, "
                      r"first at index \(3,\): 1e\+38"),
    ("bias_1e39_f64.npz", r"tensor 'conv10\.bias' holds 1 value\(s\) .*: 1e\+39"),
    ("weight_2e6.npz", r"tensor 'fire9\.expand3x3\.weight' holds \d+ value\(s\) of magnitude "
                       r">= 1e\+06, first at index \(0, 0, 0, 0\): 2\.5e\+06"),
    ("bias_1e38.onnx", r"tensor '.*' of Conv node '.*conv10.*' holds 1 value\(s\) of "
                       r"magnitude >= 1e\+06, first at index \(3,\): 1e\+38"),
]

IMAGE_CASES = [
    ("photo_dir.jpg", r"image '.*photo_dir\.jpg' is a directory, not an image file"),
    ("missing.png", r"image not found: '.*missing\.png'"),
    ("garbage.jpg", r"cannot decode image '.*garbage\.jpg': "),
    ("truncated.png", r"cannot decode image '.*truncated\.png': "),
    ("huge_256mp.png", r"image '.*huge_256mp\.png' is too large: 256,000,000 pixels; the limit "
                       r"is 100,000,000"),
    ("big_108mp.png", r"image '.*big_108mp\.png' is too large: 12000 x 9000 = 108,000,000 "
                      r"pixels; the limit is 100,000,000"),
    ("nan.tif", r"image '.*nan\.tif' holds 1 NaN pixel value\(s\), first at row 2, column 3"),
    ("negative.tif", r"image '.*negative\.tif' has 32-bit integer pixels in -5\.\.255; only "
                     r"0\.\.65535 \(16-bit\) is supported"),
]


def _weights_argv(command, path, good, out):
    if command == "classify":
        return ["classify", "--net", "squeezenet", "--input-size", str(SIZE),
                "--weights", str(path), str(good)]
    return ["build", "--board", "ecp5-85", "--input-size", str(SIZE), "--no-proposals",
            "--out", str(out), "--weights", str(path)]


def _image_argv(command, path, good, out):
    size = ["--input-size", str(SIZE)]
    return {"classify": ["classify", *size, str(path)],
            "calibration": ["classify", *size, str(good), "--calibration", str(path)],
            "build": ["build", "--board", "ecp5-85", *size, "--no-proposals", "--out",
                      str(out), "--calibration", str(path)],
            "simulate": ["simulate", *size, "--image", str(path)]}[command]


def _cases():
    for name, message in WEIGHTS_CASES:
        for command in ("classify", "build"):
            yield pytest.param(_weights_argv, command, name, message, id=f"{command}-{name}")
    for name, message in IMAGE_CASES:
        for command in ("classify", "calibration", "build", "simulate"):
            if name == "photo_dir.jpg" and command != "classify":
                # --calibration takes folders ('no image files in folder'); fpgagen simulate
                # checks --image itself ('image not found')
                continue
            yield pytest.param(_image_argv, command, name, message, id=f"{command}-{name}")


@pytest.mark.filterwarnings("error")  # a Python warning would be a second line on stderr
@pytest.mark.parametrize("argv, command, name, message", list(_cases()))
def test_cli_bad_input_is_one_line(bad, tmp_path, capsys, caplog, argv, command, name,
                                   message):
    with caplog.at_level(logging.WARNING):
        status = main(argv(command, bad[name], bad["good.png"], tmp_path / "out"))
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    if command == "simulate":  # its progress lines go to stderr too
        lines = [line for line in lines if not re.match(r"\[ *[\d.]+ s\] ", line)]
    assert len(lines) == 1 and lines[0].startswith("fpgagen: error: "), err
    assert re.search(message, lines[0]), lines[0]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_library_call_raises_fpgagen_error(bad):
    with pytest.raises(FpgagenError, match="is too large"):
        load_image_bgr(bad["huge_256mp.png"])
