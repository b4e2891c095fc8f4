"""Animations: one frame per output position, highlighted cells that match the geometry, and
every number drawn taken from a trace of the real layer on the real input, checked against the
layer's output for a grid of configurations; the limits; the gallery."""

import math

import numpy as np
import pytest
from PIL import Image

import convlab
from convlab.engine import geometry, reference
from convlab.engine.geometry import output_length
from convlab.explain import GALLERY, animate, gallery
from convlab.explain.animate import MAX_FRAMES
from convlab.explain.draw import Renderer, _caption, _fmt
from convlab.explain.example import example
from convlab.explain.ideas import backward_picture, im2col_picture
from convlab.explain.trace import INPUT, INSERTED_ZERO, PADDING

CONVS = [("Conv2d(1, 1, 3, stride=2, padding=1)", (6, 5)),
         ("Conv2d(1, 1, (2, 3), stride=(1, 2), padding=(1, 0), dilation=(2, 1))", (5, 7)),
         ("Conv1d(1, 1, 4, stride=3, padding=2)", (9,)),
         ("Conv2d(1, 1, 3, padding=2)", (4, 4))]

# every kind of layer the pictures explain, each animated in full and checked number by number
GRID = [
    ("Conv2d(1, 1, 3)", (1, 1, 5, 5)),
    ("Conv2d(1, 1, 3, padding=1, padding_mode='reflect')", (1, 1, 4, 4)),
    ("Conv2d(1, 1, 3, padding=1, padding_mode='circular')", (1, 1, 4, 4)),
    ("Conv2d(1, 1, 3, padding=2, padding_mode='replicate')", (1, 1, 4, 4)),
    ("Conv2d(1, 1, 3, stride=2, padding=1, padding_mode='reflect')", (1, 1, 5, 6)),
    ("Conv1d(2, 1, 3, padding=2, padding_mode='circular', dilation=2)", (1, 2, 6)),
    ("Conv2d(3, 2, 3)", (1, 3, 5, 5)),
    ("Conv2d(4, 4, 3, padding=1, groups=2)", (1, 4, 4, 4)),
    ("Conv2d(3, 3, 3, padding=1, groups=3, bias=False)", (1, 3, 4, 4)),
    ("Conv2d(4, 2, 1)", (1, 4, 4, 4)),
    ("Conv2d(8, 2, 3, stride=2)", (1, 8, 5, 5)),
    ("ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)", (1, 1, 3, 3)),
    ("ConvTranspose2d(2, 4, 3, stride=2, groups=2)", (1, 2, 3, 3)),
    ("ConvTranspose1d(1, 1, 4, stride=3, padding=2, dilation=2)", (1, 1, 4)),
    ("MaxPool2d(3, stride=2, padding=1)", (1, 1, 5, 5)),
    ("MaxPool2d(2, stride=2, padding=1, ceil_mode=True, dilation=1)", (1, 1, 5, 4)),
    ("MaxPool1d(3, stride=2, dilation=2)", (1, 1, 9)),
    ("AvgPool2d(3, stride=2, padding=1)", (1, 1, 5, 5)),
    ("AvgPool2d(3, stride=2, padding=1, count_include_pad=False)", (1, 1, 5, 5)),
    ("AvgPool2d(3, stride=2, padding=1, ceil_mode=True)", (1, 1, 6, 6)),
    ("AvgPool2d(2, divisor_override=3)", (1, 1, 4, 4)),
    ("AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)", (1, 1, 6)),
    ("LPPool2d(2, 3, stride=2)", (1, 1, 5, 5)),
    ("LPPool1d(3, 2, stride=2, ceil_mode=True)", (1, 1, 7)),
    ("AdaptiveAvgPool2d(3)", (1, 1, 5, 5)),
    ("AdaptiveMaxPool2d((2, 3))", (1, 1, 5, 7)),
    ("AdaptiveAvgPool1d(4)", (1, 1, 7)),
    ("Conv3d(2, 2, 2, padding=1, padding_mode='replicate')", (1, 2, 3, 3, 2)),
    ("ConvTranspose3d(1, 1, 2, stride=2)", (1, 1, 2, 2, 2)),
    ("MaxPool3d(2, stride=1, padding=1)", (1, 1, 3, 3, 3)),
    ("AvgPool3d(2, ceil_mode=True)", (1, 1, 3, 3, 3)),
]


