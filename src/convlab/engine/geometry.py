"""The one output-size formula of convolution and pooling, and the checks that explain themselves.

Per spatial axis, with input size ``i``, kernel ``k``, stride ``s``, padding ``p_lo``/``p_hi`` on
the two sides and dilation ``d`` (Dumoulin & Visin, Relationship 15)::

    k_eff = d * (k - 1) + 1
    o     = floor((i + p_lo + p_hi - k_eff) / s) + 1

Pooling's ``ceil_mode`` rounds up instead, then drops a last window that would start in the
right padding (PyTorch's ``pooling_output_shape_pad_lr``).
"""

from __future__ import annotations

__all__ = ["output_length", "output_length_formula"]


def output_length(
    i: int, k: int, s: int = 1, p_lo: int = 0, p_hi: int | None = None, d: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output size along one axis. ``p_hi`` defaults to ``p_lo`` (symmetric padding).

    >>> output_length(6, 2)
    5
    >>> output_length(32, 5, s=2, p_lo=1)
    15
    >>> output_length(3, 2, s=2, p_lo=1, ceil_mode=True)
    2
    """
    if p_hi is None:
        p_hi = p_lo
    span = i + p_lo + p_hi - (d * (k - 1) + 1)
    if not ceil_mode:
        return span // s + 1
    o = (span + s - 1) // s + 1
    if (o - 1) * s >= i + p_lo:  # the last window would start inside the right padding
        o -= 1
    return o


def output_length_formula(
    i: int, k: int, s: int = 1, p_lo: int = 0, p_hi: int | None = None, d: int = 1,
    ceil_mode: bool = False,
) -> str:
    """The formula of :func:`output_length` with the numbers filled in.

    >>> output_length_formula(32, 5, s=2, p_lo=1)
    'floor((32 + 2*1 - 1*(5-1) - 1) / 2) + 1 = 15'
    >>> output_length_formula(10, 3, p_lo=0, p_hi=1)
    'floor((10 + 0 + 1 - 1*(3-1) - 1) / 1) + 1 = 9'
    """
    if p_hi is None:
        p_hi = p_lo
    pad = f"2*{p_lo}" if p_lo == p_hi else f"{p_lo} + {p_hi}"
    rounding = "ceil" if ceil_mode else "floor"
    text = f"{rounding}(({i} + {pad} - {d}*({k}-1) - 1) / {s}) + 1"
    return f"{text} = {output_length(i, k, s, p_lo, p_hi, d, ceil_mode)}"
