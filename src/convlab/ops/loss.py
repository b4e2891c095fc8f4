"""Loss functions fused into single ops, numerically stable, with analytic gradients.

Cross-entropy and NLL are written with a coefficient array ``Q`` of the input's shape, which
holds everything the target, class weights, ``ignore_index`` and label smoothing say about how
much each log-probability counts::

    nll:            l_n = -sum_c Q_nc x_nc                       gx = -G_n Q_nc
    cross-entropy:  l_n = -sum_c Q_nc log softmax(x)_nc          gx = G_n (p_nc sum_c Q_nc - Q_nc)

where ``p = softmax(x)`` and ``G`` is the upstream gradient of ``l_n``: ``g`` itself for
``reduction='none'``, the scalar ``g`` for ``'sum'``, ``g / denominator`` for ``'mean'``.
The log-softmax is computed as ``x - max - log(sum(exp(x - max)))``, which never overflows.

With class-index targets PyTorch reads ``x`` only at the target class (and, with label
smoothing, every class of the non-ignored positions): the ``support``, a boolean array of
``Q``'s shape. Outside it a ``-inf`` or NaN in ``x`` must not make ``0 * -inf = NaN``, and an
ignored position gets exactly 0 gradient even where ``G`` is inf or NaN (every target ignored
makes the mean's ``1/0``). Inside it the product is taken as PyTorch takes it (a zero class
weight times ``-inf`` is NaN). Both repairs run only when a result is not finite.
"""

from __future__ import annotations

import math

import numpy as np

from scipy.special import xlogy

from ..autograd.graph import ArrayFunction, unbroadcast
from .elementwise import sigmoid

__all__ = ["CrossEntropy", "NllLoss", "MseLoss", "HuberLoss", "KlDiv", "BinaryCrossEntropy",
           "BinaryCrossEntropyWithLogits", "class_coefficients"]


def class_coefficients(target: np.ndarray, num_classes: int, axis: int, dtype, weight=None,
                       ignore_index: int = -100, label_smoothing: float = 0.0):
    """``Q``, the ``'mean'`` denominator and the support (where PyTorch reads the input; see
    the module docstring) for class-index targets, by PyTorch's rules.

    ``target`` has the input's shape without the class ``axis``. Per position ``n`` with class
    ``y = target[n]`` (``w`` the class weights, 1 if None, ``e`` the label smoothing)::

        Q_nc = (1 - e) * w_y * [c == y] + (e / C) * w_c      (0 where y == ignore_index)
        denominator = sum over non-ignored n of w_y
        support_nc = [c == y] without smoothing, every c with it     (False where ignored)
    """
    valid = target != ignore_index
    classes = np.arange(num_classes).reshape((-1,) + (1,) * (target.ndim - axis))
    one_hot = np.expand_dims(target, axis) == classes  # (N, C, *d)
    if 0 <= ignore_index < num_classes:  # an ignored position matches its class: clear it
        one_hot &= np.expand_dims(valid, axis)
    if weight is None and not label_smoothing:
        # The common case, in few array ops (it runs every training step): Q is the one-hot
        # target itself, and the denominator counts the non-ignored positions.
        return one_hot.astype(dtype), dtype.type(np.count_nonzero(valid)), one_hot
    safe = np.where(valid, target, 0)  # (N, *d)
    w = np.ones(num_classes, dtype) if weight is None else weight.astype(dtype, copy=False)
    w_y = np.where(valid, w[safe], 0).astype(dtype, copy=False)  # (N, *d)
    Q = one_hot * np.expand_dims(w_y * dtype.type(1 - label_smoothing), axis)
    support = one_hot
    if label_smoothing:
        spread = w.reshape(classes.shape) * dtype.type(label_smoothing / num_classes)
        Q = Q + np.expand_dims(valid, axis) * spread
        support = np.broadcast_to(np.expand_dims(valid, axis), Q.shape)
    return Q.astype(dtype, copy=False), w_y.sum(dtype=dtype), support


