"""Loss functions, as ``torch.nn.functional``; ``reduction`` is ``'mean'`` (the default),
``'sum'`` or ``'none'`` (one loss per element or sample).

>>> import convlab
>>> import convlab.nn.functional as F
>>> logits = convlab.tensor([[2., 0., 0.], [0., 0., 0.]])
>>> F.cross_entropy(logits, convlab.tensor([0, 2]), reduction="none")  # -log softmax at target
tensor([0.2395, 1.0986])
>>> F.mse_loss(convlab.tensor([1., 2.]), convlab.tensor([0., 0.]))
tensor(2.5000)
"""

from __future__ import annotations

import warnings

import numpy as np

from ...ops import loss as L
from ...tensor import Tensor, where

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "kl_div", "binary_cross_entropy", "binary_cross_entropy_with_logits"]

_REDUCTIONS = ("none", "mean", "sum")
KL_DIV_REDUCTIONS = _REDUCTIONS + ("batchmean",)


def _reduction(size_average, reduce, reduction: str, allowed: tuple = _REDUCTIONS) -> str:
    """The reduction, honouring PyTorch's deprecated ``size_average``/``reduce`` flags."""
    if size_average is not None or reduce is not None:
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      "reduction='mean', 'sum' or 'none' instead.", stacklevel=3)
        if reduce is False:
            return "none"
        return "sum" if size_average is False else "mean"
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _check_tensors(name: str, **tensors) -> None:
    for arg, value in tensors.items():
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' must be a convlab.Tensor, not "
                            f"{type(value).__name__}")


def _class_axis(name: str, input: Tensor) -> int:
    """The class dim: 0 for an unbatched ``(C,)`` input, else 1 (``(N, C, *d)``)."""
    if input.dim() == 0:
        raise ValueError(f"{name}: input must have a class dim: (C,), (N, C) or (N, C, d1, ...), "
                         f"got a 0-d tensor")
    if not input.is_floating_point():
        raise TypeError(f"{name}: input must be floating point (scores or log-probabilities), "
                        f"got {input.dtype}")
    return 0 if input.dim() == 1 else 1


def _class_weight(name: str, weight, C: int, dtype) -> np.ndarray | None:
    if weight is None:
        return None
    if tuple(weight.shape) != (C,):
        raise ValueError(f"{name}: weight must hold one value per class: expected shape [{C}], "
                         f"got {list(weight.shape)}")
    return weight._data.astype(dtype, copy=False)


