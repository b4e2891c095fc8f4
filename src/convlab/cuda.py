"""``convlab.cuda``: convlab computes with NumPy on the CPU, so it never finds a GPU.

These are the questions PyTorch scripts ask before choosing a device, answered so that the
scripts run unchanged::

    device = convlab.device("cuda" if convlab.cuda.is_available() else "cpu")  # "cpu"
    convlab.cuda.manual_seed_all(0)                                             # nothing to seed
"""

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all", "is_initialized",
           "empty_cache", "memory_allocated", "current_device", "synchronize",
           "get_device_name", "set_device"]


def is_available() -> bool:
    """False: there is no GPU to compute on."""
    return False


def device_count() -> int:
    """0 GPUs."""
    return 0


def manual_seed(seed: int) -> None:
    """Seed the GPU's generator: there is none, so this does nothing (as PyTorch does on a
    machine without a GPU). ``convlab.manual_seed`` seeds the generator convlab uses."""


def manual_seed_all(seed: int) -> None:
    """Seed every GPU's generator: there are none, so this does nothing."""


def is_initialized() -> bool:
    """False: no CUDA context is ever made."""
    return False


def empty_cache() -> None:
    """Free cached GPU memory: there is none, so this does nothing (as PyTorch without CUDA)."""


def memory_allocated(device=None) -> int:
    """0 bytes of GPU memory in use."""
    return 0


def _not_compiled(*args, **kwargs):
    """The calls that need a GPU fail as in PyTorch built without CUDA."""
    raise AssertionError("Torch not compiled with CUDA enabled")


current_device = synchronize = get_device_name = set_device = _not_compiled
