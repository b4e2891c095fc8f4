"""Drawing the frames of an :class:`~.animate.Animation` with Pillow.

A frame, top to bottom: the layer and its output-size formula per axis; for a transposed
convolution, its own input and output with the inputs that feed the current output; the grid
the kernel slides over (``input``, with padding and inserted zeros) and the ``output`` filling
in; a caption with the sum being computed. A channel panel on the right shows which input
channels feed which output channels, one colour per group. 1-D layers are drawn as one row.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .layers import CONV_TRANSPOSE, POOL
from .shape import axis_names, equivalent_axis
from .trace import INPUT, PADDING

__all__ = ["render"]

COLORS = {
    "background": "#ffffff", "text": "#202020", "faint": "#9a9a9a",
    "input": "#9cc3e6", "input_edge": "#4a7fb0",
    "padding": "#f0f0f0", "padding_edge": "#c0c0c0",
    "zero": "#ffffff", "zero_edge": "#9cc3e6",
    "tap": "#1f4e79", "tap_off": "#6b6b6b", "footprint": "#0b2440",
    "pending": "#ffffff", "pending_edge": "#c8c8c8",
    "done": "#8fd9c8", "done_edge": "#3c9c86", "now": "#137a63",
}
GROUP_COLORS = ["#e69f00", "#0072b2", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#b8a000",
                "#7f7f7f"]
MARGIN, GAP, LINE = 16, 56, 19


@functools.lru_cache(maxsize=None)
def _font(size: int):
    """DejaVu Sans, which matplotlib ships (it has ×); Pillow's default font otherwise."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(path), size) if path.exists() else ImageFont.load_default(size)


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.2g}"


def _lift(pos: tuple) -> tuple[int, int]:
    """(row, column) of a 1-D or 2-D position: 1-D layers are one row."""
    return (0, pos[0]) if len(pos) == 1 else pos


def _rows_cols(shape: tuple) -> tuple[int, int]:
    """(rows, columns) of a 1-D or 2-D grid shape."""
    return (1, shape[0]) if len(shape) == 1 else shape


class _Frame:
    """One frame's canvas with the cell size and fonts of the animation."""

    def __init__(self, size, cs: int, numbers: bool):
        self.image = Image.new("RGB", size, COLORS["background"])
        self.d = ImageDraw.Draw(self.image)
        self.cs = cs
        self.numbers = numbers
        self.big = _font(max(9, int(cs * 0.42)))
        self.small = _font(max(7, int(cs * 0.27)))
        self.text_font = _font(13)
        self.label_font = _font(12)

    def text(self, xy, text, fill=COLORS["text"], font=None, anchor="la"):
        self.d.text(xy, text, fill=fill, font=font or self.text_font, anchor=anchor)

    def cell(self, origin, rc, fill, edge, value=None, value_color=COLORS["text"], weight=None,
             weight_color="#ffffff", width=1):
        x = origin[0] + rc[1] * self.cs
        y = origin[1] + rc[0] * self.cs
        self.d.rectangle([x, y, x + self.cs, y + self.cs], fill=fill, outline=edge, width=width)
        if self.numbers and value is not None:
            self.d.text((x + self.cs / 2, y + self.cs / 2 - (2 if weight is not None else 0)),
                        value, fill=value_color, font=self.big, anchor="mm")
        if self.numbers and weight is not None:
            self.d.text((x + self.cs - 3, y + self.cs - 2), weight, fill=weight_color,
                        font=self.small, anchor="rd")

    def box(self, origin, first, last, color, width=3):
        """Outline around cells ``first``..``last`` (inclusive, row/column)."""
        x0 = origin[0] + first[1] * self.cs
        y0 = origin[1] + first[0] * self.cs
        x1 = origin[0] + (last[1] + 1) * self.cs
        y1 = origin[1] + (last[0] + 1) * self.cs
        self.d.rectangle([x0 - 1, y0 - 1, x1 + 1, y1 + 1], outline=color, width=width)

    def arrow(self, x0, x1, y):
        self.d.line([x0, y, x1 - 6, y], fill=COLORS["faint"], width=2)
        self.d.polygon([(x1, y), (x1 - 9, y - 5), (x1 - 9, y + 5)], fill=COLORS["faint"])


