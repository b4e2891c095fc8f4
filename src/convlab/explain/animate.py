"""Animations of the sliding window, for any 1-D or 2-D convolution, transposed convolution or
pooling: one frame per output position.

Each frame shows the input with its padding, the kernel's footprint on it (dilation leaves gaps
between the taps), and the output filling in, with the cells labelled ``input`` and
``output``. A transposed convolution is shown beside the direct convolution it equals: its
input with ``s-1`` zeros inserted between the cells and padded by ``d*(k-1) - p`` (plus
``output_padding`` at the end), over which the flipped kernel slides with stride 1. Layers with
several channels get a panel that shows which input channels feed which output channels
(``groups``).

The plan of the animation is data you can check: ``steps[f].taps`` are the cells frame ``f``
highlights, in the coordinates of the drawn (padded) input, with the input position each one
reads. The numbers are small integers (inputs 0..3, kernel 1..2, after Dumoulin & Visin's
figures), and ``output_values`` is their cross-correlation, so it equals ``F.conv2d`` of
``input_values`` with ``kernel_values`` (one channel).

>>> a = animate("Conv2d(1, 1, 3, stride=2, padding=1)", (5, 5))
>>> len(a.steps), a.grid_kinds.shape, a.output_values.shape
(9, (7, 7), (3, 3))
>>> [t.cell for t in a.steps[0].taps][:4]
[(0, 0), (0, 1), (0, 2), (1, 0)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .layers import CONV, CONV_TRANSPOSE, POOL, Axis, describe
from .shape import equivalent_axis, parse_shape
from .trace import INPUT, INSERTED_ZERO, PADDING, axis_source

__all__ = ["animate", "Animation", "Step", "Tap"]


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
    """One frame: the ``output`` position being computed and the ``taps`` that produce it."""

    output: tuple
    taps: tuple[Tap, ...]


@dataclass
class Animation:
    """The plan of an animation and its frames (rendered on first use, Pillow images).

    ``grid_kinds`` is the drawn input grid (padded; for a transposed convolution, with the zeros
    inserted), each cell :data:`~.trace.INPUT`, :data:`~.trace.PADDING` or
    :data:`~.trace.INSERTED_ZERO`; ``grid_sources`` holds the input position of each input cell
    (None elsewhere). ``kernel_values`` is the layer's kernel; ``grid_kernel`` is
    the kernel as it slides over the grid (flipped for a transposed convolution).
    """

    title: str
    kind: str
    axes: list[Axis]
    grid_kinds: np.ndarray
    grid_sources: np.ndarray
    steps: list[Step]
    input_values: np.ndarray
    kernel_values: np.ndarray | None
    output_values: np.ndarray
    pool: str | None = None
    in_channels: int = 1
    out_channels: int = 1
    groups: int = 1
    numbers: bool = True
    _frames: list = field(default_factory=list, repr=False)

    @property
    def nd(self) -> int:
        return len(self.axes)

    @property
    def grid_kernel(self) -> np.ndarray | None:
        if self.kernel_values is None or self.kind != CONV_TRANSPOSE:
            return self.kernel_values
        return np.flip(self.kernel_values)

    @property
    def channel_links(self) -> list[tuple[int, int]]:
        """``(input channel, output channel)`` for every pair a weight connects: within groups."""
        if self.kind == POOL:
            return [(c, c) for c in range(self.in_channels)]
        C_g, O_g = self.in_channels // self.groups, self.out_channels // self.groups
        return [(g * C_g + c, g * O_g + o) for g in range(self.groups)
                for o in range(O_g) for c in range(C_g)]

    @property
    def frames(self) -> list:
        """One Pillow image per output position, in row-major order."""
        if not self._frames:
            from .draw import render

            self._frames.extend(render(self))
        return self._frames

    def save(self, path, ms: int = 700) -> Path:
        """Write the frames as a looping GIF (``ms`` per frame, the last held longer), or the
        first frame as a PNG when ``path`` ends in ``.png``."""
        from PIL import Image

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        frames = self.frames
        if path.suffix.lower() == ".png":
            frames[0].save(path)
            return path
        durations = [ms] * (len(frames) - 1) + [ms * 3]
        palette = _shared_palette(frames)
        indexed = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
        indexed[0].save(path, save_all=True, append_images=indexed[1:], duration=durations,
                        loop=0)
        return path


def _shared_palette(frames):
    """One GIF palette for every frame, from the first and last frames side by side (between
    them they hold every colour: pending, done and current cells). Quantizing each frame on its
    own is several times slower."""
    from PIL import Image

    first, last = frames[0], frames[-1]
    both = Image.new("RGB", (first.width * 2, first.height))
    both.paste(first, (0, 0))
    both.paste(last, (first.width, 0))
    return both.quantize(colors=96, method=Image.Quantize.FASTOCTREE)


def _grid_axis(a: Axis) -> tuple[int, int]:
    """(grid size, where the grid's first cell is relative to the input) along one axis."""
    if a.transposed:
        e = equivalent_axis(a)
        return e.stretched + e.pad_lo + e.pad_hi, e.pad_lo
    # ceil_mode pooling may slide past the right padding; the grid grows to hold the window
    span = (a.o - 1) * a.s + a.k_eff
    return max(a.p_lo + a.i + a.p_hi, span), a.p_lo


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


def animate(layer, input_size=None, *, numbers: bool | None = None, seed: int = 0) -> Animation:
    """Plan the animation of ``layer`` (a module, a spec or a string such as
    ``"Conv2d(1, 1, 3, stride=2)"``) sliding over an input of ``input_size`` (spatial size, or a
    full shape such as ``"1x1x5x5"``; default 5 per axis). ``numbers`` writes the values in the
    cells (default: when the grids are at most 12 cells wide)."""
    info = describe(layer)
    if info.kind not in (CONV, CONV_TRANSPOSE, POOL) or info.nd not in (1, 2):
        raise ValueError(f"animate: expected a 1-D or 2-D convolution, transposed convolution or "
                         f"pooling layer, got {info.type_name}")
    if input_size is None:
        input_size = (5,) * info.nd
    shape = _full_shape(info, input_size)
    axes = info.axes(shape)
    grid = [_grid_axis(a) for a in axes]
    transposed = info.kind == CONV_TRANSPOSE

    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, 4, size=tuple(a.i for a in axes)).astype(float)
    kernel = None if info.kind == POOL else rng.integers(1, 3, size=tuple(a.k for a in axes)
                                                         ).astype(float)
    grid_kernel = None if kernel is None else (np.flip(kernel) if transposed else kernel)
    pool = None if info.kind != POOL else ("max" if info.type_name.startswith("Max") else "avg")

    # grid cell kinds: the same rule the trace uses, per axis, combined
    per_axis = [[axis_source(q, a.i, a.s, lo, transposed, "zeros") for q in range(size)]
                for a, (size, lo) in zip(axes, grid)]
    kinds = np.empty(tuple(size for size, _ in grid), dtype=object)
    sources = np.empty(kinds.shape, dtype=object)
    for cell in np.ndindex(*kinds.shape):
        kinds[cell] = _combine([per_axis[ax][q][0] for ax, q in enumerate(cell)])
        if kinds[cell] == INPUT:
            sources[cell] = tuple(per_axis[ax][q][1] for ax, q in enumerate(cell))

    steps, outputs = [], np.zeros(tuple(a.o for a in axes))
    for o in np.ndindex(*outputs.shape):
        taps = []
        for m in np.ndindex(*(a.k for a in axes)):
            cell = tuple((oi if transposed else oi * a.s) + mi * a.d
                         for oi, mi, a in zip(o, m, axes))
            axis_info = [per_axis[ax][q] for ax, q in enumerate(cell)]
            kind = _combine([k for k, _ in axis_info])
            source = tuple(p for _, p in axis_info) if kind == INPUT else None
            taps.append(Tap(m, cell, kind, source))
        steps.append(Step(o, tuple(taps)))
        outputs[o] = _value(taps, inputs, grid_kernel, pool)
    if numbers is None:
        numbers = max(max(s for s, _ in grid), *outputs.shape) <= 12
    title = layer.strip() if isinstance(layer, str) else repr(layer)
    return Animation(title, info.kind, axes, kinds, sources, steps, inputs, kernel, outputs, pool,
                     info.in_channels or 1, info.out_channels or 1, info.groups, numbers)


def _combine(axis_kinds: list[str]) -> str:
    """A cell is padding if any axis is, else an inserted zero if any axis is, else input."""
    for kind in (PADDING, INSERTED_ZERO):
        if kind in axis_kinds:
            return kind
    return INPUT


def _value(taps, inputs, grid_kernel, pool) -> float:
    read = [(t, inputs[t.source]) for t in taps if t.kind == INPUT]
    if pool == "max":
        return max(v for _, v in read) if read else 0.0
    if pool == "avg":  # count_include_pad=True: the divisor is the whole window
        return sum(v for _, v in read) / len(taps)
    return float(sum(v * grid_kernel[t.kernel] for t, v in read))
