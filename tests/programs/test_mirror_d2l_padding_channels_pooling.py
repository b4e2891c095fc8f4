"""Mirrors three sections of d2l-ai/d2l-en's chapter_convolutional-neural-networks:
padding-and-strides.md (commit 732e3831a4039f4115360120f8c8a53a2cea1b11): ``comp_conv2d``
through ``nn.LazyConv2d`` with padding and strides; channels.md (commit
cbde7f2c285b15a252c775c9878ad804aeb7a309): ``corr2d_multi_in`` (``sum`` over ``zip``),
``corr2d_multi_in_out`` (``torch.stack``) and the 1x1 convolution as ``torch.matmul``; and
pooling.md (commit 155d0e1b59d7248cf9116f8a34ccb737a09a851b): ``pool2d`` by hand, and
``nn.MaxPool2d`` with padding, strides and ``torch.cat`` of channels.
"""

import sys

import numpy as np

from harness import compare_runs


def corr2d(torch, X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


def comp_conv2d(conv2d, X):
    X = X.reshape((1, 1) + X.shape)
    Y = conv2d(X)
    return Y.reshape(Y.shape[2:])


def corr2d_multi_in(torch, X, K):
    return sum(corr2d(torch, x, k) for x, k in zip(X, K))


def corr2d_multi_in_out(torch, X, K):
    return torch.stack([corr2d_multi_in(torch, X, k) for k in K], 0)


def corr2d_multi_in_out_1x1(torch, X, K):
    c_i, h, w = X.shape
    c_o = K.shape[0]
    X = X.reshape((c_i, h * w))
    K = K.reshape((c_o, c_i))
    Y = torch.matmul(K, X)
    return Y.reshape((c_o, h, w))


def pool2d(torch, X, pool_size, mode="max"):
    p_h, p_w = pool_size
    Y = torch.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            window = X[i: i + p_h, j: j + p_w]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


def run(torch):
    nn = torch.nn
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.random((8, 8)).astype(np.float32))
    shapes = {
        "padding 1 shape": comp_conv2d(nn.LazyConv2d(1, kernel_size=3, padding=1), X).shape,
        "padding (2, 1) shape": comp_conv2d(nn.LazyConv2d(1, kernel_size=(5, 3),
                                                          padding=(2, 1)), X).shape,
        "stride 2 shape": comp_conv2d(nn.LazyConv2d(1, kernel_size=3, padding=1, stride=2),
                                      X).shape,
        "mixed shape": comp_conv2d(nn.LazyConv2d(1, kernel_size=(3, 5), padding=(0, 1),
                                                 stride=(3, 4)), X).shape,
    }
    Xc = torch.tensor([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
                       [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
    K = torch.tensor([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
    K3 = torch.stack((K, K + 1, K + 2), 0)
    X1 = torch.from_numpy(rng.normal(0, 1, (3, 3, 3)).astype(np.float32))
    K1 = torch.from_numpy(rng.normal(0, 1, (2, 3, 1, 1)).astype(np.float32))
    Y1, Y2 = corr2d_multi_in_out_1x1(torch, X1, K1), corr2d_multi_in_out(torch, X1, K1)
    P = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    Xp = torch.arange(16, dtype=torch.float32).reshape((1, 1, 4, 4))
    Xp2 = torch.cat((Xp, Xp + 1), 1)
    return {**shapes, "K shape": K3.shape, "multi in": corr2d_multi_in(torch, Xc, K),
            "multi in out": corr2d_multi_in_out(torch, Xc, K3), "1x1 as matmul": Y1,
            "1x1 agrees": bool(float(torch.abs(Y1 - Y2).sum()) < 1e-6),
            "max pool": pool2d(torch, P, (2, 2)), "avg pool": pool2d(torch, P, (2, 2), "avg"),
            "MaxPool2d(3)": nn.MaxPool2d(3)(Xp),
            "padding and stride": nn.MaxPool2d(3, padding=1, stride=2)(Xp),
            "rectangular": nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))(Xp),
            "channels": nn.MaxPool2d(3, padding=1, stride=2)(Xp2)}


def test_program():
    compare_runs(sys.modules[__name__])
