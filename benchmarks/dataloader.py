"""``python -m benchmarks dataloader``: a CIFAR-style input pipeline, images per second with 0 and
with more worker processes, convlab's DataLoader beside PyTorch's.

The data: ``--images`` random 32x32x3 uint8 images in memory (CIFAR-10's shape) with labels.
Each item goes through ``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip()``,
``ToTensor()`` and ``Normalize`` (convlab.data.transforms), and the loader makes shuffled batches
of ``--batch-size``. A timed pass is one whole epoch, worker start-up included, as a training
loop sees it; the loop itself does nothing with the batches. Passes alternate between the
settings (all of convlab's and PyTorch's in turn), ``--repeats`` times; the table gives the
median.

PyTorch's DataLoader loads the same dataset with the same per-item work (the same convlab
transforms, the item handed out as a NumPy array, which PyTorch's collate stacks), so the two
columns compare the loaders: how they run workers and move batches between processes.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

__all__ = ["Pipeline", "measure", "dataloader_table"]

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


def measure(images: int, batch_size: int, workers: list[int], repeats: int) -> dict[str, float]:
    """Median images per second of each setting, over ``repeats`` interleaved epochs."""
    loaders = _loaders(images, batch_size, workers)
    rates: dict[str, list[float]] = {name: [] for name in loaders}
    for repeat in range(repeats):
        order = list(loaders) if repeat % 2 == 0 else list(reversed(loaders))
        for name in order:
            started = time.perf_counter()
            seen = _epoch(loaders[name]())
            rates[name].append(seen / (time.perf_counter() - started))
            print(f"  {name:22s} {rates[name][-1]:8.0f} images/s", flush=True)
    return {name: statistics.median(values) for name, values in rates.items()}


def dataloader_table(rates: dict[str, float], workers: list[int]) -> str:
    """Images per second by library and number of workers, and each speed-up over 0 workers."""
    lines = ["| workers | convlab images/s | speed-up | PyTorch images/s | speed-up | "
             "convlab / PyTorch time |", "|--:|--:|--:|--:|--:|--:|"]
    for n in workers:
        ours, theirs = rates[f"convlab, {n} workers"], rates[f"PyTorch, {n} workers"]
        base_ours, base_theirs = rates[f"convlab, {workers[0]} workers"], rates[
            f"PyTorch, {workers[0]} workers"]
        lines.append(f"| {n} | {ours:.0f} | {ours / base_ours:.2f}x | {theirs:.0f} | "
                     f"{theirs / base_theirs:.2f}x | {theirs / ours:.2f} |")
    return "\n".join(lines)
