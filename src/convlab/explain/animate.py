"""Animations of the sliding window, for any 1-D, 2-D or 3-D (drawn as depth slices)
convolution, transposed convolution or pooling layer: one frame per output position (per output
channel animated).

Every number drawn comes from :func:`~.trace.trace` of the real layer on the real input, the
seeded whole-number :func:`~.example.example` that ``explain --trace`` also uses: the cells of
each input channel of the group, with the values the padding mode puts in the padding, the
kernel's footprint (dilation leaves gaps), each channel's sum of products, the bias and the
total, which is the layer's output. A transposed convolution is also shown as the direct
convolution it equals: its input with ``s-1`` zeros inserted between the cells and padded by
``d*(k-1) - p`` (plus ``output_padding`` at the end), over which the flipped kernel slides with
stride 1. Pooling shows its reduction (``max``, or the sum over the divisor the layer uses),
adaptive pooling its windows of varying width.

Limits: by default a window of the output is animated, at most 8x8 positions (16 in 1-D, 4x4x4
in 3-D), from the top-left corner, and the header says so; ``window=`` picks another. More
than :data:`MAX_FRAMES` frames are refused with a message saying how to ask for fewer.

The plan is data you can check: ``steps[f].trace`` is frame ``f``'s trace; ``steps[f].taps``
are the cells it highlights, in the coordinates of the drawn (padded) grid, with the input
position each one reads.

>>> a = animate("Conv2d(1, 1, 3, stride=2, padding=1)", (5, 5))
>>> len(a.steps), a.grid_kinds.shape, a.output_values.shape
(9, (7, 7), (1, 3, 3))
>>> [t.cell for t in a.steps[0].taps][:4]
[(0, 0), (0, 1), (0, 2), (1, 0)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._atomic import atomic_path
from .example import example
from .layers import ADAPTIVE_POOL, CONV, CONV_TRANSPOSE, POOL, Axis, describe
from .shape import axis_names, equivalent_axis, parse_shape
from .trace import INPUT, Trace, axis_source, combine_kinds, trace

__all__ = ["animate", "Animation", "Step", "Tap", "MAX_FRAMES", "MAX_CHANNELS_DRAWN"]

MAX_FRAMES = 400
"""The most frames one animation may have (about 60 MB of GIF frames at the largest sizes)."""
MAX_CHANNELS_DRAWN = 6
"""Input channels drawn side by side; a group with more is summed in full in the caption."""
_DEFAULT_SIDE = {1: 16, 2: 8, 3: 4}  # output positions per axis animated by default


@dataclass(frozen=True)
class Tap:
    """One kernel tap in one frame: kernel index ``kernel``, the drawn grid ``cell`` it covers,
    its ``kind`` (input, padding or inserted zero) and the input position it reads (``source``,
    None for padding and inserted zeros)."""

    kernel: tuple
    cell: tuple
    kind: str
    source: tuple | None


@dataclass(frozen=True)
class Step:
    """One frame: output ``channel`` at spatial position ``output``, and its :class:`Trace`.
    ``offset`` is where the drawn grid starts in the padded view."""

    output: tuple
    channel: int
    trace: Trace
    offset: tuple

    @property
    def taps(self) -> tuple[Tap, ...]:
        t = self.trace
        kernel = list(np.ndindex(*t.kinds.shape))
        return tuple(Tap(m, tuple(q - lo for q, lo in zip(cell, self.offset)), t.kinds[m], pos)
                     for m, cell, pos in zip(kernel, t.cells, t.positions))

    @property
    def value(self) -> float:
        return self.trace.total


@dataclass
class Animation:
    """The plan of an animation and its frames (rendered on use, Pillow images).

    ``grid_kinds`` is the drawn input grid (padded; for a transposed convolution, with the zeros
    inserted; a window of it for a large input), each cell :data:`~.trace.INPUT`,
    :data:`~.trace.PADDING` or :data:`~.trace.INSERTED_ZERO`; ``grid_values (C_in, *grid)`` the
    value in each cell (the padding mode's copies in the padding); ``grid_sources`` the input
    position of each input cell (None elsewhere). ``input_values (C_in, *I)`` and ``layer`` are
    the example the numbers come from; ``output_values (channels animated, *window)`` holds the
    traced outputs; ``window`` the ``(start, stop)`` of the animated outputs per axis.
    """

    title: str
    kind: str
    axes: list[Axis]
    grid_kinds: np.ndarray
    grid_values: np.ndarray
    grid_sources: np.ndarray
    steps: list[Step]
    layer: object
    input_values: np.ndarray
    output_values: np.ndarray
    window: tuple
    out_channels_shown: list[int]
    op: str = "conv"
    in_channels: int = 1
    out_channels: int = 1
    groups: int = 1
    numbers: bool = True
    padding_mode: str = "zeros"

    @property
    def nd(self) -> int:
        return len(self.axes)

    @property
    def pool(self) -> str | None:
        """``"max"``, ``"avg"`` or ``"lp"`` for a pooling layer, else None."""
        return None if self.op == "conv" else self.op

    @property
    def kernel_values(self) -> np.ndarray | None:
        """The layer's weight, ``(C_out, C_in/g, *k)`` (transposed: ``(C_in, C_out/g, *k)``)."""
        weight = getattr(self.layer, "weight", None)
        if weight is None:
            return None
        from ..pictures.image import as_array

        return np.asarray(as_array(weight), dtype=np.float64)

    @property
    def channels_drawn(self) -> list[int]:
        """The input channels drawn: all, up to :data:`MAX_CHANNELS_DRAWN`."""
        return list(range(min(self.in_channels, MAX_CHANNELS_DRAWN)))

    @property
    def channel_links(self) -> list[tuple[int, int]]:
        """``(input channel, output channel)`` for every pair a weight connects: within groups."""
        if self.kind != CONV and self.kind != CONV_TRANSPOSE:
            return [(c, c) for c in range(self.in_channels)]
        C_g, O_g = self.in_channels // self.groups, self.out_channels // self.groups
        return [(g * C_g + c, g * O_g + o) for g in range(self.groups)
                for o in range(O_g) for c in range(C_g)]

    def output_at(self, step: Step) -> tuple:
        """Where ``step``'s value sits in :attr:`output_values`."""
        return (self.out_channels_shown.index(step.channel),
                *(o - lo for o, (lo, _) in zip(step.output, self.window)))

    def iter_frames(self):
        """The frames one by one (each rendered when asked for: a long animation is never held
        in memory as RGB images)."""
        from .draw import Renderer

        renderer = Renderer(self)
        for index in range(len(self.steps)):
            yield renderer.frame(index)

    @property
    def frames(self) -> list:
        """Every frame as a Pillow image, in order."""
        return list(self.iter_frames())

    def save(self, path, ms: int = 700) -> Path:
        """Write the frames as a looping GIF (``ms`` per frame, the last held longer); a path
        ending in ``.png`` is refused (use :meth:`save_png` for one frame)."""
        from PIL import Image

        from .draw import Renderer

        path = Path(path)
        if path.suffix.lower() != ".gif":
            raise ValueError(f"{path}: an animation is written as .gif (--png writes one frame)")
        renderer = Renderer(self)
        palette = _shared_palette(renderer.frame(0), renderer.frame(len(self.steps) - 1))
        durations = [ms] * (len(self.steps) - 1) + [ms * 3]
        indexed = (renderer.frame(i).quantize(palette=palette, dither=Image.Dither.NONE)
                   for i in range(len(self.steps)))
        first = next(indexed)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            first.save(tmp, format="GIF", save_all=True, append_images=indexed,
                       duration=durations, loop=0)
        return path

    def save_png(self, path, index: int = 0) -> Path:
        """Write frame ``index`` as a PNG."""
        from .draw import Renderer

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Renderer(self).frame(index).save(tmp, format="PNG")
        return path

    def __repr__(self) -> str:
        where = " x ".join(f"{lo}..{hi - 1}" for lo, hi in self.window)
        return (f"<Animation {self.title}: {len(self.steps)} frames, outputs {where} of "
                f"{'x'.join(str(a.o) for a in self.axes)}, output channel(s) "
                f"{self.out_channels_shown}>")

    def _repr_png_(self) -> bytes:
        """The first frame, for a notebook that cannot show a GIF."""
        import io

        from .draw import Renderer

        buffer = io.BytesIO()
        Renderer(self).frame(0).save(buffer, format="PNG")
        return buffer.getvalue()

    def _repr_html_(self) -> str:
        """The animation as an inline GIF: it plays in a Jupyter cell."""
        import base64
        import html
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            data = self.save(Path(folder) / "a.gif", ms=500).read_bytes()
        encoded = base64.b64encode(data).decode("ascii")
        return (f'<img src="data:image/gif;base64,{encoded}" '
                f'alt="{html.escape(self.title)}"/>')


def _shared_palette(first, last):
    """One GIF palette for every frame, from the first and last frames side by side (between
    them they hold every colour: pending, done and current cells). Quantizing each frame on its
    own is several times slower."""
    from PIL import Image

    both = Image.new("RGB", (first.width * 2, first.height))
    both.paste(first, (0, 0))
    both.paste(last, (first.width, 0))
    return both.quantize(colors=96, method=Image.Quantize.FASTOCTREE)


def _full_shape(info, input_size) -> tuple:
    dims = parse_shape(input_size)
    nd = info.nd
    if len(dims) == nd:
        channels = info.in_channels if info.in_channels else 1
        return (1, channels, *dims)
    if len(dims) == nd + 1:
        return (1, *dims)
    if len(dims) == nd + 2:
        return dims
    raise ValueError(f"animate: input size must give the {nd} spatial size(s), optionally after "
                     f"N and C, got {dims}")


def _parse_window(window, axes) -> tuple:
    """``window`` as ``((start, stop), ...)`` of output positions per axis: None picks the
    top-left corner, at most 8x8 (16 in 1-D, 4x4x4 in 3-D); ``"all"`` every position; else a
    sequence of ``(start, stop)`` pairs or a string such as ``"0:8,4:12"``."""
    if window is None:
        side = _DEFAULT_SIDE[len(axes)]
        return tuple((0, min(a.o, side)) for a in axes)
    if isinstance(window, str) and window.strip() == "all":
        return tuple((0, a.o) for a in axes)
    if isinstance(window, str):
        try:
            window = [tuple(int(v) for v in part.split(":")) for part in window.split(",")]
        except ValueError:
            raise ValueError(f"window: expected START:STOP per axis such as 0:8,0:8, got "
                             f"{window!r}") from None
    pairs = tuple(tuple(p) for p in window)
    if len(pairs) != len(axes) or any(len(p) != 2 for p in pairs):
        raise ValueError(f"window: expected one START:STOP per spatial axis "
                         f"({len(axes)}), got {window!r}")
    for name, (lo, hi), a in zip(axis_names(len(axes)), pairs, axes):
        if not 0 <= lo < hi <= a.o:
            raise ValueError(f"window: {name} {lo}:{hi} is not inside the output's 0:{a.o}")
    return pairs


def _grid_span(a: Axis, lo: int, hi: int) -> tuple[int, int]:
    """``(first, stop)`` of the padded-view cells that outputs ``lo..hi-1`` read along ``a``
    (the whole padded input when they are all the outputs)."""
    if a.windows:
        first, stop = a.windows[lo][0], a.windows[hi - 1][1]
        whole = a.i
    elif a.transposed:
        e = equivalent_axis(a)
        first, stop = lo, hi - 1 + a.k_eff
        whole = e.stretched + e.pad_lo + e.pad_hi
    else:
        first, stop = lo * a.s, (hi - 1) * a.s + a.k_eff
        whole = a.p_lo + a.i + a.p_hi
    if lo == 0 and hi == a.o:
        stop = max(stop, whole)
    return first, stop


def _pad_lo(a: Axis) -> int:
    """Where the input starts in the padded view along ``a``."""
    return equivalent_axis(a).pad_lo if a.transposed else a.p_lo


def animate(layer, input_size=None, *, numbers: bool | None = None, seed: int = 0,
            window=None, out_channels=0) -> Animation:
    """Plan the animation of ``layer`` (a module, a spec or a string such as
    ``"Conv2d(1, 1, 3, stride=2)"``) sliding over an input of ``input_size`` (spatial size, or a
    full shape such as ``"1x3x5x5"``; default 5 per axis).

    ``numbers`` writes the values in the cells (default: when the grids are at most 12 cells
    wide, 24 in 1-D); ``seed`` makes the :func:`~.example.example`; ``window`` picks the outputs
    animated (see :func:`_parse_window`); ``out_channels`` is an output channel, a list of them,
    or ``"all"`` (each is animated in turn).
    """
    info = describe(layer)
    if info.kind not in (CONV, CONV_TRANSPOSE, POOL, ADAPTIVE_POOL) or info.nd not in (1, 2, 3):
        raise ValueError(f"animate: expected a convolution, transposed convolution or pooling "
                         f"layer, got {info.type_name}")
    if input_size is None:
        input_size = (5,) * info.nd
    shape = _full_shape(info, input_size)
    axes = info.axes(shape)
    module, x = example(layer, shape, seed)
    C_in = shape[1]
    C_out = info.out_channels if info.kind in (CONV, CONV_TRANSPOSE) else C_in
    if out_channels == "all":
        chosen = list(range(C_out))
    else:
        chosen = [out_channels] if isinstance(out_channels, int) else list(out_channels)
    if not chosen or any(not 0 <= c < C_out for c in chosen):
        raise ValueError(f"animate: output channels {chosen} are not all in 0..{C_out - 1}")
    region = _parse_window(window, axes)
    frames = len(chosen) * math.prod(hi - lo for lo, hi in region)
    if frames > MAX_FRAMES:
        side = _DEFAULT_SIDE[info.nd]
        corner = ",".join(f"0:{min(a.o, side)}" for a in axes)
        raise ValueError(f"animate: {frames:,} frames ({len(chosen)} output channel(s) x "
                         f"{'x'.join(str(hi - lo) for lo, hi in region)} positions) is over the "
                         f"limit of {MAX_FRAMES}: animate a window of the output (window "
                         f"{corner!r}, --window {corner}) or fewer output channels")

    spans = [_grid_span(a, lo, hi) for a, (lo, hi) in zip(axes, region)]
    offset = tuple(first for first, _ in spans)
    mode = info.padding_mode if info.kind == CONV and isinstance(info.padding_mode, str) \
        else "zeros"
    per_axis = [[axis_source(q, a.i, a.s, _pad_lo(a), a.transposed, mode)
                 for q in range(first, stop)] for a, (first, stop) in zip(axes, spans)]
    grid_shape = tuple(stop - first for first, stop in spans)
    kinds = np.empty(grid_shape, dtype=object)
    sources = np.empty(grid_shape, dtype=object)
    values = np.zeros((C_in, *grid_shape))
    sample = x[0].astype(np.float64)
    for cell in np.ndindex(*grid_shape):
        reads = [per_axis[ax][q] for ax, q in enumerate(cell)]
        kinds[cell] = combine_kinds([k for k, _ in reads])
        src = tuple(p for _, p in reads)
        if kinds[cell] == INPUT:
            sources[cell] = src
        if None not in src:
            values[(slice(None), *cell)] = sample[(slice(None), *src)]

    batch = x.astype(np.float64)
    steps = []
    out = np.full((len(chosen), *(hi - lo for lo, hi in region)), np.nan)
    for row, co in enumerate(chosen):
        for o in np.ndindex(*out.shape[1:]):
            position = tuple(oi + lo for oi, (lo, _) in zip(o, region))
            t = trace(module, batch, (0, co, *position))
            steps.append(Step(position, co, t, offset))
            out[(row, *o)] = t.total
    if numbers is None:
        limit = 24 if info.nd == 1 else 12  # a 1-D layer is one row: room for more cells
        numbers = max(*grid_shape, *out.shape[1:]) <= limit
    title = layer.strip() if isinstance(layer, str) else repr(layer)
    op = steps[0].trace.op
    return Animation(title, info.kind, axes, kinds, values, sources, steps, module, sample, out,
                     region, chosen, op, C_in, C_out, info.groups, numbers, mode)
