"""Two more architectures people copy: a fast-neural-style generator (ReflectionPad2d,
InstanceNorm2d, residual blocks, nearest Upsample, Tanh) trained with Adam on an MSE + total
variation loss (in float64), and a MobileNetV3-style regressor (depthwise separable convs,
Hardswish, ReLU6, squeeze-and-excitation with Hardsigmoid, PReLU, SmoothL1Loss) with SGD and
OneCycleLR."""

import numpy as np
import pytest

import convlab
from same_numbers import assert_same, assert_same_grads, assert_same_state, copy_weights

torch = pytest.importorskip("torch")


def style_net(torch):
    nn = torch.nn

    def conv_norm(c_in, c_out, k, stride=1):
        # no conv bias before a norm: it would get a zero gradient, which Adam turns into noise
        return nn.Sequential(nn.ReflectionPad2d(k // 2),
                             nn.Conv2d(c_in, c_out, k, stride, bias=False),
                             nn.InstanceNorm2d(c_out, affine=True))

    class Residual(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(conv_norm(c, c, 3), nn.ReLU(), conv_norm(c, c, 3))

        def forward(self, x):
            return x + self.body(x)

    return nn.Sequential(
        conv_norm(3, 8, 5), nn.ReLU(), conv_norm(8, 16, 3, stride=2), nn.ReLU(),
        Residual(16), Residual(16),
        nn.Upsample(scale_factor=2, mode="nearest"), conv_norm(16, 8, 3), nn.ReLU(),
        nn.ReflectionPad2d(2), nn.Conv2d(8, 3, 5), nn.Tanh(),
    )


def mobile_net(torch):
    nn = torch.nn

    class SqueezeExcite(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.fc1, self.fc2 = nn.Conv2d(c, c // 2, 1), nn.Conv2d(c // 2, c, 1)

        def forward(self, x):
            s = torch.nn.functional.adaptive_avg_pool2d(x, 1)
            return x * torch.nn.functional.hardsigmoid(self.fc2(torch.relu(self.fc1(s))))

    def separable(c_in, c_out, stride):
        return nn.Sequential(
            nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False), nn.BatchNorm2d(c_in),
            nn.Hardswish(), SqueezeExcite(c_in),
            nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU6(inplace=True))

    return nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.Hardswish(),
        separable(8, 16, 2), separable(16, 16, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 8), nn.PReLU(8), nn.Linear(8, 2))


def test_style_transfer_generator_trains_to_the_same_weights_in_float64():
    # float64: after the residual blocks, Upsample and the next InstanceNorm erase per-channel
    # shifts, so the last norm's bias gets a zero gradient; in float32 its round-off (1e-9) is
    # what Adam normalizes into steps, and the two libraries' round-off differs
    rng = np.random.default_rng(7)
    images = rng.random((3, 2, 3, 12, 12)) * 2 - 1

    def fit(torch, net):
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        losses = []
        for x in torch.from_numpy(images):
            y = net(x)
            tv = (y[..., 1:, :] - y[..., :-1, :]).abs().mean() + \
                (y[..., 1:] - y[..., :-1]).abs().mean()
            loss = torch.nn.functional.mse_loss(y, x) + 0.1 * tv
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    torch.manual_seed(0)
    theirs, ours = style_net(torch).double(), style_net(convlab).double()
    copy_weights(theirs, ours)
    assert repr(ours) == repr(theirs)
    assert_same(fit(convlab, ours), fit(torch, theirs), "loss per step", rtol=1e-12, atol=0)
    assert_same_grads(ours, theirs, rtol=1e-7, atol=1e-12)
    # the biases whose gradient is zero (above) end as round-off of about 1e-12, of either
    # sign, in both libraries: an absolute tolerance a little above that round-off
    assert_same_state(ours, theirs, rtol=1e-9, atol=1e-11)


def test_mobilenet_style_regressor_trains_to_the_same_weights():
    rng = np.random.default_rng(8)
    images = rng.standard_normal((4, 6, 3, 16, 16)).astype(np.float32)
    targets = rng.standard_normal((4, 6, 2)).astype(np.float32)

    def fit(torch, net):
        optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=4e-5)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=4)
        criterion = torch.nn.SmoothL1Loss(beta=0.5)
        losses = []
        for x, t in zip(torch.from_numpy(images), torch.from_numpy(targets)):
            loss = criterion(net(x), t)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
        return losses

    torch.manual_seed(0)
    theirs, ours = mobile_net(torch), mobile_net(convlab)
    copy_weights(theirs, ours)
    assert repr(ours) == repr(theirs)
    assert_same(fit(convlab, ours), fit(torch, theirs), "loss per step")
    assert_same_grads(ours, theirs)
    assert_same_state(ours, theirs)