@pytest.mark.parametrize("layer, size", CONVS)
def test_conv_frames_and_taps_match_the_geometry(layer, size):
    a = animate(layer, size)
    nd = len(size)
    assert len(a.steps) == math.prod(a.output_values.shape)
    k = a.kernel_values.shape[2:]
    G = geometry.conv_geometry(f"conv{nd}d", nd, (1, 1, *size), (1, 1, *k),
                               stride=tuple(ax.s for ax in a.axes),
                               padding=tuple((ax.p_lo, ax.p_hi) for ax in a.axes),
                               dilation=tuple(ax.d for ax in a.axes))
    assert [s.output for s in a.steps] == list(np.ndindex(*G.out_size))
    for step in a.steps:
        expected = dict(reference.taps(G, step.output))
        assert {t.kernel: t.source for t in step.taps if t.kind == INPUT} == expected
        for t in step.taps:  # the drawn cell is the padded position of the tap
            assert t.cell == tuple(o * ax.s + m * ax.d
                                   for o, m, ax in zip(step.output, t.kernel, a.axes))
            assert a.grid_kinds[t.cell] == t.kind
    pad = sum(1 for kind in a.grid_kinds.flat if kind == PADDING)
    assert pad == a.grid_kinds.size - math.prod(size)


@pytest.mark.parametrize("layer, shape", GRID)
def test_every_frame_shows_the_layers_output(layer, shape):
    """Each frame's number is the layer's output there, for every output channel."""
    a = animate(layer, shape, window="all", out_channels="all")
    module, x = example(layer, shape)
    y = module(convlab.tensor(x)).detach().numpy()
    np.testing.assert_array_equal(a.input_values, x[0])
    assert len(a.steps) == y.shape[1] * math.prod(y.shape[2:])
    for step in a.steps:
        expected = y[(0, step.channel, *step.output)]
        assert step.value == pytest.approx(float(expected), rel=1e-6, abs=1e-6)
        assert a.output_values[a.output_at(step)] == step.value
        assert _caption(a, step)[-1].endswith(f"= {_fmt(expected)}")  # the total, in words


@pytest.mark.parametrize("layer, shape", [g for g in GRID if "padding_mode" in g[0]])
def test_padding_cells_hold_the_modes_values(layer, shape):
    torch = pytest.importorskip("torch")
    a = animate(layer, shape)
    mode = layer.split("padding_mode='")[1].split("'")[0]
    ax = a.axes
    padded = torch.nn.functional.pad(torch.tensor(a.input_values)[None],
                                     [p for axis in reversed(ax) for p in (axis.p_lo, axis.p_hi)],
                                     mode=mode)[0].numpy()
    np.testing.assert_array_equal(a.grid_values, padded)


@pytest.mark.parametrize("layer, shape", [g for g in GRID if g[0].startswith("Conv")])
def test_numbers_agree_with_pytorch(layer, shape):
    torch = pytest.importorskip("torch")
    a = animate(layer, shape, window="all", out_channels="all")
    module, x = example(layer, shape)
    twin = eval("torch.nn." + layer)  # the same layer in PyTorch, with the example's weights
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(module.weight.detach().numpy()))
        if twin.bias is not None:
            twin.bias.copy_(torch.tensor(module.bias.detach().numpy()))
        y = twin(torch.tensor(x)).numpy()
    for step in a.steps:
        assert step.value == pytest.approx(float(y[(0, step.channel, *step.output)]), abs=1e-5)


def test_a_group_shows_all_its_channels_and_the_total_with_bias():
    a = animate("Conv2d(3, 2, 3)", (1, 3, 5, 5))
    t = a.steps[0].trace
    assert t.channels == [0, 1, 2] and a.channels_drawn == [0, 1, 2]
    lines = _caption(a, a.steps[0])
    assert [line.split(":")[0] for line in lines[:3]] == ["channel 0", "channel 1", "channel 2"]
    assert "bias" in lines[3] and lines[3].endswith(f"= {int(t.total)}")
    groups = animate("Conv2d(4, 4, 3, padding=1, groups=2)", (4, 4), out_channels=[3])
    assert groups.steps[0].trace.channels == [2, 3]


