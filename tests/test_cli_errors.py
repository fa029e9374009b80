"""One error boundary: every expected failure is one line on stderr with exit status 2; an
unexpected exception is one line saying "internal error" and where the traceback is (with
``-v``), exit status 1; Ctrl-C is one line, exit status 130."""

import pytest

from fpgagen import cli
from fpgagen.cli import main

#: ``(arguments, text the one line must hold)``: bad options of every command, checked
#: before anything large is allocated.
BAD_OPTIONS = [
    (["info", "--width", "inf"], "--width: expected a finite positive number, not 'inf'"),
    (["info", "--width", "1e308"], "width must be a number in (0, 16], not 1e+308"),
    (["info", "--width", "nan"], "--width: expected a finite positive number"),
    (["build", "--board", "max10", "--width", "100"], "width must be a number in (0, 16]"),
    (["build", "--board", "max10", "--width", "1e6"], "width must be a number in (0, 16]"),
    (["build", "--board", "max10", "--num-classes", "1000000000"],
     "513,000,722,496 parameters, more than fpgagen builds"),
    (["build", "--board", "max10", "--input-size", "100000"],
     "a tensor of 159,993,600,064 values ('conv1', 64x49999x49999)"),
    (["build", "--board", "max10", "--clock-mhz", "inf"],
     "--clock-mhz: expected a finite positive number of MHz, not inf"),
    (["build", "--board", "max10", "--clock-mhz", "5000"],
     "--clock-mhz: expected a clock from 0.001 to 1000 MHz, not 5000.0"),
    (["info", "--input-size", "1"], "input size 1 is too small for squeezenet1_1: the "
                                    "smallest it takes is 17"),
    (["info", "--input-size", "16"], "input size 16 is too small for squeezenet1_1"),
    (["classify", "--input-size", "32"], "the following arguments are required: IMAGE"),
    (["simulate", "--image"], "--image: expected one argument"),
    (["build", "--board", "max10", "--pe", "3x3"], "--pe: expected a PE array RxC"),
    (["nonsense"], "invalid choice: 'nonsense'"),
]


def _one_line(capsys):
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _status(args) -> int:
    """``main(args)``'s exit status, whether it returns it or argparse exits with it."""
    try:
        return main(args)
    except SystemExit as e:
        return e.code


@pytest.mark.filterwarnings("error")  # a Python warning would be a second line on stderr
@pytest.mark.parametrize("args, text", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_options_are_one_line(args, text, capsys):
    assert _status(args) == 2
    line = _one_line(capsys)
    assert line.startswith("fpgagen"), line
    assert text in line, line


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["info", "--width", "inf"])
    assert e.value.code == 2
    _one_line(capsys)


def _explode(args):
    raise ZeroDivisionError("something inside went wrong\nsecond line")


def test_internal_error_is_one_line_with_a_hint(monkeypatch, capsys):
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser, "info", _explode))
    assert main(["info"]) == 1
    line = _one_line(capsys)
    assert line == ("fpgagen: internal error: ZeroDivisionError: something inside went wrong "
                    "/ second line (a bug in fpgagen; run again with -v for the traceback)")


def test_internal_error_with_verbose_shows_the_traceback(monkeypatch, capsys):
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser, "info", _explode))
    assert main(["-v", "info"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err
    assert err.splitlines()[-1].endswith("(a bug in fpgagen; the traceback is above)")


def test_interrupt_is_one_line(monkeypatch, capsys):
    def stop(args):
        raise KeyboardInterrupt

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser, "info", stop))
    assert main(["info"]) == 130
    assert _one_line(capsys) == "fpgagen: interrupted"


def test_file_system_refusal_is_one_line(monkeypatch, capsys):
    def denied(args):
        raise PermissionError(13, "Permission denied", "/read-only/report.json")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser, "info", denied))
    assert main(["info"]) == 2
    assert _one_line(capsys) == "fpgagen: error: Permission denied: '/read-only/report.json'"


def _with_func(parser, command, func):
    """``parser`` with ``command`` running ``func``."""
    sub = next(a for a in parser._subparsers._group_actions if a.dest == "command")
    sub.choices[command].set_defaults(func=func)
    return parser


def test_generated_weights_are_said(capsys, caplog, shared_images):
    assert main(["classify", "--input-size", "32", str(shared_images / "caffe_cat.jpg")]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(", generated weights")
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "no --weights: generated (random) weights, so the class names mean nothing"]


@pytest.mark.filterwarnings("error")
def test_float_scores_that_overflow_are_refused(tmp_path, capsys, shared_images):
    """Weights below the per-tensor limit can still overflow float32 layer after layer: the
    float model's scores are checked before they are printed (never NaN in JSON)."""
    from fpgagen.frontend import generate_weights, save_npz_weights
    from fpgagen.nets import NetOptions, build_net

    g = generate_weights(build_net("squeezenet", NetOptions(input_size=32)))
    params = {n: {k: (v * 3e4 if k == "weight" else v) for k, v in p.items()}
              for n, p in g.params.items()}
    weights = tmp_path / "big.npz"
    save_npz_weights(g.replace(params=params), weights)
    status = main(["classify", "--float", "--json", "--input-size", "32", "--weights",
                   str(weights), str(shared_images / "caffe_cat.jpg")])
    assert status == 2
    line = _one_line(capsys)
    assert line.startswith("fpgagen: error: the float model's scores for ") and \
        "are not finite" in line and line.endswith("the weights overflow float32"), line
    # the integer model calibrates on the float model, which overflows the same way
    assert main(["classify", "--input-size", "32", "--weights", str(weights),
                 str(shared_images / "caffe_cat.jpg")]) == 2
    line = _one_line(capsys)
    assert line.startswith("fpgagen: error: calibration: tensor ") and \
        line.endswith("is not finite in the float model: the weights overflow float32"), line