def _quiet_divide(a, denominator):
    """``a / denominator``; a zero or infinite denominator gives NaN or inf without a warning
    (every target ignored is NaN in PyTorch too). The check skips ``errstate``, which costs
    more than the division itself on these small arrays."""
    if 0 < abs(denominator) < np.inf:
        return a / denominator
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / denominator


def _reduce(losses: np.ndarray, reduction: str, denominator) -> np.ndarray:
    if reduction == "none":
        return losses
    total = np.add.reduce(losses, axis=None, dtype=losses.dtype)
    if reduction == "sum":
        return total
    return np.asarray(_quiet_divide(total, denominator), dtype=losses.dtype)


def _upstream(gy: np.ndarray, reduction: str, denominator) -> np.ndarray:
    """``G``, the gradient reaching each per-position loss, ready to broadcast."""
    if reduction == "mean":
        return np.asarray(_quiet_divide(gy, denominator), dtype=gy.dtype)
    return gy


def _finite(a: np.ndarray) -> bool:
    """No inf or NaN in ``a``; a 0-d ``a`` (the usual reduced loss) without a ufunc call."""
    return math.isfinite(a) if a.ndim == 0 else bool(np.isfinite(a).all())


def _class_losses(products: np.ndarray, support, axis: int) -> np.ndarray:
    """``-sum_c products`` per position, where ``products = Q * (log-)probabilities``; with a
    ``support`` (class-index targets), a non-finite loss is summed again over the support
    only, so a 0 coefficient times ``-inf`` or NaN outside it counts 0, as in PyTorch."""
    losses = -np.add.reduce(products, axis=axis)
    if support is not None and not _finite(losses):
        losses = -np.add.reduce(np.where(support, products, 0), axis=axis)
    return losses


def _positional_upstream(gy: np.ndarray, ctx) -> np.ndarray:
    """``G`` shaped to broadcast against ``(N, C, *d)``; where it is inf or NaN, 0 at the
    positions outside the support (ignored targets), which PyTorch never reads."""
    G = _upstream(gy, ctx.reduction, ctx.denominator)
    if ctx.reduction == "none":
        G = np.expand_dims(G, ctx.axis)
    if ctx.support is not None and not _finite(G):
        G = np.where(ctx.support.any(axis=ctx.axis, keepdims=True), G, 0).astype(G.dtype)
    return G


class CrossEntropy(ArrayFunction):
    """Cross-entropy of ``softmax(x)`` along ``axis`` against coefficients ``Q`` (see the
    module docstring), ``support`` None for probability targets. Shape: ``x``, ``Q``,
    ``support`` ``(N, C, *d)`` (or ``(C,)``), output per ``reduction``: ``(N, *d)`` for
    ``'none'``, else a scalar.

    ``Q`` may itself need a gradient (probability targets): ``dl_n/dQ_nc = -log p_nc``.
    ``grad_fn_name`` is the name PyTorch's graph gives the same call.
    """

    @staticmethod
    def forward(ctx, x, Q, support, axis, reduction, denominator, grad_fn_name):
        ctx.grad_fn_name = grad_fn_name
        shifted = x - np.maximum.reduce(x, axis=axis, keepdims=True)
        log_p = shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))
        ctx.save_for_backward(log_p, Q)
        ctx.support, ctx.axis, ctx.reduction, ctx.denominator = support, axis, reduction, \
            denominator
        with np.errstate(invalid="ignore"):  # 0 * -inf: repaired by _class_losses
            products = Q * log_p
        return _reduce(_class_losses(products, support, axis), reduction, denominator)

    @staticmethod
    def backward(ctx, gy):
        log_p, Q = ctx.saved
        G = _positional_upstream(gy, ctx)
        gx = gQ = None
        if _finite(G):
            if ctx.needs_input_grad[0]:
                gx = np.exp(log_p)
                gx *= np.add.reduce(Q, axis=ctx.axis, keepdims=True)
                gx -= Q
                gx *= G
            gQ = -G * log_p if ctx.needs_input_grad[1] else None
            return gx, gQ, None, None, None, None, None
        # An inf or NaN G: PyTorch's order of operations, through the log-softmax's backward
        # (gx = p sum_c QG - QG, QG = Q G on the support, 0 off it), decides which 0 * inf and
        # inf - inf give NaN.
        with np.errstate(invalid="ignore"):
            QG = Q * G if ctx.support is None else np.where(ctx.support, Q * G, 0)
            if ctx.needs_input_grad[0]:
                gx = np.exp(log_p) * np.add.reduce(QG, axis=ctx.axis, keepdims=True) - QG
            gQ = -G * log_p if ctx.needs_input_grad[1] else None
        return gx, gQ, None, None, None, None, None


