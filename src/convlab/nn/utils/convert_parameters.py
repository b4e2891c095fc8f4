"""A model's parameters as one flat vector and back: what optimizers written for vectors (line
searches, evolution strategies) and weight-space plots work with."""

from __future__ import annotations

from collections.abc import Iterable

from ...tensor import Tensor, cat

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined, in ``parameters()`` order: shape ``(total numel,)``.

    The result is part of the graph, so a loss on it sends gradients back to the parameters.
    """
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Put consecutive slices of ``vec`` (from :func:`parameters_to_vector`) back into the
    parameters, each reshaped to its parameter's shape. The parameters take the values (their
    ``.data``), not a place in ``vec``'s graph."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected convlab.Tensor, but got: {type(vec).__name__}")
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if vec.numel() != total:
        raise ValueError(f"vector_to_parameters: vec has {vec.numel()} elements, but the "
                         f"parameters hold {total}")
    start = 0
    for p in parameters:
        n = p.numel()
        p.data = vec[start:start + n].view_as(p).data
        start += n
