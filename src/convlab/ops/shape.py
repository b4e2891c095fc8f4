"""Ops that move elements without computing: reshape, permute, expand, repeat, flip, roll,
triangles and diagonals, indexing, gather and scatter, concatenation, and matrix
multiplication's bookkeeping. Each backward is the adjoint move: reshape <-> reshape back,
permute <-> inverse permute, expand <-> sum, roll <-> roll back, index <-> scatter-add,
gather <-> scatter-add, diagonal <-> embed, concatenate <-> split.
"""

from __future__ import annotations

import numpy as np

from ..autograd.graph import ArrayFunction, unbroadcast
from ..storage import overlaps_itself, strided

__all__ = ["Reshape", "Permute", "Expand", "Repeat", "Flip", "Roll", "Triangle", "Diag",
           "Index", "IndexPut", "MaskedFill", "Gather", "Scatter", "ScatterAdd",
           "Concatenate", "Stack", "Matmul", "Copy", "AsStrided", "CopySlices", "is_basic",
           "basic_view"]


class Reshape(ArrayFunction):
    """z = x viewed with a new shape (a view when NumPy can make one). Backward reshapes back."""

    grad_fn_name = "ViewBackward0"
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, gz):
        return gz.reshape(ctx.shape), None


class Permute(ArrayFunction):
    """z = x with axes reordered. Backward applies the inverse permutation."""

    is_view = True

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx, gz):
        return np.transpose(gz, np.argsort(ctx.axes)), None


class Expand(ArrayFunction):
    """z = x broadcast to a larger shape (no copy). Backward sums over the broadcast axes."""

    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, gz):
        return unbroadcast(gz, ctx.shape), None


class Repeat(ArrayFunction):
    """z = x tiled ``reps`` times per axis (``Tensor.repeat``). Backward sums the tiles."""

    @staticmethod
    def forward(ctx, x, reps):
        ctx.shape = x.shape
        return np.tile(x, reps)

    @staticmethod
    def backward(ctx, gz):
        shape = ctx.shape
        lead = gz.ndim - len(shape)
        gz = gz.sum(axis=tuple(range(lead))) if lead else gz
        # Split every axis of size r*n into (r, n) and sum over the r copies.
        split = []
        for size, n in zip(gz.shape, shape):
            split += [size // n if n else 0, n]
        g = gz.reshape(split).sum(axis=tuple(range(0, 2 * len(shape), 2)))
        return g, None


class Flip(ArrayFunction):
    """z = x reversed along axes. Backward flips back."""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.flip(x, axes).copy()

    @staticmethod
    def backward(ctx, gz):
        return np.flip(gz, ctx.axes), None


class Roll(ArrayFunction):
    """z = x shifted cyclically by ``shifts`` along ``axes`` (None: the flattened x).
    Backward rolls back by -shifts."""

    @staticmethod
    def forward(ctx, x, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return np.roll(x, shifts, axes)

    @staticmethod
    def backward(ctx, gz):
        back = -ctx.shifts if ctx.axes is None else tuple(-s for s in ctx.shifts)
        return np.roll(gz, back, ctx.axes), None, None


class Triangle(ArrayFunction):
    """z = x with the elements above (``tril``) or below (``triu``) the ``diagonal``-th diagonal
    of its last two axes set to 0: a mask, so the adjoint applies the same mask."""

    grad_fn_name = "TrilBackward0"  # the Tensor methods name it TriuBackward0 for triu

    @staticmethod
    def forward(ctx, x, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return (np.triu if upper else np.tril)(x, diagonal)

    @staticmethod
    def backward(ctx, gz):
        return (np.triu if ctx.upper else np.tril)(gz, ctx.diagonal), None, None


class Diag(ArrayFunction):
    """``diag``: a vector of length n becomes the k-th diagonal of an (n + |k|)-square matrix;
    a matrix gives its k-th diagonal as a vector. The two are each other's adjoint: embedding
    backward extracts, extracting backward embeds into zeros of the matrix's shape."""

    grad_fn_name = "DiagEmbedBackward0"  # the Tensor method names extraction DiagonalBackward0

    @staticmethod
    def forward(ctx, x, k):
        ctx.k, ctx.shape = k, x.shape
        if x.ndim == 1:
            return np.diag(x, k)
        return np.diagonal(x, k).copy()

    @staticmethod
    def backward(ctx, gz):
        k = ctx.k
        if len(ctx.shape) == 1:
            return np.diagonal(gz, k).copy(), None
        gx = np.zeros(ctx.shape, dtype=gz.dtype)
        steps = np.arange(len(gz))
        gx[steps + max(-k, 0), steps + max(k, 0)] = gz
        return gx, None


def is_basic(index) -> bool:
    """True when ``index`` only holds ints, slices, None and Ellipsis: a view, in which no
    element is hit twice."""
    if index.__class__ is slice or index.__class__ is int:  # the common case, quickly
        return True
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis))) for i in items)


