"""Mirrors d2l-ai/d2l-en, chapter_convolutional-neural-networks/lenet.md (commit
9d9ad4bfe32b863d4494a3c4f71dd51759ced547): "Convolutional Neural Networks (LeNet)". LeNet of
lazy layers with sigmoids and average pooling, ``init_cnn`` applied after a first pass,
``layer_summary`` printing each layer's output shape, trained with SGD by d2l's Trainer over a
DataLoader with worker processes (d2l's default).

Cut to 16 synthetic 28x28 images, batches of 8.
"""

import sys

import numpy as np
import pytest

import convlab
import d2l_mini
from harness import check, compare_runs, labelled_images


def make_data(rng):
    images, labels = labelled_images(rng, 16, 1, 28)
    return {"images": images, "labels": labels}


def build(torch):
    nn = torch.nn

    class LeNet(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.net = nn.Sequential(
                nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(),
                nn.AvgPool2d(kernel_size=2, stride=2),
                nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(),
                nn.AvgPool2d(kernel_size=2, stride=2),
                nn.Flatten(),
                nn.LazyLinear(120), nn.Sigmoid(),
                nn.LazyLinear(84), nn.Sigmoid(),
                nn.LazyLinear(num_classes))

        def forward(self, X):
            return self.net(X)

    return LeNet()


materialize, loss_of = d2l_mini.materialize, d2l_mini.loss_of


def train(torch, model, data):
    batches = d2l_mini.loader(torch, data["images"], data["labels"], 8, num_workers=2)
    return d2l_mini.fit(torch, model, batches, lr=0.9, max_epochs=3)


def run(torch):
    torch.manual_seed(0)
    model = build(torch)
    materialize(torch, model, make_data(np.random.default_rng(0)))
    return {"layer_summary": "\n".join(d2l_mini.layer_summary(torch, model,
                                                                torch.randn(1, 1, 28, 28)))}


def test_layer_summary():
    compare_runs(sys.modules[__name__])


def test_training():
    check(sys.modules[__name__])


def test_d2l_accuracy_with_numpy_axis():
    torch = pytest.importorskip("torch")
    scores = np.random.default_rng(0).standard_normal((8, 10)).astype(np.float32)
    labels = np.arange(8)
    ours = d2l_mini.accuracy(convlab, convlab.from_numpy(scores), convlab.from_numpy(labels))
    theirs = d2l_mini.accuracy(torch, torch.from_numpy(scores), torch.from_numpy(labels))
    assert ours.item() == theirs.item()
