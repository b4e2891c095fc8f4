"""NVIDIA's cuDNN library: never available here; its flags are kept, with PyTorch's defaults,
and change nothing."""

__all__ = ["is_available", "is_acceptable", "version", "enabled", "benchmark", "deterministic",
           "allow_tf32"]

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: convlab computes with NumPy on the CPU."""
    return False


def is_acceptable(tensor) -> bool:
    """False: no tensor can go to cuDNN."""
    return False


def version() -> None:
    """None, as PyTorch answers where cuDNN is not available."""
    return None
