"""The one example every view of a layer is drawn from: the layer with whole-number weights and
a whole-number input, made from a seed.

``explain --gif``, ``explain --trace``, :func:`~.animate.animate` and the notebook views all
take their numbers from :func:`example`, so for the same layer, input shape and seed they show
the same numbers. Whole numbers keep every product and sum exact in float32 (so a trace equals
the layer's output exactly) and short enough to write in a cell of a picture: inputs are 0..3,
weights -1, 1 or 2, the bias -2..2.

>>> layer, x = example("Conv2d(2, 1, 3)", (1, 2, 4, 4))
>>> x.shape, sorted(set(x.flat)) <= [0.0, 1.0, 2.0, 3.0]
((1, 2, 4, 4), True)
>>> sorted(set(layer.weight.detach().numpy().flat)) <= [-1.0, 1.0, 2.0]
True
"""

from __future__ import annotations

import math

import numpy as np

from .layer_spec import LayerSpec, parse_layer

__all__ = ["example", "whole_numbers", "MAX_INPUT_VALUES"]

MAX_INPUT_VALUES = 2 ** 24
"""The largest input :func:`example` makes (16.7 million values: 4096x4096, 64 MB as float32);
the pictures show a window of the output anyway, so a bigger input shows nothing more."""


_PICTURE_HINT = ("the pictures show a window of the output anyway, so give a smaller input "
                 "with the same channels, e.g. 64x64")


def check_input_size(input_shape, what: str = "explain", hint: str = _PICTURE_HINT) -> None:
    """Refuse an input of more than :data:`MAX_INPUT_VALUES` values, saying what to do."""
    count = math.prod(input_shape)
    if count > MAX_INPUT_VALUES:
        shape = "x".join(map(str, input_shape))
        raise ValueError(f"{what}: the input {shape} has {count:,} values, over the limit of "
                         f"{MAX_INPUT_VALUES:,} ({MAX_INPUT_VALUES * 4 // 2**20} MB as float32); "
                         f"{hint}")


def whole_numbers(seed: int, stream: int, shape, choices) -> np.ndarray:
    """An array of ``shape`` whose elements are drawn from ``choices`` by a hash of (``seed``,
    ``stream``, the element's flat index): a counter-based generator, so the explorer page's
    script (``explore_page.py``, ``draw``) makes the very same numbers for any layer, where a
    sequential generator would tie the two to one order of drawing."""
    mask = np.uint64(0xFFFFFFFF)
    i = np.arange(math.prod(shape), dtype=np.uint64)
    start = (seed * 0x85EBCA77 + stream * 0xC2B2AE3D) & 0xFFFFFFFF
    h = (i * np.uint64(0x9E3779B1) + np.uint64(start)) & mask
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x7FEB352D)) & mask
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x846CA68B)) & mask
    h ^= h >> np.uint64(16)
    choices = np.asarray(choices, np.float32)
    return choices[(h % np.uint64(len(choices))).astype(np.intp)].reshape(shape)


WEIGHTS, BIASES, INPUTS = (-1, 1, 2), (-2, -1, 0, 1, 2), (0, 1, 2, 3)  # streams 0, 1, 2


def example(layer, input_shape, seed: int = 0):
    """``(module, x)``: ``layer`` as a convlab module and an input of ``input_shape`` (a float32
    NumPy array of whole numbers 0..3).

    A string or :class:`~.layer_spec.LayerSpec` is built with whole-number weights drawn from
    ``seed``; a module keeps its own weights (only the input is made).
    """
    import convlab
    from convlab.nn import Parameter

    input_shape = tuple(int(n) for n in input_shape)
    check_input_size(input_shape)
    if isinstance(layer, str):
        layer = parse_layer(layer)
        if isinstance(layer, list):
            raise ValueError("explain takes one layer; use `convlab summary` for a Sequential")
    module = layer
    if isinstance(layer, LayerSpec):
        convlab.manual_seed(seed)
        module = layer.build()
        weight = getattr(module, "weight", None)
        if weight is not None:
            values = whole_numbers(seed, 0, tuple(weight.shape), WEIGHTS)
            module.weight = Parameter(convlab.tensor(values))
        if getattr(module, "bias", None) is not None:
            values = whole_numbers(seed, 1, tuple(module.bias.shape), BIASES)
            module.bias = Parameter(convlab.tensor(values))
    return module, whole_numbers(seed, 2, input_shape, INPUTS)
