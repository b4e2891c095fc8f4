"""engine/select.py's rules, at their thresholds (the measurements behind them are in its
docstring)."""

import pytest

from convlab.engine import parallel, select
from convlab.engine.geometry import conv_geometry


@pytest.mark.parametrize("shape, channels, expected", [
    ((1, 512, 14, 14), 512, "im2col"),  # 16 tiles: the weight's transform is not shared enough
    ((2, 512, 14, 14), 512, "winograd"),  # 32 tiles
    ((8, 512, 8, 8), 512, "winograd"),  # 32 tiles, 2x2 per image
    ((4, 512, 8, 8), 512, "im2col"),  # 16 tiles
    ((1, 128, 28, 28), 128, "winograd"),  # 49 tiles, work 6,272
    ((1, 64, 28, 28), 64, "im2col"),  # 49 tiles, work 3,136 (one thread: below)
    ((16, 8, 28, 28), 8, "im2col"),  # too few channels for the products
    ((32, 3, 32, 32), 32, "im2col"),  # a first layer
])
def test_3x3_layers_take_winograd_only_where_it_pays(shape, channels, expected, monkeypatch):
    monkeypatch.setattr(parallel, "WORKERS", 2)
    G = conv_geometry("conv2d", 2, shape, (channels, shape[1], 3, 3), padding=1)
    assert select.choose(G, shape).__name__ == f"convlab.engine.{expected}"


@pytest.mark.parametrize("shape, channels, expected", [
    ((1, 64, 28, 28), 64, "winograd"),  # 49 tiles, work 3,136
    ((1, 16, 55, 55), 64, "winograd"),  # 196 tiles, work 3,136: SqueezeNet's first expand
    ((1, 32, 27, 27), 128, "winograd"),  # 49 tiles, work 1,568
    ((1, 16, 28, 28), 16, "im2col"),  # 49 tiles, work 784
    ((1, 64, 14, 14), 64, "im2col"),  # 16 tiles: the weight's transform is not shared enough
])
def test_one_thread_takes_winograd_from_less_work(shape, channels, expected, monkeypatch):
    monkeypatch.setattr(parallel, "WORKERS", 1)
    G = conv_geometry("conv2d", 2, shape, (channels, shape[1], 3, 3), padding=1)
    assert select.choose(G, shape).__name__ == f"convlab.engine.{expected}"


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("shape, channels", [
    ((1, 48, 13, 13), 192),  # 16 tiles: SqueezeNet's late expand layers at batch 1
    ((1, 256, 14, 14), 256),  # ResNet-50's 14x14 layers at batch 1
    ((1, 32, 27, 27), 128),
])
def test_weights_kept_take_winograd_below_the_thresholds(shape, channels, workers, monkeypatch):
    monkeypatch.setattr(parallel, "WORKERS", workers)
    G = conv_geometry("conv2d", 2, shape, (channels, shape[1], 3, 3), padding=1)
    assert select.choose(G, shape, weights_kept=True).__name__ == "convlab.engine.winograd"
    small = conv_geometry("conv2d", 2, (1, 64, 7, 7), (64, 64, 3, 3), padding=1)
    assert select.choose(small, (1, 64, 7, 7), weights_kept=True).__name__ != (
        "convlab.engine.winograd")  # under two tiles an axis: never
