"""Whether the transform algorithms (FFT, Winograd) compute a convolution as accurately as a
direct sum on the given data; where they would not, they hand the call to im2col.

A direct method (im2col, depthwise, pointwise, reference) computes each output from its own
window: a NaN or inf in the input reaches only the outputs whose windows hold it, and the
float rounding of an output is relative to its window's values. A transform mixes values from
outside the window before it sums: the FFT a whole plane, Winograd a tile of 6x6. So

- a NaN or inf anywhere spreads NaN over the plane (FFT) or the tile (Winograd), where PyTorch
  gives NaN or inf at the windows that hold it only;
- the rounding error of every output is relative to the largest values mixed in: about
  ``eps * max|x|``, against ``eps * |x|`` over the window for a direct sum.

The transforms are therefore used only on finite data whose largest magnitude is at most
:data:`MAX_SPREAD` times a typical one, the median of the nonzero ``|x|`` (estimated on
:data:`SAMPLE` values in :data:`RUNS` evenly spaced runs: a median ignores a few outliers, which
a mean does not, and zeros, which give exact zeros in every algorithm, are left out). At the
bound, 4096, the largest value adds an error of about ``4096 eps`` times the scale of a window
of typical values, in any dtype; in float32 that is about Winograd's own rounding on ordinary
data. Measured in float32 with one value 4096x the median in a field of normal draws (FFT,
7x7 kernels, 38x38 and 64x64 planes), outputs far from it moved by 1.3e-5 to 2.8e-5 of a
typical output (im2col: 1.5e-6 to 2.5e-6; Winograd on the same field without the outlier:
1.8e-5), and with a value 1e8x the median by 0.36 to 0.78.
Ordinary data stays well inside: in training steps of ``ResNetSmall`` on normal images the
inputs and output gradients of its 3x3 layers gave 7 to 575.

Cost. The test runs on every call of a transform, on the input and on the output gradient, so
it is made cheap:

- the largest magnitude comes from one compiled pass over the data's bits (:func:`_largest_bits`,
  on all threads): a float's magnitude is its bits without the sign, which order as integers
  do, and NaN and inf are the bit patterns above the largest finite one, so one integer maximum
  finds both (NumPy needs a ``max`` and a ``min``, two passes);
- the sample is read as runs of contiguous values, a few cache lines each, where single values
  every ``size / 4096`` elements touched 4096 lines;
- the median is not sorted out: ``peak <= MAX_SPREAD * median`` holds when more than half the
  sample's nonzero magnitudes are at least ``peak / MAX_SPREAD``, which two counts tell.

One core, float32, a ReLU'd batch of 32x64x32x32 (8 MB), before (max and min, values every
2047 elements, ``np.median``) -> now: 0.59 -> 0.16 ms in cache, 1.31 -> 0.52 ms out of it
(ResNet-18's training step at batch 32 spent 4% of its time here before).
"""

from __future__ import annotations

import numpy as np

from . import jit, parallel
from .jit import SERIAL_BELOW, kernel, prange

__all__ = ["MAX_SPREAD", "RUNS", "SAMPLE", "finite", "largest_magnitude", "well_scaled"]

MAX_SPREAD = 2 ** 12  # the largest max|x| / typical|x| the transforms take
SAMPLE = 4096  # values in the sample whose median is the typical |x|
RUNS = 64  # the sample's runs of contiguous values

# Per float dtype: the integer of its size, the mask that clears the sign bit, and the bits of
# +inf, below which every finite magnitude lies (NaN's lie above).
_BITS = {np.dtype(np.float32): (np.int32, 0x7FFF_FFFF, 0x7F80_0000),
         np.dtype(np.float64): (np.int64, 0x7FFF_FFFF_FFFF_FFFF, 0x7FF0_0000_0000_0000)}


def finite(a: np.ndarray) -> bool:
    """No NaN and no inf in ``a``: its sum is then finite (a sum that overflows reads as not
    finite too, which only sends the call to im2col)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.add.reduce(a, axis=None)))


@kernel(threaded=True, serial_below=SERIAL_BELOW)
def _largest_bits(bits, mask, parts):
    """``parts[p]`` = the largest ``bits & mask`` of run ``p`` of ``bits`` (1-D, the integer
    view of a float array), the runs one per thread. (``cast`` keeps the integers at their
    width: numba widens ``int32 & int32`` to 64 bits, which halves the lanes of the loop.)"""
    cast = parts.dtype.type
    n, k = bits.size, len(parts)
    for p in prange(k):
        run = bits[n * p // k:n * (p + 1) // k]
        top = cast(0)
        for i in range(run.size):
            v = cast(run[i] & mask)
            top = max(top, v)
        parts[p] = top


def largest_magnitude(a: np.ndarray) -> float:
    """``max |a|`` (0 for an empty array); inf where ``a`` holds an inf, NaN where it holds a
    NaN (the compiled pass gives inf or NaN by the largest bits it met).

    >>> largest_magnitude(np.array([1.0, -3.0, 2.0]))
    3.0
    """
    if a.size == 0:
        return 0.0
    if jit.active() and a.dtype in _BITS and a.flags.c_contiguous:
        integer, mask, _ = _BITS[a.dtype]
        parts = np.empty(parallel.threads(), integer)
        _largest_bits(a.reshape(-1).view(integer), integer(mask), parts)
        return float(parts.max().view(a.dtype))
    return float(max(a.max(), -a.min()))  # NaN if any is NaN, inf if any is infinite


def _sample(a: np.ndarray) -> np.ndarray:
    """About :data:`SAMPLE` values of ``a``, spread over all of it: :data:`RUNS` runs of
    contiguous values, evenly spaced (all of ``a`` when it is that small; single values every
    ``size / SAMPLE`` elements when ``a`` is not contiguous)."""
    if a.size <= SAMPLE:
        return a.reshape(-1)
    if not a.flags.c_contiguous:
        return a.flat[::(a.size // SAMPLE) | 1]  # odd: less likely to stride down a column
    flat, length = a.reshape(-1), SAMPLE // RUNS
    step = max(1, (a.size - length) // (RUNS - 1) - 1) | 1  # odd, and the last run inside
    runs = np.lib.stride_tricks.as_strided(flat, (RUNS, length),
                                           (step * a.itemsize, a.itemsize), writeable=False)
    return runs.reshape(-1)


def well_scaled(a: np.ndarray) -> bool:
    """``a`` is finite and ``max|a| <= MAX_SPREAD * median of the nonzero |a|`` (on a sample).

    The median is at least ``max|a| / MAX_SPREAD`` when more than half of the nonzero values
    are: the sample is counted, not sorted."""
    peak = largest_magnitude(a)
    if not np.isfinite(peak):
        return False
    if peak == 0:
        return True
    magnitudes = np.abs(_sample(a))
    nonzero = np.count_nonzero(magnitudes)
    if nonzero == 0:  # nearly all zeros: no typical value to compare with
        return False
    return bool(2 * np.count_nonzero(magnitudes >= peak / MAX_SPREAD) > nonzero)
