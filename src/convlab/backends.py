"""``convlab.backends``: the switches PyTorch scripts set for GPU libraries, which convlab
(NumPy on the CPU) does not use. They hold what a script writes and change nothing, so lines
such as these run unchanged::

    import convlab.backends.cudnn as cudnn
    cudnn.benchmark = True                                       # choose fast conv algorithms
    convlab.backends.cudnn.deterministic = True                  # repeatable results
    device = "mps" if convlab.backends.mps.is_available() else "cpu"   # "cpu"

convlab is deterministic anyway, and ``engine/select.py`` chooses its convolution algorithm
itself.

Each namespace is a module object registered under its dotted name, so both
``convlab.backends.cudnn`` and ``import convlab.backends.cudnn`` give it.
"""

from __future__ import annotations

import sys
import types

__all__ = ["cudnn", "mps", "cuda"]


def _no() -> bool:
    """False: convlab computes with NumPy on the CPU."""
    return False


def _no_version() -> None:
    """None, as PyTorch answers where cuDNN is not available."""
    return None


def _namespace(name: str, doc: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(f"{__name__}.{name}", doc)
    module.__dict__.update(attributes)
    sys.modules[module.__name__] = module
    return module


cudnn = _namespace(
    "cudnn", "NVIDIA's cuDNN library: never available; its flags are kept, with PyTorch's "
    "defaults.",
    is_available=_no, version=_no_version, enabled=True, benchmark=False, deterministic=False,
    allow_tf32=True)

mps = _namespace("mps", "Apple's Metal GPUs: never available, never built in.",
                 is_available=_no, is_built=_no)

cuda = _namespace(
    "cuda", "CUDA switches: ``cuda.matmul.allow_tf32`` is kept, with PyTorch's default.",
    is_built=_no, matmul=types.SimpleNamespace(allow_tf32=False))
