"""Receptive fields (closed forms and pixel maps) and the model summary."""

import numpy as np
import pytest

import convlab
import convlab.nn as nn
from convlab.explain import receptive_field_map, summary
from convlab.explain.receptive import PerAxis, chain, path_counts, span

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16_layers():
    layers, c = [], 3
    for v in VGG16:
        if v == "M":
            layers.append("MaxPool2d(2, 2)")
        else:
            layers += [f"Conv2d({c}, {v}, 3, padding=1)", "ReLU(inplace=True)"]
            c = v
    return layers + ["AdaptiveAvgPool2d((7, 7))", "Flatten()", "Linear(25088, 4096)", "ReLU()",
                     "Dropout()", "Linear(4096, 4096)", "ReLU()", "Dropout()",
                     "Linear(4096, 1000)"]


def test_vgg16_receptive_field_stride_padding():
    rows = summary(vgg16_layers(), (1, 3, 224, 224)).rows
    last_pool = [r for r in rows if r.type == "MaxPool2d"][-1]
    conv5_3 = [r for r in rows if r.type == "Conv2d"][-1]
    assert (last_pool.receptive_field, last_pool.effective_stride,
            last_pool.effective_padding) == (212, 32, 90)
    assert (conv5_3.receptive_field, conv5_3.effective_stride,
            conv5_3.effective_padding) == (196, 16, 90)
    assert rows[-1].receptive_field == "all"  # a Linear output sees the whole input
    assert rows[-1].effective_stride is None
    assert sum(r.params for r in rows) == 138_357_544


def test_reference_sheet_example():
    s = summary("Sequential(Conv2d(3,8,5), ReLU(), Conv2d(8,16,3))", (1, 3, 32, 32))
    assert [r.receptive_field for r in s.rows] == [5, 5, 7]
    assert [r.params for r in s.rows] == [608, 0, 1168] and s.total_params == 1776


def test_dilation_counts_in_the_field_and_non_square_prints_per_axis():
    s = summary(["Conv2d(1, 1, (3, 5), dilation=(2, 1))", "MaxPool2d(2)"], (1, 1, 20, 20))
    assert s.rows[0].receptive_field == PerAxis((5, 5))
    assert str(s.rows[1].receptive_field) == "6" and s.rows[1].effective_stride == 2
    s = summary(["Conv2d(1, 1, (3, 5))"], (1, 1, 20, 20))
    assert str(s.rows[0].receptive_field) == "3x5"


