"""Winograd's minimal filtering F(4, 3): 3x3 (and 3, 3x3x3) convolutions with stride 1 in
fewer multiplications.

One output tile of ``m = 4`` values per axis of a 3-tap correlation needs ``α = m + 3 - 1 = 6``
inputs. Winograd (via Toom-Cook, Lavin & Gray 2015) computes it with α products instead of
``m * 3``, from three small matrices ``Aᵀ (m, α)``, ``G (α, 3)`` and ``Bᵀ (α, α)``::

    y_tile = Aᵀ [ (G w) ⊙ (Bᵀ x_tile) ]                       (1-D)
    y_tile = Aᵀ [ (G w Gᵀ) ⊙ (Bᵀ x_tile B) ] A                 (2-D, one matrix per axis)

Summed over input channels, the ``⊙`` becomes one matrix product per transformed position ``ξ``
(``α^nd`` of them), and those products are where the time goes::

    V[ξ] (C_in, tiles)  = Bᵀ-transform of the input tiles        (overlapping by 2 per axis)
    U[ξ] (C_out, C_in)  = G-transform of the weights
    M[ξ] (C_out, tiles) = U[ξ] @ V[ξ]
    y                   = Aᵀ-transform of M, the tiles put side by side

In 2-D that is 36 products of ``(C_out, C_in)`` matrices per 16 outputs instead of 9 per
output: 4x fewer multiplications. The work goes in chunks of samples small enough for the
temporaries to stay in the CPU's cache, the chunks on all cores at once: on OpenMP's threads
in compiled code (:mod:`.winograd_kernels`), or on Python's threads (:mod:`.parallel`) when
the kernels are off. The gradients of a batch of one chunk in 2-D go a row of positions at a
time, with a sixth of the temporaries (:func:`_correlate_rows`; the input gradient only where
the temporaries would be large, :data:`ROWS_ABOVE`).

The transforms are memory passes, and how they are made decides the speed as much as the
products do. In 2-D and 3-D, when :func:`.jit.active`, compiled kernels
(:mod:`.winograd_kernels`) take each input tile from ``x`` straight to ``V``, padding read as
zeros, and each tile of ``M`` straight to its place in ``y``, bias added; otherwise (and in
1-D) NumPy makes a padded copy, a copy of the overlapping tiles, and applies one
Kronecker-product matrix per pair of axes in the BLAS. Measured on one core, forward, NumPy's
passes -> compiled: 64 channels of 56x56 in 16 samples 48 -> 20 ms (PyTorch: 35 ms); 32
channels of 16x32x32 in 4 samples 45 -> 32 ms (PyTorch: 32 ms).

A dilated kernel reads the input's phases (every ``d``-th element) separately, so it is
``d**nd`` undilated convolutions side by side (the compiled kernels read and write the phases
as strided views, without copies). Backward needs no new idea: the input gradient of a stride-1
convolution is the correlation of ``gy`` with the flipped, channel-transposed kernel (padding
``2 - p``), and the weight gradient is the correlation F(3, 4) of ``x`` with ``gy``: 3 outputs
(the taps) from 4 values of ``gy`` per tile, with the same ``Bᵀ`` on the input tiles.

Accuracy: the transforms mix values of different sizes (entries up to 8 and down to 1/24), so
float32 rounding errors grow about 10-30x over a direct sum: relative to the largest
``Σ|w||x|``, the difference from ``reference.py`` stays below 4e-6 in float32 over the tests'
random draws (bounded there by 2e-5), and below 1e-10 in float64. A tile's outputs round
relative to the tile's largest value, and a NaN or inf makes NaN of the whole tile: on data
with either (:mod:`.conditioning`) each pass hands the call to im2col.
"""

from __future__ import annotations

import functools
import itertools
import math
from fractions import Fraction

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import im2col, jit, parallel
from . import winograd_kernels as wk
from .conditioning import finite, well_scaled
from .geometry import ConvGeometry
from .im2col import flipped_transpose
from .parallel import map_chunks, split

__all__ = ["M", "matrices", "supports", "conv_forward", "forward_plan", "conv_input_grad",
           "conv_weight_grad"]

M = 4  # outputs per tile and axis: F(4, 3)
R = 3  # kernel taps per axis
ALPHA = M + R - 1  # inputs per tile and axis

# The interpolation points of Toom-Cook; the last point of every transform is "infinity".
# Small, symmetric points keep the matrices' entries (and the float32 error) small.
POINTS = (0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2))

# Samples per chunk are chosen so that one chunk's transformed tiles take about this many bytes:
# they then stay in the CPU's cache from one step to the next.
CHUNK_BYTES = 1 << 20

# The input gradient of a batch of one chunk in 2-D goes a row of positions at a time
# (_correlate_rows) when the stages' temporaries would take more than this many bytes
# (_stage_bytes); below, stage by stage (see _correlate_rows for the measurements).
ROWS_ABOVE = 5 << 20


