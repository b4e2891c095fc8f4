"""``convlab.nn``: the Module system, the layers, ``init`` and ``functional``, as ``torch.nn``.

>>> import convlab.nn as nn
>>> nn.Conv2d(1, 6, 3)
Conv2d(1, 6, kernel_size=(3, 3), stride=(1, 1))
"""

from . import functional, init, parallel, utils
from .modules import *  # noqa: F401,F403  (every layer class)
from .parallel import DataParallel
from .parameter import Parameter, UninitializedParameter
