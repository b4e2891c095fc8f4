"""``convlab.utils.data`` is :mod:`convlab.data` under the path PyTorch code imports from::

    from convlab.utils.data import DataLoader, TensorDataset   # torch.utils.data
    from convlab.data import DataLoader, TensorDataset         # the same classes

Nothing is copied: both names give the same objects. This namespace also hands on what worker
processes and streams need (``get_worker_info``, ``WorkerInfo``, ``IterableDataset``,
``ChainDataset``), and answers to the submodule paths scripts import from, as
``torch.utils.data`` does::

    from convlab.utils.data.sampler import SubsetRandomSampler
    from convlab.utils.data.dataloader import default_collate
"""

import sys

from ..data import *  # noqa: F401,F403
from ..data import __all__ as _data_all
from ..data import dataloader, dataset, sampler
from ..data.dataset import ChainDataset, IterableDataset
from ..data.workers import WorkerInfo, get_worker_info

__all__ = [*_data_all, *(name for name in ("IterableDataset", "ChainDataset", "get_worker_info",
                                           "WorkerInfo") if name not in _data_all)]

# This is a module, not a package: its submodule paths are convlab.data's modules, registered
# under the names an import statement looks up first.
for _module in (dataloader, dataset, sampler):
    sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[1]}"] = _module