def _header(anim) -> list[str]:
    names = axis_names(anim.nd)
    lines = [anim.title, "   ".join(f"{n}: {a.formula}" for n, a in zip(names, anim.axes))]
    if anim.kind == CONV_TRANSPOSE:
        eq = [equivalent_axis(a) for a in anim.axes]
        lines.append("equals a direct convolution, stride 1, kernel flipped, over the input with "
                     + ", ".join(f"{n}: {e.s - 1} zero(s) between cells, "
                                 f"padding {e.pad_lo}|{e.pad_hi}" for n, e in zip(names, eq)))
    elif anim.kind == POOL:
        lines.append("max over each window (padding never wins)" if anim.pool == "max" else
                     "mean over each window (padding counts as 0)")
    if anim.kind != POOL and anim.in_channels // anim.groups > 1:
        lines.append(f"one input channel shown: an output sums {anim.in_channels // anim.groups} "
                     "such windows, one per input channel of its group, plus the bias")
    return lines


def _caption(anim, index: int) -> str:
    step = anim.steps[index]
    where = ", ".join(map(str, step.output))
    value = _fmt(anim.output_values[step.output])
    if not anim.numbers:
        return f"output[{where}]"
    reads = [t for t in step.taps if t.kind == INPUT]
    if anim.kind == POOL:
        terms = ", ".join(_fmt(anim.input_values[t.source]) for t in reads)
        return f"output[{where}] = {anim.pool}({terms}) = {value}"
    terms = [f"{_fmt(anim.input_values[t.source])}×{_fmt(anim.grid_kernel[t.kernel])}"
             for t in reads]
    if len(terms) > 12:
        terms = terms[:12] + ["..."]
    return f"output[{where}] = {' + '.join(terms) or '0'} = {value}"