class NllLoss(ArrayFunction):
    """Negative log-likelihood of log-probabilities ``x`` against coefficients ``Q``, read
    only on the ``support`` (the target classes of the non-ignored positions)."""

    @staticmethod
    def forward(ctx, x, Q, support, axis, reduction, denominator):
        ctx.grad_fn_name = "NllLoss2DBackward0" if x.ndim > 2 else "NllLossBackward0"
        ctx.save_for_backward(Q)
        ctx.support, ctx.axis, ctx.reduction, ctx.denominator = support, axis, reduction, \
            denominator
        with np.errstate(invalid="ignore"):  # 0 * -inf: repaired by _class_losses
            products = Q * x
        return _reduce(_class_losses(products, support, axis), reduction, denominator)

    @staticmethod
    def backward(ctx, gy):
        (Q,) = ctx.saved
        G = _positional_upstream(gy, ctx)
        if _finite(G):
            return -G * Q, None, None, None, None, None
        with np.errstate(invalid="ignore"):  # inf * 0: PyTorch writes 0 off the support
            gx = np.where(ctx.support, -G * Q, 0).astype(Q.dtype, copy=False)
        return gx, None, None, None, None, None


class MseLoss(ArrayFunction):
    """l = (x - y)^2 per element. dl/dx = 2 (x - y), dl/dy = -2 (x - y).

    Shape: ``x`` and ``y`` broadcast together (each gradient is summed back to its own shape).
    """

    @staticmethod
    def forward(ctx, x, y, reduction):
        d = x - y
        ctx.save_for_backward(d)
        ctx.shapes, ctx.reduction = (x.shape, y.shape), reduction
        return _reduce(d * d, reduction, d.size)

    @staticmethod
    def backward(ctx, gy):
        (d,) = ctx.saved
        g = 2 * _upstream(gy, ctx.reduction, d.size) * d
        gx = unbroadcast(g, ctx.shapes[0]) if ctx.needs_input_grad[0] else None
        gt = unbroadcast(-g, ctx.shapes[1]) if ctx.needs_input_grad[1] else None
        return gx, gt, None


class HuberLoss(ArrayFunction):
    """Squared near zero, absolute far from it, per element of ``d = x - y``::

        l = 0.5 d^2                    where |d| < delta
        l = delta (|d| - 0.5 delta)    elsewhere (the two meet with equal slope at delta)

    times ``scale``: ``1 / delta`` gives smooth L1 (``beta = delta``), which tends to L1 as
    ``beta -> 0``. dl/dx = scale * clamp(d, -delta, delta) = -dl/dy.
    Shape: ``x`` and ``y`` the same; ``grad_fn_name`` is PyTorch's name for the call.
    """

    @staticmethod
    def forward(ctx, x, y, delta, scale, reduction, grad_fn_name):
        d = x - y
        ad = np.abs(d)
        losses = np.where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta)) * scale
        ctx.save_for_backward(d)
        ctx.delta, ctx.scale, ctx.reduction = delta, scale, reduction
        ctx.grad_fn_name = grad_fn_name
        return _reduce(losses.astype(x.dtype, copy=False), reduction, d.size)

    @staticmethod
    def backward(ctx, gy):
        (d,) = ctx.saved
        g = _upstream(gy, ctx.reduction, d.size) * ctx.scale * np.clip(d, -ctx.delta, ctx.delta)
        g = g.astype(d.dtype, copy=False)
        return (g if ctx.needs_input_grad[0] else None, -g if ctx.needs_input_grad[1] else None,
                None, None, None, None)


