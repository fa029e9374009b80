"""``fpgagen evaluate`` on small labelled folders made here: labels from labels.json or
from ImageNet WordNet ids in the file names, images of unknown class skipped, bad label
files refused in one line (exit 2), and the measured figures against a direct count."""

import json

import numpy as np
import pytest
from PIL import Image

from fpgagen.cli import main
from fpgagen.evaluation import evaluate, labelled_images
from fpgagen.flow import FlowConfig, load_images, step_import, step_quantize
from fpgagen.golden.float_model import bgr_to_float_chw, run_float
from fpgagen.golden.int_model import run_int
from fpgagen.nets import NetOptions

TINY = ["--net", "squeezenet1_1", "--input-size", "32", "--width", "0.25",
        "--num-classes", "10"]


def _folder(tmp_path, names, seed=0):
    rng = np.random.default_rng(seed)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(tmp_path / name)
    return tmp_path


def _run(capsys, *args):
    status = main(["evaluate", *map(str, args)])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_labels_json_and_json_output(tmp_path, capsys):
    folder = _folder(tmp_path, ["a.png", "b.png", "c.png", "stray.png"])
    (folder / "labels.json").write_text(json.dumps({"a.png": 3, "b.png": 0, "c.png": 9}))
    status, out, err = _run(capsys, *TINY, "--json", folder)
    assert status == 0, err
    d = json.loads(out)
    assert (d["images"], d["skipped"]) == (3, 1)
    for model in ("float", "int"):
        assert set(d[model]) == {"top1", "top5"}
        assert 0 <= d[model]["top1"] <= d[model]["top5"] <= 1
    assert 0 <= d["agreement"] <= 1 and "conv1" in d["sqnr_db"]
    assert "3/3 images" in err and "1 of unknown class skipped" in err

    # the figures, counted directly
    cfg = FlowConfig(net="squeezenet1_1", net_options=NetOptions(input_size=32, width=0.25,
                                                                 num_classes=10))
    graph = step_import(cfg)
    quantized = step_quantize(graph, cfg)
    images = load_images([folder / n for n in ("a.png", "b.png", "c.png")], 32)
    labels = [3, 0, 9]
    f_top = [np.argsort(-run_float(graph, bgr_to_float_chw(x, graph.mean))["pool10"].ravel(),
                        kind="stable")[:5] for x in images]
    i_top = [np.argsort(-run_int(quantized, x)["pool10"].ravel().astype(float),
                        kind="stable")[:5] for x in images]
    assert d["float"]["top5"] == pytest.approx(np.mean([l in t for l, t in zip(labels, f_top)]))
    assert d["int"]["top1"] == pytest.approx(np.mean([t[0] == l for l, t in zip(labels, i_top)]))
    assert d["agreement"] == pytest.approx(np.mean([f[0] == i[0] for f, i in zip(f_top, i_top)]))


def test_wordnet_ids_in_file_names(tmp_path):
    folder = _folder(tmp_path, ["n01440764_tench.png", "n01484850_shark.png", "cat.png"])
    data = labelled_images(folder, 1000)
    assert data.classes == (0, 2) and [f.name for f in data.unknown] == ["cat.png"]
    # without 1000 classes the ids mean nothing: every image is of unknown class
    assert labelled_images(folder, 10).files == ()


@pytest.mark.parametrize("content,message", [
    ("{not json", "cannot read"),
    ("[1, 2]", "must hold an object"),
    ('{"a.png": 10}', "class of 'a.png' is 10, not an index 0..9"),
    ('{"a.png": "cat"}', "class of 'a.png' is 'cat'"),
])
def test_bad_label_files_are_refused(tmp_path, capsys, content, message):
    folder = _folder(tmp_path, ["a.png"])
    (folder / "labels.json").write_text(content)
    status, _, err = _run(capsys, *TINY, folder)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


def test_folders_without_known_images_are_refused(tmp_path, capsys):
    status, _, err = _run(capsys, *TINY, tmp_path / "missing")
    assert status == 2 and "is not a folder of images" in err
    status, _, err = _run(capsys, *TINY, tmp_path)
    assert status == 2 and "holds no images" in err
    _folder(tmp_path, ["x.png"])
    status, _, err = _run(capsys, *TINY, tmp_path)
    assert status == 2 and "no image of a known class" in err


def test_evaluate_refuses_an_unquantized_graph(tmp_path):
    cfg = FlowConfig(net="squeezenet1_1", net_options=NetOptions(input_size=32, width=0.25,
                                                                 num_classes=10))
    graph = step_import(cfg)
    with pytest.raises(Exception, match="not quantized"):
        evaluate(graph, graph, labelled_images(_folder(tmp_path, ["a.png"]), 10))
