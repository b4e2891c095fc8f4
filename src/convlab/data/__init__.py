"""Datasets, samplers, loaders and transforms: ``torch.utils.data`` and the torchvision datasets
and transforms a CNN course needs, with ``torch`` spelled ``convlab``.

    from convlab.data import DataLoader, Digits
    from convlab.data import transforms

    loader = DataLoader(Digits(train=True), batch_size=64, shuffle=True)
"""

from . import transforms
from .cifar import CIFAR10
from .dataloader import DataLoader, default_collate, default_convert
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset,
                      TensorDataset, random_split)
from .digits import Digits
from .mnist import MNIST, FashionMNIST
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler, WeightedRandomSampler)
from .vision_dataset import VisionDataset
from .workers import WorkerInfo, get_worker_info

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "ChainDataset", "random_split", "get_worker_info", "WorkerInfo",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler",
           "DataLoader", "default_collate", "default_convert",
           "VisionDataset", "Digits", "MNIST", "FashionMNIST", "CIFAR10", "transforms"]