def _ones_chain(torch, specs):
    """A one-channel torch chain with every weight 1 and no bias: the input gradient of a unit
    counts the paths from each input pixel to it."""
    layers = []
    for kind, kwargs in specs:
        layer = getattr(torch.nn, kind)(1, 1, bias=False, **kwargs)
        torch.nn.init.ones_(layer.weight)
        layers.append(layer)
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("specs", [
    [("Conv2d", dict(kernel_size=3, dilation=2)), ("Conv2d", dict(kernel_size=3, stride=2))],
    [("Conv2d", dict(kernel_size=5, padding=2)),
     ("Conv2d", dict(kernel_size=3, stride=2, padding=1)),
     ("Conv2d", dict(kernel_size=(3, 1), dilation=3))],
    [("ConvTranspose2d", dict(kernel_size=3, stride=2, padding=1)),
     ("Conv2d", dict(kernel_size=2, stride=1))],
])
def test_path_counts_equal_the_gradient_of_an_all_ones_network(specs):
    torch = pytest.importorskip("torch")
    model = _ones_chain(torch, specs)
    x = torch.zeros(1, 1, 17, 17, requires_grad=True)
    y = model(x)
    unit = (y.shape[2] // 2, y.shape[3] // 3)
    y[(0, 0, *unit)].backward()
    rows = summary(model, (1, 1, 17, 17)).rows
    counts = path_counts([r.axes for r in rows], unit)
    np.testing.assert_allclose(counts, x.grad[0, 0].numpy())


def test_span_bounds_the_pixels_of_a_plain_chain():
    rows = summary(["Conv2d(1,1,3)", "MaxPool2d(2)", "Conv2d(1,1,3,stride=2)"],
                   (1, 1, 40, 40)).rows
    field = rows[-1].field
    for unit in [(0, 0), (3, 5), (7, 7)]:
        counts = path_counts([r.axes for r in rows], unit)
        (u0, v0), (u1, v1) = span(field, unit)
        ys, xs = np.nonzero(counts)
        assert (ys.min(), ys.max(), xs.min(), xs.max()) == (u0, v0, u1, v1)


def test_transposed_layers_give_fractional_strides():
    fields = chain([[_axis] for _axis in summary(
        ["ConvTranspose1d(1, 1, 3, stride=2, padding=1)"], (1, 1, 8)).rows[0].axes])
    assert str(fields[-1].stride) == "1/2" and fields[-1].size == 2


def test_receptive_field_map_and_picture(tmp_path):
    m = receptive_field_map(["Conv2d(3,4,3,padding=1)", "MaxPool2d(2)", "Conv2d(4,4,3,dilation=2)"],
                            (1, 3, 24, 32), (2, 3))
    assert m.counts.shape == (24, 32)
    ys, xs = np.nonzero(m.counts)
    (u0, v0), (u1, v1) = m.span
    assert u0 <= ys.min() and ys.max() <= v0 and u1 <= xs.min() and xs.max() <= v1
    photo = np.zeros((24, 32, 3), np.uint8)
    path = m.save(tmp_path / "rf.png", photo)
    from PIL import Image

    assert Image.open(path).size[0] > 100
    with pytest.raises(ValueError, match="outside the output"):
        receptive_field_map(["Conv2d(3,4,3)"], (1, 3, 8, 8), (6, 0))


class Block(nn.Module):
    """A residual block whose shortcut is called after the main path, as torchvision does."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.down = nn.Conv2d(c_in, c_out, 1, stride=2)

    def forward(self, x):
        out = self.conv2(self.relu(self.conv1(x)))
        return self.relu(out + self.down(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.block = Block(4, 8)
        self.fc = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(self.block(self.stem(x)).flatten(1))


def test_run_path_follows_tensors_through_branches():
    s = summary(Net(), (1, 3, 16, 16))
    assert [r.name for r in s.rows] == ["stem.0", "stem.1", "block.conv1", "block.relu",
                                        "block.conv2", "block.down", "block.relu", "fc"]
    by_name = {(r.name, i): r for i, r in enumerate(s.rows)}
    down = by_name[("block.down", 5)]
    assert (down.receptive_field, down.effective_stride) == (3, 2)  # from the block's input
    final = by_name[("block.relu", 6)]
    assert final.receptive_field == 3 + 2 + 2 * 2 and final.effective_stride == 2
    assert s.rows[-1].output_shape == (1, 10)
    assert s.total_params == sum(int(np.prod(p.shape)) for p in Net().parameters())


def test_analytic_and_run_paths_agree_on_a_sequential():
    model = nn.Sequential(nn.Conv2d(3, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 8, 3, stride=2, groups=2), nn.Flatten(),
                          nn.Linear(8 * 3 * 3, 4))
    fast, run = summary(model, (2, 3, 14, 14)), summary(model, (2, 3, 14, 14), run=True)
    for a, b in zip(fast.rows, run.rows):
        assert (a.name, a.output_shape, a.params, a.mult_adds, a.receptive_field,
                a.effective_stride, a.effective_padding) == (b.name, b.output_shape, b.params,
                                                              b.mult_adds, b.receptive_field,
                                                              b.effective_stride,
                                                              b.effective_padding)
    assert fast.rows[3].groups == 2


def test_functional_pooling_is_flagged():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 2, 3)
            self.conv2 = nn.Conv2d(2, 2, 3)

        def forward(self, x):
            return self.conv2(nn.functional.max_pool2d(self.conv1(x), 2))

    s = summary(Functional(), (1, 1, 12, 12))
    assert [r.unseen_window for r in s.rows] == [False, True]
    assert "F.max_pool2d" in str(s)


def test_printed_table_has_the_columns_and_the_foot():
    text = str(summary(vgg16_layers()[:5], (1, 3, 32, 32)))
    for word in ("Output Shape", "Kernel", "Groups", "Mult-Adds", "RF", "Eff. stride",
                 "Eff. padding", "Total params: 38,720", "Estimated Total Size (MB)"):
        assert word in text


def test_linear_layers_see_the_whole_input():
    rows = summary("Sequential(Conv2d(1, 6, 5), MaxPool2d(2), Flatten(), Linear(864, 10), "
                   "ReLU())", (1, 1, 28, 28)).rows
    assert [str(r.receptive_field) for r in rows] == ["5", "6", "all", "all", "all"]
    assert rows[3].effective_stride is None and rows[3].effective_padding is None


def test_rf_map_refuses_a_named_layer_without_a_spatial_output():
    model = "Sequential(Conv2d(1, 6, 5), Flatten(), Linear(3456, 10))"
    with pytest.raises(ValueError, match="'2' \\(Linear\\) has no spatial output.*: 0"):
        receptive_field_map(model, (1, 1, 28, 28), (0, 0), "2")
    assert receptive_field_map(model, (1, 1, 28, 28), (0, 0)).layer == "0 (Conv2d)"


def test_summary_runs_a_layer_string_and_displays_in_a_notebook():
    s = summary("Sequential(Conv2d(3, 8, 5), ReLU())", (1, 3, 32, 32), run=True)
    assert [r.output_shape for r in s.rows] == [(1, 8, 28, 28), (1, 8, 28, 28)]
    assert repr(s).startswith("<Summary Sequential(Conv2d(3, 8, 5), ReLU()) on input")
    assert "<table>" in s._repr_html_() and "<td>Conv2d</td>" in s._repr_html_()
