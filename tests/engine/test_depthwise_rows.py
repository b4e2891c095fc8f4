"""The depthwise forward's run per output row (engine/depthwise.py, ``_rows``), which reads only
the kernel rows inside the input: the reference convolution's values on the geometries it
takes (short images with 3x3 and 5x5 kernels, a stride across rows, 3-D, dilations, rows that
read nothing but padding), and the layout chosen where it saves work."""

import numpy as np
import pytest

from convlab.engine import depthwise, parallel, reference
from convlab.engine.geometry import conv_geometry

from jit_paths import engine_path
from engine.test_fast_paths import _arrays, check

ROWS = [
    # rapidocr's 5x5 layers: two of five kernel rows inside for 2 output rows, three for 3
    conv_geometry("c", 2, (1, 6, 2, 40), (6, 1, 5, 5), padding=2, groups=6),
    conv_geometry("c", 2, (2, 4, 3, 40), (8, 1, 5, 5), stride=(2, 1), padding=2, groups=4),
    # 3x3: nine taps a pass where every kernel row is inside, a row of three elsewhere
    conv_geometry("c", 2, (2, 3, 6, 33), (3, 1, 3, 3), padding=1, groups=3),
    # 3x3x3 with a stride along the depth: 27 taps, three passes of nine
    conv_geometry("c", 3, (1, 2, 4, 3, 34), (2, 1, 3, 3, 3), stride=(2, 1, 1), padding=1,
                  groups=2),
    # rows of two taps (neither 3 nor 5), dilated, uneven padding, two outputs per channel
    conv_geometry("c", 2, (2, 2, 5, 36), (4, 1, 3, 2), padding=((2, 1), (1, 0)),
                  dilation=(2, 3), groups=2),
    # the first output row reads only padding: the bias alone
    conv_geometry("c", 2, (1, 2, 2, 40), (2, 1, 3, 3), padding=((3, 0), (1, 1)), groups=2),
    conv_geometry("c", 1, (2, 3, 50), (3, 1, 5), padding=2, groups=3),
]


@pytest.fixture
def rows(monkeypatch):
    """The compiled forward, a run per output row wherever the stride along rows is 1."""
    monkeypatch.setattr(depthwise, "_channels_last", lambda G: False)
    monkeypatch.setattr(depthwise, "_by_rows", lambda G: G.stride[-1] == 1)


@pytest.mark.parametrize("G", ROWS, ids=range(len(ROWS)))
def test_rows_equal_the_reference(G, rows):
    with engine_path("compiled"):
        check(depthwise, G, N=2)


@pytest.mark.parametrize("G", ROWS, ids=range(len(ROWS)))
def test_rows_add_the_bias(G, rows):
    """The bias starts every row: where the first pass sets it, and where no kernel row is
    inside the input (the output is the bias alone)."""
    x, w, _ = _arrays(G, 2, seed=1)
    b = np.random.default_rng(2).standard_normal(G.out_channels)
    expected = reference.conv_forward(x, w, G) + b.reshape(-1, *(1,) * G.nd)
    with engine_path("compiled"):
        np.testing.assert_allclose(depthwise.conv_forward(x, w, G, b), expected, atol=1e-10)


def test_rows_on_two_threads_give_one_threads_numbers(rows, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_CHUNK_BYTES", 0)  # two runs even for a small batch
    G = ROWS[0]
    x, w, _ = (a.astype(np.float32) for a in _arrays(G, 4, seed=5))
    b = np.arange(G.out_channels, dtype=np.float32)
    with engine_path("compiled"):
        monkeypatch.setattr(parallel, "WORKERS", 1)
        serial = depthwise.conv_forward(x, w, G, b)
        monkeypatch.setattr(parallel, "WORKERS", 2)
        np.testing.assert_array_equal(depthwise.conv_forward(x, w, G, b), serial)


@pytest.mark.parametrize("shape, kernel, stride, by_rows", [
    ((1, 200, 2, 96), 5, 1, True),  # 60% of the taps read padding
    ((1, 104, 3, 96), 5, (2, 1), True),  # a stride across rows: runs per row either way
    ((1, 24, 6, 96), 3, 1, False),  # 11%: one flat run does better
    ((1, 32, 56, 56), 3, 1, False),
    ((1, 200, 2, 12), 5, 1, True),  # short rows too
    ((1, 200, 4, 24), 3, 1, False),  # 17%
    ((1, 8, 24, 96), 3, (1, 2), False),  # a stride along the rows
])
def test_rows_are_taken_where_they_save_work(shape, kernel, stride, by_rows):
    C = shape[1]
    G = conv_geometry("c", 2, shape, (C, 1, kernel, kernel), stride=stride,
                      padding=kernel // 2, groups=C)
    assert depthwise._by_rows(G) == by_rows
