"""Training a CNN end to end: data sets, the loop, checkpoints, figures and the commands
``convlab train``, ``convlab evaluate`` and ``convlab predict``."""

from .datasets import DATASETS, load_datasets
from .loop import TrainConfig, evaluate, train

__all__ = ["DATASETS", "load_datasets", "TrainConfig", "train", "evaluate"]
