"""``fpgagen classify``: top-5 with names, int8 and float, JSON output."""

import json

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
