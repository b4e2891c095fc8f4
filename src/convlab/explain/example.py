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

__all__ = ["example", "MAX_INPUT_VALUES"]

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
    rng = np.random.default_rng(seed)
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
            values = rng.choice(np.array([-1.0, 1.0, 2.0], np.float32), size=tuple(weight.shape))
            module.weight = Parameter(convlab.tensor(values))
        if getattr(module, "bias", None) is not None:
            values = rng.integers(-2, 3, size=tuple(module.bias.shape)).astype(np.float32)
            module.bias = Parameter(convlab.tensor(values))
    x = rng.integers(0, 4, size=input_shape, dtype=np.int8).astype(np.float32)
    return module, x
