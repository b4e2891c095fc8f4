"""The shape, summary, explain and gallery commands: output, files, and one-line errors."""

import textwrap

from PIL import Image

from convlab.cli import main


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
