"""The training loop of ``convlab train``: epochs of minibatch steps, validation, checkpoints.

A run directory holds ``last.npz`` (after every epoch: model, optimizer, generator, history),
``best.npz`` (the epoch with the best validation accuracy so far), and at the end
``metrics.json`` and the figures. The validation images are held out of the training images, so
the best epoch is chosen without looking at the test images; those are evaluated once, at the
end, with the model of ``best.npz``.

``resume=True`` restarts from ``last.npz`` and ends exactly where an uninterrupted run would:
the model, the optimizer's moments and the random generator (which shuffles the batches) are all
restored. A resumed run may be given more epochs; nothing else about it can change.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from .. import _random, nn, no_grad, optim, zeros
from .._atomic import write_text_atomic
from ..data import DataLoader
from ..engine import jit
from ..models import build_model, default_model_for
from ..nn import functional as F
from ..serialization import load, save
from .datasets import DATASETS, load_datasets
from .figures import FIGURES, write_figures
from .report import Reporter

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "constant")
RUN_FILES = ("last.npz", "best.npz", "metrics.json") + FIGURES
# what a resumed run may change; every other field defines the run and must stay as it was
CHANGEABLE_ON_RESUME = ("epochs", "root", "out")


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
    validation: float = 0.1  # the fraction of the training images held out to choose best.npz
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
        if not 0 < self.validation < 1:
            raise ValueError(f"--validation must be a fraction between 0 and 1, got "
                             f"{self.validation}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{flag(name)} must be at least 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"--lr must be positive, got {self.lr}")
        return dataclasses.replace(
            self,
            model=self.model or default_model_for(self.data),
            out=self.out or os.path.join("runs", self.data),
        )


def flag(field: str) -> str:
    """The command-line flag of a config field, without its dashes: ``batch_size`` ->
    ``batch-size``."""
    return field.replace("_", "-")


def make_optimizer(name: str, params, lr: float):
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adam":
        return optim.Adam(params, lr=lr)
    return optim.AdamW(params, lr=lr)


def evaluate(model: nn.Module, dataset, batch_size: int = 256, num_classes: int = 10,
             label_smoothing: float = 0.0) -> dict:
    """Mean loss (cross-entropy, with ``label_smoothing``), accuracy and confusion matrix (rows:
    true class, columns: predicted)."""
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size)
    total_loss, confusion = 0.0, np.zeros((num_classes, num_classes), dtype=np.int64)
    with no_grad():
        for images, labels in loader:
            logits = model(images)
            total_loss += F.cross_entropy(logits, labels, reduction="sum",
                                          label_smoothing=label_smoothing).item()
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


def stretch_schedule(schedule, total_steps: int) -> None:
    """Make a cosine schedule end at ``total_steps`` instead (a resumed run given more epochs):
    the lr moves to where the longer half cosine, ``lr_t = lr_0 (1 + cos(pi t / T)) / 2``, is at
    the current step ``t``, and decays from there to 0 at ``T = total_steps``."""
    schedule.T_max = total_steps
    t = schedule.last_epoch
    for group, base in zip(schedule.optimizer.param_groups, schedule.base_lrs):
        group["lr"] = base * (1 + math.cos(math.pi * t / total_steps)) / 2
    schedule._last_lr = [group["lr"] for group in schedule.optimizer.param_groups]


def _checkpoint(config, model, optimizer, schedule, epoch, history, best) -> dict:
    return {
        "format": "convlab-train-checkpoint",
        "config": dataclasses.asdict(config),
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict() if schedule is not None else None,
        "generator": json.dumps(_random.get_rng_state()),
        "history": history,
        "best_validation_accuracy": best,
    }


def load_checkpoint(path: str) -> dict:
    """A training checkpoint, checked to be one. A run directory stands for its ``best.npz``."""
    if os.path.isdir(path):
        best = os.path.join(path, "best.npz")
        if not os.path.isfile(best):
            raise FileNotFoundError(f"{path} is a directory without a best.npz checkpoint; give "
                                    "a checkpoint file, such as a run directory's best.npz")
        path = best
    state = load(path)
    if not isinstance(state, dict) or state.get("format") != "convlab-train-checkpoint":
        raise ValueError(f"{path} is not a convlab training checkpoint (it has no "
                         "format='convlab-train-checkpoint' entry)")
    missing = [key for key in ("config", "model") if key not in state]
    config = state.get("config")
    if not missing and isinstance(config, dict):
        missing = [f"config.{key}" for key in ("data", "model") if key not in config]
    if missing or not isinstance(config, dict) or not isinstance(state["model"], dict):
        raise ValueError(f"{path} is a damaged convlab training checkpoint: "
                         + (f"it has no {', '.join(missing)} entry" if missing else
                            "its config and model entries must be dictionaries"))
    if config["data"] not in DATASETS:
        raise ValueError(f"{path}: the checkpoint's data set {config['data']!r} is not one of "
                         f"{', '.join(DATASETS)}")
    return state


def model_from_checkpoint(state: dict, path: str = "the checkpoint") -> nn.Module:
    """The model a checkpoint holds, in eval mode."""
    config = state["config"]
    info = DATASETS[config["data"]]
    model = build_model(config["model"], info.in_channels, len(info.classes))
    try:
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError, ValueError) as e:
        raise ValueError(f"{path}: its model weights do not fit a {config['model']}: "
                         f"{e}") from None
    model.eval()
    return model


def _check_fits(model: nn.Module, config: TrainConfig) -> None:
    """Refuse, before any training, a model that cannot take the data set's images."""
    info = DATASETS[config.data]
    try:
        with no_grad():
            model.eval()(zeros(1, info.in_channels, info.image_size, info.image_size))
    except (ValueError, RuntimeError) as e:
        raise ValueError(
            f"--model {config.model} does not fit --data {config.data}, whose images are "
            f"{info.in_channels}x{info.image_size}x{info.image_size} ({e}); the model made for "
            f"them is {default_model_for(config.data)}") from None


