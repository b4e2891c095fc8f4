"""The training loop of ``convlab train``: epochs of minibatch steps, evaluation, checkpoints.

A run directory holds ``last.npz`` (after every epoch: model, optimizer, generator, history),
``best.npz`` (the best test accuracy so far), ``metrics.json`` and the figures. ``resume=True``
restarts from ``last.npz`` and ends exactly where an uninterrupted run would: the model, the
optimizer's moments and the random generator (which shuffles the batches) are all restored.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass

import numpy as np

from .. import _random, nn, no_grad, optim
from .._atomic import write_text_atomic
from ..data import DataLoader
from ..models import build_model, default_model_for
from ..nn import functional as F
from ..serialization import load, save
from .datasets import DATASETS, load_datasets
from .figures import write_figures
from .report import Reporter

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "constant")


@dataclass
class TrainConfig:
    """Everything that defines a run; stored in its checkpoints."""

    data: str = "digits"
    root: str | None = None
    model: str | None = None  # None: the default model for the data set
    epochs: int = 25
    batch_size: int = 64
    lr: float = 1e-2
    optimizer: str = "adam"
    schedule: str = "cosine"  # the learning rate decays to 0 over the run along a half cosine
    label_smoothing: float = 0.1
    seed: int = 0
    out: str | None = None  # None: runs/<data>

    def resolved(self) -> "TrainConfig":
        """The config with defaults filled in and every value checked."""
        if self.data not in DATASETS:
            raise ValueError(f"--data must be one of {', '.join(DATASETS)}, got {self.data!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got "
                             f"{self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"--schedule must be one of {', '.join(SCHEDULES)}, got "
                             f"{self.schedule!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got "
                                 f"{getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"--lr must be positive, got {self.lr}")
        return dataclasses.replace(
            self,
            model=self.model or default_model_for(self.data),
            out=self.out or os.path.join("runs", self.data),
        )


def make_optimizer(name: str, params, lr: float):
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adam":
        return optim.Adam(params, lr=lr)
    return optim.AdamW(params, lr=lr)


def evaluate(model: nn.Module, dataset, batch_size: int = 256, num_classes: int = 10) -> dict:
    """Mean loss, accuracy and confusion matrix (rows: true class, columns: predicted)."""
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size)
    total_loss, confusion = 0.0, np.zeros((num_classes, num_classes), dtype=np.int64)
    with no_grad():
        for images, labels in loader:
            logits = model(images)
            total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
            predicted = logits.argmax(1).numpy()
            np.add.at(confusion, (labels.numpy(), predicted), 1)
    n = int(confusion.sum())
    return {"loss": total_loss / max(n, 1), "accuracy": float(np.trace(confusion)) / max(n, 1),
            "confusion": confusion}


def make_schedule(name: str, optimizer, total_steps: int):
    """A scheduler stepped once per batch, or None for a constant learning rate."""
    if name == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return None


def _checkpoint(config, model, optimizer, schedule, epoch, history, best_accuracy) -> dict:
    return {
        "format": "convlab-train-checkpoint",
        "config": dataclasses.asdict(config),
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict() if schedule is not None else None,
        "generator": json.dumps(_random.get_rng_state()),
        "history": history,
        "best_accuracy": best_accuracy,
    }


def load_checkpoint(path: str) -> dict:
    """A training checkpoint, checked to be one."""
    state = load(path)
    if not isinstance(state, dict) or state.get("format") != "convlab-train-checkpoint":
        raise ValueError(f"{path} is not a convlab training checkpoint (it has no "
                         "format='convlab-train-checkpoint' entry)")
    return state


def model_from_checkpoint(state: dict) -> nn.Module:
    config = state["config"]
    info = DATASETS[config["data"]]
    model = build_model(config["model"], info.in_channels, len(info.classes))
    model.load_state_dict(state["model"])
    model.eval()
    return model


def train(config: TrainConfig, resume: bool = False, reporter: Reporter | None = None) -> dict:
    """Train, evaluate after every epoch, checkpoint; return the final metrics.

    With ``resume=True`` the run in ``config.out`` continues from its last checkpoint, with the
    configuration it was started with (only ``out`` and ``root`` are taken from ``config``).
    """
    config = config.resolved()
    reporter = reporter or Reporter()
    last_path = os.path.join(config.out, "last.npz")
    best_path = os.path.join(config.out, "best.npz")
    state = None
    if resume:
        if not os.path.exists(last_path):
            raise FileNotFoundError(f"--resume: no checkpoint to resume from at {last_path}")
        state = load_checkpoint(last_path)
        saved = dict(state["config"], out=config.out, root=config.root or state["config"]["root"])
        config = TrainConfig(**saved).resolved()

    info = DATASETS[config.data]
    train_set, test_set = load_datasets(config.data, config.root)
    _random.manual_seed(config.seed)
    model = build_model(config.model, info.in_channels, len(info.classes))
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr)
    loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True)
    schedule = make_schedule(config.schedule, optimizer, config.epochs * len(loader))
    history, saved_epoch, best_accuracy = [], 0, -1.0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if schedule is not None:
            schedule.load_state_dict(state["schedule"])
        _random.set_rng_state(json.loads(state["generator"]))
        history, saved_epoch = list(state["history"]), int(state["epoch"])
        best_accuracy = float(state["best_accuracy"])
        reporter.resumed(last_path, saved_epoch)

    reporter.start(config, model, len(train_set), len(test_set))
    try:
        for epoch in range(saved_epoch + 1, config.epochs + 1):
            model.train()
            seen, loss_sum, correct = 0, 0.0, 0
            started = time.perf_counter()
            with reporter.epoch_progress(epoch, config.epochs, len(loader)) as advance:
                for images, labels in loader:
                    logits = model(images)
                    loss = F.cross_entropy(logits, labels, label_smoothing=config.label_smoothing)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    if schedule is not None:
                        schedule.step()
                    n = labels.shape[0]
                    seen += n
                    loss_sum += loss.item() * n
                    correct += int((logits.argmax(1) == labels).sum().item())
                    advance(loss_sum / seen, correct / seen)
            seconds = time.perf_counter() - started
            test = evaluate(model, test_set, num_classes=len(info.classes))
            history.append({
                "epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                "test_loss": test["loss"], "test_accuracy": test["accuracy"],
                "seconds": seconds, "images_per_second": seen / seconds})
            improved = test["accuracy"] > best_accuracy
            best_accuracy = max(best_accuracy, test["accuracy"])
            checkpoint = _checkpoint(config, model, optimizer, schedule, epoch, history,
                                     best_accuracy)
            if improved:
                save(checkpoint, best_path)
            save(checkpoint, last_path)
            saved_epoch = epoch
            reporter.epoch_done(history[-1])
    except KeyboardInterrupt:
        reporter.interrupted(last_path, saved_epoch)
        raise

    final = evaluate(model, test_set, num_classes=len(info.classes))
    metrics = {"config": dataclasses.asdict(config), "history": history,
               "test_accuracy": final["accuracy"], "test_loss": final["loss"],
               "best_test_accuracy": best_accuracy,
               "confusion_matrix": final["confusion"].tolist(), "classes": list(info.classes)}
    write_text_atomic(os.path.join(config.out, "metrics.json"), json.dumps(metrics, indent=2))
    reporter.finish(final, info.classes)
    reporter.figures(write_figures(model, history, test_set, config.out))
    return metrics
