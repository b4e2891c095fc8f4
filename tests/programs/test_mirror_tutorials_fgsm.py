"""Mirrors pytorch/tutorials, beginner_source/fgsm_tutorial.py (commit
8bcd0ac63dff35599649fc78711b6c155717823f): "Adversarial Example Generation". The MNIST LeNet
(``F.dropout(x, training=self.training)``, ``F.log_softmax``) in eval mode, the input given
``requires_grad = True``, the loss's gradient with respect to the image (``data.grad.data``),
``fgsm_attack`` (``image + epsilon * sign``, then ``torch.clamp(..., 0, 1)``), and the
prediction re-read with ``output.max(1, keepdim=True)[1]``.

The tutorial loads a pretrained model; here the model is trained a few steps first. Cut to 8
synthetic 28x28 digits.
"""

import sys

import numpy as np
import pytest

import convlab
from harness import check, labelled_images
from parity.same_numbers import assert_same, copy_weights

RANDOM = True  # dropout while training


def make_data(rng):
    images, labels = labelled_images(rng, 8, 1, 28)
    return {"images": np.clip(images, 0, 1), "labels": labels}


def build(torch):
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
            self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
            self.conv2_drop = nn.Dropout2d()
            self.fc1 = nn.Linear(320, 50)
            self.fc2 = nn.Linear(50, 10)

        def forward(self, x):
            x = F.relu(F.max_pool2d(self.conv1(x), 2))
            x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
            x = x.view(-1, 320)
            x = F.relu(self.fc1(x))
            x = F.dropout(x, training=self.training)
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    return Net()


def fgsm_attack(torch, image, epsilon, data_grad):
    sign_data_grad = data_grad.sign()
    perturbed_image = image + epsilon * sign_data_grad
    return torch.clamp(perturbed_image, 0, 1)


def attack(torch, model, data, epsilon):
    """The tutorial's ``test``: attack every image; returns (clean loss, attacked loss,
    attacked predictions)."""
    model.eval()
    F = torch.nn.functional
    images = torch.from_numpy(data["images"])
    target = torch.from_numpy(data["labels"])
    images.requires_grad = True
    output = model(images)
    init_pred = output.max(1, keepdim=True)[1]
    loss = F.nll_loss(output, target)
    model.zero_grad()
    loss.backward()
    data_grad = images.grad.data
    perturbed_data = fgsm_attack(torch, images, epsilon, data_grad)
    output = model(perturbed_data)
    final_pred = output.max(1, keepdim=True)[1]
    assert init_pred.shape == final_pred.shape == (8, 1)
    return loss.item(), F.nll_loss(output, target).item(), final_pred, data_grad


def loss_of(torch, model, data):
    output = model(torch.from_numpy(data["images"]))
    return output, torch.nn.functional.nll_loss(output, torch.from_numpy(data["labels"]))


def train(torch, model, data):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    losses = []
    for _ in range(8):
        model.train()
        optimizer.zero_grad()
        _, loss = loss_of(torch, model, data)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    clean, attacked, _, _ = attack(torch, model, data, epsilon=0.3)
    assert attacked > clean  # the attack raises the loss
    return losses


def test_program():
    check(sys.modules[__name__])


def test_attack_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    data = make_data(np.random.default_rng(0))
    torch.manual_seed(0)
    theirs, ours = build(torch), build(convlab)
    copy_weights(theirs, ours)
    a, b = attack(convlab, ours, data, 0.1), attack(torch, theirs, data, 0.1)
    assert_same(a[0], b[0], "clean loss")
    assert_same(a[1], b[1], "attacked loss", rtol=1e-4)
    assert_same(a[3], b[3], "gradient with respect to the images", rtol=1e-3, atol=1e-7)
