"""Mirrors pytorch/tutorials, beginner_source/nn_tutorial.py (commit
764a8d6aed986f155098d91ea55a1f0c95b26dd8): "What is torch.nn really?". Its stages in turn: the
``Mnist_Logistic`` module whose parameters are updated by hand (``p -= p.grad * lr`` under
``no_grad``, then ``model.zero_grad()``); ``Mnist_CNN`` (three stride-2 convolutions,
``xb.view(-1, 1, 28, 28)``, ``F.avg_pool2d(xb, 4)``) trained by the tutorial's ``fit`` /
``loss_batch`` over TensorDataset loaders (validation at twice the batch size, the loss averaged
with ``np.sum(np.multiply(losses, nums)) / np.sum(nums)``); and the ``nn.Sequential`` version
with a ``Lambda`` layer, ``AdaptiveAvgPool2d(1)`` and a ``WrappedDataLoader``.

Cut to 24 synthetic flattened 28x28 digits, batches of 8.
"""

import math

import numpy as np

from harness import check, labelled_images


def make_data(rng):
    images, labels = labelled_images(rng, 24, 1, 28)
    return {"x_train": images.reshape(24, 784), "y_train": labels}


def loaders(torch, data, bs=8):
    TensorDataset, DataLoader = torch.utils.data.TensorDataset, torch.utils.data.DataLoader
    x, y = torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"])
    train_ds, valid_ds = TensorDataset(x[:16], y[:16]), TensorDataset(x[16:], y[16:])
    return (DataLoader(train_ds, batch_size=bs, shuffle=False),
            DataLoader(valid_ds, batch_size=bs * 2))


def loss_batch(torch, model, loss_func, xb, yb, opt=None):
    loss = loss_func(model(xb), yb)
    if opt is not None:
        loss.backward()
        opt.step()
        opt.zero_grad()
    return loss.item(), len(xb)


def fit(torch, epochs, model, loss_func, opt, train_dl, valid_dl):
    history = []
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            loss_batch(torch, model, loss_func, xb, yb, opt)
        model.eval()
        with torch.no_grad():
            losses, nums = zip(*[loss_batch(torch, model, loss_func, xb, yb)
                                 for xb, yb in valid_dl])
        history.append(np.sum(np.multiply(losses, nums)) / np.sum(nums))
    return history


class Logistic:
    """Stage "Refactor using nn.Module": the hand-written update."""

    @staticmethod
    def build(torch):
        class Mnist_Logistic(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.weights = torch.nn.Parameter(torch.randn(784, 10) / math.sqrt(784))
                self.bias = torch.nn.Parameter(torch.zeros(10))

            def forward(self, xb):
                return xb @ self.weights + self.bias

        return Mnist_Logistic()

    make_data = staticmethod(make_data)

    @staticmethod
    def loss_of(torch, model, data):
        xb = torch.from_numpy(data["x_train"][:8])
        out = model(xb)
        return out, torch.nn.functional.cross_entropy(out, torch.from_numpy(
            data["y_train"][:8]))

    @staticmethod
    def train(torch, model, data):
        lr, losses = 0.5, []
        train_dl, _ = loaders(torch, data)
        for epoch in range(3):
            for xb, yb in train_dl:
                loss = torch.nn.functional.cross_entropy(model(xb), yb)
                loss.backward()
                with torch.no_grad():
                    for p in model.parameters():
                        p -= p.grad * lr
                    model.zero_grad()
            losses.append(loss.item())
        return losses


class CNN:
    """Stage "Switch to CNN"."""

    @staticmethod
    def build(torch):
        nn, F = torch.nn, torch.nn.functional

        class Mnist_CNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1)
                self.conv2 = nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1)
                self.conv3 = nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1)

            def forward(self, xb):
                xb = xb.view(-1, 1, 28, 28)
                xb = F.relu(self.conv1(xb))
                xb = F.relu(self.conv2(xb))
                xb = F.relu(self.conv3(xb))
                xb = F.avg_pool2d(xb, 4)
                return xb.view(-1, xb.size(1))

        return Mnist_CNN()

    make_data = staticmethod(make_data)
    loss_of = Logistic.loss_of

    @staticmethod
    def train(torch, model, data):
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return fit(torch, 4, model, torch.nn.functional.cross_entropy, opt, *loaders(torch, data))


class Sequential:
    """Stage "nn.Sequential" and "Wrapping DataLoader"."""

    @staticmethod
    def build(torch):
        nn = torch.nn

        class Lambda(nn.Module):
            def __init__(self, func):
                super().__init__()
                self.func = func

            def forward(self, x):
                return self.func(x)

        return nn.Sequential(
            Lambda(lambda x: x.view(-1, 1, 28, 28)),
            nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            Lambda(lambda x: x.view(x.size(0), -1)),
        )

    make_data = staticmethod(make_data)
    loss_of = Logistic.loss_of

    @staticmethod
    def train(torch, model, data):
        class WrappedDataLoader:
            def __init__(self, dl, func):
                self.dl, self.func = dl, func

            def __len__(self):
                return len(self.dl)

            def __iter__(self):
                for b in self.dl:
                    yield self.func(*b)

        def preprocess(x, y):
            return x.view(-1, 1, 28, 28), y

        train_dl, valid_dl = loaders(torch, data)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return fit(torch, 4, model, torch.nn.functional.cross_entropy, opt,
                   WrappedDataLoader(train_dl, preprocess),
                   WrappedDataLoader(valid_dl, preprocess))


def test_logistic_regression_updated_by_hand():
    check(Logistic)


def test_mnist_cnn_with_fit():
    check(CNN)


def test_sequential_with_lambda_layers():
    check(Sequential)
