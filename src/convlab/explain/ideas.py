"""Two ideas drawn as one picture each, from the same seeded example as the animations.

- :func:`im2col_picture`: a convolution as one matrix product. Each output position's window
  becomes a row of the patch matrix ``P (positions, C*k*k)``; ``P @ w + b`` is the output, one
  value per row, which is how fast convolutions run.
- :func:`backward_picture`: the backward pass of ``y = conv2d(x, w) + b`` for an output
  gradient ``g = dL/dy``: the input gradient ``dL/dx = conv_transpose2d(g, w)`` (each output
  sends its gradient back through the weights that made it) and the weight gradient
  ``dL/dw = correlate(x, g)`` (each weight collects input times output gradient over every
  position it touched); ``dL/db`` is the sum of ``g``. The numbers are convlab's autograd.

Both take a one-group 2-D convolution and return ``(image, numbers)``; ``numbers`` holds the
arrays drawn, so a test can hold them equal to the layer.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .draw import COLORS, MARGIN, _cell, _font, _Frame
from .example import example
from .layers import CONV, describe
from .shape import parse_shape

__all__ = ["im2col_picture", "backward_picture"]

CS = 30  # cell size in pixels


def _conv(layer, input_shape, seed: int):
    info = describe(layer)
    if info.kind != CONV or info.nd != 2 or info.groups != 1:
        raise ValueError(f"expected a 2-D convolution with groups=1, got {layer!r}")
    shape = parse_shape(input_shape)
    if len(shape) == 2:
        shape = (1, info.in_channels, *shape)
    return example(layer, shape, seed)


_DARK = (COLORS["tap"], COLORS["now"])  # fills that need white numbers


def _grid(f: _Frame, origin, values, label: str, fill=COLORS["input"],
          edge=COLORS["input_edge"]) -> tuple[int, int]:
    """A labelled matrix of numbers; returns its (right, bottom) edge."""
    values = np.atleast_2d(values)
    x, y = origin
    f.text((x, y - 16), label, font=f.label_font)
    ink = "#ffffff" if fill in _DARK else COLORS["text"]
    for rc in np.ndindex(*values.shape):
        f.cell((x, y), rc, fill, edge, _cell(values[rc]), ink)
    return x + values.shape[1] * f.cs, y + values.shape[0] * f.cs


def _canvas(width: int, height: int, title: str, lines: list[str]) -> _Frame:
    f = _Frame((width, height), CS, True)
    f.text((MARGIN, MARGIN), title)
    for row, line in enumerate(lines):
        f.text((MARGIN, MARGIN + 19 * (row + 1)), line, fill=COLORS["faint"])
    return f


def im2col_picture(layer="Conv2d(1, 1, 3)", input_shape=(4, 4), seed: int = 0):
    """The patch matrix of ``layer`` on the example input, times the weights, plus the bias."""
    from .trace import trace

    module, x = _conv(layer, input_shape, seed)
    import convlab

    y = module(convlab.tensor(x)).detach().numpy()[0, 0]
    traces = [trace(module, x, (0, 0, *o)) for o in np.ndindex(*y.shape)]
    patches = np.stack([t.window.reshape(-1) for t in traces])
    weights = traces[0].kernel.reshape(-1, 1)
    bias = traces[0].bias or 0.0
    product = patches @ weights + bias
    numbers = {"input": x[0], "patches": patches, "weights": weights, "bias": bias,
               "product": product[:, 0], "output": y}

    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines = [f"each of the {len(patches)} output positions' windows is a row of the patch matrix "
             f"({patches.shape[0]} x {patches.shape[1]}); rows times the weights, plus the bias "
             f"{_cell(bias)}, are the outputs (output channel 0)"]
    C, H, W = x.shape[1:]
    top = MARGIN + 19 * 3 + 24
    left_w = W * CS if C == 1 else 0
    width = int(MARGIN * 2 + left_w + 40 + patches.shape[1] * CS + 40 + CS + 60 + CS + 40
                + y.shape[1] * CS + 40)
    width = max(width, int(measure.textlength(lines[0], font=_font(13))) + 2 * MARGIN)
    height = top + max(patches.shape[0], H, weights.shape[0]) * CS + MARGIN + 20
    f = _canvas(width, height, f"{layer}: im2col, a convolution as a matrix product", lines)
    x0 = MARGIN
    if C == 1:
        x0 = _grid(f, (x0, top), x[0, 0], "input")[0] + 40
    right, _ = _grid(f, (x0, top), patches, "patch matrix (one window per row)")
    f.text((right + 12, top + CS * patches.shape[0] / 2 - 8), "×")
    right, _ = _grid(f, (right + 40, top), weights, "w", COLORS["tap"], COLORS["footprint"])
    f.text((right + 8, top + CS * patches.shape[0] / 2 - 8), f"+{_cell(bias)} =")
    right, _ = _grid(f, (right + 60, top), product, "out", COLORS["done"], COLORS["done_edge"])
    _grid(f, (right + 40, top), y, "as the output grid", COLORS["done"], COLORS["done_edge"])
    return f.image, numbers


def backward_picture(layer="Conv2d(1, 1, 3)", input_shape=(4, 4), seed: int = 0):
    """``x``, ``w``, an output gradient ``g``, and the input and weight gradients autograd
    computes, with the formulas they follow (channel 0 of a one-channel example)."""
    import convlab

    module, x = _conv(layer, input_shape, seed)
    xt = convlab.tensor(x, requires_grad=True)
    y = module(xt)
    rng = np.random.default_rng(seed + 1)
    g = rng.integers(-1, 3, size=tuple(y.shape)).astype(np.float32)
    y.backward(convlab.tensor(g))
    numbers = {"input": x[0, 0], "weight": module.weight.detach().numpy()[0, 0],
               "grad_output": g[0, 0], "grad_input": xt.grad.numpy()[0, 0],
               "grad_weight": module.weight.grad.numpy()[0, 0]}
    lines = ["dL/dx = conv_transpose2d(dL/dy, w): each output sends its gradient back through "
             "the weights that made it",
             "dL/dw = correlate(x, dL/dy): each weight sums input x output gradient over the "
             "positions it touched"]
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    H, W = x.shape[2:]
    kh, kw = numbers["weight"].shape
    oh, ow = g.shape[2:]
    top = MARGIN + 19 * 3 + 24
    row2 = top + max(H, kh, oh) * CS + 50
    width = max(int(max(measure.textlength(t, font=_font(13)) for t in lines)) + 2 * MARGIN,
                MARGIN * 2 + (W + kw + ow) * CS + 160)
    height = row2 + max(H, kh) * CS + MARGIN + 10
    f = _canvas(width, height, f"{layer}: the backward pass, for an output gradient dL/dy",
                lines)
    right, _ = _grid(f, (MARGIN, top), numbers["input"], "x")
    right, _ = _grid(f, (right + 60, top), numbers["weight"], "w", COLORS["tap"],
                     COLORS["footprint"])
    _grid(f, (right + 60, top), numbers["grad_output"], "dL/dy", COLORS["now"],
          COLORS["footprint"])
    right, _ = _grid(f, (MARGIN, row2), numbers["grad_input"], "dL/dx = conv_transpose2d(dL/dy, w)",
                     COLORS["done"], COLORS["done_edge"])
    _grid(f, (max(right + 60, MARGIN + 260), row2), numbers["grad_weight"],
          "dL/dw = correlate(x, dL/dy)", COLORS["done"], COLORS["done_edge"])
    return f.image, numbers
