"""Mirrors pytorch/examples, super_resolution/model.py (commit
5c2b513a8e0d94bb9c594e4f8754c10b45cc9bf4) and its main.py: the sub-pixel CNN (four convolutions,
``nn.PixelShuffle``) initialized with ``init.orthogonal_(..., init.calculate_gain('relu'))``,
trained with MSELoss and Adam, reporting PSNR ``10 * log10(1 / mse.item())``.

Cut to 8 synthetic 12x12 low-resolution images (upscale factor 3 to 36x36), batches of 4.
"""

import math
import sys

import numpy as np

from harness import check

UPSCALE = 3


def make_data(rng):
    high = rng.random((8, 1, 36, 36)).astype(np.float32)
    low = high.reshape(8, 1, 12, 3, 12, 3).mean(axis=(3, 5))  # a box-filtered copy
    return {"input": low.astype(np.float32), "target": high}


def build(torch):
    nn, init = torch.nn, torch.nn.init

    class Net(nn.Module):
        def __init__(self, upscale_factor):
            super().__init__()
            self.relu = nn.ReLU()
            self.conv1 = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
            self.conv2 = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
            self.conv3 = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
            self.conv4 = nn.Conv2d(32, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
            self.pixel_shuffle = nn.PixelShuffle(upscale_factor)
            self._initialize_weights()

        def forward(self, x):
            x = self.relu(self.conv1(x))
            x = self.relu(self.conv2(x))
            x = self.relu(self.conv3(x))
            return self.pixel_shuffle(self.conv4(x))

        def _initialize_weights(self):
            init.orthogonal_(self.conv1.weight, init.calculate_gain("relu"))
            init.orthogonal_(self.conv2.weight, init.calculate_gain("relu"))
            init.orthogonal_(self.conv3.weight, init.calculate_gain("relu"))
            init.orthogonal_(self.conv4.weight)

    return Net(upscale_factor=UPSCALE)


def loader(torch, data):
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(data["input"]),
                                             torch.from_numpy(data["target"]))
    return torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=False)


def loss_of(torch, model, data):
    input, target = next(iter(loader(torch, data)))
    output = model(input)
    return output, torch.nn.MSELoss()(output, target)


def train(torch, model, data):
    criterion = torch.nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    psnrs = []
    for epoch in range(3):
        for iteration, batch in enumerate(loader(torch, data), 1):
            input, target = batch[0], batch[1]
            optimizer.zero_grad()
            loss = criterion(model(input), target)
            loss.backward()
            optimizer.step()
        avg_psnr = 0
        with torch.no_grad():
            for batch in loader(torch, data):
                mse = criterion(model(batch[0]), batch[1])
                avg_psnr += 10 * math.log10(1 / mse.item())
        psnrs.append(-avg_psnr / 2)  # the harness wants a falling curve: minus the PSNR
    return psnrs


def test_program():
    check(sys.modules[__name__])
