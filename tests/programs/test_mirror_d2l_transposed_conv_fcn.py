"""Mirrors two sections of d2l-ai/d2l-en's chapter_computer-vision: transposed-conv.md (commit
7ded7c0ac8d3c7295e8c25663875a52c0b1ee34c): ``trans_conv`` by hand, ``nn.ConvTranspose2d``
given its kernel through ``tconv.weight.data = K``, with padding, stride and channels, and
``kernel2matrix`` showing convolution and its transpose as matrix products; and fcn.md (commit
584bd7aa08c7cc06c63e3044fe894de8afc8cee2): ``bilinear_kernel`` (written into
``weight[range(in_channels), range(out_channels), :, :]``) initializing a transposed
convolution that upsamples, and the FCN head (1x1 convolution, then that transposed
convolution) trained with the per-pixel loss ``F.cross_entropy(..., reduction='none')
.mean(1).mean(1)``.

The FCN's backbone (a pretrained ResNet-18) becomes a small strided CNN, its upsampling
``kernel_size=64, stride=32`` becomes ``kernel_size=8, stride=4, padding=2``, on 8 synthetic
32x32 images with 4 classes per pixel.
"""

import sys

import numpy as np

from harness import check, compare_runs


def trans_conv(torch, X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] + h - 1, X.shape[1] + w - 1))
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            Y[i: i + h, j: j + w] += X[i, j] * K
    return Y


def kernel2matrix(torch, K):
    k, W = torch.zeros(5), torch.zeros((4, 9))
    k[:2], k[3:5] = K[0, :], K[1, :]
    W[0, :5], W[1, 1:6], W[2, 3:8], W[3, 4:] = k, k, k, k
    return W


def corr2d(torch, X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


def bilinear_kernel(torch, in_channels, out_channels, kernel_size):
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = (torch.arange(kernel_size).reshape(-1, 1), torch.arange(kernel_size).reshape(1, -1))
    filt = (1 - torch.abs(og[0] - center) / factor) * (1 - torch.abs(og[1] - center) / factor)
    weight = torch.zeros((in_channels, out_channels, kernel_size, kernel_size))
    weight[range(in_channels), range(out_channels), :, :] = filt
    return weight


def run(torch):
    nn = torch.nn
    X = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    Xr, Kr = X.reshape(1, 1, 2, 2), K.reshape(1, 1, 2, 2)
    results = {"trans_conv": trans_conv(torch, X, K)}
    variants = (("plain", {}), ("padding 1", {"padding": 1}), ("stride 2", {"stride": 2}))
    for name, kwargs in variants:
        tconv = nn.ConvTranspose2d(1, 1, kernel_size=2, bias=False, **kwargs)
        tconv.weight.data = Kr
        results[f"ConvTranspose2d {name}"] = tconv(Xr)
    rng = np.random.default_rng(0)
    Xc = torch.from_numpy(rng.random((1, 10, 16, 16)).astype(np.float32))
    conv = nn.Conv2d(10, 20, kernel_size=5, padding=2, stride=3)
    tconv = nn.ConvTranspose2d(20, 10, kernel_size=5, padding=2, stride=3)
    results["round trip shape"] = tconv(conv(Xc)).shape
    X9 = torch.arange(9.0).reshape(3, 3)
    W = kernel2matrix(torch, K)
    Y = corr2d(torch, X9, K)
    results["W"] = W
    results["conv as matmul"] = bool((Y == torch.matmul(W, X9.reshape(-1)).reshape(2, 2)).all())
    Z = trans_conv(torch, Y, K)
    results["transpose as matmul"] = bool((Z == torch.matmul(W.T, Y.reshape(-1))
                                           .reshape(3, 3)).all())
    results["bilinear kernel"] = bilinear_kernel(torch, 3, 3, 4)
    upsample = nn.ConvTranspose2d(3, 3, kernel_size=4, padding=1, stride=2, bias=False)
    upsample.weight.data.copy_(bilinear_kernel(torch, 3, 3, 4))
    results["upsampled"] = upsample(torch.from_numpy(rng.random((1, 3, 5, 5))
                                                     .astype(np.float32)))
    return results


NUM_CLASSES = 4


def make_data(rng):
    images = rng.normal(0, 0.3, (8, 3, 32, 32)).astype(np.float32)
    labels = np.zeros((8, 32, 32), dtype=np.int64)
    for i in range(8):  # a bright square of one class on background class 0
        c, r, s = rng.integers(1, NUM_CLASSES), rng.integers(0, 16), rng.integers(0, 16)
        images[i, c - 1, r:r + 16, s:s + 16] += 1.5
        labels[i, r:r + 16, s:s + 16] = c
    return {"images": images, "labels": labels}


def build(torch):
    nn = torch.nn
    backbone = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
                             nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU())
    net = nn.Sequential(*list(backbone.children()))
    net.add_module("final_conv", nn.Conv2d(32, NUM_CLASSES, kernel_size=1))
    net.add_module("transpose_conv", nn.ConvTranspose2d(NUM_CLASSES, NUM_CLASSES,
                                                        kernel_size=8, padding=2, stride=4))
    net.transpose_conv.weight.data.copy_(bilinear_kernel(torch, NUM_CLASSES, NUM_CLASSES, 8))
    return net


def loss(torch, inputs, targets):
    return torch.nn.functional.cross_entropy(inputs, targets, reduction="none").mean(1).mean(1)


def loss_of(torch, net, data):
    output = net(torch.from_numpy(data["images"][:4]))
    return output, loss(torch, output, torch.from_numpy(data["labels"][:4])).sum()


def train(torch, net, data):
    trainer = torch.optim.SGD(net.parameters(), lr=0.1, weight_decay=1e-3)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(data["images"]),
                                             torch.from_numpy(data["labels"]))
    losses = []
    for epoch in range(3):
        for X, y in torch.utils.data.DataLoader(dataset, batch_size=4):
            trainer.zero_grad()
            l = loss(torch, net(X), y)
            l.sum().backward()
            trainer.step()
            losses.append(l.sum().item())
    return losses


def test_transposed_convolution():
    compare_runs(sys.modules[__name__])


def test_fcn_head_trains():
    check(sys.modules[__name__])
