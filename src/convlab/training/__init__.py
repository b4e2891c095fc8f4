"""Training a CNN end to end: data sets, the loop, checkpoints and figures (the commands
``convlab train``, ``evaluate`` and ``predict`` are wired in ``convlab.cli.training``)."""

from .datasets import DATASETS, load_datasets
from .loop import TrainConfig, evaluate, train

__all__ = ["DATASETS", "load_datasets", "TrainConfig", "train", "evaluate"]
