"""``python -m benchmarks dataloader``: a CIFAR-style input pipeline, images per second with 0 and
with more worker processes, convlab's DataLoader beside PyTorch's.

The data: ``--images`` random 32x32x3 uint8 images in memory (CIFAR-10's shape) with labels.
Each item goes through ``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip()``,
``ToTensor()`` and ``Normalize`` (convlab.data.transforms), and the loader makes shuffled batches
of ``--batch-size``. A timed pass is one whole epoch, worker start-up included, as a training
loop sees it; the loop itself does nothing with the batches. Passes alternate between the
settings (all of convlab's and PyTorch's in turn), ``--repeats`` times; the table gives the
median and the best pass (the one least disturbed by other work on the machine).

PyTorch's DataLoader loads the same dataset with the same per-item work (the same convlab
transforms, the item handed out as a NumPy array, which PyTorch's collate stacks), so the two
columns compare the loaders: how they run workers and move batches between processes.

Besides the clock, each pass records CPU time per image: of the main process (what the training
loop has to spare for loading) and of all processes (main and workers, which are joined at the
end of the epoch, so ``os.times`` counts them). On a machine shared with other work the clock
only improves with workers when cores are free for them; the CPU columns say what the workers
cost and what they take off the main process, whatever the load.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Pipeline", "Rate", "measure", "dataloader_table"]

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


class Pipeline:
    """The in-memory CIFAR-style dataset: ``pipeline[i]`` is ``(augmented image, label)``, the
    image a convlab Tensor (3, 32, 32), or its NumPy array with ``as_numpy`` (for PyTorch)."""

    def __init__(self, images: int, as_numpy: bool = False, seed: int = 0):
        from convlab.data import transforms as T

        rng = np.random.default_rng(seed)
        self.images = rng.integers(0, 256, size=(images, 32, 32, 3), dtype=np.uint8)  # (N, H, W, C)
        self.labels = rng.integers(0, 10, size=images).tolist()
        self.transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(),
                                    T.ToTensor(), T.Normalize(MEAN, STD)])
        self.as_numpy = as_numpy

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        image = self.transform(self.images[index])
        return (image.numpy() if self.as_numpy else image), self.labels[index]


def _epoch(loader) -> int:
    """One pass over ``loader``; the number of images it handed out."""
    seen = 0
    for images, _ in loader:
        seen += images.shape[0]
    return seen


def _loaders(images: int, batch_size: int, workers: list[int]) -> dict[str, Callable]:
    """A function per setting that makes a fresh loader (one per pass: new workers each time)."""
    import torch.utils.data

    import convlab.data

    ours, theirs = Pipeline(images), Pipeline(images, as_numpy=True)
    loaders = {}
    for n in workers:
        loaders[f"convlab, {n} workers"] = lambda n=n: convlab.data.DataLoader(
            ours, batch_size=batch_size, shuffle=True, num_workers=n)
    for n in workers:
        loaders[f"PyTorch, {n} workers"] = lambda n=n: torch.utils.data.DataLoader(
            theirs, batch_size=batch_size, shuffle=True, num_workers=n)
    return loaders


@dataclass
class Rate:
    """One setting's medians: images per second of wall-clock time (and its best), and
    microseconds of CPU time per image in the main process and in all processes."""
    images_per_s: float
    best_images_per_s: float
    main_cpu_us: float
    all_cpu_us: float


def _timed_epoch(make_loader: Callable) -> tuple[float, float, float]:
    before, started = os.times(), time.perf_counter()
    seen = _epoch(make_loader())
    wall, after = time.perf_counter() - started, os.times()
    main = after.user + after.system - before.user - before.system
    children = (after.children_user + after.children_system - before.children_user
                - before.children_system)
    return seen / wall, main / seen * 1e6, (main + children) / seen * 1e6


def measure(images: int, batch_size: int, workers: list[int], repeats: int) -> dict[str, Rate]:
    """Each setting's medians over ``repeats`` interleaved epochs."""
    loaders = _loaders(images, batch_size, workers)
    runs: dict[str, list[tuple]] = {name: [] for name in loaders}
    for repeat in range(repeats):
        order = list(loaders) if repeat % 2 == 0 else list(reversed(loaders))
        for name in order:
            runs[name].append(_timed_epoch(loaders[name]))
            rate, main, total = runs[name][-1]
            print(f"  {name:22s} {rate:8.0f} images/s   CPU per image: main {main:5.0f} us, "
                  f"all {total:5.0f} us   load {os.getloadavg()[0]:.1f}", flush=True)
    medians = {name: [statistics.median(column) for column in zip(*values)]
               for name, values in runs.items()}
    return {name: Rate(rate, max(v[0] for v in runs[name]), main, total)
            for name, (rate, main, total) in medians.items()}


def dataloader_table(rates: dict[str, Rate], workers: list[int]) -> str:
    """Per library and number of workers: images per second, the speed-up over the first
    setting, and the CPU time per image."""
    lines = ["| library | workers | images/s, median | speed-up | images/s, best | speed-up | "
             "main-process CPU per image | all processes' CPU per image |",
             "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for library in ("convlab", "PyTorch"):
        base = rates[f"{library}, {workers[0]} workers"]
        for n in workers:
            r = rates[f"{library}, {n} workers"]
            lines.append(f"| {library} | {n} | {r.images_per_s:.0f} | "
                         f"{r.images_per_s / base.images_per_s:.2f}x | {r.best_images_per_s:.0f} | "
                         f"{r.best_images_per_s / base.best_images_per_s:.2f}x | "
                         f"{r.main_cpu_us:.0f} us | {r.all_cpu_us:.0f} us |")
    lines += ["", "Speed-up: images/s over the same library with no workers. CPU per image: in the "
              "main process (what the training loop loses to loading) and in all processes "
              "together (what the workers cost). Linux gives each session an equal share of "
              "busy cores (autogroup), so while other sessions keep both cores busy the workers "
              "get no more CPU than the main process alone had: the clock gains only in the "
              "passes when cores were free, which the best column shows."]
    return "\n".join(lines)
