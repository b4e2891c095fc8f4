"""``python -m benchmarks train``: the digits CNN trained in convlab and in PyTorch, time and accuracy.

The model is ``convlab.models.DigitsCNN`` (conv 1->16 3x3 pad 1, relu, max pool 2, conv 16->32
3x3 pad 1, relu, max pool 2, linear 128->10) and its PyTorch twin, started from the same
weights; Adam with lr 1e-2, batch 64, 15 epochs, cross-entropy. The training loop is written
once and run with either library, as their APIs match. Both see the same batches in the same
order, cut from convlab's shipped ``Digits`` arrays, so the clock measures the libraries'
forward, backward and optimizer steps, not two different data pipelines.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from types import ModuleType

import numpy as np

__all__ = ["Run", "train", "compare", "train_table"]

BATCH = 64
LR = 1e-2


def _torch_twin(state: dict[str, np.ndarray]):
    """PyTorch's DigitsCNN with the given weights."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class DigitsCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
            self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
            self.fc = nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return self.fc(x.flatten(1))

    model = DigitsCNN()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    return model


@dataclass
class Run:
    library: str
    seconds: float
    accuracy: float
    final_loss: float


def train(lib: ModuleType, model, data: dict[str, np.ndarray], epochs: int,
          seed: int = 0) -> Run:
    """Train ``model`` (written in ``lib``) on ``data`` and measure the training time only."""
    F = lib.nn.functional
    optimizer = lib.optim.Adam(model.parameters(), lr=LR)
    order = np.random.default_rng(seed)
    x, y = data["x_train"], data["y_train"]
    start = time.perf_counter()
    for _ in range(epochs):
        perm = order.permutation(len(x))
        for i in range(0, len(x), BATCH):
            idx = perm[i:i + BATCH]
            xb, yb = lib.from_numpy(x[idx]), lib.from_numpy(y[idx])
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    with lib.no_grad():
        predicted = model(lib.from_numpy(data["x_test"])).argmax(1).numpy()
    accuracy = float((predicted == data["y_test"]).mean())
    return Run(lib.__name__, seconds, accuracy, float(loss.item()))


def compare(epochs: int, repeats: int) -> list[Run]:
    """``repeats`` trainings per library from one initialization, alternating libraries."""
    import torch

    import convlab
    from convlab.data import Digits
    from convlab.models import DigitsCNN

    train_set, test_set = Digits(train=True), Digits(train=False)
    data = {"x_train": train_set.data.numpy(), "y_train": train_set.targets.numpy(),
            "x_test": test_set.data.numpy(), "y_test": test_set.targets.numpy()}
    convlab.manual_seed(0)
    start = {k: v.numpy().copy() for k, v in DigitsCNN().state_dict().items()}
    runs = []
    for r in range(repeats):
        ours = DigitsCNN()
        ours.load_state_dict({k: convlab.from_numpy(v.copy()) for k, v in start.items()})
        pair = [(convlab, ours), (torch, _torch_twin(start))]
        for lib, model in (pair if r % 2 == 0 else pair[::-1]):
            runs.append(train(lib, model, data, epochs))
    return runs


def train_table(runs: list[Run], epochs: int) -> str:
    """Median training time and test accuracy per library, and the time ratio, as Markdown."""
    libs = {}
    for run in runs:
        libs.setdefault(run.library, []).append(run)
    lines = ["| library | training time s (median) | test accuracy | final batch loss |",
             "|---|--:|--:|--:|"]
    for name, rs in libs.items():
        accs = sorted({f"{r.accuracy:.4f}" for r in rs})
        lines.append(f"| {name} | {statistics.median(r.seconds for r in rs):.2f} | "
                     f"{' / '.join(accs)} | {statistics.median(r.final_loss for r in rs):.4f} |")
    ratio = (statistics.median(r.seconds for r in libs["convlab"])
             / statistics.median(r.seconds for r in libs["torch"]))
    acc_gap = (statistics.median(r.accuracy for r in libs["convlab"])
               - statistics.median(r.accuracy for r in libs["torch"]))
    lines += ["", f"Time ratio convlab / PyTorch: **{ratio:.2f}** (issue 11's target <= 1.0: "
                  f"{'met' if ratio <= 1.0 else '**not met**'}); accuracy convlab minus PyTorch: "
                  f"{acc_gap * 100:+.1f} points.", "",
              f"Settings: {epochs} epochs of 1347 images, batch {BATCH}, Adam lr {LR}, float32, "
              f"{len(runs) // 2} runs per library alternating, the same initial weights and "
              "batch order in both."]
    return "\n".join(lines)
