"""Layer strings, layer descriptions and shape arithmetic, checked against the real layers."""

import itertools

import numpy as np
import pytest

import convlab
import convlab.nn as nn
from convlab.engine.geometry import output_length
from convlab.explain import describe, input_sizes_for, padding_for, parse_layer, shape


def test_issue_example_formula_and_numbers():
    report = shape("Conv2d(3, 16, 5, stride=2, padding=1)", "1x3x32x32")
    assert report.axes[0].formula == "floor((32 + 2*1 - 1*(5-1) - 1) / 2) + 1 = 15"
    assert report.output_shape == (1, 16, 15, 15)
    assert report.layer.weight_shape == (16, 3, 5, 5)
    assert report.params == 16 * 3 * 25 + 16
    assert report.mult_adds == 15 * 15 * 16 * (3 * 25 + 1)


def test_torchinfo_mult_adds_convention():
    # torchinfo: Conv2d(1, 10, 5) on [7, 1, 28, 28] has 260 params and 260*576*7 mult-adds
    assert shape("Conv2d(1, 10, 5)", (7, 1, 28, 28)).mult_adds == 1_048_320


def test_parse_rejects_code_and_unknown_layers():
    with pytest.raises(ValueError, match="literals"):
        parse_layer("Conv2d(__import__('os').getpid(), 1, 1)")
    with pytest.raises(ValueError, match="unknown layer"):
        parse_layer("Frobnicate(3)")
    with pytest.raises(ValueError, match="divisible by groups"):
        parse_layer("Conv2d(3, 4, 3, groups=2)")
    with pytest.raises(TypeError, match="unexpected keyword"):
        parse_layer("Conv2d(3, 4, 3, strides=2)")


@pytest.mark.parametrize("text", [
    "Conv2d(3, 16, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=1)",
    "Conv1d(4, 8, 3, padding='same', dilation=2, groups=4, bias=False)",
    "ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=1)",
    "MaxPool2d(3, stride=2, padding=1, ceil_mode=True)",
    "AvgPool1d(4)",
])
def test_spec_reads_like_the_module(text):
    """A parsed string and the module it builds describe the same layer."""
    spec = parse_layer(text)
    from_spec, from_module = describe(spec), describe(spec.build())
    for name in ("kind", "nd", "in_channels", "out_channels", "kernel_size", "stride", "padding",
                 "dilation", "groups", "output_padding", "has_bias", "ceil_mode", "params"):
        assert getattr(from_spec, name) == getattr(from_module, name), name


_CONV_GRID = [dict(k=k, s=s, p=p, d=d) for k, s, p, d in
              itertools.product((1, 2, 3), (1, 2, 3), (0, 1, 2), (1, 2))]


@pytest.mark.parametrize("size", [7, 8])
def test_conv_output_shape_matches_the_layer(size):
    for c in _CONV_GRID:
        text = f"Conv2d(2, 4, {c['k']}, stride={c['s']}, padding={c['p']}, dilation={c['d']})"
        if output_length(size, c["k"], c["s"], c["p"], c["p"], c["d"]) < 1:
            continue
        layer = parse_layer(text).build()
        y = layer(convlab.zeros(1, 2, size, size + 1))
        assert shape(layer, (1, 2, size, size + 1)).output_shape == tuple(y.shape), text


