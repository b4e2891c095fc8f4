"""Drawing the frames of an :class:`~.animate.Animation` with Pillow.

A frame, top to bottom: the layer and its output-size formula per axis (and what the padding
mode, the pooling rule or the window of a large input mean); for a transposed convolution, its
own input and output with the inputs that feed the current output; one grid per input channel
(``input``, with padding and inserted zeros, the kernel's footprint on the channels of the
current output's group) and the ``output`` filling in; a caption with each channel's sum of
products and the total with the bias. A channel panel on the right shows which input channels
feed which output channels, one colour per group. 1-D layers are drawn as one row; 3-D layers as
their depth slices side by side, for the input and for the output.

Every number comes from the frame's trace (:attr:`~.animate.Step.trace`), never from a second
computation.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .layers import CONV, CONV_TRANSPOSE
from .shape import axis_names, equivalent_axis
from .trace import INPUT, PADDING

__all__ = ["Renderer"]

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
MAX_TERMS = 9  # products written out per caption line


@functools.lru_cache(maxsize=None)
def _font(size: int):
    """DejaVu Sans, which matplotlib ships (it has ×); Pillow's default font otherwise."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(path), size) if path.exists() else ImageFont.load_default(size)


def _fmt(v: float, digits: int = 3) -> str:
    v = float(v) + 0.0  # -0.0 (0 times a negative weight) prints as 0
    return str(int(v)) if v.is_integer() else f"{v:.{digits}g}"


def _cell(v: float) -> str:
    """A value short enough for a cell: two significant digits."""
    return _fmt(v, 2)


def _times(v: float, w: float) -> str:
    weight = _fmt(w)
    return f"{_fmt(v)}×{f'({weight})' if w < 0 else weight}"


def _lift(pos: tuple) -> tuple[int, int]:
    """(row, column) of a 1-D or 2-D position: 1-D layers are one row."""
    return (0, pos[0]) if len(pos) == 1 else pos


def _slices(shape: tuple) -> tuple[list, tuple]:
    """``(depths, plane)`` of a grid: a 3-D grid is drawn as its depth slices (``depths`` the
    slice indices), a 1-D or 2-D grid as itself (``[None]``)."""
    return (list(range(shape[0])), shape[1:]) if len(shape) == 3 else ([None], shape)


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
        self.big = _font(max(9, int(cs * 0.40)))
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


_MODES = {"reflect": "mirrored copies of the input (the edge itself not repeated)",
          "replicate": "copies of the nearest edge value",
          "circular": "the input wrapped around from the other side"}


def _header(anim) -> list[str]:
    names = axis_names(anim.nd)
    lines = [anim.title]
    lines += [f"{n}: {a.formula}" for n, a in zip(names, anim.axes)] if any(
        a.windows for a in anim.axes) else [
        "   ".join(f"{n}: {a.formula}" for n, a in zip(names, anim.axes))]
    if anim.kind == CONV_TRANSPOSE:
        eq = [equivalent_axis(a) for a in anim.axes]
        lines.append("equals a direct convolution, stride 1, kernel flipped, over the input with "
                     + ", ".join(f"{n}: {e.s - 1} zero(s) between cells, "
                                 f"padding {e.pad_lo}|{e.pad_hi}" for n, e in zip(names, eq)))
    elif anim.op == "max":
        lines.append("max over each window (padding never wins)")
    elif anim.op == "lp":
        p = _fmt(anim.layer.norm_type)
        lines.append(f"power average over each window: (sum of x^{p})^(1/{p})")
    elif anim.op == "avg":
        lines.append(_avg_rule(anim.layer))
    if anim.padding_mode != "zeros":
        lines.append(f"padding_mode={anim.padding_mode!r}: the grey padding cells hold "
                     f"{_MODES[anim.padding_mode]}")
    if anim.kind in (CONV, CONV_TRANSPOSE):
        C_g = anim.in_channels // anim.groups
        if C_g > 1:
            lines.append(f"each output channel sums the windows of its group's {C_g} input "
                         "channels, then adds its bias")
        if anim.in_channels > len(anim.channels_drawn):
            lines.append(f"input channels 0..{len(anim.channels_drawn) - 1} of "
                         f"{anim.in_channels} drawn; the caption sums all of them")
    whole = all(lo == 0 and hi == a.o for (lo, hi), a in zip(anim.window, anim.axes))
    if not whole:
        shown = ", ".join(f"{n} {lo}..{hi - 1} of {a.o}"
                          for n, (lo, hi), a in zip(names, anim.window, anim.axes))
        lines.append(f"animating outputs {shown} (a window: window=/--window picks another)")
    return lines


