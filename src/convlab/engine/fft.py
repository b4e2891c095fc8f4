"""Convolution by the FFT, for large kernels: stride 1, any padding, dilation and groups.

A correlation is a product in the frequency domain. With every spatial axis zero-extended to a
length ``L`` at least the padded input ``P = i + p_lo + p_hi``, no circular wrap-around reaches
the values we keep, and all three passes are one channel contraction per frequency ``f``::

    X = rfftn(x_padded)  (N, C, F)    W = rfftn(w_dilated)  (K, C/g, F)    Gy = rfftn(gy)  (N, K, F)

    y      = irfftn(Σ_c X[n, c] · conj(W[k, c]))[:O]           correlation of x with w
    gx     = irfftn(Σ_k Gy[n, k] · W[k, c])[p_lo : p_lo + i]    convolution of gy with w
    gw     = irfftn(Σ_n conj(Gy[n, k]) · X[n, c])[::d][:k]      correlation of x with gy

The cost no longer grows with the kernel: about ``(N C + K C + N K) P log P`` for the
transforms plus ``N K C P`` for the products, against ``N K C O k`` for a direct method, so it
wins from kernels of about 7x7 in 2-D (see ``select.py``). The contraction runs as one small
matrix product per frequency, batched by ``np.matmul``, which needs the frequencies on the
leading axis. Transforms use ``scipy.fft`` on all cores. The rounding error is that of the
FFT, about ``log2(P)`` float rounding steps relative to the largest values.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from . import parallel
from .geometry import ConvGeometry
from .im2col import add_bias

__all__ = ["supports", "transform_length", "conv_forward", "conv_input_grad", "conv_weight_grad"]

def supports(G: ConvGeometry) -> bool:
    """The FFT computes every output position; strided convolutions would throw most away."""
    return all(s == 1 for s in G.stride)


def transform_length(G: ConvGeometry) -> tuple[int, ...]:
    """``L`` per axis: the padded input, rounded up to a length the FFT is fast for."""
    return tuple(scipy.fft.next_fast_len(i + lo + hi, real=True)
                 for i, (lo, hi) in zip(G.in_size, G.padding))


def _axes(nd: int) -> tuple[int, ...]:
    return tuple(range(-nd, 0))


def _spectrum(a: np.ndarray, L: tuple[int, ...], offset: tuple[int, ...] = None) -> np.ndarray:
    """``rfftn`` of ``a (B, C, *S)`` zero-extended to ``L`` (placed at ``offset`` per axis),
    with the frequencies first: ``(F, B, C)``, ``F = prod(L[:-1]) * (L[-1]//2 + 1)``."""
    nd = len(L)
    if offset is not None and any(offset):
        padded = np.zeros(a.shape[:2] + L, dtype=a.dtype)
        padded[(..., *(slice(o, o + n) for o, n in zip(offset, a.shape[2:])))] = a
        a = padded
    spec = scipy.fft.rfftn(a, s=L, axes=_axes(nd), workers=parallel.WORKERS)  # (B, C, *F)
    return np.ascontiguousarray(spec.reshape(a.shape[:2] + (-1,)).transpose(2, 0, 1))


def _kernel_spectrum(a: np.ndarray, L: tuple[int, ...]) -> np.ndarray:
    """:func:`_spectrum` of a kernel much smaller than ``L``, one axis at a time: the first
    transform runs over the kernel's own rows only, not over the zero rows that ``rfftn``
    would pad in first (the 15x15 kernels of a 144x144 transform: half the work)."""
    a = scipy.fft.rfft(a, n=L[-1], axis=-1, workers=parallel.WORKERS)
    for axis in range(-2, -len(L) - 1, -1):
        a = scipy.fft.fft(a, n=L[axis], axis=axis, workers=parallel.WORKERS)
    return np.ascontiguousarray(a.reshape(a.shape[:2] + (-1,)).transpose(2, 0, 1))  # (F, B, C)


def _half(spec: np.ndarray, L: tuple[int, ...]) -> np.ndarray:
    """``(F, B, C) -> (B, C, *L[:-1], L[-1]//2 + 1)``: the spectrum back in its own shape."""
    half = L[:-1] + (L[-1] // 2 + 1,)
    return np.ascontiguousarray(spec.transpose(1, 2, 0)).reshape(spec.shape[1:] + half)


def _spatial(spec: np.ndarray, L: tuple[int, ...]) -> np.ndarray:
    """The inverse of :func:`_spectrum`: ``(F, B, C) -> (B, C, *L)``, real."""
    return scipy.fft.irfftn(_half(spec, L), s=L, axes=_axes(len(L)), workers=parallel.WORKERS)


def _first(spec: np.ndarray, L: tuple[int, ...], n: tuple[int, ...]) -> np.ndarray:
    """The first ``n`` values per axis of :func:`_spatial`, ``(B, C, *n)``, one axis at a
    time, each inverse transform keeping ``n`` of its ``L`` outputs before the next runs
    (the weight gradient needs the kernel's taps, not the whole plane)."""
    a = _half(spec, L)
    for axis in range(-len(L), -1):
        a = scipy.fft.ifft(a, axis=axis, workers=parallel.WORKERS)[(..., slice(0, n[axis]),
                                                           *(slice(None),) * (-axis - 1))]
    return scipy.fft.irfft(a, n=L[-1], axis=-1, workers=parallel.WORKERS)[..., :n[-1]]


def _dilated(w: np.ndarray, dilation: tuple[int, ...]) -> np.ndarray:
    """The kernel with ``d - 1`` zeros between its taps: ``(K, C_g, *k) -> (K, C_g, *k_eff)``."""
    if all(d == 1 for d in dilation):
        return w
    k_eff = tuple(d * (k - 1) + 1 for k, d in zip(w.shape[2:], dilation))
    out = np.zeros(w.shape[:2] + k_eff, dtype=w.dtype)
    out[(..., *(slice(None, None, d) for d in dilation))] = w
    return out


def _per_group(spec: np.ndarray, groups: int) -> np.ndarray:
    """``(F, B, C) -> (F, g, B, C/g)``: the channel axis split by group, groups leading."""
    F, B, C = spec.shape
    return spec.reshape(F, B, groups, C // groups).transpose(0, 2, 1, 3)


def _weight_spectrum(w: np.ndarray, G: ConvGeometry, L: tuple[int, ...]) -> np.ndarray:
    """The spectrum of the dilated kernel, ``(F, g, K/g, C/g)`` (``K`` is group-major)."""
    W = _kernel_spectrum(_dilated(w, G.dilation), L)  # (F, K, C/g)
    F, K, C_g = W.shape
    return W.reshape(F, G.groups, K // G.groups, C_g)


def _merge_groups(spec: np.ndarray) -> np.ndarray:
    """``(F, g, B, C/g) -> (F, B, C)``."""
    F, g, B, C_g = spec.shape
    return spec.transpose(0, 2, 1, 3).reshape(F, B, g * C_g)


def conv_forward(x: np.ndarray, w: np.ndarray, G: ConvGeometry,
                 b: np.ndarray | None = None) -> np.ndarray:
    """``y (N, C_out, *O)``: ``Σ_c X · conj(W)`` per frequency, back to space, cut to ``O``,
    plus ``b (C_out,)`` where given."""
    L = transform_length(G)
    X = _per_group(_spectrum(x, L, G.pad_lo), G.groups)  # (F, g, N, C/g)
    W = _weight_spectrum(w, G, L).conj()  # (F, g, K/g, C/g)
    Y = np.matmul(X, W.transpose(0, 1, 3, 2))  # (F, g, N, C/g) @ (F, g, C/g, K/g)
    y = _spatial(_merge_groups(Y), L)  # (N, K, *L)
    return add_bias(np.ascontiguousarray(y[(..., *(slice(0, o) for o in G.out_size))]), b)


def conv_input_grad(gy: np.ndarray, w: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``gx (N, C_in, *S)``: ``Σ_k Gy · W`` per frequency, the padding cut off."""
    L = transform_length(G)
    Gy = _per_group(_spectrum(gy, L), G.groups)  # (F, g, N, K/g)
    W = _weight_spectrum(w, G, L)  # (F, g, K/g, C/g)
    gx = _spatial(_merge_groups(np.matmul(Gy, W)), L)  # (F, g, N, C/g) -> (N, C, *L)
    return np.ascontiguousarray(gx[(..., *(slice(lo, lo + i)
                                           for lo, i in zip(G.pad_lo, G.in_size)))])


def conv_weight_grad(x: np.ndarray, gy: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``gw (C_out, C_in/groups, *K)``: ``Σ_n conj(Gy) · X`` per frequency, every ``d``-th
    lag of the first ``k_eff``."""
    L = transform_length(G)
    X = _per_group(_spectrum(x, L, G.pad_lo), G.groups)  # (F, g, N, C/g)
    Gy = _per_group(_spectrum(gy, L).conj(), G.groups)  # (F, g, N, K/g)
    Gw = np.matmul(Gy.transpose(0, 1, 3, 2), X)  # (F, g, K/g, C/g)
    F, g, K_g, C_g = Gw.shape
    gw = _first(Gw.reshape(F, g * K_g, C_g), L, G.kernel_extent)  # (K, C/g, *k_eff)
    taps = tuple(slice(None, None, d) for d in G.dilation)
    return np.ascontiguousarray(gw[(..., *taps)])
