"""Animations: one frame per output position, highlighted cells that match the geometry, numbers
that equal the convolution, and the gallery."""

import math

import numpy as np
import pytest
from PIL import Image

from convlab.engine import geometry, reference
from convlab.engine.geometry import output_length
from convlab.explain import GALLERY, animate, gallery
from convlab.explain.trace import INPUT, INSERTED_ZERO, PADDING

CONVS = [("Conv2d(1, 1, 3, stride=2, padding=1)", (6, 5)),
         ("Conv2d(1, 1, (2, 3), stride=(1, 2), padding=(1, 0), dilation=(2, 1))", (5, 7)),
         ("Conv1d(1, 1, 4, stride=3, padding=2)", (9,)),
         ("Conv2d(1, 1, 3, padding=2)", (4, 4))]


@pytest.mark.parametrize("layer, size", CONVS)
def test_conv_frames_and_taps_match_the_geometry(layer, size):
    a = animate(layer, size)
    nd = len(size)
    assert len(a.steps) == math.prod(a.output_values.shape)
    k = a.kernel_values.shape
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


@pytest.mark.parametrize("layer, size", CONVS)
def test_numbers_are_the_convolution(layer, size):
    torch = pytest.importorskip("torch")
    a = animate(layer, size)
    nd = len(size)
    conv = getattr(torch.nn.functional, f"conv{nd}d")
    ax = a.axes
    x = torch.tensor(a.input_values)[None, None]
    x = torch.nn.functional.pad(x, [p for axis in reversed(ax) for p in (axis.p_lo, axis.p_hi)])
    y = conv(x, torch.tensor(a.kernel_values)[None, None], stride=tuple(t.s for t in ax),
             dilation=tuple(t.d for t in ax))
    np.testing.assert_allclose(a.output_values, y[0, 0].numpy())


def test_transposed_numbers_and_grid():
    torch = pytest.importorskip("torch")
    a = animate("ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)", (3, 3))
    y = torch.nn.functional.conv_transpose2d(torch.tensor(a.input_values)[None, None],
                                             torch.tensor(a.kernel_values)[None, None],
                                             stride=2, padding=1, output_padding=1)
    np.testing.assert_allclose(a.output_values, y[0, 0].numpy())
    assert len(a.steps) == 36 and a.grid_kinds.shape == (8, 8)  # 1 + 5 + 2 per axis
    assert sum(k == INPUT for k in a.grid_kinds.flat) == 9
    assert a.grid_kinds[1, 2] == INSERTED_ZERO and a.grid_kinds[0, 0] == PADDING
    for step in a.steps:  # stride 1 over the grid
        assert step.taps[0].cell == step.output


def test_pooling_animation():
    a = animate("MaxPool2d(2, stride=2, padding=1)", (4, 5))
    assert a.output_values.shape == (3, 3) and len(a.steps) == 9
    assert a.output_values[0, 0] == a.input_values[0, 0]


def test_frames_gif_and_channel_panel(tmp_path):
    a = animate("Conv2d(4, 6, 3, padding=1, groups=2)", (4, 4))
    assert len(a.frames) == 16 and len({f.size for f in a.frames}) == 1
    assert sorted(a.channel_links) == sorted(
        [(c, o) for o in range(3) for c in range(2)] + [(c, o) for o in range(3, 6)
                                                        for c in range(2, 4)])
    path = a.save(tmp_path / "groups.gif", ms=100)
    with Image.open(path) as gif:
        assert gif.n_frames == 16
    # a highlighted tap is drawn in the tap colour, a pending output cell stays white
    first = np.asarray(a.frames[0])
    assert (first == [0x1F, 0x4E, 0x79]).all(axis=-1).any()


def test_large_inputs_drop_the_numbers():
    assert not animate("Conv2d(1, 1, 3)", (16, 16)).numbers
    assert animate("Conv2d(1, 1, 3)", (5, 5)).numbers


def test_refuses_what_it_cannot_draw():
    with pytest.raises(ValueError, match="1-D or 2-D"):
        animate("Conv3d(1, 1, 2)", (3, 3, 3))
    with pytest.raises(ValueError, match="does not fit"):
        animate("Conv2d(1, 1, 5)", (3, 3))


def test_gallery_entries_and_twins(tmp_path):
    expected = {"no_padding_no_strides", "arbitrary_padding_no_strides", "same_padding_no_strides",
                "full_padding_no_strides", "no_padding_strides", "padding_strides",
                "padding_strides_odd", "dilation"}
    assert expected | {f"{n}_transposed" for n in expected} | {
        "groups", "depthwise", "pointwise_1x1"} == set(GALLERY)
    for name in expected:  # each twin maps the direct output size back to its input size
        direct, twin = animate(*GALLERY[name]), animate(*GALLERY[f"{name}_transposed"])
        assert twin.output_values.shape == direct.input_values.shape
        assert twin.input_values.shape == direct.output_values.shape
    # Dumoulin & Visin's sizes
    ax = animate(*GALLERY["dilation"]).axes[0]
    assert (ax.i, ax.o) == (7, 3) == (7, output_length(7, 3, 1, 0, 0, 2))
    written = gallery(tmp_path, ["padding_strides", "depthwise"], ms=50)
    assert [p.name for p in written] == ["padding_strides.gif", "depthwise.gif"]
    with pytest.raises(ValueError, match="unknown gallery"):
        gallery(tmp_path, ["nope"])
