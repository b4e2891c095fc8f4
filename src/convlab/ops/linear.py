"""The affine map of a fully connected layer, fused into one op: ``y = x W^T + b``."""

from __future__ import annotations

from ..autograd.graph import ArrayFunction, ShownNode

__all__ = ["Linear"]


class Linear(ArrayFunction):
    """y = x W^T + b.

    Shape: ``x (*, in)``, ``W (out, in)``, ``b (out,)`` or None, ``y (*, out)``.

    Backward, with the leading dims of ``x`` and ``g`` flattened into rows ``(M, in)`` and
    ``(M, out)``: ``gx = g W``, ``gW = g^T x``, ``gb = sum of g over rows``.

    The node prints as PyTorch's does for the same call, which runs ``addmm`` (or ``mm``) on
    the rows and views the result back.
    """

    # (input is 2-D, has a bias) -> PyTorch's name of the last op of F.linear
    _NAMES = {(True, True): "AddmmBackward0", (True, False): "MmBackward0",
              (False, True): "ViewBackward0", (False, False): "UnsafeViewBackward0"}

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              w if ctx.needs_input_grad[0] else None)
        ctx.grad_fn_name = ("SqueezeBackward4" if x.ndim == 1 and b is None
                            else Linear._NAMES[(x.ndim == 2, b is not None)])
        y = x @ w.T
        if b is not None:
            y += b
        return y

    @staticmethod
    def graph_links(ctx, links: tuple) -> tuple:
        """``next_functions`` as PyTorch's for a 2-D input: ``addmm(bias, input, weight.t())``
        or ``mm(input, weight.t())``, the weight behind a ``TBackward0``."""
        if ctx.name() not in ("AddmmBackward0", "MmBackward0"):
            return links
        x, (w, _), *b = links
        return (*b, x, (None if w is None else ShownNode("TBackward0", w), 0))

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved
        need_x, need_w, need_b = ctx.needs_input_grad
        gx = gy @ w if need_x else None
        g2 = gy.reshape(-1, gy.shape[-1])  # (*, out) -> (M, out)
        gw = g2.T @ x.reshape(-1, x.shape[-1]) if need_w else None  # (out, M) @ (M, in)
        gb = g2.sum(axis=0) if need_b else None
        return gx, gw, gb
