"""How a tensor prints: PyTorch's layout, rule for rule, computed on a NumPy array.

>>> import numpy as np
>>> print(tensor_repr(np.array([[2., 4., 6.], [-1., 0., 10.]], np.float32), []))
tensor([[ 2.,  4.,  6.],
        [-1.,  0., 10.]])
>>> print(tensor_repr(np.array([1e10, 1.5]), ["requires_grad=True"]))
tensor([1.0000e+10, 1.5000e+00], dtype=convlab.float64, requires_grad=True)

The rules, as PyTorch 2.13 applies them:

- One notation and one width for all elements of a tensor, chosen from the elements that will be
  shown, not row by row (``_ElementFormat``). Zeros, infinities and NaNs take no part in the choice.
- Tensors with more than ``threshold`` elements are summarized: along each dim longer than
  ``2 * edgeitems`` only the first and last ``edgeitems`` entries are shown, with ``...`` between.
- A row breaks before it would pass ``linewidth``; nested rows are indented one column per dim, and
  3-D and deeper blocks are separated by ``ndim - 2`` blank lines.
- The suffixes (``size=``, ``dtype=``, then the caller's, such as ``requires_grad=True``) follow the
  values on the same line while they fit, otherwise each one that does not starts a new line.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["tensor_repr", "tensor_str", "set_printoptions", "get_printoptions"]

_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}
_options = {**_PROFILES["default"], "sci_mode": None}

_PREFIX = "tensor("


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None) -> None:
    """Set how tensors print, as ``torch.set_printoptions`` does.

    Args:
        precision: digits after the decimal point (default 4).
        threshold: tensors with more elements than this are summarized (default 1000).
        edgeitems: entries shown at each end of a summarized dim (default 3).
        linewidth: characters per line before a row breaks (default 80).
        profile: ``'default'``, ``'short'`` or ``'full'``, applied first, before the other arguments.
        sci_mode: ``True`` or ``False`` forces scientific notation on or off; ``None`` lets the values
            decide. As in PyTorch, every call sets it, so a call without it goes back to ``None``.
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, "
                             f"got {profile!r}")
        _options.update(_PROFILES[profile])
    given = {"precision": precision, "threshold": threshold, "edgeitems": edgeitems,
             "linewidth": linewidth}
    _options.update({name: value for name, value in given.items() if value is not None})
    _options["sci_mode"] = sci_mode


def get_printoptions() -> dict:
    """The current print options, as a new dict."""
    return dict(_options)


def tensor_repr(data: np.ndarray, suffixes: list[str], *, default_float=np.float32) -> str:
    """The repr of a tensor holding ``data``: ``tensor(<values>, <suffixes>)``, as PyTorch prints it.

    ``suffixes`` are the caller's, e.g. ``["requires_grad=True"]`` or ``["grad_fn=<MulBackward0>"]``;
    the ``size=`` and ``dtype=`` suffixes are added here, before them, where PyTorch shows them.
    ``default_float`` is the default floating dtype, whose tensors print without a ``dtype=``.

    >>> tensor_repr(np.zeros((0, 3), np.float64), [])
    'tensor([], size=(0, 3), dtype=convlab.float64)'
    >>> tensor_repr(np.array(True), [])
    'tensor(True)'
    """
    own = []
    if data.size == 0:
        if data.ndim != 1:  # a 1-D empty tensor is the only one that `[]` describes fully
            own.append(f"size={data.shape}")
        if data.dtype != default_float:  # no values to tell int64 or bool from float
            own.append(f"dtype=convlab.{data.dtype.name}")
    else:
        if _options["edgeitems"] == 0:  # summarized values then print as `[...]`; PyTorch adds
            own.append(f"size={data.shape}")  # the size whether or not they are summarized
        if data.dtype not in (np.dtype(default_float), np.int64, np.bool_):
            own.append(f"dtype=convlab.{data.dtype.name}")
    return _add_suffixes(_PREFIX + tensor_str(data, indent=len(_PREFIX)), own + list(suffixes))


def tensor_str(data: np.ndarray, indent: int = 0) -> str:
    """The values of a tensor as PyTorch lays them out, for text that starts at column ``indent``.

    >>> print(tensor_str(np.arange(8).reshape(2, 2, 2)))
    [[[0, 1],
      [2, 3]],
    <BLANKLINE>
     [[4, 5],
      [6, 7]]]
    """
    if data.size == 0:
        return "[]"
    summarize = data.size > _options["threshold"]
    fmt = _ElementFormat(_summarized(data) if summarize else data, _options["precision"],
                         _options["sci_mode"])
    return _nested(data, indent, summarize, fmt)