def _inverse(a: list[list[Fraction]]) -> list[list[Fraction]]:
    """Gauss-Jordan inverse in exact arithmetic (the matrices are at most 7x7)."""
    n = len(a)
    rows = [row[:] + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(a)]
    for c in range(n):
        p = next(r for r in range(c, n) if rows[r][c] != 0)
        rows[c], rows[p] = rows[p], rows[c]
        rows[c] = [v / rows[c][c] for v in rows[c]]
        for r in range(n):
            if r != c and rows[r][c] != 0:
                f = rows[r][c]
                rows[r] = [vr - f * vc for vr, vc in zip(rows[r], rows[c])]
    return [row[n:] for row in rows]


@functools.lru_cache(maxsize=None)
def matrices(m: int, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Aᵀ (m, α)``, ``G (α, r)``, ``Bᵀ (α, α)`` of F(m, r), ``α = m + r - 1``, float64.

    Derivation: the linear convolution ``s = g * h`` of a filter ``g`` (r taps) with ``h``
    (m values) evaluates both polynomials at α points and interpolates: ``s = V⁻¹ [(V_r g) ⊙
    (V_m h)]``, ``V_k`` the α x k Vandermonde matrix of the points (the point at infinity takes
    the leading coefficient). Correlation, ``y = F(m, r) x``, is that map transposed with respect
    to ``h``: ``y = V_mᵀ [(V_r g) ⊙ (V⁻ᵀ x)]``, so ``Aᵀ = V_mᵀ``, ``G = V_r``, ``Bᵀ = V⁻ᵀ``.
    Each row of ``Bᵀ`` is then scaled to integers and the matching row of ``G`` divided.

    >>> AT, G, BT = matrices(2, 3)
    >>> AT.tolist(), BT.tolist()
    ([[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, 1.0]], [[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, -1.0, 1.0, 0.0], [0.0, -1.0, 0.0, 1.0]])
    >>> x, g = np.arange(4.0), np.array([1.0, 2.0, 3.0])
    >>> (AT @ ((G @ g) * (BT @ x))).tolist()  # [0*1 + 1*2 + 2*3, 1*1 + 2*2 + 3*3]
    [8.0, 14.0]
    """
    alpha = m + r - 1
    points = [Fraction(p) for p in POINTS[:alpha - 1]]

    def vandermonde(k: int) -> list[list[Fraction]]:
        rows = [[p ** j for j in range(k)] for p in points]
        return rows + [[Fraction(int(j == k - 1)) for j in range(k)]]  # the point at infinity

    AT = [list(col) for col in zip(*vandermonde(m))]
    G = vandermonde(r)
    BT = [list(col) for col in zip(*_inverse(vandermonde(alpha)))]
    for j, row in enumerate(BT):
        scale = math.lcm(*(v.denominator for v in row))
        BT[j] = [v * scale for v in row]
        G[j] = [v / scale for v in G[j]]
    return tuple(np.array(a, dtype=np.float64) for a in (AT, G, BT))


@functools.lru_cache(maxsize=None)
def _kron(which: str, m: int, r: int, axes: int, dtype: np.dtype) -> np.ndarray:
    """The transform ``which`` (``"AT"``, ``"G"`` or ``"BT"``) of F(m, r) for ``axes`` axes at
    once: the Kronecker product ``T ⊗ T`` that maps a flattened ``α x α`` tile in one product."""
    t = matrices(m, r)[("AT", "G", "BT").index(which)]
    out = np.ones((1, 1))
    for _ in range(axes):
        out = np.kron(out, t)
    return out.astype(dtype)


def _size(which: str, m: int, r: int) -> tuple[int, int]:
    """``(p, q)``: the shape of transform ``which`` of F(m, r)."""
    return matrices(m, r)[("AT", "G", "BT").index(which)].shape


def _transform(which: str, m: int, r: int, a: np.ndarray, nd: int) -> np.ndarray:
    """Apply transform ``which`` of F(m, r) along each of the ``nd`` leading axes of ``a``.

    Shape: ``(q,)*nd + rest -> (p,)*nd + rest`` for a ``(p, q)`` matrix, the leading axes
    flattened. Two axes go in one Kronecker product; a third axis takes a second product.
    """
    rest = a.shape[nd:]
    p = _size(which, m, r)[0]
    done = 0
    while done < nd:
        axes = min(2, nd - done)
        t = _kron(which, m, r, axes, a.dtype)
        lead = a.shape[:done]
        a = np.matmul(t, a.reshape(math.prod(lead), t.shape[1], -1))  # (P, q^axes, Q) -> (P, p^axes, Q)
        done += axes
        a = a.reshape(lead + (p,) * axes + a.shape[2:])
    return a.reshape((p,) * nd + rest)


def supports(G: ConvGeometry) -> bool:
    """Winograd F(4, 3) applies to 3-tap kernels along every axis with stride 1 (any
    dilation: see :func:`_phases`)."""
    return all(k == R for k in G.kernel_size) and all(s == 1 for s in G.stride)


def _chunks(N: int, per_tile: int, tiles: int, min_tiles: int, itemsize: int) -> list[slice]:
    """The batch in chunks of about CHUNK_BYTES of transformed tiles (``per_tile`` values per
    tile, ``tiles`` tiles per sample), but at least ``min_tiles`` tiles: the channel products
    ``(K/g, C/g) @ (C/g, tiles)`` run slowly in the BLAS when thinner than square. The chunks
    run side by side (:mod:`.parallel`)."""
    return split(N, per_tile * tiles * itemsize, CHUNK_BYTES, -(-min_tiles // max(tiles, 1)))


def _split_axes(nd: int) -> tuple[int, int]:
    """How many tile axes are transformed as leading axes, and how many (the last one or two)
    as trailing ones: a trailing axis keeps each tile's values side by side in memory, so the
    copies into and out of the tile layout move runs of ``α`` (or ``m``) values, not single
    ones."""
    trail = min(nd, 2)
    return nd - trail, trail


def _tiles(x: np.ndarray, pad_lo, tiles, m: int, alpha: int) -> np.ndarray:
    """The ``α``-wide input tiles, spaced ``m`` apart, padding (or cropping, for negative
    ``pad_lo``) and the zeros past the input's end included: ``(n, C, *S) -> (*α_lead, C, n,
    *T, *α_trail)`` (see :func:`_split_axes`)."""
    nd = len(tiles)
    lead, _ = _split_axes(nd)
    n, C = x.shape[:2]
    span = tuple(t * m + alpha - m for t in tiles)  # the padded length the tiles read
    xp = np.zeros((n, C, *span), dtype=x.dtype)
    src, dst = [], []
    for i, lo, s in zip(x.shape[2:], pad_lo, span):
        start = max(0, -lo)
        stop = max(start, min(i, s - lo))
        src.append(slice(start, stop))
        dst.append(slice(start + lo, stop + lo))
    xp[(..., *dst)] = x[(..., *src)]
    st = xp.strides[2:]
    shape = (alpha,) * lead + (C, n) + tuple(tiles) + (alpha,) * (nd - lead)
    strides = st[:lead] + (xp.strides[1], xp.strides[0]) + tuple(m * s for s in st) + st[lead:]
    return np.ascontiguousarray(as_strided(xp, shape, strides))


def _transform_in(which: str, m: int, r: int, D: np.ndarray, nd: int) -> np.ndarray:
    """Transform ``which`` of F(m, r) on tiles from :func:`_tiles`: ``(*q_lead, ..., *q_trail)
    -> (*p, ...)``, the trailing axes by a product whose result has them leading."""
    lead, trail = _split_axes(nd)
    t = _kron(which, m, r, trail, D.dtype)  # (p^trail, q^trail)
    rows = D.reshape(math.prod(D.shape[:lead]), -1, t.shape[1])  # (P, rest, q^trail)
    out = np.matmul(t, rows.swapaxes(-1, -2))  # (P, p^trail, rest)
    p = _size(which, m, r)[0]
    out = out.reshape(D.shape[:lead] + (p,) * trail + D.shape[lead:D.ndim - trail])
    return _transform(which, m, r, out, lead) if lead else out


def _transform_out(which: str, m: int, r: int, Y: np.ndarray, nd: int) -> np.ndarray:
    """The inverse layout of :func:`_transform_in`: ``(*q, ...) -> (*p_lead, ..., *p_trail)``."""
    lead, trail = _split_axes(nd)
    if lead:
        Y = _transform(which, m, r, Y, lead)
    t = _kron(which, m, r, trail, Y.dtype)
    cols = Y.reshape(math.prod(Y.shape[:lead]), t.shape[1], -1)  # (P, q^trail, rest)
    out = np.matmul(cols.swapaxes(-1, -2), t.T)  # (P, rest, p^trail)
    p = _size(which, m, r)[0]
    return out.reshape(Y.shape[:lead] + Y.shape[nd:] + (p,) * trail)


def _correlate(x: np.ndarray, w: np.ndarray, groups: int, pad_lo, pad_hi,
               b: np.ndarray | None = None) -> np.ndarray:
    """The stride-1 correlation of ``x (N, C, *S)`` with ``w (K, C/g, 3, ...)``, padded by
    ``pad_lo``/``pad_hi`` per axis (negative: cropped): ``(N, K, *(S + lo + hi - 2))``, plus
    ``b (K,)`` where given (added as the tiles are put in place)."""
    N, C = x.shape[:2]
    K, nd = w.shape[0], w.ndim - 2
    lead, trail = _split_axes(nd)
    out_size = tuple(i + lo + hi - (R - 1) for i, lo, hi in zip(x.shape[2:], pad_lo, pad_hi))
    tiles = tuple(-(-o // M) for o in out_size)
    xi = ALPHA ** nd
    U = _transform("G", M, R, np.moveaxis(w, (0, 1), (-2, -1)), nd)  # (*α, K, C/g)
    U = U.reshape(xi, groups, K // groups, C // groups)
    y = np.empty((N, K, *(t * M for t in tiles)), dtype=x.dtype)
    # tile t, offset i along an axis is output t*m + i:
    # (*m_lead, K, n, *T, *m_trail) -> (n, K, *(T, m))
    order = (lead + 1, lead) + tuple(
        a for i in range(nd)
        for a in (lead + 2 + i, i if i < lead else lead + 2 + nd + i - lead))

    def one(ns: slice) -> None:
        n = ns.stop - ns.start
        D = _tiles(x[ns], pad_lo, tiles, M, ALPHA)
        V = _transform_in("BT", M, R, D, nd).reshape(xi, groups, C // groups, -1)
        Mt = np.matmul(U, V)  # (ξ, g, K/g, C/g) @ (ξ, g, C/g, n*T) -> (ξ, g, K/g, n*T)
        Y = _transform_out("AT", M, R, Mt.reshape((ALPHA,) * nd + (K, n) + tiles), nd)
        dst = y[ns].reshape((n, K) + tuple(v for t in tiles for v in (t, M)))
        if b is None:
            dst[...] = Y.transpose(order)
        else:
            np.add(Y.transpose(order), b.reshape(-1, *(1,) * (dst.ndim - 2)), out=dst)

    map_chunks(one, _chunks(N, xi * C, math.prod(tiles), C // groups, x.itemsize))
    crop = (..., *(slice(0, o) for o in out_size))
    return y if y.shape[2:] == out_size else np.ascontiguousarray(y[crop])


def _phases(G: ConvGeometry):
    """A dilated kernel splits the convolution into independent undilated ones.

    With dilation ``d`` (stride 1), output ``o = r + d*a`` of phase ``r`` reads input
    ``o - p_lo + d*k = q + d*(a + k + base)``: only the input phase ``q = (r - p_lo) mod d``,
    taken every ``d``-th element, with an undilated kernel and padding ``-base``. Yields, per
    combination of phases of all axes: the input slices, the output slices, and the phase
    problem's ``pad_lo`` and ``pad_hi``. Without dilation: one phase, the whole arrays.
    """
    per_axis = []
    for i, o, lo, d in zip(G.in_size, G.out_size, G.pad_lo, G.dilation):
        axis = []
        for r in range(min(d, o)):
            q = (r - lo) % d
            o_r, i_q = len(range(r, o, d)), len(range(q, i, d))
            lo_r = -((r - lo - q) // d)
            axis.append((slice(q, None, d), slice(r, None, d), lo_r, o_r + R - 1 - i_q - lo_r))
        per_axis.append(axis)
    for combo in itertools.product(*per_axis):
        src, dst, lo, hi = zip(*combo)
        yield (..., *src), (..., *dst), lo, hi


def _tile_grid(out_shape) -> tuple[int, ...]:
    """``(TH, TW)`` (or ``(TD, TH, TW)``): the tiles that cover an output."""
    return tuple(-(-o // M) for o in out_shape[2:])


def _compiled_chunks(N: int, C: int, groups: int, grids, itemsize: int) -> np.ndarray:
    """The batch in chunks for the compiled path, as an int64 array of their bounds (chunk
    ``j`` takes samples ``bounds[j] .. bounds[j + 1]``): ``grids`` are the tile grids of the
    phases, each of which a chunk's temporaries hold in turn."""
    nd = len(grids[0])
    chunks = _chunks(N, ALPHA ** nd * C, sum(map(math.prod, grids)), C // groups, itemsize)
    return np.array([0] + [c.stop for c in chunks], dtype=np.int64)


def _shares(n: int) -> np.ndarray:
    """``range(n)`` in one run per thread (:func:`.parallel.threads`), as an int64 array of
    bounds."""
    workers = min(parallel.threads(), max(n, 1))
    return np.array([n * i // workers for i in range(workers + 1)], dtype=np.int64)


def _correlate_compiled(x: np.ndarray, w: np.ndarray, groups: int, jobs, b, y,
                        flipped: bool = False) -> None:
    """The compiled path of :func:`_correlate` (2-D, 3-D), into ``y``: ``jobs`` lists
    ``(src, dst, pad_lo)``, the phases' input and output index and padding; ``flipped``
    correlates with :func:`.im2col.flipped_transpose` of ``w`` (the input gradient's kernel).
    Phase by phase, each chunk of the batch goes, on one of OpenMP's threads, from the input
    tiles straight to ``V``, through the channel products, to the output tiles straight into
    ``y[dst]`` (:func:`.winograd_kernels.correlate_chunks`).

    A batch of one chunk (few tiles for many channels: 16 samples of 256 channels of 14x14
    take 256 tiles) has nothing to run beside it, so it goes stage by stage, each stage on all
    threads (:func:`.winograd_kernels.correlate_stages`): the transforms share the channels,
    the products the positions ``ξ``. (Measured earlier, on Python's threads, against the
    products' rows alone shared, on 2 threads at their quietest: input transform 3.8 -> 1.4
    ms, products 7.8 -> 7.2, output transform 3.9 -> 1.1.) The input gradient of such a batch
    in 2-D goes a row of positions at a time instead (:func:`_correlate_rows`) where the
    stages' temporaries pass :data:`ROWS_ABOVE`: they are the largest of a training step's
    backward pass.

    OpenMP's threads against Python's (22d4424), the same process, calls taken in turn, float32,
    3x3, padding 1, ResNet-18's layers at batch 32 and ResNet-50's at batch 1: on one core the
    same (ratios 0.93-1.01). On 2 threads, with another process busy on one of the 2 cores, the
    gain went both ways from one run to the next (1x512x7x7 forward 14.9 -> 11.8 ms in one run,
    14.4 -> 15.1 in another; batch 1 at 28x28 and 56x56 1.2-1.35x slower in the later runs):
    measure on a quiet machine."""
    if not jobs:  # every phase of the output is empty
        return
    N, C = x.shape[:2]
    K, nd = y.shape[1], w.ndim - 2
    bias = np.zeros(K, x.dtype) if b is None else np.ascontiguousarray(b, x.dtype)
    grids = [_tile_grid(y[dst].shape) for _, dst, _ in jobs]
    bounds = _compiled_chunks(N, C, groups, grids, x.itemsize)
    if flipped and nd == 2 and len(bounds) == 2 and _stage_bytes(x, K, groups, grids) > ROWS_ABOVE:
        _correlate_rows(x, w, groups, jobs, grids, bias, y)
        return
    if flipped:
        w = flipped_transpose(w, groups)
    U = _weights_compiled(w, groups, x.dtype)
    _run_phases(x, U, jobs, grids, bounds, bias, y, _shares(C), _shares(K))


def _run_phases(x, U, jobs, grids, bounds, bias, y, c_shares, k_shares) -> None:
    """The phases of :func:`_correlate_compiled` by the transformed weights ``U``: a batch of
    one chunk stage by stage (the threads sharing ``c_shares`` of ``x``'s channels and
    ``k_shares`` of ``y``'s), a batch of several chunk by chunk."""
    for (src, dst, lo), grid in zip(jobs, grids):
        if len(bounds) == 2:  # one chunk: stage by stage
            wk.correlate_stages(x[src], U, lo, grid, bias, y[dst], c_shares, k_shares)
        else:
            wk.correlate_chunks(x[src], U, lo, grid, bias, y[dst], bounds)


def _stage_bytes(x: np.ndarray, K: int, groups: int, grids) -> int:
    """The bytes of :func:`.winograd_kernels.correlate_stages`' temporaries for ``x (N, C,
    ...)`` to ``K`` channels, the batch one chunk: ``V``, the products and ``U``."""
    N, C = x.shape[:2]
    tiles = N * max(map(math.prod, grids))
    return x.itemsize * ALPHA ** len(grids[0]) * (tiles * (C + K) + K * C // groups)


def _weights_compiled(w: np.ndarray, groups: int, dtype) -> np.ndarray:
    """``U (ξ, g, K/g, C/g)`` of ``w (K, C/g, 3, ...)`` in ``dtype``: every ``(k, c)``'s taps
    through ``G ⊗ G`` (``⊗ G`` again in 3-D) in one product, the taps read from ``w`` where
    they lie and the columns of the product shared between the threads
    (:func:`.winograd_kernels.transform_weights`). Measured, the transform alone, 3x3 float32
    weights of ``C -> C`` channels, NumPy's product (one thread, after a copy of ``w`` into the
    taps' order) -> this: on 2 threads 64 channels 0.09 -> 0.05 ms, 128 0.32-0.47 -> 0.18-0.25,
    256 1.26-1.63 -> 0.65-1.02, 512 6.1-6.9 -> 3.9-4.3; on one core the same (0.31-0.37, 1.6-1.7
    ms at 128 and 256 channels). A memory pass more than arithmetic: ``U`` is 4 times ``w``."""
    K, C_g, nd = w.shape[0], w.shape[1], w.ndim - 2
    G_taps = _kron("G", M, R, nd, dtype)  # (ξ, taps)
    w_taps = w.reshape(K * C_g, R ** nd).astype(dtype, copy=False).T  # (taps, K*C/g)
    U = np.empty((ALPHA ** nd, K * C_g), dtype)
    wk.transform_weights(G_taps, w_taps, U, _shares(K * C_g))
    return U.reshape(ALPHA ** nd, groups, K // groups, C_g)


def _correlate_rows(x: np.ndarray, w: np.ndarray, groups: int, jobs, grids, bias, y) -> None:
    """The input gradient of a batch of one chunk in 2-D (see :func:`_correlate_compiled`): a
    row of 6 positions ``ξ = 6 a + b`` at a time (:func:`.winograd_kernels.correlate_rows`),
    each row's transformed weights made from ``w`` itself: the kernel of the input gradient,
    :func:`.im2col.flipped_transpose` of ``w``, is the taps read in reverse order (both axes
    reversed is the flat index reversed: the columns of ``G ⊗ G`` reversed) with each group's
    ``(K/g, C/g)`` matrix transposed (a view the BLAS reads as it lies), so it is never made.

    Why: in a training step the input gradient of a layer of many channels on a small image
    comes where the most is held (the saved activations, the gradients so far), and the
    stages' temporaries are several times the gradient itself. ResNet-18's 128 channels of 8x8
    at batch 32: ``U``, ``V`` and the products 2.25 MB each and the flipped kernel 0.56,
    against 0.375 each a row; with the weight gradient's rows, the peak memory of a training
    step at batch 32 (``python -m benchmarks nets``) went 74 -> 69 MiB for ResNet-18 and 26.4 ->
    22.3-23.5 for VGG-11 (PyTorch: 68.8 and 24.2). The forward pass keeps the stages: its
    temporaries come before a step's peak, while the activations are still being made.

    The cost, one core, stages -> rows in one process: 128 channels of 8x8 in 32 samples
    4.7-4.8 -> 5.2 ms, 64 -> 128 channels 2.3-2.4 -> 3.1-3.2 (the rows' transforms read the
    input six times, :func:`.winograd_kernels.input_tiles_row`); the whole training step of
    either network was within the noise of the machine. So a layer whose stages take at most
    :data:`ROWS_ABOVE` (5 MiB) keeps them: VGG-11's 64 -> 128 channels of 8x8 at batch 32
    (4.5 MiB; ResNet-18's 128 channels of 8x8 take 6.75 and stay in rows), its input gradient
    rows -> stages (in one process, alternated, min / median of 90 calls): one core 2.90 / 4.73
    -> 2.56 / 4.07 ms, 2 threads (``chrt -f 10``) 1.62 / 2.25 -> 1.22 / 1.62. The peak MiB of a
    step at batch 32 (``python -m benchmarks nets``, 2 threads), convlab / PyTorch: VGG-11
    22.3 / 24.1 -> 22.4 / 24.0, ResNet-18 68.4 / 68.8 -> 68.7 / 68.7 (no layer of it changes
    path: the difference is the benchmark's spread)."""
    K, C_g = w.shape[:2]
    G_rows = np.ascontiguousarray(_kron("G", M, R, 2, x.dtype)[:, ::-1])  # (36, 9), flipped
    w_taps = w.reshape(K * C_g, R * R).astype(x.dtype, copy=False).T  # (9, K*C/g)
    U_rows = np.empty((ALPHA, K * C_g), x.dtype)
    U = U_rows.reshape(ALPHA, groups, K // groups, C_g).transpose(0, 1, 3, 2)  # (6, g, C/g, K/g)
    shares = _shares(x.shape[1]), _shares(y.shape[1]), _shares(K * C_g)
    for (src, dst, lo), grid in zip(jobs, grids):
        wk.correlate_rows(x[src], w_taps, G_rows, U_rows, U, lo, grid, bias, y[dst], *shares)


def _weight_grad_compiled(x: np.ndarray, gy: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """The compiled path of :func:`conv_weight_grad` (2-D, 3-D), all phases: ``Σ Z Vᵀ (ξ, g,
    K/g, C/g)``, each thread's run of chunks summed in a slot of its own, the slots summed at
    the end (:func:`.winograd_kernels.weight_grad_chunks`), then :func:`_taps`. A batch of one
    chunk goes stage by stage on all threads, as in :func:`_correlate_compiled`, and in 2-D a
    row of positions at a time (:func:`.winograd_kernels.weight_grad_rows`), straight into the
    taps of ``gw``: as the input gradient's (:func:`_correlate_rows`), its temporaries are a
    sixth of the stages' (ResNet-18's 128 channels of 8x8 at batch 32: 1.0 MB against 6.75 MB
    for ``V``, ``Z`` and the sums), at the same speed on one core (4.7-4.8 ms, 64 -> 128
    channels 2.2-2.4)."""
    N, C = x.shape[:2]
    K, g, xi = gy.shape[1], G.groups, ALPHA ** G.nd
    jobs = [(src, dst, lo) for src, dst, lo, _ in _phases(G)]
    grids = [_tile_grid(gy[dst].shape) for _, dst, _ in jobs]
    bounds = _compiled_chunks(N, C, g, grids, x.itemsize)
    if len(bounds) == 2 and G.nd == 2:
        gw = np.zeros((K, C // g, R, R), x.dtype)
        AT = np.ascontiguousarray(matrices(R, M)[0], x.dtype)  # (3, 6): Aᵀ of F(3, 4)
        for (src, dst, lo), grid in zip(jobs, grids):
            wk.weight_grad_rows(x[src], gy[dst], lo, grid, AT, gw, _shares(C), _shares(K))
        return gw
    runs = _shares(len(bounds) - 1)  # the chunks in a run per thread
    acc = np.empty((len(runs) - 1, xi, g, K // g, C // g), x.dtype)
    for i, ((src, dst, lo), grid) in enumerate(zip(jobs, grids)):
        if len(bounds) == 2:  # one chunk: stage by stage
            wk.weight_grad_stages(x[src], gy[dst], lo, grid, acc[0], _shares(C), _shares(K),
                                  i > 0)
        else:
            wk.weight_grad_chunks(x[src], gy[dst], lo, grid, acc, bounds, runs, i == 0)
    return _taps(acc[0] if len(acc) == 1 else acc.sum(axis=0), G)  # one slot: no copy of it


def _taps(acc: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``Σ Z Vᵀ (ξ, g, K/g, C/g)`` through ``Aᵀ`` of F(3, 4): ``gw (K, C/g, *3)``."""
    C_g = G.in_channels // G.groups
    taps = _transform("AT", R, M, acc.reshape((ALPHA,) * G.nd + (G.out_channels, C_g)), G.nd)
    return np.ascontiguousarray(np.moveaxis(taps, (-2, -1), (0, 1)))  # (*3, K, C/g) -> (K, C/g, *3)


def conv_forward(x: np.ndarray, w: np.ndarray, G: ConvGeometry,
                 b: np.ndarray | None = None) -> np.ndarray:
    """``y (N, C_out, *O)`` from ``x (N, C_in, *S)`` and ``w (C_out, C_in/groups, 3, ...)``,
    plus ``b (C_out,)`` where given."""
    if not (well_scaled(x) and finite(w)):
        return im2col.conv_forward(x, w, G, b)
    if jit.active() and G.nd in (2, 3):
        y = np.empty((len(x), G.out_channels, *G.out_size), dtype=x.dtype)
        jobs = [(src, dst, lo) for src, dst, lo, _ in _phases(G)]
        _correlate_compiled(x, w, G.groups, jobs, b, y)
        return y
    if all(d == 1 for d in G.dilation):  # one phase: the output is the correlation's own array
        return _correlate(x, w, G.groups, G.pad_lo, tuple(hi for _, hi in G.padding), b)
    y = np.empty((len(x), G.out_channels, *G.out_size), dtype=x.dtype)
    for src, dst, lo, hi in _phases(G):
        y[dst] = _correlate(x[src], w, G.groups, lo, hi, b)
    return y


def forward_plan(G: ConvGeometry, x_shape: tuple[int, ...], dtype):
    """:func:`conv_forward`'s compiled path for inputs of ``x_shape`` and ``dtype``, as a
    function ``run(x, w, b) -> y`` for a caller that convolves the same shapes by the same
    weights over and over (``convlab.onnx``'s inference plans): the phases, tile grids, chunks
    and thread shares worked out once, and the transformed weights ``U`` kept with a copy of
    the weights they were made from, made again only when a call's weights differ from it, bit
    for bit. None where the compiled kernels do not take the call (they are off, 1-D, a dtype
    the BLAS has not).

    Each call of this function makes a new ``run``, with a ``U`` of its own: kept per
    geometry, as the other algorithms' plans are, one ``U`` would serve every layer of that
    geometry in turn (ResNet-50 has three 3x3 layers of 64 channels of 56x56 and four of 128
    of 28x28), made again at each. ``run`` shares the work for the thread count of the time it
    was made (any thread count gives the same numbers).

    Why: at batch 1 the transformed weights are a large part of a layer (36 values for every
    9 taps: 2.36 MB for 128 -> 128 channels) and a memory pass that a second thread helps
    little. ResNet-50's 3x3 layers at batch 1, one core / 2 threads (``chrt -f 10``, best of
    200), the weights' transform alone against the whole forward: 64 channels of 56x56
    0.08-0.10 / 0.08-0.10 of 1.4-1.8 / 0.97-1.2 ms, 128 of 28x28 0.31-0.37 / 0.27 of 1.7-1.8 /
    1.2-1.6. The comparison that keeps ``U`` reads both copies of the weights once (128 -> 128
    channels: 30 us). The cost is memory while a ``run`` lives: ``U`` and the copy, 5 times
    the weights (ResNet-50's inference plan at batch 1 keeps six: 11 MB)."""
    dtype = np.dtype(dtype)
    if not (jit.active() and G.nd in (2, 3) and dtype in jit.FLOAT_TYPES):
        return None
    y_shape = (x_shape[0], G.out_channels, *G.out_size)
    jobs = [(src, dst, lo) for src, dst, lo, _ in _phases(G)]
    shape_of = np.broadcast_to(np.empty((), dtype), y_shape)  # the phases' shapes, no memory
    grids = [_tile_grid(shape_of[dst].shape) for _, dst, _ in jobs]
    bounds = _compiled_chunks(x_shape[0], G.in_channels, G.groups, grids, dtype.itemsize)
    shares = _shares(G.in_channels), _shares(G.out_channels)
    no_bias = np.zeros(G.out_channels, dtype)
    kept = []  # [the weights, U] of the last call

    def run(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        same = bool(kept) and _same_bits(kept[0], w)
        if not (well_scaled(x) and (same or finite(w))):
            return im2col.conv_forward(x, w, G, b)
        if not same:
            kept[:] = w.copy(), _weights_compiled(w, G.groups, dtype)
        y = np.empty(y_shape, dtype)
        bias = no_bias if b is None else np.ascontiguousarray(b, dtype)
        if jobs:  # not every phase of the output empty
            _run_phases(x, kept[1], jobs, grids, bounds, bias, y, *shares)
        return y

    return run


# The integer type of each float type's size: weights compared bit for bit (forward_plan).
_BITS = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` and ``b`` hold the same float32 or float64 values, bit for bit (NaN too)."""
    bits = _BITS.get(a.dtype)
    return (bits is not None and a.dtype == b.dtype and a.shape == b.shape
            and bool((a.view(bits) == b.view(bits)).all()))


def conv_input_grad(gy: np.ndarray, w: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``gx (N, C_in, *S)``: per phase, ``gy`` correlated with the flipped, transposed kernel,
    padded by ``2 - p_lo`` (the full correlation, cut back where the forward padding was).

    Each phase writes the whole of its input phase, so ``gx`` starts empty, not zeroed, unless
    an output shorter than the dilation along some axis leaves input phases that no output
    reads (:func:`_phases`): zeroing 16x128x28x28 float32 took 0.3-0.4 ms of a 7.5-8.4 ms input
    gradient on one core (its pages written twice)."""
    if not (well_scaled(gy) and finite(w)):
        return im2col.conv_input_grad(gy, w, G)
    every_phase = all(o >= d for o, d in zip(G.out_size, G.dilation))
    gx = (np.empty if every_phase else np.zeros)((len(gy), G.in_channels, *G.in_size), gy.dtype)
    if jit.active() and G.nd in (2, 3):  # the roles swap: gy's phase is read, gx's written
        jobs = [(dst, src, tuple(R - 1 - p for p in lo)) for src, dst, lo, _ in _phases(G)
                if gx[src].size]
        _correlate_compiled(gy, w, G.groups, jobs, None, gx, flipped=True)
        return gx
    wt = flipped_transpose(w, G.groups)
    for src, dst, lo, hi in _phases(G):
        gy_r = gy[dst]
        gx_q = gx[src]
        if gx_q.size == 0:  # an input phase shorter than the dilation: no elements
            continue
        lo_t = tuple(R - 1 - p for p in lo)
        hi_t = tuple(i - o - l + R - 1 for i, o, l in zip(gx_q.shape[2:], gy_r.shape[2:], lo_t))
        gx[src] = _correlate(gy_r, wt, G.groups, lo_t, hi_t)
    return gx


def _weight_grad(x: np.ndarray, gy: np.ndarray, groups: int, pad_lo) -> np.ndarray:
    """One undilated phase of :func:`conv_weight_grad`, ``(ξ, g, K/g, C/g)`` before the last
    transform."""
    N, C = x.shape[:2]
    K, nd = gy.shape[1], x.ndim - 2
    tiles = tuple(-(-o // M) for o in gy.shape[2:])
    xi = ALPHA ** nd

    def one(ns: slice) -> np.ndarray:
        D = _tiles(x[ns], pad_lo, tiles, M, ALPHA)
        V = _transform_in("BT", M, R, D, nd).reshape(xi, groups, C // groups, -1)
        # gy's tiles do not overlap: α = m, stride m, with zeros past the output's end
        Dy = _tiles(gy[ns], (0,) * nd, tiles, M, M)
        Z = _transform_in("G", R, M, Dy, nd).reshape(xi, groups, K // groups, -1)
        return np.matmul(Z, V.swapaxes(-1, -2))  # (ξ, g, K/g, n*T) @ (ξ, g, n*T, C/g)

    chunks = _chunks(N, xi * C, math.prod(tiles), C // groups, x.itemsize)
    parts = map_chunks(one, chunks)
    return sum(parts, np.zeros((xi, groups, K // groups, C // groups), x.dtype))


def conv_weight_grad(x: np.ndarray, gy: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``gw (C_out, C_in/groups, 3, ...)``: per tile, the 3 taps are F(3, 4) of the ``α``
    input values with the ``m`` output gradients; summed over tiles (and phases) before the
    last transform.

    Shape: ``V (ξ, g, C/g, tiles)`` from ``x`` as in the forward pass, ``Z (ξ, g, K/g, tiles)``
    from ``gy`` (G-transform of F(3, 4) on non-overlapping m-wide tiles), ``Σ Z Vᵀ (ξ, g, K/g,
    C/g)``, then the Aᵀ-transform of F(3, 4) down to the taps.
    """
    if not (well_scaled(x) and well_scaled(gy)):
        return im2col.conv_weight_grad(x, gy, G)
    if jit.active() and G.nd in (2, 3):
        return _weight_grad_compiled(x, gy, G)
    return _taps(sum(_weight_grad(x[src], gy[dst], G.groups, lo) for src, dst, lo, _ in _phases(G)),
                 G)
