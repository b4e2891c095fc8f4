"""Correlation and true convolution of N-d arrays, equal to SciPy's ``signal.correlate`` and
``signal.convolve``, computed by convlab's convolution engine.

Deep learning's "convolution" (``convlab.nn.functional.conv1d``, ``nn.Conv2d``, PyTorch's) is
cross-correlation: the kernel slides over the input as it is. The mathematical convolution flips
the kernel along every axis first. On a small example:

>>> a = [1., 2., 3., 4., 5.]
>>> k = [1., 0., -1.]
>>> correlate(a, k, "valid")  # a[i]*1 + a[i+1]*0 + a[i+2]*(-1), what conv1d computes
array([-2., -2., -2.])
>>> convolve(a, k, "valid")  # the flipped kernel [-1, 0, 1]
array([2., 2., 2.])
>>> convolve(a, k)  # 'full': every overlap, length 5 + 3 - 1
array([ 1.,  2.,  2.,  2.,  2., -4., -5.])
>>> convolve(a, k, "same")  # the size of a, cut from 'full' at (3-1)//2
array([ 2.,  2.,  2.,  2., -4.])

Modes, per axis with sizes ``A`` (``a``) and ``M`` (``k``): ``'full'`` gives ``A + M - 1``,
``'same'`` gives ``A`` (cut from 'full' at ``(M-1)//2``, so for an even kernel the extra sample
falls at the end), ``'valid'`` gives ``|A - M| + 1`` and needs one array at least as large as the
other in every axis.

dtypes follow SciPy: the result has ``numpy.result_type(a, k)``; integer inputs are summed
exactly in float64 and rounded back. Complex inputs are not supported.
"""

from __future__ import annotations

import numpy as np

from .engine import conv as engine
from .engine.geometry import conv_geometry

__all__ = ["correlate", "convolve"]

_MODES = ("full", "same", "valid")


def _operands(name: str, a, k, mode: str):
    """(a, k) as arrays of the dtype the engine computes in, and the result dtype."""
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be one of {_MODES}, got {mode!r}")
    a, k = np.asarray(a), np.asarray(k)
    if a.ndim != k.ndim:
        raise ValueError(f"{name}: a and k should have the same dimensionality, got a of shape "
                         f"{a.shape} ({a.ndim}-D) and k of shape {k.shape} ({k.ndim}-D)")
    for arg, v in (("a", a), ("k", k)):
        if v.dtype.kind not in "biuf":
            raise TypeError(f"{name}: {arg} must hold real numbers (bool, int or float), "
                            f"got dtype {v.dtype}")
        if v.size == 0:
            raise ValueError(f"{name}: {arg} is empty (shape {v.shape})")
    result = np.result_type(a, k)
    work = result if result.kind == "f" and result.itemsize >= 4 else np.dtype(
        np.float32 if result == np.float16 else np.float64)
    if mode == "valid" and not (all(i >= m for i, m in zip(a.shape, k.shape))
                                or all(i <= m for i, m in zip(a.shape, k.shape))):
        raise ValueError(f"{name}: for 'valid' mode, one must be at least as large as the other "
                         f"in every dimension, got a of shape {a.shape} and k of shape {k.shape}")
    return a.astype(work, copy=False), k.astype(work, copy=False), result


def _correlate(name: str, a: np.ndarray, k: np.ndarray, mode: str, result: np.dtype):
    """Cross-correlation ``c[j] = sum_m a[j + m] * k[m]`` over the shifts ``j`` of ``mode``, as
    one single-channel convolution whose padding places those shifts."""
    if a.ndim == 0:
        return (a * k).astype(result)
    if mode == "full":
        pairs = tuple((m - 1, m - 1) for m in k.shape)
    elif mode == "same":
        pairs = tuple((m // 2, (m - 1) // 2) for m in k.shape)
    else:  # 'valid': the shifts where the smaller array lies inside the larger
        pairs = tuple((max(0, m - i),) * 2 for i, m in zip(a.shape, k.shape))
    G = conv_geometry(name, a.ndim, (1, 1, *a.shape), (1, 1, *k.shape), padding=pairs)
    y = engine.conv_forward(a[None, None], k[None, None], G)[0, 0]  # (1, 1, *O) -> O
    if result.kind in "biu":
        y = np.rint(y)
    return y.astype(result, copy=False)


def correlate(a, k, mode: str = "full") -> np.ndarray:
    """Cross-correlate N-d arrays ``a`` and ``k`` (no flip): ``c[j] = sum_m a[j + m] * k[m]``.

    Equal to ``scipy.signal.correlate(a, k, mode)`` for real inputs.

    >>> correlate([[1., 2., 3.], [4., 5., 6.]], [[1., 0.], [0., -1.]], "valid")
    array([[-4., -4.]])
    >>> correlate([1, 2], [1, 0, -1, 2], "valid")  # k larger: the shifts where a fits inside
    array([ 3, -2,  1])
    """
    a, k, result = _operands("correlate", a, k, mode)
    return _correlate("correlate", a, k, mode, result)


def convolve(a, k, mode: str = "full") -> np.ndarray:
    """Convolve N-d arrays ``a`` and ``k``: ``c[j] = sum_m a[j - m] * k[m]``, i.e. correlate
    with ``k`` flipped along every axis.

    Equal to ``scipy.signal.convolve(a, k, mode)`` for real inputs.

    >>> convolve([[1., 2., 3.], [4., 5., 6.]], [[1., 0.], [0., -1.]], "valid")
    array([[4., 4.]])
    """
    a, k, result = _operands("convolve", a, k, mode)
    return _correlate("convolve", a, np.flip(k), mode, result)