class _ElementFormat:
    """The one notation and width that every element of a tensor prints with.

    Integers and bools print as Python prints them. Floats print in one of three notations, decided
    by the nonzero finite values alone (``sci_mode``, when not None, overrides the decision, unless
    there are no such values):

    - whole numbers, with a bare point: ``2.``, ``-0.``, ``inf`` (no point on inf and nan);
    - fixed point with ``precision`` digits: ``0.5000``;
    - scientific, ``1.0000e+10``, when the largest magnitude is more than 1000 times the smallest,
      the largest is above 1e8, or (for numbers that are not whole) the smallest is below 1e-4.

    The width is the widest nonzero finite value; the others are padded on the left to it. Zeros,
    infinities and NaNs are not measured, so they can be wider: ``tensor([nan, 1.])``.
    """

    def __init__(self, shown: np.ndarray, precision: int, sci_mode: bool | None):
        self.precision = precision
        self.floating = shown.dtype.kind == "f"
        self.whole = True
        self.sci = False
        self.width = 1
        if not self.floating:
            self.width = max((len(str(v)) for v in shown.ravel().tolist()), default=1)
            return
        values = shown[np.isfinite(shown) & (shown != 0)].astype(np.float64)
        if values.size == 0:
            return
        self.whole = bool(np.all(values == np.ceil(values)))
        smallest, largest = np.abs(values).min(), np.abs(values).max()
        if sci_mode is not None:
            self.sci = sci_mode
        else:
            with np.errstate(over="ignore"):  # a ratio past float64's range is inf, still > 1000
                ratio = largest / smallest
            self.sci = bool(ratio > 1000.0 or largest > 1.0e8 or (not self.whole and smallest < 1.0e-4))
        self.width = max(len(self._plain(v)) for v in values.tolist())

    def _plain(self, value) -> str:
        """``value`` in this tensor's notation, unpadded."""
        if not self.floating:
            return str(value)
        if self.sci:
            return f"{value:.{self.precision}e}"
        if self.whole:
            return f"{value:.0f}" + ("." if math.isfinite(value) else "")
        return f"{value:.{self.precision}f}"

    def __call__(self, value) -> str:
        return self._plain(value).rjust(self.width)


def _shown_indices(n: int) -> list[int]:
    """Which of ``n`` entries along a dim a summarized tensor shows."""
    edge = _options["edgeitems"]
    if n <= 2 * edge:
        return list(range(n))
    return list(range(edge)) + list(range(n - edge, n))


def _summarized(data: np.ndarray) -> np.ndarray:
    """The elements a summarized tensor shows, the same entries kept along every dim."""
    return data[np.ix_(*(_shown_indices(n) for n in data.shape))]


def _nested(data: np.ndarray, indent: int, summarize: bool, fmt: _ElementFormat) -> str:
    """``data`` (not empty) as nested brackets; continuation lines start at column ``indent + 1``."""
    if data.ndim == 0:
        return fmt(data.item())
    edge = _options["edgeitems"]
    if summarize and edge == 0:
        return "[...]"
    if summarize and len(data) > 2 * edge:  # show only both ends of this dim
        head, tail = data[:edge], data[len(data) - edge:]
    else:
        head, tail = data, data[:0]
    if data.ndim == 1:
        items = [fmt(v) for v in head.tolist()]
        if len(tail):
            items += [" ..."] + [fmt(v) for v in tail.tolist()]
        per_line = max(1, (_options["linewidth"] - indent) // (fmt.width + len(", ")))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = [_nested(row, indent + 1, summarize, fmt) for row in head]
    if len(tail):
        rows += ["..."] + [_nested(row, indent + 1, summarize, fmt) for row in tail]
    return "[" + ("," + "\n" * (data.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _add_suffixes(text: str, suffixes: list[str]) -> str:
    """Close ``tensor(...`` with ``suffixes``, each on the current line while it fits.

    PyTorch counts the values' last line as 2 characters longer than it is, so a suffix that would
    end within 2 characters of ``linewidth`` there moves to a new line; a line that a suffix started
    is counted as it is. A suffix on a new line is indented under the first value.
    """
    linewidth = _options["linewidth"]
    used = len(text) - text.rfind("\n") - 1 + 2
    for suffix in suffixes:
        if used + len(", ") + len(suffix) > linewidth:
            text += ",\n" + " " * len(_PREFIX) + suffix
            used = len(_PREFIX) + len(suffix)
        else:
            text += ", " + suffix
            used += len(", ") + len(suffix)
    return text + ")"
