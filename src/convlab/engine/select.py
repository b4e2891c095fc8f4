"""Which algorithm computes a convolution.

Every algorithm is a module with the same three functions on ndarrays and a
:class:`~convlab.engine.geometry.ConvGeometry`: ``conv_forward(x, w, G)``,
``conv_input_grad(gy, w, G)`` and ``conv_weight_grad(x, gy, G)``. :func:`choose` picks one per
call from the geometry and the shapes; ``with using("reference"):`` forces one (tests, tracing).
Add an algorithm by registering its module in ``ALGORITHMS`` and a rule in :func:`choose`.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from types import ModuleType

from . import im2col, reference
from .geometry import ConvGeometry

__all__ = ["ALGORITHMS", "choose", "using"]

ALGORITHMS: dict[str, ModuleType] = {"im2col": im2col, "reference": reference}

_forced = threading.local()


def choose(G: ConvGeometry, shape: tuple[int, ...]) -> ModuleType:
    """The algorithm for geometry ``G`` on an input (forward) or output gradient of ``shape``.

    >>> from convlab.engine.geometry import conv_geometry
    >>> choose(conv_geometry("conv2d", 2, (1, 3, 8, 8), (4, 3, 3, 3)), (1, 3, 8, 8)).__name__
    'convlab.engine.im2col'
    """
    name = getattr(_forced, "name", None)
    if name is not None:
        return ALGORITHMS[name]
    return im2col


@contextmanager
def using(name: str):
    """Run every convolution in this thread with algorithm ``name`` inside the block.

    >>> with using("reference"):
    ...     choose(None, ()).__name__
    'convlab.engine.reference'
    """
    if name not in ALGORITHMS:
        raise ValueError(f"unknown convolution algorithm {name!r}; known: {sorted(ALGORITHMS)}")
    previous = getattr(_forced, "name", None)
    _forced.name = name
    try:
        yield
    finally:
        _forced.name = previous