def _index_coefficients(name: str, input: Tensor, target: Tensor, axis: int, weight,
                        ignore_index: int, label_smoothing: float):
    """Check class-index targets against the input; return ``Q``, the mean's denominator and
    the support (see :mod:`convlab.ops.loss`)."""
    shape, t = input._data.shape, target._data
    C = shape[axis]
    expected = shape[:axis] + shape[axis + 1:]
    if t.shape != expected:
        raise ValueError(f"{name}: Expected target size {list(expected)} (the input's shape "
                         f"{list(shape)} without the class dim {axis}), got {list(t.shape)}")
    # min and max first: two cheap reductions clear the usual batch of valid classes
    if t.size and (t.min() < 0 or t.max() >= C):
        bad = (t != ignore_index) & ((t < 0) | (t >= C))
        if bad.any():
            raise IndexError(f"{name}: Target {t[bad].flat[0]} is out of bounds: the input has "
                             f"{C} classes, so targets must be in [0, {C - 1}] (or "
                             f"ignore_index={ignore_index})")
    dtype = input._data.dtype
    return L.class_coefficients(t, C, axis, dtype, _class_weight(name, weight, C, dtype),
                                ignore_index, label_smoothing)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between ``softmax(input)`` over the class dim and ``target``.

    ``target`` holds class indices (integers, shape of ``input`` without the class dim) or
    class probabilities (floats, shape of ``input``). Per sample, with ``w`` the class weights
    and ``e`` the label smoothing (the target spread as ``(1 - e) * target + e / C``)::

        indices:        l_n = -w[y_n] log p[n, y_n]       (0 where y_n == ignore_index)
        probabilities:  l_n = -sum_c w[c] t[n, c] log p[n, c]

    ``'mean'`` divides the sum by ``sum_n w[y_n]`` over non-ignored samples (indices) or by the
    number of samples (probabilities).

    Shape: ``input (C,)``, ``(N, C)`` or ``(N, C, d1, ...)``; ``target ()``, ``(N,)`` or
    ``(N, d1, ...)`` of indices, or like ``input`` of probabilities.
    """
    _check_tensors("cross_entropy", input=input, target=target, weight=weight)
    reduction = _reduction(size_average, reduce, reduction)
    axis = _class_axis("cross_entropy", input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    if target.is_floating_point():
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(
                f"cross_entropy: a floating point target holds class probabilities and must "
                f"have the input's shape {list(input.shape)}, got {list(target.shape)}; for "
                f"class indices use an integer target (e.g. target.long())")
        C = input.shape[axis]
        Q = target if target.dtype == input.dtype else target.to(input.dtype)
        if label_smoothing:
            Q = Q * (1 - label_smoothing) + label_smoothing / C
        w = _class_weight("cross_entropy", weight, C, input._data.dtype)
        if w is not None:
            Q = Q * Tensor._wrap(w.reshape((-1,) + (1,) * (input.dim() - axis - 1)))
        name = "DivBackward1" if reduction == "mean" else "NegBackward0"
        return L.CrossEntropy.apply(input, Q, None, axis, reduction, input.numel() // C, name)
    Q, denominator, support = _index_coefficients("cross_entropy", input, target, axis, weight,
                                                  ignore_index, label_smoothing)
    name = ("AddBackward0" if label_smoothing
            else "NllLoss2DBackward0" if input.dim() > 2 else "NllLossBackward0")
    return L.CrossEntropy.apply(input, Q, support, axis, reduction, denominator, name)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: ``l_n = -w[y_n] * input[n, y_n]``, ``input`` holding
    log-probabilities (``log_softmax``'s output). ``'mean'`` divides by ``sum_n w[y_n]``.

    Shape: as :func:`cross_entropy` with class-index targets.
    """
    _check_tensors("nll_loss", input=input, target=target, weight=weight)
    reduction = _reduction(size_average, reduce, reduction)
    axis = _class_axis("nll_loss", input)
    if target.is_floating_point():
        raise TypeError(f"nll_loss: target must hold integer class indices, got "
                        f"{target.dtype} (use target.long())")
    Q, denominator, support = _index_coefficients("nll_loss", input, target, axis, weight,
                                                  ignore_index, 0.0)
    return L.NllLoss.apply(input, Q, support, axis, reduction, denominator)


def _check_same_size(name: str, input: Tensor, target: Tensor) -> None:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"{name}: Using a target size ({target.shape}) that is different to the "
                      f"input size ({input.shape}). This will likely lead to incorrect results "
                      "due to broadcasting. Please ensure they have the same size.", stacklevel=3)


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def _elementwise(name: str, input: Tensor, target: Tensor, size_average, reduce, reduction,
                 weight, per_element, mean_over_weights: bool = True) -> Tensor:
    """``per_element(input - target)``, times ``weight`` (the input's shape), reduced.

    A weighted ``'mean'`` is ``sum(w l) / sum(w)`` for MSE and L1 but ``mean(w l)`` for Huber
    (``mean_over_weights=False``): PyTorch's two rules.
    """
    _check_tensors(name, input=input, target=target, weight=weight)
    reduction = _reduction(size_average, reduce, reduction)
    _check_same_size(name, input, target)
    losses = per_element(input - target)
    if weight is None:
        return _reduce(losses, reduction)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"{name}: Weights and input must have the same size: weight "
                         f"{list(weight.shape)}, input {list(input.shape)}")
    losses = losses * weight
    if reduction == "mean" and mean_over_weights:
        return losses.sum() / weight.sum()
    return _reduce(losses, reduction)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Squared error ``(input - target)^2`` per element (times ``weight``), then reduced."""
    if (weight is None and isinstance(input, Tensor) and isinstance(target, Tensor)
            and input.is_floating_point() and input.dtype == target.dtype):
        reduction = _reduction(size_average, reduce, reduction)
        _check_same_size("mse_loss", input, target)
        return L.MseLoss.apply(input, target, reduction)  # one fused op for the common case
    return _elementwise("mse_loss", input, target, size_average, reduce, reduction, weight,
                        lambda d: d * d)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Absolute error ``|input - target|`` per element (times ``weight``), then reduced."""
    return _elementwise("l1_loss", input, target, size_average, reduce, reduction, weight,
                        lambda d: d.abs())


