"""A 1-D conv net for sequences: dilated, 'same'-padded, grouped Conv1d, GroupNorm, GELU,
LayerNorm over channels-last via permute, AdamW + CosineAnnealingLR."""

import numpy as np
import pytest

import convlab
from same_numbers import assert_same, assert_same_grads, assert_same_state, copy_weights

torch = pytest.importorskip("torch")


def build(torch, channels=8, num_classes=3):
    nn, F = torch.nn, torch.nn.functional

    class ResidualBlock(nn.Module):
        def __init__(self, channels, dilation):
            super().__init__()
            self.conv = nn.Conv1d(channels, channels, kernel_size=3, padding="same",
                                  dilation=dilation, groups=2)
            self.norm = nn.GroupNorm(num_groups=2, num_channels=channels)
            self.pointwise = nn.Conv1d(channels, channels, kernel_size=1)

        def forward(self, x):
            return x + self.pointwise(F.gelu(self.norm(self.conv(x))))

    class SequenceNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv1d(4, channels, kernel_size=5, padding=2)
            self.blocks = nn.ModuleList([ResidualBlock(channels, d) for d in (1, 2, 4)])
            self.norm = nn.LayerNorm(channels)
            self.head = nn.Linear(channels, num_classes)

        def forward(self, x):  # x: (batch, 4, length)
            x = self.stem(x)
            for block in self.blocks:
                x = block(x)
            x = self.norm(x.permute(0, 2, 1))  # LayerNorm over channels: (batch, length, C)
            x = nn.GELU(approximate="tanh")(x)
            return self.head(x.mean(dim=1))

    return SequenceNet()


def fit(torch, model, xs, ys, steps=5):
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=1e-4)
    losses, lrs = [], []
    for step in range(steps):
        x, y = torch.from_numpy(xs[step]), torch.from_numpy(ys[step])
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        lrs.append(optimizer.param_groups[0]["lr"])
    return losses, lrs


def test_sequence_net_trains_to_the_same_weights():
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((5, 4, 4, 20)).astype(np.float32)
    ys = rng.integers(0, 3, (5, 4))
    torch.manual_seed(0)
    theirs, ours = build(torch), build(convlab)
    copy_weights(theirs, ours)
    assert repr(ours) == repr(theirs)
    (loss_ours, lr_ours), (loss_theirs, lr_theirs) = (fit(convlab, ours, xs, ys),
                                                      fit(torch, theirs, xs, ys))
    assert_same(loss_ours, loss_theirs, "loss per step")
    assert_same(lr_ours, lr_theirs, "learning rate per step", rtol=1e-12, atol=0)
    assert_same_grads(ours, theirs)
    assert_same_state(ours, theirs)
