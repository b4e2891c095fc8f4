"""Apple's Metal GPUs: never available, never built in."""

__all__ = ["is_available", "is_built"]


def is_available() -> bool:
    """False: convlab computes with NumPy on the CPU."""
    return False


def is_built() -> bool:
    """False: convlab has no Metal backend."""
    return False