def _avg_rule(layer) -> str:
    if "Adaptive" in type(layer).__name__:
        return "mean over each window: sum / the window's size"
    override = getattr(layer, "divisor_override", None)
    if override:
        return f"mean over each window: sum / {override} (divisor_override)"
    if getattr(layer, "count_include_pad", True):
        return "mean over each window: sum / window size, the zero padding counted"
    return "mean over each window: sum / number of real inputs (count_include_pad=False)"


def _capped(items: list[str]) -> list[str]:
    """At most :data:`MAX_TERMS` terms, then how many there are."""
    return items[:MAX_TERMS] + [f"... ({len(items)} terms)"] if len(items) > MAX_TERMS else items


def _terms(values, weights=None) -> list[str]:
    return _capped([_fmt(v) if weights is None else _times(v, w)
                    for v, w in zip(values, weights if weights is not None else values)])


def _caption(anim, step) -> list[str]:
    """The sums of one frame, from its trace: a line per input channel, then the total."""
    t = step.trace
    where = f"output[{step.channel}; {', '.join(map(str, step.output))}]"
    if not anim.numbers:
        return [f"{where} = {_fmt(t.total)}"]
    if t.op == "max":
        return [f"{where} = max({', '.join(_terms(t.read))}) = {_fmt(t.total)}"]
    if t.op == "lp":
        p = _fmt(t.norm_type)
        scale = f" / {_fmt(t.divisor)}" if t.divisor != 1 else ""
        powers = _capped([f"{_fmt(v)}^{p}" for v in t.read])
        return [f"{where} = ({' + '.join(powers)}{scale})^(1/{p}) = {_fmt(t.total)}"]
    if t.op == "avg":
        return [f"{where} = ({' + '.join(_terms(t.read)) or '0'}) / {_fmt(t.divisor)} = "
                f"{_fmt(t.total)}"]
    lines = []
    # zero padding and inserted zeros add nothing; other padding modes' copies do
    keep = t.kinds == INPUT if anim.padding_mode == "zeros" else t.kinds == t.kinds
    for c_local, c in enumerate(t.channels[:len(anim.channels_drawn)]):
        terms = _terms(t.window[c_local][keep], t.kernel[c_local][keep])
        lines.append(f"channel {c}: {' + '.join(terms) or '0'} = {_fmt(t.channel_sums[c_local])}")
    sums = [_fmt(v) for v in t.channel_sums]
    if len(sums) > 8:
        sums = sums[:6] + [f"... ({len(sums)} channel sums)"]
    bias = f" + bias {_fmt(t.bias)}" if t.bias is not None else ""
    lines.append(f"{where} = {' + '.join(sums)}{bias} = {_fmt(t.total)}")
    return lines


