"""``convlab.utils``: the place PyTorch code imports its data tools from
(``from torch.utils.data import DataLoader``), with ``torch`` spelled ``convlab``."""

from . import data

__all__ = ["data"]
