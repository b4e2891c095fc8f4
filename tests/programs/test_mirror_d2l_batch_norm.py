"""Mirrors d2l-ai/d2l-en, chapter_convolutional-modern/batch-norm.md (commit
65e8a2389e441b0cb071188dd321d3e7550fa918): "Batch Normalization". The ``batch_norm`` function
written from scratch (``torch.is_grad_enabled()`` to tell prediction from training, moving
averages updated with ``.data``), the ``BatchNorm`` module holding ``gamma`` and ``beta`` as
Parameters and the moving statistics as plain tensors, LeNet with it; then the concise LeNet
with ``nn.LazyBatchNorm2d`` and ``nn.LazyBatchNorm1d``, both trained by d2l's Trainer.

Cut to 16 synthetic 28x28 images, batches of 8.
"""

import pytest

import d2l_mini
from harness import check, labelled_images


def make_data(rng):
    images, labels = labelled_images(rng, 16, 1, 28)
    return {"images": images, "labels": labels}


def batch_norm(torch, X, gamma, beta, moving_mean, moving_var, eps, momentum):
    if not torch.is_grad_enabled():
        X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
    else:
        assert len(X.shape) in (2, 4)
        if len(X.shape) == 2:
            mean = X.mean(dim=0)
            var = ((X - mean) ** 2).mean(dim=0)
        else:
            mean = X.mean(dim=(0, 2, 3), keepdim=True)
            var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        X_hat = (X - mean) / torch.sqrt(var + eps)
        moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
        moving_var = (1.0 - momentum) * moving_var + momentum * var
    Y = gamma * X_hat + beta
    return Y, moving_mean.data, moving_var.data


class Scratch:
    make_data = staticmethod(make_data)

    @staticmethod
    def build(torch):
        nn = torch.nn

        class BatchNorm(nn.Module):
            def __init__(self, num_features, num_dims):
                super().__init__()
                shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
                self.gamma = nn.Parameter(torch.ones(shape))
                self.beta = nn.Parameter(torch.zeros(shape))
                self.moving_mean = torch.zeros(shape)
                self.moving_var = torch.ones(shape)

            def forward(self, X):
                if self.moving_mean.device != X.device:
                    self.moving_mean = self.moving_mean.to(X.device)
                    self.moving_var = self.moving_var.to(X.device)
                Y, self.moving_mean, self.moving_var = batch_norm(
                    torch, X, self.gamma, self.beta, self.moving_mean, self.moving_var,
                    eps=1e-5, momentum=0.1)
                return Y

        class BNLeNetScratch(nn.Module):
            def __init__(self, num_classes=10):
                super().__init__()
                self.net = nn.Sequential(
                    nn.LazyConv2d(6, kernel_size=5), BatchNorm(6, num_dims=4), nn.Sigmoid(),
                    nn.AvgPool2d(kernel_size=2, stride=2),
                    nn.LazyConv2d(16, kernel_size=5), BatchNorm(16, num_dims=4), nn.Sigmoid(),
                    nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
                    nn.LazyLinear(120), BatchNorm(120, num_dims=2), nn.Sigmoid(),
                    nn.LazyLinear(84), BatchNorm(84, num_dims=2), nn.Sigmoid(),
                    nn.LazyLinear(num_classes))

            def forward(self, X):
                return self.net(X)

        return BNLeNetScratch()

    materialize, loss_of = d2l_mini.materialize, d2l_mini.loss_of
    train = staticmethod(d2l_mini.trainer(lr=0.1, max_epochs=3))


class Concise:
    make_data = staticmethod(make_data)

    @staticmethod
    def build(torch):
        nn = torch.nn

        class BNLeNet(nn.Module):
            def __init__(self, num_classes=10):
                super().__init__()
                self.net = nn.Sequential(
                    nn.LazyConv2d(6, kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(),
                    nn.AvgPool2d(kernel_size=2, stride=2),
                    nn.LazyConv2d(16, kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(),
                    nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
                    nn.LazyLinear(120), nn.LazyBatchNorm1d(), nn.Sigmoid(),
                    nn.LazyLinear(84), nn.LazyBatchNorm1d(), nn.Sigmoid(),
                    nn.LazyLinear(num_classes))

            def forward(self, X):
                return self.net(X)

        return BNLeNet()

    materialize, loss_of = d2l_mini.materialize, d2l_mini.loss_of
    train = staticmethod(d2l_mini.trainer(lr=0.1, max_epochs=3))


@pytest.mark.parametrize("program", [Scratch, Concise], ids=lambda p: p.__name__)
def test_training(program):
    check(program)
