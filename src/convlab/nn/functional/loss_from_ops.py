"""The losses built from differentiable Tensor ops, so that autograd gives their gradients:
embedding and margin losses (cosine, ranking, triplet, hinge, multi-margin, soft-margin,
multi-label) and the Poisson and Gaussian negative log-likelihoods. ``reduction`` is
``'mean'`` (the default), ``'sum'`` or ``'none'``, as in :mod:`.loss`.

>>> import convlab
>>> import convlab.nn.functional as F
>>> F.margin_ranking_loss(convlab.tensor([2., 0.]), convlab.tensor([1., 1.]),
...                       convlab.tensor([1., 1.]), margin=0.5)  # mean of [0, 1.5]
tensor(0.7500)
"""

from __future__ import annotations

import math

from ..._creation import arange
from ...autograd import no_grad
from ...tensor import Tensor, where
from .distance import pairwise_distance
from .loss import _check_same_size, _check_tensors, _reduce, _reduction

__all__ = ["cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
           "hinge_embedding_loss", "multilabel_soft_margin_loss", "multi_margin_loss",
           "soft_margin_loss", "poisson_nll_loss", "gaussian_nll_loss"]


def _log_sigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|)), without overflow for large |x|."""
    return x.clamp(max=0) - (-x.abs()).exp().log1p()


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where ``target`` is 1 (pull together), ``max(0, cos - margin)``
    where it is -1 (push apart).

    Shape: inputs ``(N, D)`` or ``(D,)``, target ``(N,)`` or ``()`` of 1 and -1. The cosine is
    ``x1.x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12))``, as PyTorch computes it.
    """
    _check_tensors("cosine_embedding_loss", input1=input1, input2=input2, target=target)
    reduction = _reduction(size_average, reduce, reduction)
    if input1.dim() not in (1, 2) or input1.shape != input2.shape:
        raise RuntimeError(f"cosine_embedding_loss: expected 1D or 2D inputs of one shape, got "
                           f"{list(input1.shape)} and {list(input2.shape)}")
    if target.dim() != input1.dim() - 1:
        raise RuntimeError(f"cosine_embedding_loss: expected target of {input1.dim() - 1}D for "
                           f"{input1.dim()}D inputs, got {list(target.shape)}")
    dim = input1.dim() - 1
    dot = (input1 * input2).sum(dim)
    squares = ((input1 * input1).sum(dim) + 1e-12) * ((input2 * input2).sum(dim) + 1e-12)
    cos = dot / squares.sqrt()
    zero = cos * 0
    losses = (where(target == 1, 1 - cos, zero)
              + where(target == -1, (cos - margin).clamp_min(0), zero))
    return _reduce(losses, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``max(0, -y (x1 - x2) + margin)``: ``y = 1`` wants ``x1`` ranked above ``x2`` by at
    least ``margin``, ``y = -1`` below. All three of one number of dims (they broadcast)."""
    _check_tensors("margin_ranking_loss", input1=input1, input2=input2, target=target)
    reduction = _reduction(size_average, reduce, reduction)
    if not input1.dim() == input2.dim() == target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.shape}, input2: {input2.shape}, "
                           f"target: {target.shape} ")
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """``max(0, d(a, p) - d(a, n) + margin)`` with ``d`` the :func:`pairwise_distance`: the
    anchor nearer its positive than its negative by ``margin``. ``swap=True`` uses
    ``min(d(a, n), d(p, n))`` for the negative's distance. Shape ``(N, D)`` or ``(D,)``."""
    _check_tensors("triplet_margin_loss", anchor=anchor, positive=positive, negative=negative)
    reduction = _reduction(size_average, reduce, reduction)
    if not anchor.dim() == positive.dim() == negative.dim():
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {anchor.dim()}D, "
                           f"positive {positive.dim()}D, and negative {negative.dim()}D inputs")
    to_positive = pairwise_distance(anchor, positive, p, eps)
    to_negative = pairwise_distance(anchor, negative, p, eps)
    if swap:
        to_negative = to_negative.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + to_positive - to_negative).clamp_min(0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """``x`` where ``target`` is 1, ``max(0, margin - x)`` where it is -1 (``x`` usually a
    distance: small for similar pairs, at least ``margin`` for dissimilar ones)."""
    _check_tensors("hinge_embedding_loss", input=input, target=target)
    reduction = _reduction(size_average, reduce, reduction)
    zero = input * 0
    losses = (where(target != 1, (margin - input).clamp_min(0), zero)
              + where(target != -1, input, zero))
    return _reduce(losses, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """``log(1 + exp(-y x))`` per element, ``y`` in {1, -1}: logistic loss on a margin."""
    _check_tensors("soft_margin_loss", input=input, target=target)
    reduction = _reduction(size_average, reduce, reduction)
    _check_same_size("soft_margin_loss", input, target)
    return _reduce((-(input * target)).exp().log1p(), reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of ``sigmoid(x)`` for each of C labels, averaged over the labels:
    ``-mean_c(y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c))`` (times ``weight[c]``).
    Shape: input and target ``(N, C)`` or ``(C,)``; one loss per sample."""
    _check_tensors("multilabel_soft_margin_loss", input=input, target=target, weight=weight)
    reduction = _reduction(size_average, reduce, reduction)
    losses = -(target * _log_sigmoid(input) + (1 - target) * _log_sigmoid(-input))
    if weight is not None:
        losses = losses * weight
    class_dim = input.dim() - 1
    losses = losses.sum(class_dim) / input.shape[class_dim]
    return _reduce(losses, reduction)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """The multi-class hinge loss: ``sum_{i != y} max(0, margin - x[y] + x[i])^p / C`` per
    sample (times ``weight[y]``), ``p`` 1 or 2. Shape: input ``(N, C)`` or ``(C,)``, target
    ``(N,)`` or ``()`` of class indices."""
    _check_tensors("multi_margin_loss", input=input, target=target, weight=weight)
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError(f"only p == 1 and p == 2 supported, got p={p}")
    if input.dim() not in (1, 2) or target.dim() != input.dim() - 1:
        raise RuntimeError(f"multi_margin_loss: expected input (N, C) with target (N,), or (C,) "
                           f"with a 0-d target, got {list(input.shape)} and "
                           f"{list(target.shape)}")
    scores = input if input.dim() == 2 else input.unsqueeze(0)  # (N, C)
    labels = target.reshape(-1, 1)  # (N, 1)
    C = scores.shape[1]
    if labels.numel() and (labels.min().item() < 0 or labels.max().item() >= C):
        raise IndexError(f"multi_margin_loss: target out of range: classes are 0 to {C - 1}, got "
                         f"{labels.min().item()} to {labels.max().item()}")
    hinge = (margin - scores.gather(1, labels) + scores).clamp_min(0)  # (N, C)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight[labels.reshape(-1)].reshape(-1, 1)
    others = arange(C).reshape(1, C) != labels  # (N, C): True where i != y
    losses = where(others, hinge, hinge * 0).sum(1) / C
    return _reduce(losses if input.dim() == 2 else losses[0], reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of counts ``target`` under Poisson(rate): ``exp(x) - y x`` with
    ``log_input`` (``x`` is the log-rate), else ``x - y log(x + eps)``. ``full`` adds
    Stirling's ``y log y - y + log(2 pi y) / 2`` where ``y > 1``."""
    _check_tensors("poisson_nll_loss", input=input, target=target)
    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        losses = input.exp() - target * input
    else:
        losses = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        losses = losses + stirling.masked_fill(target <= 1, 0)
    return _reduce(losses, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under N(input, var):
    ``(log(max(var, eps)) + (input - target)^2 / max(var, eps)) / 2`` (+ ``log(2 pi) / 2`` with
    ``full``). ``var`` has the input's shape, or that shape without its last dim, or with a
    last dim of 1 (one variance per sample), or is a float. The clamp at ``eps`` is for
    stability only: the gradient passes through it to ``var``, as in PyTorch."""
    _check_tensors("gaussian_nll_loss", input=input, target=target)
    reduction = _reduction(None, None, reduction)
    if not isinstance(var, Tensor):
        var = input.detach() * 0 + float(var)
    if var.shape != input.shape:
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError(f"var is of incorrect size: input {list(input.shape)}, var "
                             f"{list(var.shape)}")
    if (var < 0).any().item():
        raise ValueError("var has negative entry/entries")
    with no_grad():
        lift = var.clamp(min=eps) - var  # zero wherever var >= eps
    var = var + lift
    losses = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        losses = losses + 0.5 * math.log(2 * math.pi)
    return _reduce(losses, reduction)
