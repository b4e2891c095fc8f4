"""A whole training script of the kind courses hand out, run twice: as written, and with every
``torch`` spelled ``convlab``. Every number it produces must agree.

The script touches the usual idioms: the device dance, DataLoader(TensorDataset(...)),
Sequential(OrderedDict), a frozen layer, a forward hook, gradient clipping, StepLR, a no_grad
evaluation loop with argmax and ``.item()``, one-hot targets, parameter counting, state_dict and
optimizer state_dict round trips through save/load (the resumed run continues exactly), and
``model.to(torch.float64)``.
"""

import numpy as np
import pytest

import convlab
from same_numbers import assert_same

torch = pytest.importorskip("torch")

SCRIPT = '''
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.manual_seed(0)
torch.cuda.manual_seed_all(0)

x_all, y_all = torch.from_numpy(IMAGES), torch.from_numpy(LABELS)
train_loader = DataLoader(TensorDataset(x_all, y_all), batch_size=8)
test_loader = DataLoader(TensorDataset(x_all, y_all), batch_size=16, shuffle=True)


def make_model():
    return nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(1, 4, 3, padding=1)),
        ("relu", nn.ReLU()),
        ("pool", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(4 * 4 * 4, 3)),
    ]))


model = make_model()
model.load_state_dict({k: torch.from_numpy(v) for k, v in INITIAL.items()})
model = model.to(device)
model.conv.requires_grad_(False)  # freeze the feature extractor
n_params = sum(p.numel() for p in model.parameters())
n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
names = [name for name, _ in model.named_parameters()]

features = []
def keep_pooled(module, inputs, output):
    features.append(output.detach().cpu().numpy())
handle = model.pool.register_forward_hook(keep_pooled)

trainable = [p for p in model.parameters() if p.requires_grad]
optimizer = optim.SGD(trainable, lr=0.1, momentum=0.9, weight_decay=1e-3)
scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
criterion = nn.CrossEntropyLoss()
history, grad_norms = [], []
for epoch in range(2):
    model.train()
    running_loss = 0.0
    for inputs, labels in train_loader:
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        grad_norms.append(nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5).item())
        nn.utils.clip_grad_value_(model.fc.bias, 0.05)
        optimizer.step()
        running_loss += loss.item() * inputs.size(0)
    scheduler.step()

    model.eval()
    correct, brier = 0, 0.0
    with torch.no_grad():
        for inputs, labels in test_loader:  # shuffled: the sums do not depend on the order
            logits = model(inputs.to(device))
            pred = torch.argmax(logits, dim=1)
            correct += (pred == labels).sum().item()
            one_hot = F.one_hot(labels, num_classes=3).float()
            brier += ((F.softmax(logits, dim=1) - one_hot) ** 2).sum().item()
    history.append((running_loss / len(train_loader.dataset), correct / len(y_all),
                    brier / len(y_all), scheduler.get_last_lr()[0]))
handle.remove()
conv_grad = model.conv.weight.grad
vector = nn.utils.parameters_to_vector(model.parameters()).detach().cpu().numpy()

torch.save(model.state_dict(), DIR + "/model.pt")
torch.save({"optimizer": optimizer.state_dict(), "epoch": 2}, DIR + "/optim.pt")
restored = make_model()
restored.conv.requires_grad_(False)
restored.load_state_dict(torch.load(DIR + "/model.pt"))
optimizer2 = optim.SGD([p for p in restored.parameters() if p.requires_grad], lr=0.1,
                       momentum=0.9, weight_decay=1e-3)
checkpoint = torch.load(DIR + "/optim.pt")
optimizer2.load_state_dict(checkpoint["optimizer"])
momentum = [s["momentum_buffer"].numpy() for s in optimizer2.state_dict()["state"].values()]
lr_after_load = optimizer2.param_groups[0]["lr"]
for net, opt in ((model, optimizer), (restored, optimizer2)):  # one more step, resumed or not
    inputs, labels = next(iter(train_loader))
    opt.zero_grad()
    criterion(net(inputs), labels).backward()
    opt.step()
resumed_same = all(torch.equal(p, q) for p, q in zip(model.parameters(), restored.parameters()))

model64 = restored.to(torch.float64)
out64 = model64(x_all.double()[:4])
dtype64 = str(out64.dtype).split(".")[-1]
'''

RESULTS = ["n_params", "n_trainable", "names", "history", "grad_norms", "conv_grad",
           "vector", "momentum", "lr_after_load", "resumed_same", "dtype64"]


def run(lib, tmp_path, initial):
    rng = np.random.default_rng(6)
    namespace = {"IMAGES": rng.standard_normal((40, 1, 8, 8)).astype(np.float32),
                 "LABELS": rng.integers(0, 3, 40), "INITIAL": initial,
                 "DIR": str(tmp_path / lib.__name__)}
    (tmp_path / lib.__name__).mkdir()
    source = SCRIPT if lib is torch else SCRIPT.replace("torch", "convlab")
    exec(compile(source, f"<script with {lib.__name__}>", "exec"), namespace)
    return namespace


def test_a_course_script_gives_the_same_numbers_with_torch_spelled_convlab(tmp_path):
    torch.manual_seed(0)
    initial = {k: v.numpy() for k, v in torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Linear(64, 3)).state_dict().items()}
    initial = {k.replace("0.", "conv.").replace("1.", "fc."): v for k, v in initial.items()}
    ours, theirs = run(convlab, tmp_path, initial), run(torch, tmp_path, initial)
    for name in RESULTS:
        a, b = ours[name], theirs[name]
        if name == "conv_grad":
            assert a is None and b is None  # a frozen layer gets no gradient
        elif name in ("names", "dtype64", "n_params", "n_trainable", "resumed_same"):
            assert a == b, name
        else:
            assert_same(a, b, name)
    assert ours["resumed_same"]  # a run resumed from the checkpoints continues exactly
    assert_same(ours["out64"], theirs["out64"], "float64 outputs")  # of float32-trained weights
    assert len(ours["features"]) == 2 * (5 + 3)  # the hook saw every batch until removed
    in_order = [i for i in range(16) if i % 8 < 5]  # the training batches are not shuffled
    assert_same([ours["features"][i] for i in in_order],
                [theirs["features"][i] for i in in_order], "hooked features")