def test_pool_captions_count_as_the_layer_does():
    a = animate("AvgPool2d(3, stride=2, padding=1)", (5, 5))
    t = a.steps[0].trace
    assert t.divisor == 9 and _caption(a, a.steps[0])[0].split(" / ")[1].startswith("9 =")
    b = animate("AvgPool2d(3, stride=2, padding=1, count_include_pad=False)", (5, 5))
    assert b.steps[0].trace.divisor == 4
    m = animate("MaxPool2d(2, stride=2, padding=1)", (4, 5))
    assert m.output_values.shape == (1, 3, 3) and len(m.steps) == 9
    assert m.output_values[0, 0, 0] == m.input_values[0, 0, 0]


def test_adaptive_pooling_is_drawn_by_its_real_windows():
    a = animate("AdaptiveAvgPool2d(3)", (5, 5))
    widths = [t.trace.kinds.shape for t in a.steps[:3]]
    assert widths == [(2, 2), (2, 3), (2, 2)]
    assert a.axes[0].windows == ((0, 2), (1, 4), (3, 5))


def test_transposed_grid():
    a = animate("ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)", (3, 3))
    assert len(a.steps) == 36 and a.grid_kinds.shape == (8, 8)  # 1 + 5 + 2 per axis
    assert sum(k == INPUT for k in a.grid_kinds.flat) == 9
    assert a.grid_kinds[1, 2] == INSERTED_ZERO and a.grid_kinds[0, 0] == PADDING
    for step in a.steps:  # stride 1 over the grid
        assert step.taps[0].cell == step.output


def test_frames_gif_and_channel_panel(tmp_path):
    a = animate("Conv2d(4, 6, 3, padding=1, groups=2)", (4, 4))
    assert len(a.frames) == 16 and len({f.size for f in a.frames}) == 1
    assert sorted(a.channel_links) == sorted(
        [(c, o) for o in range(3) for c in range(2)] + [(c, o) for o in range(3, 6)
                                                        for c in range(2, 4)])
    path = a.save(tmp_path / "groups.gif", ms=100)
    with Image.open(path) as gif:
        assert gif.n_frames == 16
    # a highlighted tap is drawn in the tap colour
    first = np.asarray(a.frames[0])
    assert (first == [0x1F, 0x4E, 0x79]).all(axis=-1).any()
    with pytest.raises(ValueError, match="--png"):
        a.save(tmp_path / "one.png")
    png = a.save_png(tmp_path / "one.png")
    with Image.open(png) as im:
        assert im.size == a.frames[0].size


def test_notebook_views():
    a = animate("Conv2d(1, 1, 3)", (4, 4))
    assert "4 frames" in repr(a) and "dataclass" not in repr(a)
    assert a._repr_png_().startswith(b"\x89PNG")
    assert a._repr_html_().startswith('<img src="data:image/gif;base64,')


def test_large_inputs_get_a_window_and_drop_the_numbers():
    a = animate("Conv2d(1, 1, 3)", (64, 64))
    assert len(a.steps) == 64 and a.window == ((0, 8), (0, 8))
    assert a.grid_kinds.shape == (10, 10)
    assert "animating outputs H 0..7 of 62, W 0..7 of 62" in "\n".join(Renderer(a).header)
    b = animate("Conv2d(1, 1, 3)", (64, 64), window="20:24,30:33")
    assert [s.output for s in b.steps][0] == (20, 30) and len(b.steps) == 12
    assert animate("Conv2d(1, 1, 3)", (5, 5)).numbers
    assert not animate("Conv2d(1, 1, 3)", (16, 16), window="all").numbers


def test_refuses_what_it_cannot_draw():
    with pytest.raises(ValueError, match="expected a convolution, transposed convolution or "):
        animate("Linear(3, 1)", (3,))
    with pytest.raises(ValueError, match="does not fit"):
        animate("Conv2d(1, 1, 5)", (3, 3))
    with pytest.raises(ValueError, match=f"3,844 frames .* limit of {MAX_FRAMES}: .*--window"):
        animate("Conv2d(1, 1, 3)", (64, 64), window="all")
    with pytest.raises(ValueError, match="not inside the output"):
        animate("Conv2d(1, 1, 3)", (8, 8), window="0:9,0:2")
    with pytest.raises(ValueError, match="over the limit of 16,777,216"):
        animate("Conv2d(3, 1, 3)", (1, 3, 3000, 3000))


