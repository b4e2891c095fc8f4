"""Mirrors pytorch/tutorials, beginner_source/blitz/autograd_tutorial.py (commit
56d1da96ef0e5acf5187d89c27d6ca6178170bc5): "A Gentle Introduction to torch.autograd". The
vector-Jacobian product ``Q.backward(gradient=external_grad)`` checked against ``9 a^2`` and
``-2 b``, ``requires_grad`` through an expression, and fine-tuning with a frozen network: every
parameter's ``requires_grad`` set False, a new ``fc`` head, an optimizer over all parameters
where only the head learns. (The tutorial's backbone is torchvision's resnet18; a small CNN with
an ``fc`` attribute stands in.)
"""

import sys

from harness import check, compare_runs, labelled_images


def run(torch):
    a = torch.tensor([2.0, 3.0], requires_grad=True)
    b = torch.tensor([6.0, 4.0], requires_grad=True)
    Q = 3 * a ** 3 - b ** 2
    external_grad = torch.tensor([1.0, 1.0])
    Q.backward(gradient=external_grad)
    x, y = torch.rand(5, 5), torch.rand(5, 5)
    z = torch.rand((5, 5), requires_grad=True)
    return {"Q": Q, "a.grad": a.grad, "b.grad": b.grad,
            "a.grad is 9a^2": bool((9 * a ** 2 == a.grad).all()),
            "b.grad is -2b": bool((-2 * b == b.grad).all()),
            "x + y requires grad": (x + y).requires_grad, "x + z requires grad":
            (x + z).requires_grad}


def make_data(rng):
    images, labels = labelled_images(rng, 8, 3, 16)
    return {"images": images, "labels": labels}


def build(torch):
    nn = torch.nn

    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                          nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.fc = nn.Linear(8, 1000)

        def forward(self, x):
            return self.fc(self.features(x))

    model = Backbone()
    for param in model.parameters():
        param.requires_grad = False
    model.fc = nn.Linear(8, 10)  # a new head: its parameters require grad
    return model


def loss_of(torch, model, data):
    prediction = model(torch.from_numpy(data["images"]))
    return prediction, torch.nn.functional.cross_entropy(prediction,
                                                         torch.from_numpy(data["labels"]))


def train(torch, model, data):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        _, loss = loss_of(torch, model, data)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert model.features[0].weight.grad is None  # frozen: never given a gradient
    return losses


def test_vector_jacobian_product():
    compare_runs(sys.modules[__name__])


def test_finetuning_with_a_frozen_backbone():
    check(sys.modules[__name__])