def test_transposed_output_shape_and_equivalent_direct_conv():
    """The shown equivalent (zeros inserted, padding d(k-1)-p, + output_padding at the end,
    stride 1, flipped kernel, channels swapped) computes the same numbers as the layer."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for k, s, p, d, a in [(3, 2, 1, 1, 1), (4, 3, 2, 1, 0), (3, 1, 0, 2, 1), (2, 2, 0, 1, 1),
                          (5, 2, 4, 1, 0)]:
        if a >= s and a >= d:
            continue
        layer = torch.nn.ConvTranspose1d(2, 3, k, stride=s, padding=p, output_padding=a,
                                         dilation=d, bias=False)
        x = torch.randn(1, 2, 5)
        report = shape(layer, tuple(x.shape))
        assert report.output_shape == tuple(layer(x).shape)
        (eq,) = report.equivalent
        stretched = torch.zeros(1, 2, eq.stretched)
        stretched[..., ::s] = x
        lo, hi = eq.pad_lo, eq.pad_hi
        view = F.pad(stretched, (max(lo, 0), max(hi, 0)))[..., max(-lo, 0):view_end(hi)]
        w = layer.weight.flip(-1).transpose(0, 1)  # (C_in, C_out, k) -> (C_out, C_in, k)
        direct = F.conv1d(view, w, dilation=d)
        assert direct.shape[-1] == eq.o
        torch.testing.assert_close(direct, layer(x), atol=1e-5, rtol=1e-5)


def view_end(hi: int):
    """Slice end that crops ``-hi`` elements when the equivalent padding is negative."""
    return None if hi >= 0 else hi


def test_too_small_input_gives_the_layers_own_error():
    layer = nn.Conv2d(3, 8, 7, dilation=2)
    with pytest.raises(ValueError) as from_layer:
        layer(convlab.zeros(1, 3, 10, 10))
    with pytest.raises(ValueError) as from_shape:
        shape("Conv2d(3, 8, 7, dilation=2)", "1x3x10x10")
    assert str(from_shape.value) == str(from_layer.value)
    pool = nn.MaxPool2d(3, padding=2)
    with pytest.raises(ValueError) as from_pool:
        pool(convlab.zeros(1, 3, 10, 10))
    with pytest.raises(ValueError) as from_shape:
        shape("MaxPool2d(3, padding=2)", (1, 3, 10, 10))
    assert str(from_shape.value) == str(from_pool.value)


def test_padding_for_gives_the_wanted_output():
    for i, o, k, s, d in itertools.product((7, 8, 32), (1, 4, 8, 16, 32), (1, 2, 3, 5), (1, 2, 3),
                                           (1, 2)):
        try:
            lo, hi = padding_for(i, o, k, s, d)
        except ValueError:
            assert output_length(i, k, s, 0, 0, d) > o  # even no padding gives too much
            continue
        assert output_length(i, k, s, lo, hi, d) == o
        assert 0 <= hi - lo <= 1


def test_input_sizes_for_are_exactly_the_inputs_with_that_output():
    for o, k, s, p, d in itertools.product((1, 3, 6), (1, 3, 4), (1, 2, 3), (0, 1), (1, 2)):
        sizes = input_sizes_for(o, k, s, p, d)
        matching = [i for i in range(1, 60) if output_length(i, k, s, p, p, d) == o]
        assert list(sizes) == matching


def test_report_text_lists_same_output_inputs():
    text = str(shape("Conv2d(1, 1, 3, stride=2, padding=1)", (1, 1, 6, 5)))
    assert "H: inputs 5 to 6 give the same output 3 (stride 2)" in text
    assert "W: inputs 5 to 6 give the same output 3 (stride 2)" in text


def test_linear_and_adaptive_pool_shapes():
    assert shape("Linear(400, 120)", (4, 400)).output_shape == (4, 120)
    assert describe(parse_layer("AdaptiveAvgPool2d((2, None))")).output_shape(
        (1, 3, 8, 5)) == (1, 3, 2, 5)
    assert np.prod(shape("Linear(400, 120)", (4, 400)).mult_adds) == 4 * 120 * 401


def test_adaptive_pooling_shows_its_windows():
    report = shape("AdaptiveAvgPool2d(3)", "1x1x5x5")
    assert "0..1, 1..3, 3..4 (widths 2, 3, 2)" in str(report)
    assert "give the same output" not in str(report)


def test_padding_modes_the_input_cannot_hold_are_refused():
    with pytest.raises(ValueError, match="'reflect' needs padding less than the input size"):
        shape("Conv2d(3, 16, 5, padding=3, padding_mode='reflect')", "1x3x2x2")
    with pytest.raises(ValueError, match="'circular' wraps around more than once"):
        shape("Conv2d(1, 1, 7, padding=3, padding_mode='circular')", "1x1x2x9")
    assert shape("Conv2d(1, 1, 7, padding=3, padding_mode='replicate')", "1x1x2x9")


def test_notebook_display():
    report = shape("Conv2d(3, 16, 5)", "1x3x32x32")
    assert repr(report) == "<ShapeReport Conv2d(3, 16, 5): (1, 3, 32, 32) -> (1, 16, 28, 28), " \
                           "1,216 parameters>"
    assert report._repr_html_().startswith("<pre>Conv2d(3, 16, 5) on input")
