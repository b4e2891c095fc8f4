"""Classic image kernels, by name, as **correlation** kernels (PyTorch's convention).

``conv2d`` computes cross-correlation: the kernel is laid on the image as written, not rotated.
So ``kernel("sobel-right")`` responds positively where the image gets brighter to the right, and
a true convolution (SciPy's ``convolve``, which rotates the kernel 180°) would swap left and
right, top and bottom, and turn the light of ``emboss`` around. identity, box, gaussian, blur,
sharpen, outline and laplacian are 180°-symmetric, so for them the two agree.

The 3×3 values are those of setosa.io's "Image Kernels":

>>> kernel("sobel-right")
array([[-1.,  0.,  1.],
       [-2.,  0.,  2.],
       [-1.,  0.,  1.]])
>>> kernel("gaussian(5, 1.0)").shape, round(float(kernel("gaussian(5, 1.0)").sum()), 6)
((5, 5), 1.0)
>>> kernel("1 0 -1; 2 0 -2; 1 0 -1")[1]
array([ 2.,  0., -2.])
"""

from __future__ import annotations

import ast

import numpy as np

__all__ = ["KERNELS", "kernel", "identity", "box", "gaussian", "parse_numbers"]


def identity(size: int = 3) -> np.ndarray:
    """A 1 in the centre: the output equals the input (``size`` odd)."""
    _check_odd("identity", size)
    k = np.zeros((size, size))
    k[size // 2, size // 2] = 1.0
    return k


def box(size: int = 3) -> np.ndarray:
    """The mean of a ``size``×``size`` window: every weight ``1/size²``."""
    _check_positive("box", size)
    return np.full((size, size), 1.0 / size**2)


def gaussian(size: int = 5, sigma: float | None = None) -> np.ndarray:
    """``exp(-(x² + y²) / (2 sigma²))`` on a ``size``×``size`` grid centred at 0, summing to 1.

    ``sigma`` defaults to ``size / 6``, so the window holds ±3 sigma.
    """
    _check_odd("gaussian", size)
    sigma = size / 6 if sigma is None else float(sigma)
    if sigma <= 0:
        raise ValueError(f"gaussian: sigma must be positive, got {sigma}")
    x = np.arange(size) - size // 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    k = np.outer(g, g)  # separable: the 2-D Gaussian is the outer product of two 1-D ones
    return k / k.sum()


def _check_positive(name: str, size) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"{name}: size must be a positive int, got {size!r}")


def _check_odd(name: str, size) -> None:
    _check_positive(name, size)
    if size % 2 == 0:
        raise ValueError(f"{name}: size must be odd so that the kernel has a centre, got {size}")


def _rows(*rows) -> np.ndarray:
    return np.array(rows, dtype=float)


_SOBEL_RIGHT = _rows([-1, 0, 1], [-2, 0, 2], [-1, 0, 1])
_PREWITT_RIGHT = _rows([-1, 0, 1], [-1, 0, 1], [-1, 0, 1])


def _four_directions(family: str, right: np.ndarray) -> dict[str, np.ndarray]:
    """The ``right`` kernel and its three turns; ``-x`` is right, ``-y`` is bottom (rows grow
    down)."""
    bottom = right.T.copy()
    kernels = {"right": right, "left": -right, "bottom": bottom, "top": -bottom,
               "x": right, "y": bottom}
    return {f"{family}-{direction}": k for direction, k in kernels.items()}


KERNELS: dict[str, np.ndarray] = {
    "identity": identity(3),
    "box": box(3),
    "blur": _rows([1, 2, 1], [2, 4, 2], [1, 2, 1]) / 16,
    "sharpen": _rows([0, -1, 0], [-1, 5, -1], [0, -1, 0]),
    "emboss": _rows([-2, -1, 0], [-1, 1, 1], [0, 1, 2]),
    "outline": _rows([-1, -1, -1], [-1, 8, -1], [-1, -1, -1]),
    "laplacian": _rows([0, 1, 0], [1, -4, 1], [0, 1, 0]),
    **_four_directions("sobel", _SOBEL_RIGHT),
    **_four_directions("prewitt", _PREWITT_RIGHT),
}
"""Every named 3×3 kernel. ``box``, ``gaussian`` and ``identity`` also take a size."""

_SIZED = {"identity": identity, "box": box, "gaussian": gaussian}


def parse_numbers(text: str) -> np.ndarray:
    """A kernel written as numbers: rows split by ``;`` or newlines, values by spaces or commas.

    >>> parse_numbers("0 1; 1 0")
    array([[0., 1.],
           [1., 0.]])
    """
    rows = [r for r in text.replace("\n", ";").split(";") if r.strip()]
    try:
        values = [[float(v) for v in r.replace(",", " ").split()] for r in rows]
    except ValueError:
        raise ValueError(f"kernel {text!r}: expected numbers, rows separated by ';'") from None
    if not values or len({len(r) for r in values}) != 1 or not values[0]:
        raise ValueError(f"kernel {text!r}: every row must have the same number of values")
    return np.array(values)


def kernel(spec) -> np.ndarray:
    """A 2-D correlation kernel from a name (``"sobel-x"``), a sized name (``"gaussian(7, 2)"``,
    ``"box(5)"``), numbers (``"1 0 -1; 2 0 -2; 1 0 -1"``) or an array-like of rows."""
    if not isinstance(spec, str):
        k = np.asarray(spec, dtype=float)
        if k.ndim != 2 or 0 in k.shape:
            raise ValueError(f"kernel: expected a 2-D array of numbers, got shape {k.shape}")
        return k
    text = spec.strip()
    name = text.lower()
    if name in KERNELS:
        return KERNELS[name].copy()
    if "(" in name:
        return _sized(text)
    if any(ch.isdigit() for ch in name):
        return parse_numbers(text)
    raise ValueError(f"unknown kernel {spec!r}; known: {', '.join(sorted(KERNELS))}, "
                     "gaussian(size, sigma), box(size), or numbers such as "
                     "'1 0 -1; 2 0 -2; 1 0 -1'")


def _sized(text: str) -> np.ndarray:
    """``"gaussian(7, 2.0)"``: a name from ``_SIZED`` called with literal arguments (no eval)."""
    try:
        call = ast.parse(text, mode="eval").body
    except SyntaxError:
        call = None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id.lower() in _SIZED and not call.keywords):
        raise ValueError(f"kernel {text!r}: expected one of "
                         f"{', '.join(f'{n}(size, ...)' for n in _SIZED)}")
    try:
        args = [ast.literal_eval(a) for a in call.args]
    except ValueError:
        raise ValueError(f"kernel {text!r}: arguments must be numbers") from None
    return _SIZED[call.func.id.lower()](*args)