def render(anim) -> list[Image.Image]:
    """Every frame of ``anim``, all the same size."""
    grid_rows, grid_cols = _rows_cols(anim.grid_kinds.shape)
    out_rows, out_cols = _rows_cols(anim.output_values.shape)
    in_rows, in_cols = _rows_cols(anim.input_values.shape)
    widest = max(grid_cols, out_cols, grid_rows)
    cs = 38 if anim.numbers else max(6, min(38, 420 // widest))
    transposed = anim.kind == CONV_TRANSPOSE

    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    header = _header(anim)
    text_width = max(measure.textlength(t, font=_font(13)) for t in header)
    captions = [_caption(anim, i) for i in range(len(anim.steps))]
    text_width = max(text_width, *(measure.textlength(c, font=_font(13)) for c in captions))

    # vertical layout
    y = MARGIN + LINE * len(header) + 8
    top = None
    if transposed:
        top = y + 18 + LINE
        y = top + max(in_rows, out_rows) * cs + 28 + LINE
    grid_y = y + 18
    caption_y = grid_y + max(grid_rows, out_rows) * cs + 12
    legend_y = caption_y + LINE + 4
    height = legend_y + LINE + MARGIN

    grid_x = MARGIN
    out_x = grid_x + grid_cols * cs + GAP
    panels_width = out_x + out_cols * cs
    if transposed:
        panels_width = max(panels_width, MARGIN + in_cols * cs + GAP + out_cols * cs)
    show_channels = anim.kind != POOL and (anim.in_channels > 1 or anim.out_channels > 1)
    channel_x = panels_width + GAP
    channels_width = _channel_width(anim, measure) if show_channels else 0
    width = int(max(channel_x + channels_width, MARGIN + text_width) + MARGIN)
    if show_channels:
        height = max(height, _channel_height(anim) + grid_y)

    frames = []
    for index, step in enumerate(anim.steps):
        f = _Frame((width, int(height)), cs, anim.numbers)
        for row, line in enumerate(header):
            f.text((MARGIN, MARGIN + row * LINE), line,
                   fill=COLORS["text"] if row == 0 else COLORS["faint"])
        if transposed:
            _draw_transposed(f, anim, step, index, top, in_cols * cs)
        if transposed:
            f.text((MARGIN, grid_y - 16 - LINE), "as a direct convolution:")
        padded = PADDING in set(anim.grid_kinds.flat)
        label = ("input, zeros inserted, padded" if transposed else
                 "input (padded)" if padded else "input")
        f.text((grid_x, grid_y - 16), label, font=f.label_font)
        f.text((out_x, grid_y - 16), "output", font=f.label_font)
        _draw_grid(f, anim, step, (grid_x, grid_y))
        _draw_output(f, anim, index, (out_x, grid_y))
        mid = grid_y + min(grid_rows, out_rows) * cs / 2
        f.arrow(grid_x + grid_cols * cs + 10, out_x - 10, mid)
        f.text((MARGIN, caption_y), captions[index])
        _draw_legend(f, anim, (MARGIN, legend_y))
        if show_channels:
            _draw_channels(f, anim, (channel_x, grid_y))
        frames.append(f.image)
    return frames


def _draw_grid(f: _Frame, anim, step, origin):
    taps = {_lift(t.cell): t for t in step.taps}
    kernel = anim.grid_kernel
    for cell in np.ndindex(*anim.grid_kinds.shape):
        rc = _lift(cell)
        kind = anim.grid_kinds[cell]
        tap = taps.get(rc)
        source = anim.grid_sources[cell]
        value = _fmt(anim.input_values[source]) if kind == INPUT else "0"
        weight = None if tap is None or kernel is None else _fmt(kernel[tap.kernel])
        if tap is not None:
            fill = COLORS["tap"] if kind == INPUT else COLORS["tap_off"]
            f.cell(origin, rc, fill, COLORS["footprint"], value, "#ffffff", weight)
        elif kind == INPUT:
            f.cell(origin, rc, COLORS["input"], COLORS["input_edge"], value)
        elif kind == PADDING:
            f.cell(origin, rc, COLORS["padding"], COLORS["padding_edge"], value, COLORS["faint"])
        else:
            f.cell(origin, rc, COLORS["zero"], COLORS["zero_edge"], value, COLORS["faint"])
    cells = [_lift(t.cell) for t in step.taps]
    first = tuple(min(c[i] for c in cells) for i in range(2))
    last = tuple(max(c[i] for c in cells) for i in range(2))
    f.box(origin, first, last, COLORS["footprint"])


def _draw_output(f: _Frame, anim, index: int, origin):
    for order, step in enumerate(anim.steps):
        rc = _lift(step.output)
        value = _fmt(anim.output_values[step.output])
        if order < index:
            f.cell(origin, rc, COLORS["done"], COLORS["done_edge"], value)
        elif order == index:
            f.cell(origin, rc, COLORS["now"], COLORS["footprint"], value, "#ffffff", width=2)
        else:
            f.cell(origin, rc, COLORS["pending"], COLORS["pending_edge"])


def _draw_transposed(f: _Frame, anim, step, index: int, top: int, input_width: int):
    """The transposed convolution itself: its input, with the cells that feed this output."""
    f.text((MARGIN, top - 16 - LINE), "transposed convolution:")
    f.text((MARGIN, top - 16), "input", font=f.label_font)
    out_x = MARGIN + input_width + GAP
    f.text((out_x, top - 16), "output", font=f.label_font)
    weights = {t.source: t for t in step.taps if t.kind == INPUT}
    for pos in np.ndindex(*anim.input_values.shape):
        value = _fmt(anim.input_values[pos])
        tap = weights.get(pos)
        if tap is not None:
            f.cell((MARGIN, top), _lift(pos), COLORS["tap"], COLORS["footprint"], value,
                   "#ffffff", _fmt(anim.grid_kernel[tap.kernel]))
        else:
            f.cell((MARGIN, top), _lift(pos), COLORS["input"], COLORS["input_edge"], value)
    _draw_output(f, anim, index, (out_x, top))
    rows = min(_rows_cols(anim.input_values.shape)[0], _rows_cols(anim.output_values.shape)[0])
    f.arrow(MARGIN + input_width + 10, out_x - 10, top + rows * f.cs / 2)


def _draw_legend(f: _Frame, anim, origin):
    """Small swatches naming the kinds of cells."""
    items = [("input", COLORS["input"], COLORS["input_edge"]),
             ("padding", COLORS["padding"], COLORS["padding_edge"])]
    if anim.kind == CONV_TRANSPOSE:
        items.append(("inserted zero", COLORS["zero"], COLORS["zero_edge"]))
    items += [("kernel tap" + (" (small: weight)" if anim.numbers and anim.kind != POOL else ""),
               COLORS["tap"], COLORS["footprint"]),
              ("output done", COLORS["done"], COLORS["done_edge"]),
              ("output now", COLORS["now"], COLORS["footprint"])]
    x, y = origin
    for label, fill, edge in items:
        f.d.rectangle([x, y + 2, x + 12, y + 14], fill=fill, outline=edge)
        f.text((x + 17, y + 1), label, font=f.label_font, fill=COLORS["faint"])
        x += 30 + f.d.textlength(label, font=f.label_font)


def _channel_geometry(anim) -> tuple[int, int]:
    """(square size, pitch) for the channel panel, shrinking for many channels."""
    n = max(anim.in_channels, anim.out_channels)
    pitch = max(4, min(24, 360 // n))
    return max(3, pitch - 6), pitch


CHANNEL_GAP = 130  # between the input and output columns of the channel panel


def _channel_texts(anim) -> list[str]:
    return [f"groups = {anim.groups}: each output channel",
            f"reads {anim.in_channels // anim.groups} input channel(s)"]


def _channel_width(anim, measure) -> int:
    font = _font(12)
    sq, _ = _channel_geometry(anim)
    return int(max(CHANNEL_GAP - 20 + measure.textlength("output channels", font=font),
                   CHANNEL_GAP + sq,
                   *(measure.textlength(t, font=font) for t in _channel_texts(anim))))


def _channel_height(anim) -> int:
    _, pitch = _channel_geometry(anim)
    return max(anim.in_channels, anim.out_channels) * pitch + 60


def _draw_channels(f: _Frame, anim, origin):
    """Input channels (left) wired to output channels (right), one colour per group."""
    sq, pitch = _channel_geometry(anim)
    x_in, y = origin
    x_out = x_in + CHANNEL_GAP
    f.text((x_in, y - 16), "input channels", font=f.label_font)
    f.text((x_out - 20, y - 16), "output channels", font=f.label_font)
    C_g = anim.in_channels // anim.groups
    O_g = anim.out_channels // anim.groups
    for c_in, c_out in anim.channel_links:
        color = GROUP_COLORS[(c_out // O_g) % len(GROUP_COLORS)]
        shown = c_in == 0 and c_out == 0
        f.d.line([x_in + sq, y + c_in * pitch + sq / 2, x_out, y + c_out * pitch + sq / 2],
                 fill=color, width=3 if shown else 1)
    for c in range(anim.in_channels):
        color = GROUP_COLORS[(c // C_g) % len(GROUP_COLORS)]
        f.d.rectangle([x_in, y + c * pitch, x_in + sq, y + c * pitch + sq], fill=color)
    for c in range(anim.out_channels):
        color = GROUP_COLORS[(c // O_g) % len(GROUP_COLORS)]
        f.d.rectangle([x_out, y + c * pitch, x_out + sq, y + c * pitch + sq], fill=color)
    bottom = y + max(anim.in_channels, anim.out_channels) * pitch + 6
    for row, text in enumerate(_channel_texts(anim)):
        f.text((x_in, bottom + 15 * row), text, font=f.label_font)
