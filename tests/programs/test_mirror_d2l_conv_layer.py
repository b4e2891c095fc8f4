"""Mirrors d2l-ai/d2l-en, chapter_convolutional-neural-networks/conv-layer.md (commit
2c64cadffe8a1b2d1bddc501fe1fc50f39cc4b60): "Convolutions for Images". ``corr2d`` written with
two loops writing ``Y[i, j]``, the ``Conv2D`` module with ``nn.Parameter(torch.rand(...))``,
edge detection with the kernel ``[[1, -1]]``, and learning that kernel back with
``nn.LazyConv2d(1, kernel_size=(1, 2), bias=False)`` updated by
``conv2d.weight.data[:] -= lr * conv2d.weight.grad``.
"""

import sys

from harness import check, compare_runs


def corr2d(torch, X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


def edges(torch):
    X = torch.ones((6, 8))
    X[:, 2:6] = 0
    K = torch.tensor([[1.0, -1.0]])
    return X, K, corr2d(torch, X, K)


def run(torch):
    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])

    class Conv2D(torch.nn.Module):
        def __init__(self, kernel_size):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.rand(kernel_size))
            self.bias = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return corr2d(torch, x, self.weight) + self.bias

    layer = Conv2D((1, 2))
    X_edge, K_edge, Y = edges(torch)
    return {"corr2d": corr2d(torch, X, K), "edges": Y,
            "transposed input": corr2d(torch, X_edge.t(), K_edge),
            "Conv2D output shape": layer(X_edge).shape, "Conv2D": repr(layer)}


def make_data(rng):
    return {}


def build(torch):
    return torch.nn.LazyConv2d(1, kernel_size=(1, 2), bias=False)


def materialize(torch, model, data):
    X, _, _ = edges(torch)
    model(X.reshape((1, 1, 6, 8)))


def loss_of(torch, conv2d, data):
    X, _, Y = edges(torch)
    Y_hat = conv2d(X.reshape((1, 1, 6, 8)))
    return Y_hat, ((Y_hat - Y.reshape((1, 1, 6, 7))) ** 2).sum()


def train(torch, conv2d, data):
    X, _, Y = edges(torch)
    X, Y = X.reshape((1, 1, 6, 8)), Y.reshape((1, 1, 6, 7))
    lr, losses = 3e-2, []
    for i in range(10):
        Y_hat = conv2d(X)
        l = (Y_hat - Y) ** 2
        conv2d.zero_grad()
        l.sum().backward()
        conv2d.weight.data[:] -= lr * conv2d.weight.grad
        losses.append(l.sum().item())
    return losses


def test_cross_correlation_by_hand():
    compare_runs(sys.modules[__name__])


def test_learning_a_kernel():
    check(sys.modules[__name__])
