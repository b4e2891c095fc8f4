"""Mirrors pytorch/tutorials, beginner_source/blitz/cifar10_tutorial.py (commit
c53e7d4efc0e39e455c531d21ec7db28ba220214): "Training a Classifier". The two-conv CIFAR-10 net,
CrossEntropyLoss and SGD with momentum over a DataLoader with a running loss, the state_dict
saved and loaded back into a new net, then accuracy overall and per class with
``torch.max(outputs, 1)``.

Cut to 16 synthetic 32x32 colour images, batches of 4, two epochs.
"""

import os
import sys
import tempfile

from harness import check, labelled_images

CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def make_data(rng):
    images, labels = labelled_images(rng, 16, 3, 32)
    return {"images": (images - 0.5) / 0.5, "labels": labels}


def build(torch):
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    return Net()


def loader(torch, data):
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(data["images"]),
                                             torch.from_numpy(data["labels"]))
    return torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=False, num_workers=0)


def loss_of(torch, net, data):
    inputs, labels = next(iter(loader(torch, data)))
    outputs = net(inputs)
    return outputs, torch.nn.CrossEntropyLoss()(outputs, labels)


def train(torch, net, data):
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for epoch in range(2):
        running_loss = 0.0
        for i, (inputs, labels) in enumerate(loader(torch, data), 0):
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        losses.append(running_loss / (i + 1))

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "cifar_net.pth")
        torch.save(net.state_dict(), path)
        net = build(torch)
        net.load_state_dict(torch.load(path, weights_only=True))

    correct, total = 0, 0
    correct_pred = {name: 0 for name in CLASSES}
    with torch.no_grad():
        for images, labels in loader(torch, data):
            outputs = net(images)
            _, predicted = torch.max(outputs, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
            for label, prediction in zip(labels, predicted):
                if label == prediction:
                    correct_pred[CLASSES[label]] += 1
    assert 0 <= correct <= total == 16
    return losses


def test_program():
    check(sys.modules[__name__])