class Renderer:
    """Lays out an animation once, then draws any frame of it."""

    def __init__(self, anim):
        self.anim = anim
        self.depths, plane = _slices(anim.grid_kinds.shape)
        self.out_depths, out_plane = _slices(anim.output_values.shape[1:])
        grid_rows, grid_cols = _rows_cols(plane)
        out_rows, out_cols = _rows_cols(out_plane)
        in_rows, in_cols = _rows_cols(anim.input_values.shape[-2:] if anim.nd == 3
                                      else anim.input_values.shape[1:])
        drawn = len(anim.channels_drawn) if anim.kind in (CONV, CONV_TRANSPOSE) else 1
        self.drawn = drawn
        panels = drawn * len(self.depths)
        columns = panels * grid_cols + len(self.out_depths) * out_cols
        widest = max(columns, grid_rows)
        if anim.numbers:
            cs = max(24, min(38, 1000 // max(1, columns)))
        else:
            cs = max(6, min(38, 420 // widest))
        self.cs = cs
        self.grid_cols, self.out_cols = grid_cols, out_cols
        self.transposed = anim.kind == CONV_TRANSPOSE and anim.nd < 3  # 3-D: the direct view

        measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        self.header = _header(anim)
        captions = [_caption(anim, anim.steps[i]) for i in (0, len(anim.steps) - 1)]
        self.caption_lines = max(len(c) for c in captions)
        texts = self.header + [line for c in captions for line in c]
        text_width = max(measure.textlength(t, font=_font(13)) for t in texts) + 40

        y = MARGIN + LINE * len(self.header) + 8
        self.top = None
        if self.transposed:
            self.top = y + 18 + LINE
            y = self.top + max(in_rows, out_rows) * cs + 28 + LINE
        self.grid_y = y + 18
        self.caption_y = self.grid_y + max(grid_rows, out_rows) * cs + 12
        self.legend_y = self.caption_y + LINE * self.caption_lines + 4
        height = self.legend_y + LINE + MARGIN

        self.grid_xs = [MARGIN + k * (grid_cols * cs + GAP // 2) for k in range(panels)]
        self.out_x = self.grid_xs[-1] + grid_cols * cs + GAP
        self.out_xs = [self.out_x + k * (out_cols * cs + GAP // 2)
                       for k in range(len(self.out_depths))]
        panels_width = self.out_xs[-1] + out_cols * cs
        if self.transposed:
            panels_width = max(panels_width, MARGIN + in_cols * cs + GAP + out_cols * cs)
        self.show_channels = anim.kind in (CONV, CONV_TRANSPOSE) and (
            anim.in_channels > 1 or anim.out_channels > 1)
        self.channel_x = panels_width + GAP
        channels_width = _channel_width(anim, measure) if self.show_channels else 0
        width = int(max(self.channel_x + channels_width, MARGIN + text_width) + MARGIN)
        if self.show_channels:
            height = max(height, _channel_height(anim) + self.grid_y)
        self.size = (width, int(height))

    def frame(self, index: int) -> Image.Image:
        anim, cs = self.anim, self.cs
        step = anim.steps[index]
        f = _Frame(self.size, cs, anim.numbers)
        for row, line in enumerate(self.header):
            f.text((MARGIN, MARGIN + row * LINE), line,
                   fill=COLORS["text"] if row == 0 else COLORS["faint"])
        if self.transposed:
            _draw_transposed(f, anim, step, index, self.top)
            f.text((MARGIN, self.grid_y - 16 - LINE), "as a direct convolution:")
        padded = PADDING in set(anim.grid_kinds.flat)
        group = set(step.trace.channels) if step.trace.op == "conv" else {step.channel}
        channels = anim.channels_drawn if self.drawn > 1 else [step.trace.channels[0]]
        panels = [(c, z) for c in channels for z in self.depths]
        for x, (c, z) in zip(self.grid_xs, panels):
            label = ("input, zeros inserted, padded" if self.transposed else
                     "input (padded)" if padded else "input")
            if anim.in_channels > 1:
                label = f"input channel {c}" + ("" if c in group else ", other group")
            if z is not None:
                label = f"{'input' if anim.in_channels == 1 else f'channel {c}'}, depth {z}"
            f.text((x, self.grid_y - 16), label, font=f.label_font)
            _draw_grid(f, anim, step, c, c in group, (x, self.grid_y), z)
        for x, z in zip(self.out_xs, self.out_depths):
            label = f"output, channel {step.channel}" if anim.out_channels > 1 else "output"
            if z is not None:
                label = f"output, depth {z + anim.window[0][0]}"
            f.text((x, self.grid_y - 16), label, font=f.label_font)
            _draw_output(f, anim, index, (x, self.grid_y), z)
        mid = self.grid_y + cs
        f.arrow(self.grid_xs[-1] + self.grid_cols * cs + 10, self.out_x - 10, mid)
        for row, line in enumerate(_caption(anim, step)):
            f.text((MARGIN, self.caption_y + row * LINE), line)
        _draw_legend(f, anim, (MARGIN, self.legend_y))
        if self.show_channels:
            _draw_channels(f, anim, step, (self.channel_x, self.grid_y))
        return f.image


def _draw_grid(f: _Frame, anim, step, channel: int, in_group: bool, origin, z=None):
    """One input channel's grid (its depth slice ``z`` for a 3-D layer), with the taps."""
    taps = {t.cell: t for t in step.taps} if in_group else {}
    t = step.trace
    c_local = t.channels.index(channel) if in_group else None
    plane = anim.grid_kinds.shape if z is None else anim.grid_kinds.shape[1:]
    for position in np.ndindex(*plane):
        cell = position if z is None else (z, *position)
        rc = _lift(position)
        kind = anim.grid_kinds[cell]
        tap = taps.get(cell)
        blank = kind == PADDING and anim.op == "max"  # -inf: never wins
        value = None if blank else _cell(anim.grid_values[(channel, *cell)])
        weight = None
        if tap is not None and t.kernel is not None:
            weight = _cell(t.kernel[(c_local, *tap.kernel)])
        if tap is not None:
            fill = COLORS["tap"] if kind == INPUT else COLORS["tap_off"]
            f.cell(origin, rc, fill, COLORS["footprint"], value, "#ffffff", weight)
        elif kind == INPUT:
            f.cell(origin, rc, COLORS["input"], COLORS["input_edge"], value)
        elif kind == PADDING:
            f.cell(origin, rc, COLORS["padding"], COLORS["padding_edge"], value, COLORS["faint"])
        else:
            f.cell(origin, rc, COLORS["zero"], COLORS["zero_edge"], value, COLORS["faint"])
    cells = [_lift(c if z is None else c[1:]) for c in taps if z is None or c[0] == z]
    if cells:
        first = tuple(min(c[i] for c in cells) for i in range(2))
        last = tuple(max(c[i] for c in cells) for i in range(2))
        f.box(origin, first, last, COLORS["footprint"])


def _draw_output(f: _Frame, anim, index: int, origin, z=None):
    """The current output channel's window of outputs (its depth slice ``z`` in 3-D): done,
    now, pending."""
    channel = anim.steps[index].channel
    for order, step in enumerate(anim.steps):
        at = anim.output_at(step)
        if step.channel != channel or (z is not None and at[1] != z):
            continue
        rc = _lift(at[1:] if z is None else at[2:])
        value = _cell(anim.output_values[at])
        if order < index:
            f.cell(origin, rc, COLORS["done"], COLORS["done_edge"], value)
        elif order == index:
            f.cell(origin, rc, COLORS["now"], COLORS["footprint"], value, "#ffffff", width=2)
        else:
            f.cell(origin, rc, COLORS["pending"], COLORS["pending_edge"])


def _draw_transposed(f: _Frame, anim, step, index: int, top: int):
    """The transposed convolution itself: the first input channel of the group, with the
    cells that feed this output."""
    c = step.trace.channels[0]
    values = anim.input_values[c]
    input_width = _rows_cols(values.shape)[1] * f.cs
    f.text((MARGIN, top - 16 - LINE), "transposed convolution:")
    f.text((MARGIN, top - 16), f"input, channel {c}" if anim.in_channels > 1 else "input",
           font=f.label_font)
    out_x = MARGIN + input_width + GAP
    f.text((out_x, top - 16), "output", font=f.label_font)
    weights = {t.source: t for t in step.taps if t.kind == INPUT}
    for pos in np.ndindex(*values.shape):
        value = _cell(values[pos])
        tap = weights.get(pos)
        if tap is not None:
            f.cell((MARGIN, top), _lift(pos), COLORS["tap"], COLORS["footprint"], value,
                   "#ffffff", _cell(step.trace.kernel[(0, *tap.kernel)]))
        else:
            f.cell((MARGIN, top), _lift(pos), COLORS["input"], COLORS["input_edge"], value)
    _draw_output(f, anim, index, (out_x, top))
    rows = min(_rows_cols(values.shape)[0], _rows_cols(anim.output_values.shape[1:])[0])
    f.arrow(MARGIN + input_width + 10, out_x - 10, top + rows * f.cs / 2)


def _draw_legend(f: _Frame, anim, origin):
    """Small swatches naming the kinds of cells."""
    padding = "padding" + (" (never wins)" if anim.op == "max" else
                           f" ({anim.padding_mode})" if anim.padding_mode != "zeros" else "")
    items = [("input", COLORS["input"], COLORS["input_edge"]),
             (padding, COLORS["padding"], COLORS["padding_edge"])]
    if anim.kind == CONV_TRANSPOSE:
        items.append(("inserted zero", COLORS["zero"], COLORS["zero_edge"]))
    items += [("window" if anim.op != "conv" else
               "kernel tap" + (" (small: weight)" if anim.numbers else ""),
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


def _draw_channels(f: _Frame, anim, step, origin):
    """Input channels (left) wired to output channels (right), one colour per group; the
    wires into the current output channel drawn thick."""
    sq, pitch = _channel_geometry(anim)
    x_in, y = origin
    x_out = x_in + CHANNEL_GAP
    f.text((x_in, y - 16), "input channels", font=f.label_font)
    f.text((x_out - 20, y - 16), "output channels", font=f.label_font)
    C_g = anim.in_channels // anim.groups
    O_g = anim.out_channels // anim.groups
    for c_in, c_out in anim.channel_links:
        color = GROUP_COLORS[(c_out // O_g) % len(GROUP_COLORS)]
        shown = c_out == step.channel
        f.d.line([x_in + sq, y + c_in * pitch + sq / 2, x_out, y + c_out * pitch + sq / 2],
                 fill=color, width=3 if shown else 1)
    for c in range(anim.in_channels):
        color = GROUP_COLORS[(c // C_g) % len(GROUP_COLORS)]
        f.d.rectangle([x_in, y + c * pitch, x_in + sq, y + c * pitch + sq], fill=color)
    for c in range(anim.out_channels):
        color = GROUP_COLORS[(c // O_g) % len(GROUP_COLORS)]
        f.d.rectangle([x_out, y + c * pitch, x_out + sq, y + c * pitch + sq], fill=color,
                      outline=COLORS["text"] if c == step.channel else None, width=2)
    bottom = y + max(anim.in_channels, anim.out_channels) * pitch + 6
    for row, text in enumerate(_channel_texts(anim)):
        f.text((x_in, bottom + 15 * row), text, font=f.label_font)