def basic_view(x: np.ndarray, index) -> np.ndarray:
    """``x[index]`` for a basic index, always a view: where every dim is indexed by an int,
    NumPy gives a scalar copy, but a trailing ``...`` makes it a 0-d view (x[0, 1] is a view
    in PyTorch)."""
    out = x[index]
    if isinstance(out, np.ndarray):
        return out
    return x[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]


class Index(ArrayFunction):
    """z = x[index]: a view for ints, slices, None and Ellipsis, a copy for index arrays.
    Backward scatters the gradient back; repeated indices accumulate (add.at)."""

    is_view = True  # when the index is basic (else NumPy copies, and the result is no view)

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.dtype = x.shape, x.dtype
        if is_basic(index):
            ctx.index = index  # ints, slices, None: small, and no element is taken twice
            out = x[index]
            return out if out.__class__ is np.ndarray else basic_view(x, index)
        ctx.save_for_backward(index)  # holds index arrays: freed after backward
        return x[index]

    @staticmethod
    def backward(ctx, gz):
        gx = np.zeros(ctx.shape, dtype=ctx.dtype)
        if ctx.saved:
            np.add.at(gx, ctx.saved[0], gz)  # an index array may repeat elements: accumulate
        else:
            gx[ctx.index] = gz
        return gx, None


class IndexPut(ArrayFunction):
    """z = x with z[index] = v. dz/dx is 1 outside the written cells; dz/dv gathers them."""

    grad_fn_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, x, v, index):
        ctx.index, ctx.v_shape = index, np.shape(v)
        z = x.copy()
        z[index] = v
        return z

    @staticmethod
    def backward(ctx, gz):
        gx = gv = None
        if ctx.needs_input_grad[0]:
            gx = gz.copy()
            gx[ctx.index] = 0
        if ctx.needs_input_grad[1]:
            gv = unbroadcast(gz[ctx.index], ctx.v_shape)
        return gx, gv, None


class MaskedFill(ArrayFunction):
    """z = x with value where mask is True. The filled cells get no gradient."""

    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.save_for_backward(mask)
        ctx.shape = x.shape
        return np.where(mask, np.asarray(value, dtype=x.dtype), x)

    @staticmethod
    def backward(ctx, gz):
        (mask,) = ctx.saved
        return unbroadcast(np.where(mask, 0, gz), ctx.shape), None, None


def _along(index: np.ndarray, axis: int) -> tuple:
    """The cells that gather and scatter address: for dim=1, ``(i, index[i][j][k], k)`` at each
    position ``(i, j, k)`` of ``index``, as a tuple of broadcasting index arrays."""
    grid = list(np.indices(index.shape, sparse=True))
    grid[axis] = index
    return tuple(grid)


def _corner(index: np.ndarray) -> tuple:
    """The leading block of an array that has index's shape (index may be smaller than the
    arrays it addresses)."""
    return tuple(slice(0, n) for n in index.shape)


