"""``convlab.nn.parallel``, as ``torch.nn.parallel`` on a machine without GPUs."""

from .data_parallel import DataParallel

__all__ = ["DataParallel"]
