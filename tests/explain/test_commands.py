"""The shape, summary, explain and gallery commands: output, files, and one-line errors."""

import textwrap

from PIL import Image

from convlab.cli import main
from convlab.explain import animate


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_shape_prints_the_formula(capsys):
    code, out, _ = run(capsys, "shape", "Conv2d(3, 16, 5, stride=2, padding=1)", "--input",
                       "1x3x32x32", "--output-size", "16")
    assert code == 0
    assert "floor((32 + 2*1 - 1*(5-1) - 1) / 2) + 1 = 15" in out
    assert "(1, 16, 15, 15)" in out and "1,216" in out
    assert "H: output 16 needs padding 2" in out


def test_shape_of_a_transposed_conv_shows_the_direct_twin(capsys):
    code, out, _ = run(capsys, "shape", "ConvTranspose2d(16, 3, 3, stride=2, padding=1)",
                       "--input", "1x16x8x8", "--output-size", "16")
    assert code == 0
    assert "1 zero(s) between inputs: 8 -> 15; padding 1 before, 1 after" in out
    assert "output_padding=1" in out


def test_a_layer_that_cannot_fit_exits_2_with_one_line(capsys):
    code, out, err = run(capsys, "shape", "Conv2d(3, 8, 7, dilation=2)", "--input", "1x3x10x10")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "kernel 7 dilated to 13 does not fit" in err
    code, _, err = run(capsys, "shape", "Conv2d(3, 8", "--input", "1x3x10x10")
    assert code == 2 and "cannot read the layer" in err


def test_summary_of_a_layer_string_and_a_factory_file(capsys, tmp_path):
    code, out, _ = run(capsys, "summary", "Sequential(Conv2d(3, 8, 5), ReLU(), Conv2d(8, 16, 3))",
                       "--input", "1x3x32x32")
    assert code == 0 and "Total params: 1,776" in out and "Eff. padding" in out
    source = tmp_path / "model.py"
    source.write_text(textwrap.dedent("""
        import convlab.nn as nn

        def make():
            return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
    """))
    code, out, _ = run(capsys, "summary", f"{source}:make", "--input", "1x1x10x10", "--run")
    assert code == 0 and "MaxPool2d" in out and "[1, 4, 4, 4]" in out
    code, _, err = run(capsys, "summary", f"{source}:nope", "--input", "1x1x10x10")
    assert code == 2 and "has no 'nope'" in err


def test_explain_writes_a_gif_and_traces(capsys, tmp_path):
    gif = tmp_path / "t.gif"
    code, out, _ = run(capsys, "explain", "ConvTranspose1d(1, 1, 3, stride=2)", "--input", "3",
                       "--gif", str(gif), "--trace", "0,0,2", "--ms", "50")
    assert code == 0 and "total =" in out and "(7 frames)" in out
    with Image.open(gif) as im:
        assert im.n_frames == 7
    code, _, err = run(capsys, "explain", "Conv2d(1, 1, 3)", "--input", "5x5", "--trace", "0,0,9,9")
    assert code == 2 and "outside the output" in err


def test_the_gif_and_the_trace_show_the_same_numbers(capsys, tmp_path):
    layer = "Conv2d(2, 1, 3, padding=1, padding_mode='reflect')"
    code, out, _ = run(capsys, "explain", layer, "--input", "1x2x4x4", "--trace", "0,0,1,2",
                       "--seed", "3")
    total = out.strip().splitlines()[-1].split(" = ")[-1]
    anim = animate(layer, "1x2x4x4", seed=3)
    assert code == 0 and float(total) == anim.steps[6].value  # output (1, 2) is frame 1*4 + 2


def test_explain_limits(capsys, tmp_path):
    gif = tmp_path / "big.gif"
    code, out, _ = run(capsys, "explain", "Conv2d(1,1,3)", "--input", "64x64", "--gif", str(gif))
    assert code == 0 and "(64 frames)" in out and "outputs 0..7 x 0..7 of 62x62" in out
    code, _, err = run(capsys, "explain", "Conv2d(1,1,3)", "--input", "64x64", "--gif", str(gif),
                       "--window", "all")
    assert code == 2 and "3,844 frames" in err and "--window 0:8,0:8" in err
    assert err.count("\n") == 1
    code, out, _ = run(capsys, "explain", "Conv2d(1,1,3)", "--input", "64x64", "--gif", str(gif),
                       "--window", "10:12,0:3")
    assert code == 0 and "(6 frames)" in out


def test_one_line_errors_for_the_small_defects(capsys, tmp_path):
    cases = [
        (["explain", "Conv2d(1,1,3)", "--input", "5x5", "--gif", str(tmp_path / "o.png")],
         "use --png"),
        (["explain", "Conv2d(1,1,3)", "--input", "5x5", "--trace", "-1,0,0,0"],
         "outside the output"),
        (["explain", "Conv2d(1,1,3)", "--input", "1x3x32x32x"], "cannot read the shape"),
        (["shape", "Conv2d(3,16,5,padding=3,padding_mode='reflect')", "--input", "1x3x2x2"],
         "padding_mode='reflect' needs padding less than the input size"),
        (["summary", "lenet5", "--input", "1x1x28x28000000"], "over the limit"),
        (["summary", "lenet5", "--input", "1x1x28x28", "--rf-map", str(tmp_path / "rf.png"),
          "--layer", "fc1"], "'fc1' (Linear) has no spatial output"),
    ]
    for argv, message in cases:
        code, _, err = run(capsys, *argv)
        assert code == 2 and message in err and err.count("\n") == 1, (argv, err)
    assert not (tmp_path / "o.png").exists()
    code, out, _ = run(capsys, "explain", "Conv2d(1,1,3)", "--input", "5x5", "--png",
                       str(tmp_path / "o.png"))
    assert code == 0 and (tmp_path / "o.png").exists()


def test_summary_runs_a_layer_string_and_fits_80_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(capsys, "summary", "Conv2d(3, 8, 5)", "--input", "1x3x32x32", "--run")
    assert code == 0 and "608" in out
    code, out, _ = run(capsys, "summary", "lenet5", "--input", "1x1x28x28")
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 80
    assert "Eff. padding" in out and "…" not in out


def test_gallery_command(capsys, tmp_path):
    code, out, _ = run(capsys, "gallery", str(tmp_path), "--only", "no_padding_no_strides",
                       "--ms", "50")
    assert code == 0 and (tmp_path / "no_padding_no_strides.gif").exists()


def test_summary_draws_a_receptive_field_map(capsys, tmp_path):
    out = tmp_path / "rf.png"
    code, text, _ = run(capsys, "summary", "Sequential(Conv2d(3, 4, 3), MaxPool2d(2))", "--input",
                        "1x3x20x30", "--rf-map", str(out), "--unit", "2,3", "--image",
                        str(tmp_path / "missing.jpg"))
    assert code == 2  # the image is missing
    code, text, _ = run(capsys, "summary", "Sequential(Conv2d(3, 4, 3), MaxPool2d(2))", "--input",
                        "1x3x20x30", "--rf-map", str(out), "--unit", "2,3")
    assert code == 0 and "16 input pixels" in text and out.exists()
