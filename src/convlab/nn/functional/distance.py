"""Norms, distances and similarities of batches of vectors, as ``torch.nn.functional``:
``normalize`` (to unit p-norm), ``pairwise_distance`` (a p-norm of the difference) and
``cosine_similarity``.

>>> import convlab
>>> import convlab.nn.functional as F
>>> F.cosine_similarity(convlab.tensor([[1., 0.]]), convlab.tensor([[1., 1.]]))
tensor([0.7071])
"""

from __future__ import annotations

from ...autograd import no_grad
from ...tensor import Tensor
from .loss import _check_tensors

__all__ = ["normalize", "pairwise_distance", "cosine_similarity"]


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``: each vector scaled to unit norm (a
    vector shorter than ``eps`` is divided by ``eps``, so zeros stay zeros). Same shape out."""
    _check_tensors("normalize", input=input)
    return input / input.norm(p, dim=dim, keepdim=True).clamp_min(eps).expand_as(input)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` along the last dim: shapes ``(N, D)`` or ``(D,)`` (broadcast);
    ``eps`` keeps the norm's gradient finite where the two points coincide."""
    _check_tensors("pairwise_distance", x1=x1, x2=x2)
    return (x1 - x2 + eps).norm(p, dim=-1, keepdim=keepdim)


def _norm_at_least(x: Tensor, dim: int, eps: float) -> Tensor:
    """``||x||`` along ``dim`` (kept), raised to ``eps`` where smaller. The raise is for the
    division only: the gradient flows as through the plain norm, as in PyTorch."""
    norm = x.norm(2, dim=dim, keepdim=True)
    with no_grad():
        lift = norm.clamp(min=eps) - norm  # zero wherever the norm is at least eps
    return norm + lift


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``x1 . x2 / (max(||x1||, eps) max(||x2||, eps))`` along ``dim``: the cosine of the angle
    between the vectors. The inputs broadcast; the output drops ``dim``."""
    _check_tensors("cosine_similarity", x1=x1, x2=x2)
    return ((x1 / _norm_at_least(x1, dim, eps)) * (x2 / _norm_at_least(x2, dim, eps))).sum(dim)