def test_gallery_entries_and_twins(tmp_path):
    expected = {"no_padding_no_strides", "arbitrary_padding_no_strides", "same_padding_no_strides",
                "full_padding_no_strides", "no_padding_strides", "padding_strides",
                "padding_strides_odd", "dilation"}
    assert expected | {f"{n}_transposed" for n in expected} <= set(GALLERY)
    for name in expected:  # each twin maps the direct output size back to its input size
        direct, twin = animate(*GALLERY[name][:2]), animate(*GALLERY[f"{name}_transposed"][:2])
        assert twin.output_values.shape[1:] == direct.input_values.shape[1:]
        assert twin.input_values.shape[1:] == direct.output_values.shape[1:]
    # Dumoulin & Visin's sizes
    ax = animate(*GALLERY["dilation"][:2]).axes[0]
    assert (ax.i, ax.o) == (7, 3) == (7, output_length(7, 3, 1, 0, 0, 2))
    written = gallery(tmp_path, ["padding_strides", "depthwise"], ms=50)
    assert [p.name for p in written] == ["padding_strides.gif", "depthwise.gif"]
    with pytest.raises(ValueError, match="unknown gallery"):
        gallery(tmp_path, ["nope"])


def test_im2col_picture_is_the_layers_product():
    image, n = im2col_picture("Conv2d(2, 1, 3, padding=1)", (1, 2, 4, 5), seed=2)
    module, x = example("Conv2d(2, 1, 3, padding=1)", (1, 2, 4, 5), seed=2)
    y = module(convlab.tensor(x)).detach().numpy()[0, 0]
    assert n["patches"].shape == (20, 18)
    np.testing.assert_array_equal(n["product"], y.reshape(-1))
    assert image.width > 0


def test_backward_picture_follows_the_formulas():
    torch = pytest.importorskip("torch")
    _, n = backward_picture("Conv2d(1, 1, 3)", (5, 4), seed=1)
    g = torch.tensor(n["grad_output"])[None, None]
    w = torch.tensor(n["weight"])[None, None]
    x = torch.tensor(n["input"])[None, None]
    np.testing.assert_allclose(n["grad_input"],
                               torch.nn.functional.conv_transpose2d(g, w)[0, 0].numpy())
    np.testing.assert_allclose(n["grad_weight"],
                               torch.nn.functional.conv2d(x, g)[0, 0].numpy())


def test_gallery_writes_the_pictures(tmp_path):
    written = gallery(tmp_path, ["im2col", "backward"])
    assert [p.name for p in written] == ["im2col.png", "backward.png"]
    with Image.open(written[1]) as im:
        assert im.format == "PNG"


@pytest.mark.parametrize("name", sorted(GALLERY))
def test_every_gallery_entry_renders_the_layers_numbers(name):
    layer, size, channels = GALLERY[name]
    a = animate(layer, size, out_channels=channels)
    shape = (1, a.in_channels, *a.input_values.shape[1:])
    module, x = example(layer, shape)
    y = module(convlab.tensor(x)).detach().numpy()
    for step in a.steps:
        assert step.value == pytest.approx(float(y[(0, step.channel, *step.output)]), abs=1e-5)
    renderer = Renderer(a)
    first, last = renderer.frame(0), renderer.frame(len(a.steps) - 1)
    assert first.size == last.size == renderer.size


def test_3d_layers_are_drawn_as_depth_slices():
    a = animate("Conv3d(1, 1, 2, padding=1)", (3, 3, 3))
    assert len(a.steps) == 64 and a.window == ((0, 4), (0, 4), (0, 4))  # 4x4x4 of 4x4x4
    renderer = Renderer(a)
    assert renderer.depths == [0, 1, 2, 3, 4] and renderer.out_depths == [0, 1, 2, 3]
    assert renderer.frame(21).size == renderer.size
