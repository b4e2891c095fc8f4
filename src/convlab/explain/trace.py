"""Why is this output this number: one output element of a convolution or pooling layer, taken
apart.

:func:`trace` follows the reference loop (:mod:`convlab.engine.reference`) for one output
position: for output channel ``co`` of group ``g`` at position ``o``, every input channel ``c``
of that group and every kernel tap ``m``::

    y[n, co, o] = bias[co] + sum_c sum_m  w[co, c, m] * x[n, c, o*stride - pad_lo + m*dilation]

It keeps the pieces: the input window (with the padding marked, and holding the values the
padding mode makes), the kernel slice for each input channel, their products, the per-channel
sums, the bias, and ``total``, which equals the layer's output (computed in float64, so up to
the layer's float32 rounding).

A transposed convolution is traced as the direct convolution it equals (Dumoulin & Visin):
``s-1`` zeros inserted between the inputs, padding ``d*(k-1) - p`` (plus ``output_padding`` at
the end), stride 1, the kernel flipped and its in/out channels swapped. Its window shows which
cells are inputs, which are inserted zeros and which are padding.

A pooling layer reads one channel: ``max`` over the window's inputs (padding never wins), the
mean (``sum / divisor``, the divisor counting the padding or not as the layer does, or
``divisor_override``), the power average of LP pooling (``(sum x**p) ** (1/p)``; PyTorch
computes it as a mean times the kernel size, so a window that ``ceil_mode`` cuts short is
scaled up by ``divisor = real inputs / kernel size``), or, for adaptive pooling, over the window
``[floor(j*i/o), ceil((j+1)*i/o))`` of each axis, whose width varies with ``j``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..engine import geometry
from ..pictures.image import as_array
from .layers import ADAPTIVE_POOL, CONV, CONV_TRANSPOSE, POOL, adaptive_window, describe
from .shape import axis_names

__all__ = ["trace", "Trace", "axis_source", "INPUT", "PADDING", "INSERTED_ZERO"]

INPUT, PADDING, INSERTED_ZERO = "input", "padding", "inserted zero"

_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@dataclass
class Trace:
    """One output element, taken apart. Arrays over taps have the window's shape ``K``.

    - ``op``: ``"conv"``, ``"max"``, ``"avg"`` or ``"lp"`` (``norm_type`` its power);
    - ``window (C_g, *K)``: the input values each tap reads (0 for zero padding and inserted
      zeros; the mirrored/edge/wrapped value for other padding modes); a pooling trace has one
      channel;
    - ``kinds (*K)``: :data:`INPUT`, :data:`PADDING` or :data:`INSERTED_ZERO` per tap;
    - ``positions``: per tap, the input coordinates it reads, or None for padding or an
      inserted zero;
    - ``cells``: per tap, its coordinates in the padded view of the input (with the zeros
      inserted, for a transposed convolution), the grid an animation draws;
    - ``kernel (C_g, *K)``: the weights applied (flipped for a transposed convolution; None for
      pooling); ``products = window * kernel``; ``channel_sums (C_g,)``; ``bias``;
    - ``divisor``: what an average divides by; ``total``: the output.
    """

    layer: str
    index: tuple
    group: int
    channels: list[int]
    window: np.ndarray
    kinds: np.ndarray
    positions: list
    kernel: np.ndarray | None
    bias: float | None
    transposed: bool = False
    op: str = "conv"
    cells: list | None = None
    divisor: float | None = None
    norm_type: float | None = None

    @property
    def products(self) -> np.ndarray | None:
        return None if self.kernel is None else self.window * self.kernel

    @property
    def channel_sums(self) -> np.ndarray:
        values = self.window if self.kernel is None else self.products
        return values.reshape(len(self.channels), -1).sum(axis=1)

    @property
    def read(self) -> np.ndarray:
        """The input values of a pooling window: max pooling never sees the padding, and zero
        padding adds nothing to an average's sum (only, maybe, to its divisor)."""
        return self.window[0][self.kinds == INPUT]

    @property
    def total(self) -> float:
        if self.op == "max":
            return float(self.read.max())
        if self.op == "avg":
            return float(self.read.sum() / self.divisor)
        if self.op == "lp":
            p = self.norm_type
            if math.isinf(p):
                return float(np.abs(self.read).max())
            return float((np.sum(self.read ** p) / self.divisor) ** (1 / p))
        return float(self.channel_sums.sum() + (self.bias or 0.0))

    def __repr__(self) -> str:
        where = ", ".join(map(str, self.index))
        return f"<Trace {self.layer}: output[{where}] = {_num(self.total)}>"

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(str(self))}</pre>"

    def __str__(self) -> str:
        nd = self.kinds.ndim
        n, co, *o = self.index
        lines = [f"{self.layer}: output[{', '.join(map(str, self.index))}] "
                 f"(batch {n}, {'output ' if self.op == 'conv' else ''}channel {co}, "
                 f"position {tuple(o)})"]
        if self.transposed:
            lines.append("  traced as the equivalent direct convolution: zeros inserted between "
                         "inputs, stride 1, kernel flipped")
        reads = [p for p in self.positions if p is not None]
        if reads:
            first, last = np.min(reads, axis=0), np.max(reads, axis=0)
            extent = ", ".join(f"{name} {a}..{b}" for name, a, b
                               in zip(axis_names(nd), first, last))
            lines.append(f"  the window reads input {extent}; [v] = padding"
                         + ("; (0) = inserted zero" if self.transposed else ""))
        if self.op != "conv":
            lines.append("    window")
            lines += ["    " + row for row in _side_by_side([("", _cells(self.window[0],
                                                                          self.kinds))])[1:]]
            values = " + ".join(_num(v) for v in self.read)
            if self.op == "max":
                lines.append(f"  total = max of the inputs (padding never wins) = "
                             f"{_num(self.total)}")
            elif self.op == "lp":
                scale = f" / {_num(self.divisor)}" if self.divisor != 1 else ""
                lines.append(f"  total = (sum of x^{_num(self.norm_type)}{scale})^(1/"
                             f"{_num(self.norm_type)}) = {_num(self.total)}")
            else:
                lines.append(f"  total = ({values}) / {_num(self.divisor)} = {_num(self.total)}")
            return "\n".join(lines)
        lines.append(f"  group {self.group}: input channels {self.channels[0]}.."
                     f"{self.channels[-1]}")
        for c_local, c in enumerate(self.channels):
            blocks = [("window", _cells(self.window[c_local], self.kinds)),
                      ("kernel", _cells(self.kernel[c_local])),
                      ("products", _cells(self.products[c_local]))]
            total = _num(self.channel_sums[c_local])
            lines.append(f"  input channel {c}: sum of products = {total}")
            lines += ["    " + row for row in _side_by_side(blocks)]
        sums = " + ".join(_num(v) for v in self.channel_sums)
        bias = f" + bias {_num(self.bias)}" if self.bias is not None else " (no bias)"
        lines.append(f"  total = {sums}{bias} = {_num(self.total)}")
        return "\n".join(lines)


