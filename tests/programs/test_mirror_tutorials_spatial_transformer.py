"""Mirrors pytorch/tutorials, intermediate_source/spatial_transformer_tutorial.py (commit
c53e7d4efc0e39e455c531d21ec7db28ba220214): "Spatial Transformer Networks". The localization
net and its regressor ``fc_loc`` initialized to the identity transform
(``fc_loc[2].weight.data.zero_()``, ``bias.data.copy_(...)``), ``F.affine_grid`` and
``F.grid_sample`` in ``stn``, the classifier with ``Dropout2d`` and ``F.dropout(x,
training=self.training)``, trained with SGD and ``F.nll_loss``; the test pass sums the loss with
``size_average=False`` and counts ``pred.eq(target.view_as(pred))``.

Cut to 8 synthetic 28x28 digits, batches of 4, six epochs.
"""

import sys

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
            self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
            self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
            self.conv2_drop = nn.Dropout2d()
            self.fc1 = nn.Linear(320, 50)
            self.fc2 = nn.Linear(50, 10)
            self.localization = nn.Sequential(
                nn.Conv2d(1, 8, kernel_size=7), nn.MaxPool2d(2, stride=2), nn.ReLU(True),
                nn.Conv2d(8, 10, kernel_size=5), nn.MaxPool2d(2, stride=2), nn.ReLU(True))
            self.fc_loc = nn.Sequential(nn.Linear(10 * 3 * 3, 32), nn.ReLU(True),
                                        nn.Linear(32, 3 * 2))
            self.fc_loc[2].weight.data.zero_()
            self.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))

        def stn(self, x):
            xs = self.localization(x)
            xs = xs.view(-1, 10 * 3 * 3)
            theta = self.fc_loc(xs)
            theta = theta.view(-1, 2, 3)
            grid = F.affine_grid(theta, x.size(), align_corners=False)
            return F.grid_sample(x, grid, align_corners=False)

        def forward(self, x):
            x = self.stn(x)
            x = F.relu(F.max_pool2d(self.conv1(x), 2))
            x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
            x = x.view(-1, 320)
            x = F.relu(self.fc1(x))
            x = F.dropout(x, training=self.training)
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    return Net()


def loader(torch, data):
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(data["images"]),
                                             torch.from_numpy(data["labels"]))
    return torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=False)


def loss_of(torch, model, data):
    images, target = next(iter(loader(torch, data)))
    output = model(images)
    return output, torch.nn.functional.nll_loss(output, target)


def evaluate(torch, model, data):
    with torch.no_grad():
        model.eval()
        test_loss, correct = 0, 0
        for images, target in loader(torch, data):
            output = model(images)
            test_loss += torch.nn.functional.nll_loss(output, target, size_average=False).item()
            pred = output.max(1, keepdim=True)[1]
            correct += pred.eq(target.view_as(pred)).sum().item()
    return test_loss / len(data["labels"])


def train(torch, model, data):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for epoch in range(1, 7):
        model.train()
        for batch_idx, (images, target) in enumerate(loader(torch, data)):
            optimizer.zero_grad()
            output = model(images)
            loss = torch.nn.functional.nll_loss(output, target)
            loss.backward()
            optimizer.step()
        losses.append(evaluate(torch, model, data))
    return losses


def test_program():
    check(sys.modules[__name__])