class Gather(ArrayFunction):
    """z[i][j][k] = x[i][index[i][j][k]][k] (for dim=1). Backward scatter-adds into x."""

    @staticmethod
    def forward(ctx, x, axis, index):
        ctx.save_for_backward(index)
        ctx.shape, ctx.axis = x.shape, axis
        # index may be smaller than x on the other axes: take the matching corner of x.
        corner = tuple(slice(0, n) if a != axis else slice(None) for a, n in enumerate(index.shape))
        return np.take_along_axis(x[corner], index, axis=axis)

    @staticmethod
    def backward(ctx, gz):
        (index,) = ctx.saved
        gx = np.zeros(ctx.shape, dtype=gz.dtype)
        np.add.at(gx, _along(index, ctx.axis), gz)
        return gx, None, None


class Scatter(ArrayFunction):
    """z = x, then z[i][index[i][j][k]][k] = src[i][j][k] (for dim=1); ``src`` is an array or a
    number. The adjoint of the write: x's gradient is g with the written cells set to 0, src's
    gathers g from those cells. Where index repeats a cell one src element wins the write, and
    every one of them still gathers g, as in PyTorch."""

    @staticmethod
    def forward(ctx, x, axis, index, src):
        ctx.save_for_backward(index)
        ctx.axis, ctx.src_shape = axis, np.shape(src)
        z = x.copy()
        z[_along(index, axis)] = src[_corner(index)] if isinstance(src, np.ndarray) else src
        return z

    @staticmethod
    def backward(ctx, gz):
        (index,) = ctx.saved
        cells = _along(index, ctx.axis)
        gx = gsrc = None
        if ctx.needs_input_grad[0]:
            gx = gz.copy()
            gx[cells] = 0
        if ctx.needs_input_grad[3]:
            gsrc = np.zeros(ctx.src_shape, dtype=gz.dtype)
            gsrc[_corner(index)] = gz[cells]
        return gx, None, None, gsrc


class ScatterAdd(ArrayFunction):
    """z = x, then z[i][index[i][j][k]][k] += src[i][j][k] (for dim=1), repeated cells adding
    up. dz/dx = 1; src's gradient gathers g from the cells it was added to."""

    @staticmethod
    def forward(ctx, x, axis, index, src):
        ctx.save_for_backward(index)
        ctx.axis, ctx.src_shape = axis, src.shape
        z = x.copy()
        np.add.at(z, _along(index, axis), src[_corner(index)])
        return z

    @staticmethod
    def backward(ctx, gz):
        (index,) = ctx.saved
        gsrc = None
        if ctx.needs_input_grad[3]:
            gsrc = np.zeros(ctx.src_shape, dtype=gz.dtype)
            gsrc[_corner(index)] = gz[_along(index, ctx.axis)]
        return gz, None, None, gsrc


class Concatenate(ArrayFunction):
    """z = x_1, x_2, ... joined along an axis. Backward splits the gradient at the same places."""

    grad_fn_name = "CatBackward0"

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, gz):
        cuts = np.cumsum(ctx.sizes)[:-1]
        return (None, *np.split(gz, cuts, axis=ctx.axis))


class Stack(ArrayFunction):
    """z = x_1, x_2, ... stacked along a new axis. Backward unstacks."""

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        return np.stack(xs, axis=axis)

    @staticmethod
    def backward(ctx, gz):
        return (None, *(np.take(gz, i, axis=ctx.axis) for i in range(gz.shape[ctx.axis])))


