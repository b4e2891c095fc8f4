"""Mirrors pytorch/tutorials, beginner_source/basics/quickstart_tutorial.py (commit
afcd669d56554c2ef46f2da92edbfaf8c54043ec): the "Quickstart". The device chosen through
``torch.accelerator``, ``NeuralNetwork`` (Flatten and a Linear/ReLU stack) moved ``.to(device)``,
the tutorial's ``train(dataloader, model, loss_fn, optimizer)`` and ``test`` functions (accuracy
from ``(pred.argmax(1) == y).type(torch.float).sum().item()``), and the state_dict saved and
loaded back with ``weights_only=True``.

Cut to 32 synthetic 28x28 images, batches of 8, three epochs.
"""

import os
import sys
import tempfile

from harness import check, labelled_images


def make_data(rng):
    images, labels = labelled_images(rng, 32, 1, 28)
    return {"images": images, "labels": labels}


def device_of(torch):
    return (torch.accelerator.current_accelerator().type if torch.accelerator.is_available()
            else "cpu")


def build(torch):
    nn = torch.nn

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(nn.Linear(28 * 28, 512), nn.ReLU(),
                                                   nn.Linear(512, 512), nn.ReLU(),
                                                   nn.Linear(512, 10))

        def forward(self, x):
            x = self.flatten(x)
            return self.linear_relu_stack(x)

    return NeuralNetwork().to(device_of(torch))


def loader(torch, data):
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(data["images"]),
                                             torch.from_numpy(data["labels"]))
    return torch.utils.data.DataLoader(dataset, batch_size=8)


def loss_of(torch, model, data):
    X, y = next(iter(loader(torch, data)))
    pred = model(X.to(device_of(torch)))
    return pred, torch.nn.CrossEntropyLoss()(pred, y)


def train_epoch(torch, dataloader, model, loss_fn, optimizer):
    device = device_of(torch)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def evaluate(torch, dataloader, model, loss_fn):
    size, num_batches = len(dataloader.dataset), len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    return test_loss / num_batches, correct / size


def train(torch, model, data):
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for t in range(3):
        train_epoch(torch, loader(torch, data), model, loss_fn, optimizer)
        losses.append(evaluate(torch, loader(torch, data), model, loss_fn)[0])
    with tempfile.TemporaryDirectory() as folder:
        torch.save(model.state_dict(), os.path.join(folder, "model.pth"))
        model = build(torch)
        model.load_state_dict(torch.load(os.path.join(folder, "model.pth"), weights_only=True))
    assert evaluate(torch, loader(torch, data), model, loss_fn)[0] == losses[-1]
    return losses


def test_program():
    check(sys.modules[__name__])
