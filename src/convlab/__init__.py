"""convlab: convolution from scratch in NumPy, with PyTorch's API.

Write PyTorch code with ``torch`` spelled ``convlab`` and get the same numbers::

    import convlab
    import convlab.nn as nn
    import convlab.nn.functional as F
"""

from ._creation import (BoolTensor, ByteTensor, DoubleTensor, FloatTensor, IntTensor,
                        LongTensor, arange, as_tensor, empty, empty_like, eye, from_numpy, full,
                        full_like, is_tensor, linspace, numel, ones, ones_like, rand, rand_like,
                        randint, randint_like, randn, randn_like, randperm, tensor, zeros,
                        zeros_like)
from ._dtype import (bool_ as bool, dtype, finfo, float16, float32, float64, get_default_dtype,
                     iinfo, int8, int16, int32, int64, set_default_dtype, uint8)
from ._functions import *  # noqa: F401,F403  (convlab.exp(x), convlab.sum(x), ...)
from ._printing import set_printoptions
from ._random import (Generator, default_generator, get_rng_state, initial_seed, manual_seed,
                      seed, set_rng_state)
from ._threads import get_num_threads, set_num_threads
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Size, Tensor, cat, concat, device, matmul, maximum, minimum, stack, where
from . import inplace  # noqa: F401  (gives Tensor its in-place methods)

float = float32
double = float64
half = float16
long = int64
int = int32

__version__ = "0.1.0"

from . import backends, cuda, nn, optim, signal  # noqa: E402  (they build on the names above)
from .serialization import load, load_safetensors, save, save_safetensors  # noqa: E402
from . import accelerator  # noqa: E402  (PyTorch's device-neutral "no accelerator" answers)


# Submodules loaded on first use, as SciPy does: ``convlab.explain.summary(...)`` works after a
# plain ``import convlab``, and ``import convlab`` does not pay for the data sets, the drawing
# (matplotlib, Pillow, rich) or the models until a program asks for them.
_LAZY_SUBMODULES = ("data", "explain", "models", "pictures", "training", "utils", "vision")


def __getattr__(name: str):
    """Import a submodule of ``_LAZY_SUBMODULES`` the first time it is asked for; the import
    then stores it as an attribute, so this runs once per submodule."""
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))
