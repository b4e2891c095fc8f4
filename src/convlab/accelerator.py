"""``convlab.accelerator``: PyTorch's device-neutral questions about GPUs and other accelerators,
answered as PyTorch answers them on a machine without one (convlab computes on the CPU)::

    device = convlab.accelerator.current_accelerator() or convlab.device("cpu")   # cpu
    if convlab.accelerator.is_available(): ...                                      # never

The calls that need a device raise PyTorch's RuntimeError.
"""

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "set_device_index", "synchronize", "empty_cache", "memory_allocated"]

_NONE = "Cannot access accelerator device when none is available."


def is_available(check_available: bool = False) -> bool:
    """False: there is no accelerator."""
    return False


def current_accelerator(check_available: bool = False):
    """None: there is no accelerator (a script falls back to the CPU)."""
    return None


def device_count() -> int:
    """0 accelerators."""
    return 0


def current_device_index() -> int:
    """Refused: there is no device to have an index."""
    raise RuntimeError(_NONE)


def set_device_index(device) -> None:
    """Refused: there is no device to select."""
    raise RuntimeError(_NONE)


def synchronize(device=None) -> None:
    """Refused: there is no device to wait for."""
    raise RuntimeError(_NONE)


def empty_cache() -> None:
    """Refused: there is no device memory to free."""
    raise RuntimeError(_NONE)


def memory_allocated(device_index=None) -> int:
    """Refused: there is no device memory."""
    raise RuntimeError(_NONE)