class Matmul(ArrayFunction):
    """z = x @ y with NumPy's (= PyTorch's) rules for 1-D and batched operands.
    dz/dx = g @ y^T, dz/dy = x^T @ g, summed over broadcast batch axes.

    Shape: (..., n, k) @ (..., k, m) -> (..., n, m); a 1-D x is (1, k) with the 1 removed after,
    a 1-D y is (k, 1) likewise.
    """

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              y if ctx.needs_input_grad[0] else None)
        ctx.shapes = (x.shape, y.shape)
        return np.matmul(x, y)

    @staticmethod
    def backward(ctx, gz):
        x, y = ctx.saved
        sx, sy = ctx.shapes
        # Treat 1-D operands as the matrices NumPy made of them, x (1, k) and y (k, 1), and give
        # the gradient back the axes their products dropped: first y's m, then x's n.
        g = gz[..., None] if len(sy) == 1 else gz
        g = g[..., None, :] if len(sx) == 1 else g  # (..., n, m)
        gx = gy = None
        if ctx.needs_input_grad[0]:
            y2 = y[:, None] if y.ndim == 1 else y  # (..., k, m)
            gx = np.matmul(g, np.swapaxes(y2, -1, -2))  # (..., n, k)
            gx = unbroadcast(gx[..., 0, :] if len(sx) == 1 else gx, sx)
        if ctx.needs_input_grad[1]:
            x2 = x[None, :] if x.ndim == 1 else x  # (..., n, k)
            gy = np.matmul(np.swapaxes(x2, -1, -2), g)  # (..., k, m)
            gy = unbroadcast(gy[..., 0] if len(sy) == 1 else gy, sy)
        return gx, gy


class Copy(ArrayFunction):
    """z = a copy of x in new memory (``clone``: ``order`` "K" keeps x's layout; ``contiguous``:
    "C" lays it out row-major). The gradient passes through."""

    grad_fn_name = "CloneBackward0"

    @staticmethod
    def forward(ctx, x, order):
        return x.copy(order=order)

    @staticmethod
    def backward(ctx, gz):
        return gz, None


class AsStrided(ArrayFunction):
    """z = a window on x's memory: ``layout.view`` over the buffer that holds x at
    ``layout.base`` (``as_strided``, ``Tensor.unfold``, and the node a view gets when its base
    changed in place: ``AsStridedBackward0``). Backward adds the gradient into zeros laid out
    as x, at the window's places (accumulating where the window repeats elements)."""

    is_view = True

    @staticmethod
    def forward(ctx, x, layout, writeable=True):
        ctx.layout = layout
        # the buffer starts at x's first element: a window lies inside the memory x spans
        buffer = np.lib.stride_tricks.as_strided(x, (layout.extent,), (x.itemsize,),
                                                 writeable=writeable)
        return strided(buffer, layout.view)

    @staticmethod
    def backward(ctx, gz):
        layout = ctx.layout
        buffer = np.zeros(layout.extent, dtype=gz.dtype)
        view = layout.view
        if overlaps_itself(view.shape, view.strides):
            np.add.at(buffer, strided(np.arange(layout.extent), view), gz)
        else:
            strided(buffer, view)[...] = gz
        # applied, the node has x, layout and writeable as inputs; made by a view's refresh
        # (``autograd.make_node``), x alone
        return (strided(buffer, layout.base),) + (None,) * (len(ctx.next_nodes) - 1)


class CopySlices(ArrayFunction):
    """base' = base with the elements of one of its views replaced by ``value``: the node an
    in-place op on a view gives the base (``CopySlices``). The gradient of the old base is the
    incoming one with the view's elements zeroed (they were overwritten); ``value``'s is the
    incoming one at the view's elements. The node is made by ``Tensor._inplace``, not applied."""

    grad_fn_name = "CopySlices"

    @staticmethod
    def backward(ctx, g):
        layout = ctx.layout
        buffer = np.zeros(layout.extent, dtype=g.dtype)
        base = strided(buffer, layout.base)
        base[...] = g
        view = strided(buffer, layout.view)
        g_value = view.copy() if ctx.needs_input_grad[1] else None
        view[...] = 0
        return (base if ctx.needs_input_grad[0] else None), g_value
