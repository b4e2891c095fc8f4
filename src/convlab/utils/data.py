"""``convlab.utils.data`` is :mod:`convlab.data` under the path PyTorch code imports from::

    from convlab.utils.data import DataLoader, TensorDataset   # torch.utils.data
    from convlab.data import DataLoader, TensorDataset         # the same classes

Nothing is copied: both names give the same objects. This namespace also hands on what worker
processes and streams need (``get_worker_info``, ``WorkerInfo``, ``IterableDataset``,
``ChainDataset``), from the modules that define them.
"""

from ..data import *  # noqa: F401,F403
from ..data import __all__ as _data_all
from ..data.dataset import ChainDataset, IterableDataset
from ..data.workers import WorkerInfo, get_worker_info

__all__ = [*_data_all, *(name for name in ("IterableDataset", "ChainDataset", "get_worker_info",
                                           "WorkerInfo") if name not in _data_all)]
