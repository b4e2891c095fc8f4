"""trace(): one output element taken apart agrees with the layer, the reference loop and PyTorch."""

import numpy as np
import pytest

import convlab
import convlab.nn as nn
from convlab.engine import geometry, reference
from convlab.explain import trace
from convlab.explain.trace import INPUT, INSERTED_ZERO, PADDING

LAYERS = [
    lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2),
    lambda: nn.Conv2d(2, 3, (3, 2), dilation=(2, 1), padding=(2, 0), padding_mode="reflect"),
    lambda: nn.Conv1d(2, 2, 3, padding="same", padding_mode="circular", bias=False),
    lambda: nn.Conv2d(3, 3, 3, padding=1, padding_mode="replicate", groups=3),
    lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
    lambda: nn.ConvTranspose1d(2, 2, 4, stride=3, padding=2, dilation=2),
    lambda: nn.Conv3d(2, 2, 2, padding=1),
]


@pytest.mark.parametrize("make", LAYERS)
def test_total_equals_the_layer_output(make):
    layer = make()
    nd = layer.weight.ndim - 2
    x = convlab.randn(2, layer.in_channels, *([5] * nd))
    y = layer(x).detach().numpy()
    rng = np.random.default_rng(0)
    for flat in rng.choice(y.size, size=min(y.size, 40), replace=False):
        index = np.unravel_index(flat, y.shape)
        t = trace(layer, x, index)
        assert t.total == pytest.approx(float(y[index]), abs=1e-5)
        assert t.products.shape == t.window.shape == t.kernel.shape


def test_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    layer = torch.nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, groups=2)
    x = torch.randn(1, 2, 4, 4)
    y = layer(x).detach().numpy()
    for index in np.ndindex(*y.shape):
        assert trace(layer, x, index).total == pytest.approx(float(y[index]), abs=1e-5)


def test_window_reads_what_the_reference_loop_reads():
    """The input taps of a traced output are exactly the reference loop's taps."""
    layer = nn.Conv2d(2, 2, 3, stride=2, padding=2, dilation=2)
    x = convlab.randn(1, 2, 7, 6)
    G = geometry.conv_geometry("conv2d", 2, x.shape, layer.weight.shape, None, 2, 2, 2, 1)
    for o in np.ndindex(*G.out_size):
        t = trace(layer, x, (0, 1, *o))
        expected = {k: pos for k, pos in reference.taps(G, o)}
        read = {m: pos for m, pos in zip(np.ndindex(3, 3), t.positions) if pos is not None}
        assert read == expected
        assert {m for m in np.ndindex(3, 3) if t.kinds[m] == PADDING} == set(
            np.ndindex(3, 3)) - set(expected)
        assert np.all(t.window[:, t.kinds == PADDING] == 0)


def test_transposed_window_marks_inserted_zeros_and_flips_the_kernel():
    layer = nn.ConvTranspose1d(1, 1, 3, stride=2, bias=False)
    x = convlab.tensor([[[1.0, 2.0, 3.0]]])
    t = trace(layer, x, (0, 0, 2))  # output 2 = x[1]*w[0] + x[0]*w[2]
    assert list(t.kinds) == [INPUT, INSERTED_ZERO, INPUT]
    w = layer.weight.detach().numpy()[0, 0]
    np.testing.assert_allclose(t.kernel[0], w[::-1])
    assert t.total == pytest.approx(1.0 * w[2] + 2.0 * w[0], rel=1e-6)


def test_prints_as_a_table():
    layer = nn.Conv2d(2, 1, 3, padding=1)
    text = str(trace(layer, convlab.ones(1, 2, 4, 4), (0, 0, 0, 0)))
    assert "input channel 0" in text and "input channel 1" in text
    assert "[0]" in text and "total =" in text and "bias" in text


def test_clear_errors():
    layer = nn.Conv2d(1, 1, 3)
    with pytest.raises(IndexError, match="outside the output"):
        trace(layer, convlab.ones(1, 1, 4, 4), (0, 0, 2, 0))
    with pytest.raises(ValueError, match="convolution or pooling layer"):
        trace(nn.ReLU(), convlab.ones(1, 1, 4, 4), (0, 0, 0, 0))
    with pytest.raises(ValueError, match="no weights"):
        trace("Conv2d(1, 1, 3)", convlab.ones(1, 1, 4, 4), (0, 0, 0, 0))


POOLS = [
    lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=2),
    lambda: nn.MaxPool2d(2, stride=2, padding=1, ceil_mode=True),
    lambda: nn.AvgPool2d(3, stride=2, padding=1),
    lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
    lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, divisor_override=4),
    lambda: nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    lambda: nn.LPPool2d(2, 3, stride=2),
    lambda: nn.LPPool1d(3.0, 2, stride=2, ceil_mode=True),
    lambda: nn.AdaptiveAvgPool2d((3, 2)),
    lambda: nn.AdaptiveMaxPool1d(4),
]


@pytest.mark.parametrize("make", POOLS)
def test_pooling_total_equals_the_layer_output(make):
    layer = make()
    nd = 1 if type(layer).__name__.endswith("1d") else 2
    x = convlab.rand(1, 2, *([7] * nd))  # not negative: x**3 has no real cube root of -1
    y = layer(x).detach().numpy()
    for index in np.ndindex(*y.shape):
        assert trace(layer, x, index).total == pytest.approx(float(y[index]), abs=1e-5)


def test_average_pooling_counts_the_padding_as_the_layer_does():
    x = convlab.ones(1, 1, 5, 5)
    t = trace(nn.AvgPool2d(3, stride=2, padding=1), x, (0, 0, 0, 0))
    assert t.divisor == 9 and t.total == pytest.approx(4 / 9)
    assert "/ 9 = 0.4444" in str(t)
    t = trace(nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), x, (0, 0, 0, 0))
    assert t.divisor == 4 and t.total == 1


def test_adaptive_windows_vary_in_width():
    x = convlab.arange(5.0).reshape(1, 1, 5)
    widths = [trace(nn.AdaptiveAvgPool1d(3), x, (0, 0, j)).kinds.shape for j in range(3)]
    assert widths == [(2,), (3,), (2,)]
    assert trace(nn.AdaptiveAvgPool1d(3), x, (0, 0, 1)).total == 2.0  # mean of 1, 2, 3


def test_repr_is_one_line():
    t = trace(nn.Conv2d(1, 1, 3), convlab.ones(1, 1, 4, 4), (0, 0, 1, 1))
    assert repr(t).startswith("<Trace Conv2d(") and "\n" not in repr(t)
    assert t._repr_html_().startswith("<pre>")
