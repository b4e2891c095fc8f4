"""Convolution by the FFT, for large kernels: stride 1, any padding, dilation and groups.

A correlation is a product in the frequency domain. With every spatial axis zero-extended to a
length ``L`` at least the padded input ``P = i + p_lo + p_hi``, and the kernel's taps placed
at ``τ = t*d - p_lo`` (mod ``L``), the circular wrap-around lands only in the zeros past the
input, and all three passes are one channel contraction per frequency ``f``::

    X = rfftn(x)  (N, C, F)        W = Σ_t w[t] exp(-2πi f τ_t / L)  (K, C/g, F)
    Gy = rfftn(gy)  (N, K, F)

    y      = irfftn(Σ_c X[n, c] · conj(W[k, c]))[:O]         correlation of x with w
    gx     = irfftn(Σ_k Gy[n, k] · W[k, c])[:i]              convolution of gy with w
    gw     = irfftn(Σ_n conj(Gy[n, k]) · X[n, c])[τ_t]       correlation of x with gy

The cost no longer grows with the kernel: about ``(N C + N K) P log P`` for the transforms
plus ``N K C P`` for the products, against ``N K C O k`` for a direct method, so it wins from
kernels of about 7x7 in 2-D (see ``select.py``). The kernel has only ``k`` taps of ``L`` per
axis, so its spectrum (and the weight gradient, needed at the taps only) is a product with
DFT matrices rather than an FFT: cheaper, and it takes the dilation, the padding's shift and
the conjugation for free. The contraction runs as one small matrix product per frequency,
batched by ``np.matmul``, which needs the frequencies on the leading axis; the frequencies are
split between the threads, and the transforms use ``scipy.fft``'s threads. The rounding
error is that of the FFT, about ``log2(P)`` float rounding steps relative to the largest
values.

Measured on one core (large-k, ``x4x16x128x128 w16x16x15x15 padding=7``, float32, CPU time
on a loaded machine): with FFTs of the zero-extended kernel, the forward took 41 ms, 28 of
them for the kernel's spectrum (its FFT along the first axis runs over all 144 rows, and the
spectrum was then copied to put the frequencies first, and copied again to conjugate it);
with DFT matrices the kernel costs about 6 ms with its products, and the forward 29-33 ms:
two transforms of the input's and output's 64 planes (8 and 11 ms) and those products. The
weight gradient took 60 ms, mostly the inverse FFTs of its 256 planes, and takes 29 ms.

A NaN or inf would spread over every plane it is transformed with, and a value far larger than
the rest would swamp the others' rounding: on such data (:mod:`.conditioning`) each pass hands
the call to im2col, which reads each window on its own.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.fft

from . import im2col, parallel
from .conditioning import finite, well_scaled
from .geometry import ConvGeometry
from .im2col import add_bias

__all__ = ["supports", "transform_length", "conv_forward", "conv_input_grad", "conv_weight_grad"]


# The kernel's spectrum is made in shares of the frequencies of at most this many bytes.
SPECTRUM_BYTES = 16 << 20


def supports(G: ConvGeometry) -> bool:
    """The FFT computes every output position; strided convolutions would throw most away."""
    return all(s == 1 for s in G.stride)


def transform_length(G: ConvGeometry) -> tuple[int, ...]:
    """``L`` per axis: the padded input, rounded up to a length the FFT is fast for."""
    return tuple(scipy.fft.next_fast_len(i + lo + hi, real=True)
                 for i, (lo, hi) in zip(G.in_size, G.padding))


def _axes(nd: int) -> tuple[int, ...]:
    return tuple(range(-nd, 0))


def _spectrum(a: np.ndarray, L: tuple[int, ...], conj: bool = False) -> np.ndarray:
    """``rfftn`` of ``a (B, C, *S)`` zero-extended to ``L``, with the frequencies first:
    ``(F, B, C)``, ``F = prod(L[:-1]) * (L[-1]//2 + 1)``; conjugated in the same copy where
    ``conj``."""
    spec = scipy.fft.rfftn(a, s=L, axes=_axes(len(L)), workers=parallel.WORKERS)  # (B, C, *F)
    return _copy(spec.reshape(a.shape[:2] + (-1,)).transpose(2, 0, 1), conj)


def _copy(view: np.ndarray, conj: bool = False) -> np.ndarray:
    """``view`` copied in C order (conjugated where ``conj``), the first axis split between
    the threads: these copies move the frequencies first and back, one pass each."""
    out = np.empty(view.shape, dtype=view.dtype)

    def one(part: slice) -> None:
        if conj:
            np.conjugate(view[part], out=out[part])
        else:
            out[part] = view[part]

    parallel.map_chunks(one, parallel.split(len(out), out[0].nbytes, out.nbytes))
    return out


def _half(spec: np.ndarray, L: tuple[int, ...]) -> np.ndarray:
    """``(F, B, C) -> (B, C, *L[:-1], L[-1]//2 + 1)``: the spectrum back in its own shape."""
    half = L[:-1] + (L[-1] // 2 + 1,)
    return _copy(spec.transpose(1, 2, 0)).reshape(spec.shape[1:] + half)


def _first(spec: np.ndarray, L: tuple[int, ...], n: tuple[int, ...]) -> np.ndarray:
    """The inverse of :func:`_spectrum`, ``(F, B, C) -> (B, C, *n)``: its first ``n`` values
    per axis, one axis at a time, each inverse transform keeping ``n`` of its ``L`` outputs
    before the next runs."""
    a = _half(spec, L)
    for axis in range(-len(L), -1):
        a = scipy.fft.ifft(a, axis=axis, workers=parallel.WORKERS)[(..., slice(0, n[axis]),
                                                           *(slice(None),) * (-axis - 1))]
    return scipy.fft.irfft(a, n=L[-1], axis=-1, workers=parallel.WORKERS)[..., :n[-1]]


@functools.lru_cache(maxsize=32)
def _dft_matrix(L: int, taps: int, dilation: int, shift: int, real: bool, conj: bool,
                dtype: np.dtype) -> np.ndarray:
    """The transform of length ``L`` of a kernel axis as a matrix ``(frequencies, taps)``: tap
    ``t`` sits at position ``t*d - shift`` (mod ``L``), so the matrix is
    ``exp(∓2πi f (t*d - shift) / L)`` for every frequency ``f`` of ``L`` (of ``L//2 + 1`` for
    the real transform of the last axis), ``+`` for ``conj``."""
    frequencies = L // 2 + 1 if real else L
    position = (np.arange(taps) * dilation - shift) % L
    angle = 2 * np.pi * ((np.arange(frequencies)[:, None] * position) % L) / L
    return np.exp((1j if conj else -1j) * angle).astype(dtype)


def _per_group(spec: np.ndarray, groups: int) -> np.ndarray:
    """``(F, B, C) -> (F, g, B, C/g)``: the channel axis split by group, groups leading."""
    F, B, C = spec.shape
    return spec.reshape(F, B, groups, C // groups).transpose(0, 2, 1, 3)


def _times_weight_spectrum(a: np.ndarray, w: np.ndarray, G: ConvGeometry,
                           L: tuple[int, ...], forward: bool) -> np.ndarray:
    """``a (F, g, B, ·)`` times the spectrum of the kernel, with its taps at ``t*d - p_lo``,
    per frequency: for the forward pass the conjugate spectrum ``(F, g, C/g, K/g)``, for the
    input gradient the spectrum ``(F, g, K/g, C/g)``.

    A kernel is small against ``L`` (15 taps of 144), so its transform is a product with the
    DFT matrix of each axis (:func:`_dft_matrix`), one axis after the other, the last axis
    first, the channels the last axis throughout: the result comes out with the frequencies
    first, as the products want it; dilation and padding cost nothing (they place the taps),
    and conjugate twiddles give the conjugate spectrum. Placing the taps at ``-p_lo`` lets the
    inputs be transformed as they are, without a padded copy: the wrap-around of the circular
    correlation then lands in the zeros past the input. The transform of the first axis, the
    largest product, and the products after it run on the threads, in shares of the
    frequencies of at most SPECTRUM_BYTES, which bounds the memory the spectrum takes (for
    large-k, one share per thread; shares made small enough to stay in cache before their
    products ran slower: 10 against 8.5 ms with 1 MiB). For the 16x16 kernels of 15x15 in a 144x144 transform, one
    core: the spectrum 6 ms, against 13 ms by FFTs of the zero-extended kernel (most of it
    moving the frequencies first) and 3 ms more for its conjugate."""
    g, K_g, C_g = G.groups, G.out_channels // G.groups, w.shape[1]
    wg = w.reshape(g, K_g, C_g, *G.kernel_size)
    if forward:
        wg = wg.swapaxes(1, 2)  # (g, C/g, K/g, *k)
    dtype = np.result_type(w.dtype, np.complex64)
    t = np.moveaxis(wg.reshape(g * K_g * C_g, *G.kernel_size), 0, -1)  # (*k, channels)
    D = [_dft_matrix(L[axis], G.kernel_size[axis], G.dilation[axis], G.pad_lo[axis],
                     axis == G.nd - 1, forward, dtype) for axis in range(G.nd)]
    for axis in range(G.nd - 1, 0, -1):
        rest = t.shape[axis + 1:]
        t = np.matmul(D[axis], t.reshape(*t.shape[:axis], G.kernel_size[axis], math.prod(rest)))
        t = t.reshape(*t.shape[:axis], len(D[axis]), *rest)  # (*k[:axis], frequencies, *rest)
    t = t.reshape(G.kernel_size[0], -1)  # (k_0, frequencies of the other axes * channels)
    per_row = t.shape[1] // (g * K_g * C_g)  # frequencies of the first axis' one
    out = np.empty(a.shape[:-1] + wg.shape[2:3], dtype=np.result_type(a, t))

    def one(rows: slice) -> None:
        f = slice(rows.start * per_row, rows.stop * per_row)
        spectrum = (D[0][rows] @ t).reshape(-1, *wg.shape[:3])  # (frequencies f, g, ., .)
        np.matmul(a[f], spectrum, out=out[f])

    parallel.map_chunks(one, parallel.split(len(D[0]), t[0].nbytes, SPECTRUM_BYTES))
    return out


def _products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul(a, b)`` for the small matrices of every frequency, ``(F, g, ., .)``, the
    frequencies split between the threads (each product is too small to split by rows)."""
    out = np.empty(a.shape[:-1] + b.shape[-1:], dtype=np.result_type(a, b))
    per_frequency = (a[0].size + b[0].size + out[0].size) * out.itemsize
    parallel.map_chunks(lambda f: np.matmul(a[f], b[f], out=out[f]),
                        parallel.split(len(a), per_frequency, len(a) * per_frequency))
    return out


def _merge_groups(spec: np.ndarray) -> np.ndarray:
    """``(F, g, B, C/g) -> (F, B, C)``."""
    F, g, B, C_g = spec.shape
    return spec.transpose(0, 2, 1, 3).reshape(F, B, g * C_g)


def conv_forward(x: np.ndarray, w: np.ndarray, G: ConvGeometry,
                 b: np.ndarray | None = None) -> np.ndarray:
    """``y (N, C_out, *O)``: ``Σ_c X · conj(W)`` per frequency, back to space, the first
    ``O`` values, plus ``b (C_out,)`` where given."""
    if not (well_scaled(x) and finite(w)):
        return im2col.conv_forward(x, w, G, b)
    L = transform_length(G)
    X = _per_group(_spectrum(x, L), G.groups)  # (F, g, N, C/g)
    Y = _times_weight_spectrum(X, w, G, L, forward=True)  # (F, g, N, K/g)
    return add_bias(_copy(_first(_merge_groups(Y), L, G.out_size)), b)


def conv_input_grad(gy: np.ndarray, w: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``gx (N, C_in, *S)``: ``Σ_k Gy · W`` per frequency, back to space, the first ``S``
    values."""
    if not (well_scaled(gy) and finite(w)):
        return im2col.conv_input_grad(gy, w, G)
    L = transform_length(G)
    Gy = _per_group(_spectrum(gy, L), G.groups)  # (F, g, N, K/g)
    Gx = _times_weight_spectrum(Gy, w, G, L, forward=False)  # (F, g, N, C/g)
    return _copy(_first(_merge_groups(Gx), L, G.in_size))


def _at_taps(spec: np.ndarray, G: ConvGeometry, L: tuple[int, ...]) -> np.ndarray:
    """The inverse of a spectrum ``(F, channels)`` at the kernel's taps only, real: the values
    at ``t*d - p_lo`` (mod ``L``) per axis, ``(channels, *k)``.

    With 15 of 144 values wanted per axis, products with the inverse DFT matrices beat inverse
    FFTs of whole planes (see :func:`_times_weight_spectrum`, which this mirrors: the first axis
    first, the channels last throughout). The last axis holds half the spectrum of a real
    signal: its frequencies between 0 and ``L/2`` stand for two, theirs and their mirror
    image's, so they count twice, and the real part is the inverse."""
    dtype = spec.dtype
    a = spec.reshape(*L[:-1], L[-1] // 2 + 1, -1)  # (*frequencies, channels)
    for axis in range(G.nd):
        last = axis == G.nd - 1
        D = _dft_matrix(L[axis], G.kernel_size[axis], G.dilation[axis], G.pad_lo[axis],
                        last, True, dtype).T / L[axis]  # (taps, frequencies)
        if last:
            twice = np.full(len(D.T), 2.0)
            twice[0] = 1.0
            if L[axis] % 2 == 0:
                twice[-1] = 1.0  # the frequency L/2 is its own mirror image
            D = (D * twice).astype(dtype)
        rest = a.shape[axis + 1:]
        a = parallel.matmul(D, a.reshape(*a.shape[:axis], a.shape[axis], math.prod(rest)))
        a = a.reshape(*a.shape[:axis], G.kernel_size[axis], *rest)  # (*k[:axis + 1], *rest)
    return np.moveaxis(a.real, -1, 0)  # (channels, *k)


def conv_weight_grad(x: np.ndarray, gy: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``gw (C_out, C_in/groups, *K)``: ``Σ_n conj(Gy) · X`` per frequency, back to space at
    the taps' lags ``t*d - p_lo``."""
    if not (well_scaled(x) and well_scaled(gy)):
        return im2col.conv_weight_grad(x, gy, G)
    L = transform_length(G)
    X = _per_group(_spectrum(x, L), G.groups)  # (F, g, N, C/g)
    Gy = _per_group(_spectrum(gy, L, conj=True), G.groups)  # (F, g, N, K/g)
    Gw = _products(Gy.transpose(0, 1, 3, 2), X)  # (F, g, K/g, C/g)
    gw = _at_taps(Gw.reshape(len(Gw), -1), G, L)  # (K*C/g, *k)
    return np.ascontiguousarray(gw).reshape(G.out_channels, -1, *G.kernel_size)
