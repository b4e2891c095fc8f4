"""Mirrors pytorch/examples, mnist/main.py (commit f15fac72e01158bcb704dded7c7e511f7a712a5f):
the two-conv MNIST net with dropout and log_softmax, on the device ``torch.accelerator`` offers
(the CPU here), trained with Adadelta and a StepLR schedule from a DataLoader, evaluated with
no_grad and argmax, its state_dict saved.

Cut to 8 synthetic 28x28 digits, batches of 4, three epochs.
"""

import os
import sys
import tempfile

from harness import check, labelled_images

RANDOM = True  # dropout


def make_data(rng):
    images, labels = labelled_images(rng, 8, 1, 28)
    return {"images": (images - 0.1307) / 0.3081, "labels": labels}


def build(torch):
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = self.dropout2(x)
            return F.log_softmax(self.fc2(x), dim=1)

    return Net()


def loader(torch, data, shuffle=False):
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(data["images"]),
                                             torch.from_numpy(data["labels"]))
    return torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=shuffle)


def loss_of(torch, model, data):
    images, labels = next(iter(loader(torch, data)))
    output = model(images)
    return output, torch.nn.functional.nll_loss(output, labels)


def evaluate(torch, model, test_loader):
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += torch.nn.functional.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    return test_loss / len(test_loader.dataset), correct


def train(torch, model, data):
    use_accel = torch.accelerator.is_available()
    device = torch.accelerator.current_accelerator() if use_accel else torch.device("cpu")
    model = model.to(device)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    losses = []
    for epoch in range(1, 4):
        model.train()
        for batch_idx, (images, target) in enumerate(loader(torch, data)):
            optimizer.zero_grad()
            output = model(images)
            loss = torch.nn.functional.nll_loss(output, target)
            loss.backward()
            optimizer.step()
        test_loss, _ = evaluate(torch, model, loader(torch, data))
        losses.append(test_loss)
        scheduler.step()
    with tempfile.TemporaryDirectory() as folder:
        torch.save(model.state_dict(), os.path.join(folder, "mnist_cnn.pt"))
    return losses


def test_program():
    check(sys.modules[__name__])
