"""A memo for the argument checks that run on every call of a layer.

A training step calls the same convolution and pooling with the same shapes and options again
and again; checking them and building the geometry costs more than the engine's work on small
inputs (the 8x8 digits). The result depends only on the shapes and the options, so it is
remembered under a key made of them. Errors are never remembered: a bad call raises each time.

The options go into the key as their ``repr``, which tells apart values that ``==`` and ``hash``
confuse but the checks do not: ``1``, ``1.0``, ``True`` and ``np.int64(1)``, ``(1, 1)`` and
``[1, 1]`` (a list, which could not be a dict key itself).
"""

from __future__ import annotations

from collections.abc import Callable

_LIMIT = 256  # entries per memo; a program that keeps making new shapes starts it over


def remembered(memo: dict, key: tuple, compute: Callable, *args):
    """``memo[key]``, computed as ``compute(*args)`` the first time."""
    try:
        return memo[key]
    except KeyError:
        pass
    value = compute(*args)
    if len(memo) >= _LIMIT:
        memo.clear()
    memo[key] = value
    return value


def options_key(*options) -> str:
    """The options of a call as part of a memo key (see the module docstring)."""
    return repr(options)