class KlDiv(ArrayFunction):
    """The pointwise Kullback-Leibler divergence of ``q`` (the target) from ``p``, given
    ``x = log p``: ``l = q log q - q x`` (0 where q = 0), or, with ``log_target`` (``y = log q``),
    ``l = e^y (y - x)``. Summed over the classes it is ``KL(q || p) >= 0``.

    dl/dx = -q;  dl/dq = log q + 1 - x  (log_target: dl/dy = e^y (y - x + 1)).
    """

    @staticmethod
    def forward(ctx, x, y, log_target):
        # PyTorch's names: it computes xlogy(q, q) - q * x, or exp(y) * (y - x)
        ctx.grad_fn_name = "MulBackward0" if log_target else "SubBackward0"
        ctx.save_for_backward(x, y)
        ctx.log_target = log_target
        if log_target:
            return np.exp(y) * (y - x)
        return xlogy(y, y) - y * x

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        q = np.exp(y) if ctx.log_target else y
        gx = -g * q if ctx.needs_input_grad[0] else None
        gy = None
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gy = g * (q * (y - x + 1) if ctx.log_target else np.log(y) + 1 - x)
        return gx, gy, None


class BinaryCrossEntropy(ArrayFunction):
    """l = -w (y log x + (1 - y) log(1 - x)), each log clamped at -100 (as PyTorch).

    dl/dx = w (x - y) / max(x (1 - x), 1e-12);  dl/dy = -w (log x - log(1 - x)), with the
    logs unclamped there (infinite at 0 and 1, as PyTorch's).
    Shape: ``x``, ``y`` the same; ``w`` broadcasts to them (or None).
    """

    @staticmethod
    def forward(ctx, x, y, w, reduction):
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        losses = -(y * log_x + (1 - y) * log_1mx)
        if w is not None:
            losses = losses * w
        ctx.save_for_backward(x, y, w)
        ctx.reduction = reduction
        return _reduce(losses.astype(x.dtype, copy=False), reduction, x.size)

    @staticmethod
    def backward(ctx, gy):
        x, y, w = ctx.saved
        G = _upstream(gy, ctx.reduction, x.size)
        if w is not None:
            G = G * w
        gx = G * (x - y) / np.maximum(x * (1 - x), x.dtype.type(1e-12)) \
            if ctx.needs_input_grad[0] else None
        gt = None
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gt = -G * (np.log(x) - np.log1p(-x))
        return gx, gt, None, None


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x), without overflow: max(x, 0) + log1p(e^-|x|)."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


class BinaryCrossEntropyWithLogits(ArrayFunction):
    """BCE on ``sigmoid(x)``, computed from the logits without forming the probabilities::

        l = w ((1 - y) x + (1 + (pw - 1) y) softplus(-x))
          = -w (pw y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))

    dl/dx = w ((1 - y) - (1 + (pw - 1) y) sigmoid(-x));  dl/dy = w (-x + (pw - 1) softplus(-x)).
    ``pw`` (``pos_weight``) broadcasts along the last dim (one per class), or is None (1).
    """

    @staticmethod
    def forward(ctx, x, y, w, pos_weight, reduction):
        sp = _softplus(-x)
        scale = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
        losses = (1 - y) * x + scale * sp
        if w is not None:
            losses = losses * w
        ctx.save_for_backward(x, y, w, pos_weight, sp)
        ctx.reduction = reduction
        return _reduce(losses.astype(x.dtype, copy=False), reduction, x.size)

    @staticmethod
    def backward(ctx, gy):
        x, y, w, pos_weight, sp = ctx.saved
        G = _upstream(gy, ctx.reduction, x.size)
        if w is not None:
            G = G * w
        gx = gt = None
        if ctx.needs_input_grad[0]:
            scale = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
            gx = G * ((1 - y) - scale * sigmoid(-x))
        if ctx.needs_input_grad[1]:
            gt = G * (-x if pos_weight is None else -x + (pos_weight - 1) * sp)
        return gx, gt, None, None, None