def _huber(name: str, input: Tensor, target: Tensor, reduction: str, delta: float,
           scale: float, grad_fn_name: str, weight) -> Tensor:
    _check_tensors(name, input=input, target=target, weight=weight)
    if delta < 0:
        raise ValueError(f"{name}: {'beta' if name == 'smooth_l1_loss' else 'delta'} must be "
                         f"non-negative, got {delta}")
    if (weight is None and tuple(input.shape) == tuple(target.shape)
            and input.is_floating_point() and input.dtype == target.dtype):
        return L.HuberLoss.apply(input, target, float(delta), float(scale), reduction,
                                 grad_fn_name)  # one fused op for the common case

    def per_element(d: Tensor) -> Tensor:
        ad = d.abs()
        return where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta)) * scale

    return _elementwise(name, input, target, None, None, reduction, weight, per_element,
                        mean_over_weights=False)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = input -
    target``): L1 with its corner rounded off, as Fast R-CNN regresses boxes. ``beta=0`` is L1.
    """
    reduction = _reduction(size_average, reduce, reduction)
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return _huber("smooth_l1_loss", input, target, reduction, beta, 1 / beta,
                  "SmoothL1LossBackward0", None)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``: squared error near
    the target, absolute error (less swayed by outliers) far from it. It is
    ``delta * smooth_l1_loss(beta=delta)``."""
    return _huber("huber_loss", input, target, _reduction(None, None, reduction), delta, 1.0,
                  "HuberLossBackward0", weight)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence ``KL(target || exp(input))``, pointwise
    ``target * (log target - input)``: ``input`` holds log-probabilities (``log_softmax``),
    ``target`` probabilities (or log-probabilities with ``log_target=True``).

    ``reduction='batchmean'`` (sum / batch size) is the divergence per sample, as the maths
    defines it; ``'mean'`` divides by every element and warns, as PyTorch does.

    Knowledge distillation: ``kl_div(log_softmax(student / T), softmax(teacher / T),
    reduction='batchmean') * T * T``.
    """
    _check_tensors("kl_div", input=input, target=target)
    reduction = _reduction(size_average, reduce, reduction, KL_DIV_REDUCTIONS)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    _check_same_size("kl_div", input, target)
    if input.dtype != target.dtype:
        target = target.to(input.dtype)
    losses = L.KlDiv.apply(input, target, bool(log_target))
    if reduction == "batchmean":
        return losses.sum() / (input.shape[0] if input.dim() else 1)
    return _reduce(losses, reduction)


def _binary_operands(name: str, input: Tensor, target: Tensor, weight):
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{name}: Using a target size ({target.shape}) that is different to the "
                         f"input size ({input.shape}) is deprecated. Please ensure they have "
                         f"the same size.")
    if not input.is_floating_point():
        raise TypeError(f"{name}: input must be floating point, got {input.dtype}")
    dtype = input.dtype
    target = target if target.dtype == dtype else target.to(dtype)
    w = None if weight is None else np.broadcast_to(weight._data.astype(input._data.dtype),
                                                    tuple(input.shape))
    return target, w


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``l = -w (y log x + (1 - y) log(1 - x))`` for probabilities ``x`` in [0, 1]; each log is
    clamped at -100, so a confident mistake costs 100, not infinity."""
    _check_tensors("binary_cross_entropy", input=input, target=target, weight=weight)
    reduction = _reduction(size_average, reduce, reduction)
    target, w = _binary_operands("binary_cross_entropy", input, target, weight)
    x = input._data
    if ((x < 0) | (x > 1)).any():
        raise ValueError(f"binary_cross_entropy: all elements of input should be between 0 and "
                         f"1, got values in [{x.min()}, {x.max()}] (pass logits to "
                         f"binary_cross_entropy_with_logits instead)")
    return L.BinaryCrossEntropy.apply(input, target, w, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)``, computed from the logits stably::

        l = -w (pos_weight * y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))

    ``pos_weight`` (one per class, broadcast along the last dim) weighs the positive term.
    """
    name = "binary_cross_entropy_with_logits"
    _check_tensors(name, input=input, target=target, weight=weight, pos_weight=pos_weight)
    reduction = _reduction(size_average, reduce, reduction)
    target, w = _binary_operands(name, input, target, weight)
    pw = None
    if pos_weight is not None:
        try:
            np.broadcast_shapes(tuple(pos_weight.shape), tuple(input.shape))
        except ValueError:
            raise ValueError(f"{name}: pos_weight of shape {list(pos_weight.shape)} does not "
                             f"broadcast to the input's {list(input.shape)} (it holds one "
                             "weight per class, along the last dim)") from None
        pw = pos_weight._data.astype(input._data.dtype, copy=False)
    return L.BinaryCrossEntropyWithLogits.apply(input, target, w, pw, reduction)
