"""``fpgagen classify``: top-5 with names, int8 and float, JSON output."""

import json
import shutil
from pathlib import Path

from fpgagen.cli import main


def test_classify_json_real_weights(capsys, v1_1_weights, shared_images, reference):
    cat = shared_images / "caffe_cat.jpg"
    tench = shared_images / "n01440764_tench.JPEG"
    assert main(["classify", "--net", "squeezenet", "--weights", str(v1_1_weights),
                 "--calibration", str(shared_images / "n02085620_Chihuahua.JPEG"),
                 "--calibration", str(shared_images / "n09472597_volcano.JPEG"),
                 "--json", str(cat), str(tench)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["image"] for r in out] == [str(cat), str(tench)]
    for r in out:
        assert len(r["top5"]) == 5
        for index, name, score in r["top5"]:
            assert isinstance(index, int) and isinstance(name, str) and isinstance(score, float)
        scores = [s for _, _, s in r["top5"]]
        assert scores == sorted(scores, reverse=True)
    # float reference top-1 of these photos: tabby cat (281) and goldfish (1)
    assert out[0]["top5"][0][:2] == [281, "tabby, tabby cat"]
    assert out[1]["top5"][0][0] == 1


def test_classify_float_matches_reference(capsys, v1_1_weights, shared_images, reference):
    names = [str(n) for n in reference["names"]]
    i = names.index("n04254680_soccer_ball.JPEG")
    assert main(["classify", "--float", "--json", "--weights", str(v1_1_weights),
                 str(shared_images / names[i])]) == 0
    top5 = json.loads(capsys.readouterr().out)[0]["top5"]
    expected = reference["v1_1_logits"][i]
    assert [t[0] for t in top5] == list(expected.argsort()[::-1][:5])
    assert abs(top5[0][2] - float(expected.max())) < 1e-3


def test_classify_text_without_weights_file(capsys, shared_images, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"thing{i}\n" for i in range(10)))
    assert main(["classify", "--num-classes", "10", "--input-size", "64", "--labels",
                 str(labels), str(shared_images / "caffe_cat.jpg")]) == 0
    out = capsys.readouterr().out
    assert "int8 golden model" in out and out.count("thing") == 5


def test_classify_names_wide_codes(capsys, shared_images):
    assert main(["classify", "--num-classes", "10", "--input-size", "64", "--weight-bits",
                 "12", "--activation-bits", "10", str(shared_images / "caffe_cat.jpg")]) == 0
    out = capsys.readouterr().out
    assert "integer golden model (weights 12 bits, activations 10 bits, dense)" in out


def test_readme_classify_example_is_what_the_command_prints(capsys, monkeypatch, tmp_path,
                                                            v1_1_weights, shared_images):
    """The README's ``classify`` example, run as written (``photo.jpg`` being Caffe's cat):
    its output block is the command's stderr line, then its standard output."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    command = "fpgagen classify --net squeezenet --weights squeezenet_v1_1.npz photo.jpg"
    block = readme[readme.index(command):].split("```")[1].strip("\n").splitlines()
    shutil.copy(shared_images / "caffe_cat.jpg", tmp_path / "photo.jpg")
    shutil.copy(v1_1_weights, tmp_path / "squeezenet_v1_1.npz")
    monkeypatch.chdir(tmp_path)
    assert main(command.split()[1:]) == 0
    out = capsys.readouterr()
    assert block == out.err.splitlines() + out.out.splitlines()
