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
:data:`MAX_SPREAD` times a typical one, the median of the nonzero ``|x|`` (estimated on an
evenly spaced sample of about :data:`SAMPLE` values: a median ignores a few outliers, which a
mean does not, and zeros, which give exact zeros in every algorithm, are left out). At the
bound, 4096, the largest value adds an error of about ``4096 eps`` times the scale of a window
of typical values, in any dtype; in float32 that is about Winograd's own rounding on ordinary
data. Measured in float32 with one value 4096x the median in a field of normal draws (FFT,
7x7 kernels, 38x38 and 64x64 planes), outputs far from it moved by 1.3e-5 to 2.8e-5 of a
typical output (im2col: 1.5e-6 to 2.5e-6; Winograd on the same field without the outlier:
1.8e-5), and with a value 1e8x the median by 0.36 to 0.78.
Ordinary data stays well inside: in training steps of ``ResNetSmall`` on normal images the
inputs and output gradients of its 3x3 layers gave 7 to 575.

Cost: a ``max`` and a ``min`` over the data (NaN and inf show in them), the sample's median
and a sum over the weights: 0.3% to 1.4% of the convolution they guard (``well_scaled(x)`` and
``finite(w)`` against ``conv_forward``, float32, ReLU'd normal input, on a loaded machine:
Winograd x16x64x56x56 w64x64x3x3 1.31 of 95 ms, x16x128x28x28 w128x128x3x3
0.45 of 73 ms; FFT x4x16x128x128 w16x16x15x15 0.25 of 97 ms, x8x3x64x64 w16x3x7x7 0.11 of
18 ms).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_SPREAD", "SAMPLE", "finite", "well_scaled"]

MAX_SPREAD = 2 ** 12  # the largest max|x| / typical|x| the transforms take
SAMPLE = 4096  # values in the sample whose median is the typical |x|


def finite(a: np.ndarray) -> bool:
    """No NaN and no inf in ``a``: its sum is then finite (a sum that overflows reads as not
    finite too, which only sends the call to im2col)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.add.reduce(a, axis=None)))


def well_scaled(a: np.ndarray) -> bool:
    """``a`` is finite and ``max|a| <= MAX_SPREAD * median of the nonzero |a|`` (on a sample)."""
    if a.size == 0:
        return True
    peak = max(a.max(), -a.min())  # NaN if any is NaN, inf if any is infinite
    if not np.isfinite(peak):
        return False
    if peak == 0:
        return True
    step = max(1, a.size // SAMPLE) | 1  # odd: less likely to stride along one column
    sample = np.abs(a.flat[::step])  # copies the sample only, whatever a's strides
    nonzero = sample[sample != 0]
    if nonzero.size == 0:  # nearly all zeros: no typical value to compare with
        return False
    return bool(peak <= MAX_SPREAD * np.median(nonzero))
