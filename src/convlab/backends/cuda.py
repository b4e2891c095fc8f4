"""CUDA switches: ``matmul.allow_tf32`` is kept, with PyTorch's default, and changes nothing."""

import types

__all__ = ["is_built", "matmul"]

matmul = types.SimpleNamespace(allow_tf32=False)


def is_built() -> bool:
    """False: convlab is not built with CUDA."""
    return False
