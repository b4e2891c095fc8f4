"""Sampling an image at arbitrary points (``F.grid_sample``), the differentiable reader of the
spatial transformer.

Each output point carries normalized coordinates in [-1, 1] (``x`` along W, ``y`` along H, ``z``
along D). They become pixel coordinates (``align_corners``: -1 and 1 are the centres of the
edge pixels; otherwise the outer edges of those pixels), are moved inside the image by the
padding rule (``border``: clamped; ``reflection``: mirrored at the edges; ``zeros``: left, and
points outside read 0), and the image is read there: the nearest pixel, or the 2^d pixels
around the point weighted by closeness (bilinear, trilinear in 3-D).

Backward: the output's gradient goes back to the pixels that were read, with the same weights
(a scatter-add: the adjoint of the gather), and to the coordinates through the derivative of the
weights, the padding rule and the normalization. Nearest sampling is piecewise constant, so its
coordinates get a zero gradient, as in PyTorch.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..autograd.graph import ArrayFunction

__all__ = ["GridSample", "MODES", "PADDING_MODES"]

MODES = ("bilinear", "nearest")
PADDING_MODES = ("zeros", "border", "reflection")


def _clip(x: np.ndarray, size: int) -> tuple:
    """``x`` clamped to [0, size - 1], and its derivative (0 where clamped, as PyTorch's)."""
    return np.clip(x, 0, size - 1), ((x >= 0) & (x <= size - 1)).astype(x.dtype)


def _reflect(x: np.ndarray, twice_low: int, twice_high: int) -> tuple:
    """``x`` mirrored into [twice_low / 2, twice_high / 2] as often as needed, and its
    derivative (+1 or -1: each mirroring flips it)."""
    if twice_low == twice_high:
        return np.zeros_like(x), np.zeros_like(x)
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    x = x - low
    sign = np.where(x < 0, -1.0, 1.0).astype(x.dtype)
    x = np.abs(x)
    extra = np.fmod(x, span)
    odd = np.floor(x / span) % 2 == 1
    return (np.where(odd, span - extra, extra) + low).astype(x.dtype), np.where(odd, -sign, sign)


def source_index(coord: np.ndarray, size: int, padding_mode: str, align_corners: bool) -> tuple:
    """Pixel coordinates of normalized ``coord`` along an axis of ``size``, after the padding
    rule, and d(pixel coordinate)/d(coord)."""
    if align_corners:  # -1 and 1 are the centres of pixels 0 and size - 1
        x, dx = (coord + 1) / 2 * (size - 1), np.full_like(coord, (size - 1) / 2)
    else:  # -1 and 1 are the outer edges: pixel i covers [i - 0.5, i + 0.5]
        x, dx = ((coord + 1) * size - 1) / 2, np.full_like(coord, size / 2)
    if padding_mode == "border":
        x, d = _clip(x, size)
        dx = dx * d
    elif padding_mode == "reflection":
        x, d = _reflect(x, 0, 2 * (size - 1)) if align_corners else _reflect(x, -1, 2 * size - 1)
        x, d2 = _clip(x, size)
        dx = dx * d * d2
    return x, dx


class GridSample(ArrayFunction):
    """``y[n, c, p] = sum over the pixels q read for point p of w(p, q) * x[n, c, q]``.

    Shape: ``x (N, C, *S_in)``, ``grid (N, *S_out, d)`` with ``d = len(S_in)`` (2 or 3),
    ``y (N, C, *S_out)``.
    """

    @staticmethod
    def forward(ctx, x, grid, mode, padding_mode, align_corners):
        N, C, *S_in = x.shape
        S_out = grid.shape[1:-1]
        d = len(S_in)
        points = grid.reshape(N, -1, d)  # (N, P, d); coordinate k runs along spatial axis d-1-k
        coords, slopes = zip(*(source_index(points[..., d - 1 - a], S_in[a], padding_mode,
                                            align_corners) for a in range(d)))
        taps = _taps(coords, S_in, mode)
        flat = np.moveaxis(x, 1, -1).reshape(-1, C)  # (N * prod(S_in), C)
        y = np.zeros((N, points.shape[1], C), dtype=x.dtype)
        for rows, weight, _ in taps:
            y += weight[..., None] * flat[rows]
        ctx.save_for_backward(x)
        ctx.taps, ctx.slopes, ctx.grid_shape = taps, slopes, grid.shape
        return np.moveaxis(y, -1, 1).reshape(N, C, *S_out)  # (N, P, C) -> (N, C, *S_out)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        N, C, *S_in = x.shape
        g = np.moveaxis(gy.reshape(N, C, -1), 1, -1)  # (N, C, *S_out) -> (N, P, C)
        gx = ggrid = None
        if ctx.needs_input_grad[0]:
            flat = np.zeros((N * int(np.prod(S_in)), C), dtype=x.dtype)
            for rows, weight, _ in ctx.taps:
                np.add.at(flat, rows.ravel(), (weight[..., None] * g).reshape(-1, C))
            gx = np.moveaxis(flat.reshape(N, *S_in, C), -1, 1)  # back to (N, C, *S_in)
        if ctx.needs_input_grad[1]:
            d = len(S_in)
            flat_x = np.moveaxis(x, 1, -1).reshape(-1, C)
            ggrid = np.zeros((N, g.shape[1], d), dtype=x.dtype)
            for rows, _, weight_slopes in ctx.taps:
                if weight_slopes is None:  # nearest: flat in the coordinates
                    continue
                read = np.einsum("npc,npc->np", flat_x[rows], g)  # <gy, x at the pixel>
                for a in range(d):
                    ggrid[..., d - 1 - a] += read * weight_slopes[a]
            for a in range(d):
                ggrid[..., d - 1 - a] *= ctx.slopes[a]
            ggrid = ggrid.reshape(ctx.grid_shape)
        return gx, ggrid, None, None, None


def _taps(coords, S_in, mode) -> list:
    """The pixels each point reads: a list of ``(rows, weight, weight_slopes)``, one per corner
    (bilinear) or one (nearest). ``rows`` (N, P) index the image flattened to
    ``(N * prod(S_in), C)``; ``weight`` (N, P) is 0 where the pixel lies outside the image;
    ``weight_slopes[a]`` is d(weight)/d(pixel coordinate along axis a)."""
    N, P = coords[0].shape
    base = (np.arange(N) * int(np.prod(S_in)))[:, None]  # (N, 1): each sample's first row
    if mode == "nearest":
        index = [np.rint(c).astype(np.int64) for c in coords]  # halves to even, as nearbyint
        rows, inside = _rows(base, index, S_in)
        return [(rows, inside.astype(coords[0].dtype), None)]
    lows = [np.floor(c).astype(np.int64) for c in coords]
    fracs = [c - lo for c, lo in zip(coords, lows)]  # distance past the lower pixel
    taps = []
    for corner in itertools.product((0, 1), repeat=len(S_in)):
        index = [lo + k for lo, k in zip(lows, corner)]
        rows, inside = _rows(base, index, S_in)
        # per axis: weight 1 - f toward the lower pixel, f toward the upper one
        factors = [f if k else 1 - f for f, k in zip(fracs, corner)]
        weight = np.prod(factors, axis=0) * inside
        slopes = []
        for a, k in enumerate(corner):
            others = np.prod([f for b, f in enumerate(factors) if b != a], axis=0)
            slopes.append((1.0 if k else -1.0) * others * inside)
        taps.append((rows, weight, slopes))
    return taps


def _rows(base: np.ndarray, index: list, S_in) -> tuple:
    """Flat row numbers of the pixels at ``index`` (clamped into the image, so that reading
    is safe), and where the pixels really lie inside it."""
    inside = np.ones(index[0].shape, dtype=bool)
    flat = np.zeros(index[0].shape, dtype=np.int64)
    for i, size in zip(index, S_in):
        inside &= (i >= 0) & (i < size)
        flat = flat * size + np.clip(i, 0, size - 1)  # row-major position within the sample
    return base + flat, inside
