"""``convlab.utils.data`` is :mod:`convlab.data` under the path PyTorch code imports from::

    from convlab.utils.data import DataLoader, TensorDataset   # torch.utils.data
    from convlab.data import DataLoader, TensorDataset         # the same classes

Nothing is copied: both names give the same objects.
"""

from ..data import *  # noqa: F401,F403
from ..data import __all__  # noqa: F401
