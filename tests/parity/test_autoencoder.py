"""A convolutional autoencoder: strided Conv2d down, ConvTranspose2d up (output_padding, and
output_size=...), MSELoss and BCEWithLogitsLoss, RMSprop."""

import numpy as np
import pytest

import convlab
from same_numbers import assert_same, assert_same_grads, assert_same_state, copy_weights

torch = pytest.importorskip("torch")


def build(torch):
    nn = torch.nn

    class AutoEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(
                nn.Conv2d(1, 4, 3, stride=2, padding=1),  # 15 -> 8
                nn.ReLU(),
                nn.Conv2d(4, 8, 3, stride=2, padding=1),  # 8 -> 4
                nn.ReLU(),
            )
            self.up1 = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)  # 4 -> 8
            self.up2 = nn.ConvTranspose2d(4, 1, 3, stride=2, padding=1)  # 8 -> 15 or 16

        def forward(self, x):
            z = self.encoder(x)
            y = torch.relu(self.up1(z))
            return self.up2(y, output_size=x.size())  # pick 15 of the two sizes stride 2 allows

    return AutoEncoder()


def fit(torch, model, images, steps=4):
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, momentum=0.5, centered=True)
    mse, bce = torch.nn.MSELoss(), torch.nn.BCEWithLogitsLoss()
    losses = []
    for step in range(steps):
        x = torch.from_numpy(images[step])
        logits = model(x)
        loss = mse(torch.sigmoid(logits), x) + 0.1 * bce(logits, (x > 0.5).float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_autoencoder_trains_to_the_same_weights():
    images = np.random.default_rng(3).random((4, 5, 1, 15, 15), dtype=np.float32)
    torch.manual_seed(0)
    theirs, ours = build(torch), build(convlab)
    copy_weights(theirs, ours)
    assert repr(ours) == repr(theirs)
    x = convlab.from_numpy(images[0])
    assert ours(x).shape == x.shape == (5, 1, 15, 15)
    assert_same(fit(convlab, ours, images), fit(torch, theirs, images), "loss per step")
    assert_same_grads(ours, theirs)
    assert_same_state(ours, theirs)
