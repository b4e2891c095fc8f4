"""A U-Net-ish model: skip connections joined with cat, MaxPool2d(return_indices=True) undone by
MaxUnpool2d plus a bilinear upsampling, ReflectionPad2d, a LazyConv2d head, and a Conv3d on a
tiny volume."""

import numpy as np
import pytest

import convlab
from same_numbers import assert_same, assert_same_grads, assert_same_state, copy_weights

torch = pytest.importorskip("torch")


def build(torch):
    nn, F = torch.nn, torch.nn.functional

    def double_conv(c_in, c_out):
        return nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, padding_mode="replicate"), nn.ReLU(inplace=True),
        )

    class TinyUNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.down1 = double_conv(2, 4)
            self.pool = nn.MaxPool2d(2, return_indices=True)
            self.down2 = double_conv(4, 8)
            self.unpool = nn.MaxUnpool2d(2)
            self.reduce = nn.Conv2d(8, 4, 1)
            self.up = double_conv(8, 4)  # 4 unpooled + 4 skipped channels
            self.head = nn.LazyConv2d(3, kernel_size=1)
            self.volume = nn.Conv3d(1, 2, kernel_size=(2, 3, 3), padding=(0, 1, 1))

        def forward(self, x):
            skip = self.down1(x)
            pooled, indices = self.pool(skip)
            deep = self.reduce(self.down2(pooled))
            up = self.unpool(deep, indices, output_size=skip.size())
            up = up + F.interpolate(deep, scale_factor=2, mode="bilinear", align_corners=False)
            y = self.head(self.up(torch.cat([up, skip], dim=1)))  # (N, 3, H, W)
            v = self.volume(y.unsqueeze(1))  # the 3 maps as a depth-3 volume: (N, 2, 2, H, W)
            return F.relu(v).sum(dim=2)

    return TinyUNet()


def fit(torch, model, images, targets):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                                weight_decay=1e-4)
    losses = []
    for x, t in zip(torch.from_numpy(images), torch.from_numpy(targets)):
        def closure():
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), t)
            loss.backward()
            return loss

        losses.append(optimizer.step(closure).item())
    return losses


def test_unet_trains_to_the_same_weights():
    rng = np.random.default_rng(4)
    images = rng.standard_normal((3, 2, 2, 10, 10)).astype(np.float32)
    targets = rng.standard_normal((3, 2, 2, 10, 10)).astype(np.float32)
    torch.manual_seed(0)
    theirs, ours = build(torch), build(convlab)
    assert repr(ours) == repr(theirs)  # LazyConv2d(0, 3, ...) before the first call
    theirs(torch.from_numpy(images[0]))  # gives torch's lazy head its weights
    copy_weights(theirs, ours)  # and the state_dict gives convlab's its shape
    assert_same(fit(convlab, ours, images, targets), fit(torch, theirs, images, targets),
                "loss per step")
    assert repr(ours) == repr(theirs)  # the head is a Conv2d(8, 3, ...) now
    assert_same_grads(ours, theirs)
    assert_same_state(ours, theirs)


def test_lazy_conv_materializes_on_the_first_call_as_torch():
    ours = convlab.nn.LazyConv2d(5, 3)
    assert ours.in_channels == 0
    ours(convlab.zeros(1, 7, 8, 8))
    assert type(ours) is convlab.nn.Conv2d and ours.weight.shape == (5, 7, 3, 3)