def _prepare_out(out: str, resume: bool, force: bool) -> list[str]:
    """Check the run directory before any training: writable, and not holding another run
    unless ``force`` (which deletes that run's files) or ``resume``. Returns the leftover
    temporary files a resumed run removed."""
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise OSError(f"cannot write to the run directory {out}: "
                      f"{e.strerror or e}") from None
    existing = [name for name in RUN_FILES if os.path.exists(os.path.join(out, name))]
    if existing and not resume:
        if not force:
            raise FileExistsError(
                f"{out} already holds a run ({', '.join(existing)}): continue it with --resume, "
                "choose another directory with --out DIR, or replace it with --force")
        for name in existing:
            os.remove(os.path.join(out, name))
    # a write interrupted by a hard kill leaves its temporary file (a whole checkpoint) behind
    leftovers = sorted(glob.glob(os.path.join(glob.escape(out), ".tmp-*")))
    for path in leftovers:
        os.remove(path)
    return leftovers


def _resumed_config(config: TrainConfig, saved: dict, changes: dict, path: str) -> TrainConfig:
    """The saved run's config with the allowed changes; any other change is refused, named."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    saved = {k: v for k, v in saved.items() if k in fields}
    refused = [f"--{flag(k)} {v} (the run has {saved.get(k)})" for k, v in changes.items()
               if k not in CHANGEABLE_ON_RESUME and v is not None and v != saved.get(k)]
    if refused:
        raise ValueError(f"--resume continues the run in {path} as it was started, so "
                         f"{'this flag' if len(refused) == 1 else 'these flags'} cannot change: "
                         f"{'; '.join(refused)}. Only --epochs (to train longer), --root and "
                         "--out may be given; start a new run with --out DIR to change the rest")
    resumed = dict(saved, out=config.out, root=config.root or saved.get("root"))
    if changes.get("epochs") is not None:
        resumed["epochs"] = changes["epochs"]
    return TrainConfig(**resumed).resolved()


def train(config: TrainConfig, resume: bool = False, reporter: Reporter | None = None,
          force: bool = False, changes: dict | None = None) -> dict:
    """Train, validate after every epoch, checkpoint; test the best epoch; return the metrics.

    With ``resume=True`` the run in ``config.out`` continues from its last checkpoint with the
    configuration it was started with: ``out`` and ``root`` are taken from ``config``, and
    ``changes`` (the flags given on the command line, by field name) may raise ``epochs``;
    any other change is refused. A run that already has all its epochs is reported. Without
    ``resume``, a directory that holds a run is refused unless ``force``.
    """
    config = config.resolved()
    reporter = reporter or Reporter()
    last_path = os.path.join(config.out, "last.npz")
    best_path = os.path.join(config.out, "best.npz")
    state = None
    if resume:
        if not os.path.exists(last_path):
            if os.path.exists(best_path):
                raise FileNotFoundError(
                    f"--resume continues from {last_path}, which is missing; {config.out} has "
                    "only best.npz. To continue from the best epoch instead, copy best.npz to "
                    "last.npz")
            raise FileNotFoundError(f"--resume: no checkpoint to resume from at {last_path}")
        state = load_checkpoint(last_path)
        config = _resumed_config(config, state["config"], changes or {}, config.out)
        if config.epochs < int(state["epoch"]):
            raise ValueError(f"--epochs {config.epochs}: the run in {config.out} already has "
                             f"{state['epoch']} epochs; give more to train it further")
    removed = _prepare_out(config.out, resume, force)
    if removed:
        reporter.removed_leftovers(removed)

    info = DATASETS[config.data]
    train_set, validation_set, test_set = load_datasets(config.data, config.root,
                                                        config.validation, config.seed)
    _random.manual_seed(config.seed)
    model = build_model(config.model, info.in_channels, len(info.classes))
    _check_fits(model, config)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr)
    loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True)
    schedule = make_schedule(config.schedule, optimizer, config.epochs * len(loader))
    history, saved_epoch, best = [], 0, -1.0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if schedule is not None:
            schedule.load_state_dict(state["schedule"])
            if schedule.T_max != config.epochs * len(loader):
                stretch_schedule(schedule, config.epochs * len(loader))
        _random.set_rng_state(json.loads(state["generator"]))
        history, saved_epoch = list(state["history"]), int(state["epoch"])
        best = float(state.get("best_validation_accuracy", -1.0))
        if saved_epoch == config.epochs and os.path.exists(os.path.join(config.out,
                                                                        "metrics.json")):
            reporter.finished_already(config.out, saved_epoch)
            with open(os.path.join(config.out, "metrics.json"), encoding="utf-8") as f:
                return json.load(f)
        reporter.resumed(last_path, saved_epoch, config.epochs)

    reporter.start(config, model, len(train_set), len(validation_set), len(test_set))
    try:
        for epoch in range(saved_epoch + 1, config.epochs + 1):
            model.train()
            seen, loss_sum, correct = 0, 0.0, 0
            started = time.perf_counter()
            # the first run after an install compiles the kernels in its first steps: the bar
            # says so, and the epoch's time (and images per second) leaves it out
            with (jit.compiles() as compiling,
                  reporter.epoch_progress(epoch, config.epochs, len(loader)) as bar):
                compiling.on_start = bar.compiling
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
                    bar.step(loss_sum / seen, correct / seen)
            seconds = time.perf_counter() - started - compiling.seconds
            # the same loss as training minimises (label smoothing included), so the two curves
            # can be compared
            checked = evaluate(model, validation_set, num_classes=len(info.classes),
                               label_smoothing=config.label_smoothing)
            history.append({
                "epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                "validation_loss": checked["loss"], "validation_accuracy": checked["accuracy"],
                "seconds": seconds, "images_per_second": seen / seconds})
            improved = checked["accuracy"] > best
            best = max(best, checked["accuracy"])
            checkpoint = _checkpoint(config, model, optimizer, schedule, epoch, history, best)
            if improved:
                save(checkpoint, best_path)
            save(checkpoint, last_path)
            saved_epoch = epoch
            reporter.epoch_done(history[-1])
            if compiling.seconds:
                reporter.compiled(compiling.seconds)
    except KeyboardInterrupt:
        reporter.interrupted(config.out, saved_epoch)
        raise
    return _finish(config, history, test_set, best_path, reporter)


def _finish(config: TrainConfig, history: list, test_set, best_path: str,
            reporter: Reporter) -> dict:
    """Test the best epoch's model once, write metrics.json and the figures."""
    info = DATASETS[config.data]
    best_state = load_checkpoint(best_path)
    model = model_from_checkpoint(best_state, best_path)
    final = evaluate(model, test_set, num_classes=len(info.classes))
    metrics = {"config": dataclasses.asdict(config), "history": history,
               "best_epoch": int(best_state["epoch"]),
               "best_validation_accuracy": float(best_state.get("best_validation_accuracy", -1)),
               "test_accuracy": final["accuracy"], "test_loss": final["loss"],
               "confusion_matrix": final["confusion"].tolist(), "classes": list(info.classes)}
    write_text_atomic(os.path.join(config.out, "metrics.json"), json.dumps(metrics, indent=2))
    reporter.finish(final, info.classes, f"best.npz (epoch {metrics['best_epoch']}, validation "
                                         f"{metrics['best_validation_accuracy']:.2%})")
    reporter.figures(write_figures(model, history, test_set, config.out, config.label_smoothing))
    return metrics