def _num(v) -> str:
    return f"{float(v) + 0.0:.4g}"  # + 0.0 turns -0.0 (0 times a negative weight) into 0


def _cells(values: np.ndarray, kinds: np.ndarray | None = None) -> list[list[str]]:
    """Rows of formatted cells; 3-D kernels are shown as their 2-D slices one under another."""
    v = np.asarray(values)
    k = kinds if kinds is not None else np.full(v.shape, INPUT)
    v2 = v.reshape(1, -1) if v.ndim == 1 else v.reshape(-1, v.shape[-1])
    k2 = k.reshape(v2.shape)
    marks = {INPUT: "{}", PADDING: "[{}]", INSERTED_ZERO: "({})"}
    return [[marks[kind].format(_num(x)) for x, kind in zip(row, krow)]
            for row, krow in zip(v2, k2)]


def _side_by_side(blocks) -> list[str]:
    rendered = []
    for title, rows in blocks:
        width = max(len(c) for row in rows for c in row)
        text = [" ".join(c.rjust(width) for c in row) for row in rows]
        block_width = max(len(title), *(len(t) for t in text))
        rendered.append([title.ljust(block_width)] + [t.rjust(block_width) for t in text])
    return ["   ".join(parts) for parts in zip(*rendered)]


def axis_source(q: int, i: int, s: int, pad_lo: int, transposed: bool, mode: str):
    """Where padded-view position ``q`` reads along one axis: ``(kind, input position)``.

    For a convolution the view is the padded input (``q - pad_lo`` is the input position); for
    a transposed one it is the input with ``s-1`` zeros between elements, then padded. A
    padding cell of a ``reflect``, ``replicate`` or ``circular`` layer reads the input position
    the mode copies there; a zero-padding cell reads nothing (None).
    """
    t = q - pad_lo
    if transposed:
        if t < 0 or t > (i - 1) * s:
            return PADDING, None
        return (INSERTED_ZERO, None) if t % s else (INPUT, t // s)
    if 0 <= t < i:
        return INPUT, t
    if mode == "zeros" or not -i <= t < 2 * i:  # ceil_mode pooling may look past the padding
        return PADDING, None
    return PADDING, int(np.pad(np.arange(i), (i, i), mode=_PAD_MODES[mode])[t + i])


def combine_kinds(axis_kinds) -> str:
    """A cell is padding if any axis is, else an inserted zero if any axis is, else input."""
    for kind in (PADDING, INSERTED_ZERO):
        if kind in axis_kinds:
            return kind
    return INPUT


def trace(layer, x, index) -> Trace:
    """Take output ``index`` = ``(n, c, *position)`` of ``layer(x)`` apart (``(c, *position)``
    for an unbatched ``x``). ``layer`` is a convolution module with weights, or a max, average
    or adaptive pooling module (or spec)."""
    info = describe(layer)
    if info.kind not in (CONV, CONV_TRANSPOSE, POOL, ADAPTIVE_POOL):
        raise ValueError(f"trace: expected a convolution or pooling layer, got "
                         f"{info.type_name}")
    xa = np.asarray(as_array(x), dtype=np.float64)
    nd = info.nd
    index = tuple(int(v) for v in index)
    if xa.ndim == nd + 1:  # unbatched (C, *S): add the batch axis
        xa, index = xa[None], (0, *index)
    if len(index) != nd + 2:
        raise ValueError(f"trace: index must be (n, c, {', '.join(axis_names(nd))}), got {index}")
    if info.kind in (POOL, ADAPTIVE_POOL):
        return _pool_trace(layer, info, xa, index)
    return _conv_trace(layer, info, xa, index)


def _check_index(index, shape) -> None:
    if len(index) != len(shape) or not all(0 <= i < n for i, n in zip(index, shape)):
        raise IndexError(f"trace: index {index} is outside the output {tuple(shape)}")


def _conv_trace(layer, info, xa, index) -> Trace:
    if getattr(layer, "weight", None) is None:
        raise ValueError(f"trace: {layer!r} has no weights; trace a module, e.g. "
                         f"convlab.nn.{info.type_name}(...)")
    w = np.asarray(as_array(layer.weight), dtype=np.float64)
    b = None if not info.has_bias else np.asarray(as_array(layer.bias), dtype=np.float64)
    nd = info.nd
    name = f"conv{nd}d" if info.kind == CONV else f"conv_transpose{nd}d"
    transposed = info.kind == CONV_TRANSPOSE
    if transposed:
        G = geometry.conv_transpose_geometry(name, nd, xa.shape, w.shape, None if b is None else
                                             b.shape, info.stride, info.padding,
                                             info.output_padding, info.groups, info.dilation)
        out_size, in_size = G.in_size, G.out_size  # G is the convolution this one transposes
    else:
        G = geometry.conv_geometry(name, nd, xa.shape, w.shape, None if b is None else b.shape,
                                   info.stride, info.padding, info.dilation, info.groups)
        out_size, in_size = G.out_size, G.in_size
    n, co, *o = index
    C_out = G.in_channels if transposed else G.out_channels
    _check_index(index, (xa.shape[0], C_out, *out_size))
    groups = info.groups
    C_in = xa.shape[1]
    C_g, out_per_group = C_in // groups, C_out // groups
    g = co // out_per_group
    channels = list(range(g * C_g, (g + 1) * C_g))
    K = G.kernel_size
    mode = info.padding_mode if isinstance(info.padding_mode, str) else "zeros"

    window = np.zeros((C_g, *K))
    kernel = np.zeros((C_g, *K))
    kinds = np.empty(K, dtype=object)
    positions, cells = [], []
    for m in np.ndindex(*K):
        sources, cell = [], []
        for axis in range(nd):
            lo = G.padding[axis][0]
            if transposed:  # equivalent conv: stride 1, padding d*(k-1) - p, flipped kernel
                q = o[axis] + m[axis] * G.dilation[axis]
                pad_lo = G.dilation[axis] * (K[axis] - 1) - lo
            else:
                q = o[axis] * G.stride[axis] + m[axis] * G.dilation[axis]
                pad_lo = lo
            cell.append(q)
            sources.append(axis_source(q, in_size[axis], G.stride[axis], pad_lo, transposed,
                                        mode))
        kind = combine_kinds([kind for kind, _ in sources])
        kinds[m] = kind
        src = tuple(p for _, p in sources)
        positions.append(src if kind == INPUT else None)
        cells.append(tuple(cell))
        if None not in src:
            window[(slice(None), *m)] = xa[(n, slice(g * C_g, (g + 1) * C_g), *src)]
        if transposed:
            flipped = tuple(k - 1 - mi for k, mi in zip(K, m))
            kernel[(slice(None), *m)] = w[(slice(g * C_g, (g + 1) * C_g), co % out_per_group,
                                           *flipped)]
        else:
            kernel[(slice(None), *m)] = w[(co, slice(None), *m)]
    return Trace(repr(layer), index, g, channels, window, kinds, positions, kernel,
                 None if b is None else float(b[co]), transposed, cells=cells)


def _pool_trace(layer, info, xa, index) -> Trace:
    """Max, average or adaptive pooling: one channel's window, and the rule that reduces it."""
    axes = info.axes(xa.shape)
    n, c, *o = index
    _check_index(index, (xa.shape[0], xa.shape[1], *(a.o for a in axes)))
    op = "max" if "Max" in info.type_name else "lp" if "LP" in info.type_name else "avg"
    if info.kind == ADAPTIVE_POOL:
        bounds = [adaptive_window(oi, a.i, a.o) for oi, a in zip(o, axes)]
        starts = [lo for lo, _ in bounds]
        K = tuple(hi - lo for lo, hi in bounds)
        taps = {m: tuple(s + mi for s, mi in zip(starts, m)) for m in np.ndindex(*K)}
        cells = dict(taps)
        divisor = math.prod(K)
    else:
        K = tuple(a.k for a in axes)
        cells = {m: tuple(oi * a.s + mi * a.d for oi, mi, a in zip(o, m, axes))
                 for m in np.ndindex(*K)}
        taps = {m: tuple(q - a.p_lo for q, a in zip(cell, axes)) for m, cell in cells.items()}
        divisor = _avg_divisor(layer, axes, o, taps)
        if op == "lp":  # a mean of x**p times the kernel size: 1 unless ceil_mode cut it short
            divisor = divisor / math.prod(K)
    window = np.zeros((1, *K))
    kinds = np.empty(K, dtype=object)
    positions = []
    for m, pos in taps.items():
        inside = all(0 <= p < a.i for p, a in zip(pos, axes))
        kinds[m] = INPUT if inside else PADDING
        positions.append(pos if inside else None)
        if inside:
            window[(0, *m)] = xa[(n, c, *pos)]
    return Trace(repr(layer), index, 0, [c], window, kinds, positions, None, None, op=op,
                 cells=[cells[m] for m in taps], divisor=None if op == "max" else divisor,
                 norm_type=float(layer.norm_type) if op == "lp" else None)


def _avg_divisor(layer, axes, o, taps) -> float:
    """PyTorch's divisor for one average-pooling window: ``divisor_override`` if given; else
    with ``count_include_pad`` the window clipped to the padded input (a ``ceil_mode`` window
    may reach past it), without it the number of real inputs."""
    override = getattr(layer, "divisor_override", None)
    if override:
        return float(override)
    if getattr(layer, "count_include_pad", True):
        size = 1
        for oi, a in zip(o, axes):
            start = oi * a.s - a.p_lo
            size *= min(start + a.k, a.i + a.p_hi) - start
        return float(size)
    return float(sum(all(0 <= p < a.i for p, a in zip(pos, axes)) for pos in taps.values()))
