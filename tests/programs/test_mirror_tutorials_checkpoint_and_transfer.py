"""Mirrors two pytorch/tutorials programs about saving and reusing a CNN.

recipes_source/recipes/saving_and_loading_a_general_checkpoint.py (commit
68067f2f60ec60ae243dde00d68164cdea53c755): the CIFAR net and an SGD optimizer with momentum
saved as one dict (``epoch``, ``model_state_dict``, ``optimizer_state_dict``, ``loss``), loaded
into a fresh model and optimizer, and training resumed with ``model.train()``: the resumed run
must continue exactly where the first left off.

beginner_source/transfer_learning_tutorial.py (the fine-tuning "ConvNet as fixed feature
extractor" part; pytorch/tutorials commit 74ba612b95095bf8f77828989e9cdac609d2bd1b): the
backbone frozen with ``param.requires_grad = False``, its ``fc`` replaced by ``nn.Linear(
num_ftrs, 2)``, only the new head handed to SGD, ``lr_scheduler.StepLR(step_size=7,
gamma=0.1)``, ``train_model`` looping over 'train' and 'val' phases under
``torch.set_grad_enabled(phase == 'train')``, counting ``torch.sum(preds == labels.data)``,
and keeping the best weights with ``copy.deepcopy(model.state_dict())``. A small CNN with an
``fc`` attribute stands in for the pretrained ResNet-18.
"""

import copy
import os
import tempfile

import pytest

from harness import check, labelled_images
from test_mirror_tutorials_cifar10 import build as cifar_net


class Checkpoint:
    @staticmethod
    def make_data(rng):
        images, labels = labelled_images(rng, 8, 3, 32)
        return {"images": images, "labels": labels}

    build = staticmethod(cifar_net)

    @staticmethod
    def loss_of(torch, net, data):
        outputs = net(torch.from_numpy(data["images"]))
        return outputs, torch.nn.CrossEntropyLoss()(outputs, torch.from_numpy(data["labels"]))

    @classmethod
    def steps(cls, torch, net, optimizer, data, n):
        losses = []
        for _ in range(n):
            optimizer.zero_grad()
            _, loss = cls.loss_of(torch, net, data)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    @classmethod
    def train(cls, torch, net, data):
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        losses = cls.steps(torch, net, optimizer, data, 3)
        with tempfile.TemporaryDirectory() as folder:
            PATH = os.path.join(folder, "model.pt")
            torch.save({"epoch": 5, "model_state_dict": net.state_dict(),
                        "optimizer_state_dict": optimizer.state_dict(), "loss": losses[-1]},
                       PATH)
            model = cifar_net(torch)
            optimizer2 = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
            checkpoint = torch.load(PATH, weights_only=True)
            model.load_state_dict(checkpoint["model_state_dict"])
            optimizer2.load_state_dict(checkpoint["optimizer_state_dict"])
            assert checkpoint["epoch"] == 5 and checkpoint["loss"] == losses[-1]
        model.train()
        resumed = cls.steps(torch, model, optimizer2, data, 3)
        assert resumed == cls.steps(torch, net, optimizer, data, 3)  # the same continuation
        return losses + resumed


class Transfer:
    @staticmethod
    def make_data(rng):
        images, labels = labelled_images(rng, 16, 3, 16, classes=2)
        return {"images": images, "labels": labels}

    @staticmethod
    def build(torch):
        nn = torch.nn

        class Backbone(nn.Module):
            def __init__(self):
                super().__init__()
                self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8),
                                              nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
                self.fc = nn.Linear(8, 1000)

            def forward(self, x):
                return self.fc(self.features(x))

        model_conv = Backbone()
        for param in model_conv.parameters():
            param.requires_grad = False
        num_ftrs = model_conv.fc.in_features
        model_conv.fc = nn.Linear(num_ftrs, 2)
        return model_conv

    @staticmethod
    def loaders(torch, data):
        x, y = torch.from_numpy(data["images"]), torch.from_numpy(data["labels"])
        TensorDataset, DataLoader = torch.utils.data.TensorDataset, torch.utils.data.DataLoader
        return {"train": DataLoader(TensorDataset(x[:12], y[:12]), batch_size=4),
                "val": DataLoader(TensorDataset(x[12:], y[12:]), batch_size=4)}

    @classmethod
    def loss_of(cls, torch, model, data):
        inputs, labels = next(iter(cls.loaders(torch, data)["train"]))
        outputs = model(inputs)
        return outputs, torch.nn.CrossEntropyLoss()(outputs, labels)

    @classmethod
    def train(cls, torch, model, data):
        criterion = torch.nn.CrossEntropyLoss()
        optimizer_conv = torch.optim.SGD(model.fc.parameters(), lr=0.05, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer_conv, step_size=7, gamma=0.1)
        dataloaders = cls.loaders(torch, data)
        dataset_sizes = {"train": 12, "val": 4}
        best_model_wts, best_acc, losses = copy.deepcopy(model.state_dict()), 0.0, []
        for epoch in range(4):
            for phase in ["train", "val"]:
                model.train() if phase == "train" else model.eval()
                running_loss, running_corrects = 0.0, 0
                for inputs, labels in dataloaders[phase]:
                    optimizer_conv.zero_grad()
                    with torch.set_grad_enabled(phase == "train"):
                        outputs = model(inputs)
                        _, preds = torch.max(outputs, 1)
                        loss = criterion(outputs, labels)
                        if phase == "train":
                            loss.backward()
                            optimizer_conv.step()
                    running_loss += loss.item() * inputs.size(0)
                    running_corrects += torch.sum(preds == labels.data)
                if phase == "train":
                    scheduler.step()
                    losses.append(running_loss / dataset_sizes[phase])
                epoch_acc = running_corrects.double() / dataset_sizes[phase]
                if phase == "val" and epoch_acc > best_acc:
                    best_acc = epoch_acc
                    best_model_wts = copy.deepcopy(model.state_dict())
        model.load_state_dict(best_model_wts)
        return losses


@pytest.mark.parametrize("program", [Checkpoint, Transfer], ids=lambda p: p.__name__)
def test_program(program):
    check(program)
