"""Receptive fields: which input pixels an output unit sees, in closed form and pixel by pixel.

For a chain of sliding-window layers ``l = 1..L`` with kernel ``k_l``, stride ``s_l``, padding
before ``p_l`` and dilation ``d_l`` (per axis; Araujo, Norris & Sim, "Computing Receptive Fields
of Convolutional Neural Networks", Distill 2019, with ``k`` replaced by ``k_eff = d*(k-1) + 1``)::

    receptive field     r_L = 1 + sum_l (k_eff_l - 1) * S_(l-1)
    effective stride    S_L = prod_l s_l
    effective padding   P_L = sum_l p_l * S_(l-1)
    span of unit x      u = -P_L + x * S_L  ..  v = u + r_L - 1   (input coordinates)

where ``S_0 = 1``. A unit's span may reach into the padding (``u < 0`` or ``v >= i``). Layers
that act per position (ReLU, BatchNorm, Dropout) are ``(k, s, p) = (1, 1, 0)`` and change
nothing. After a Flatten or Linear layer every output sees the whole input: its field is
:data:`WHOLE_INPUT`, with no stride or padding.

A transposed convolution is a stride-1 convolution over its input with ``s-1`` zeros inserted:
a layer of stride ``1/s`` followed by padding ``k_eff - 1 - p``. Its numbers become fractions
(input positions between two real inputs), kept exact with :class:`fractions.Fraction`.

>>> rf = chain([[Axis(32, 30, 3, 1, 0, 0)], [Axis(30, 15, 2, 2, 0, 0)]])
>>> rf[-1]
ReceptiveField(size=(4,), stride=(2,), padding=(0,))

:func:`path_counts` gives the exact picture: for each input pixel, the number of paths from it
to the chosen unit (0 outside the field). The closed form only gives the extent; with dilation
the field has holes, and the counts peak in the middle (the "effective" receptive field).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .layers import Axis

__all__ = ["WHOLE_INPUT", "PerAxis", "ReceptiveField", "chain", "step", "span", "path_counts",
           "ReceptiveFieldMap", "receptive_field_map"]


WHOLE_INPUT = "all"
"""The receptive field of a layer that mixes every position (Flatten, Linear)."""


class PerAxis(tuple):
    """A value per spatial axis that prints as one number when all axes agree (``212``) and as
    ``HxW`` otherwise; it equals a plain number when every axis does.

    >>> PerAxis((212, 212)) == 212, str(PerAxis((3, 5))), str(PerAxis((Fraction(1, 2),)))
    (True, '3x5', '1/2')
    """

    def __eq__(self, other):
        if isinstance(other, (int, float, Fraction)) and not isinstance(other, bool):
            return len(self) > 0 and all(v == other for v in self)
        return tuple.__eq__(self, other)

    def __ne__(self, other):
        return not self == other

    __hash__ = tuple.__hash__

    def __str__(self) -> str:
        values = [str(v) for v in self]
        return values[0] if len(set(values)) == 1 else "x".join(values)


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field ``size``, effective ``stride`` and effective ``padding``, per axis."""

    size: PerAxis
    stride: PerAxis
    padding: PerAxis

    def __repr__(self) -> str:
        return (f"ReceptiveField(size={tuple(self.size)}, stride={tuple(self.stride)}, "
                f"padding={tuple(self.padding)})")


def _exact(value):
    """A Fraction that is a whole number as an int, so integer results print as ints."""
    return int(value) if Fraction(value).denominator == 1 else Fraction(value)


def step(rf: ReceptiveField | None, axes: list[Axis]) -> ReceptiveField:
    """The receptive field after one more layer with these ``axes`` (``rf=None`` at the input)."""
    nd = len(axes)
    if rf is None:
        rf = ReceptiveField(PerAxis((1,) * nd), PerAxis((1,) * nd), PerAxis((0,) * nd))
    if len(rf.size) != nd:
        raise ValueError(f"receptive field: a {nd}-D layer follows a {len(rf.size)}-D one")
    size, stride, padding = [], [], []
    for r, S, P, a in zip(rf.size, rf.stride, rf.padding, axes):
        if a.transposed:
            S = Fraction(S) / a.s  # zeros inserted: one input step is s steps of this layer
            pad = a.k_eff - 1 - a.p_lo
            r, P = r + (a.k_eff - 1) * S, P + pad * S
        else:
            r, P, S = r + (a.k_eff - 1) * S, P + a.p_lo * S, S * a.s
        size.append(_exact(r))
        stride.append(_exact(S))
        padding.append(_exact(P))
    return ReceptiveField(PerAxis(size), PerAxis(stride), PerAxis(padding))


def chain(layers_axes: list[list[Axis]]) -> list[ReceptiveField]:
    """The receptive field after each layer of a chain, from each layer's :class:`Axis` list."""
    out, rf = [], None
    for axes in layers_axes:
        rf = step(rf, axes)
        out.append(rf)
    return out


def span(rf: ReceptiveField, unit) -> list[tuple]:
    """Per axis, the first and last input position ``(u, v)`` that unit ``unit`` sees."""
    return [(-P + x * S, -P + x * S + r - 1)
            for r, S, P, x in zip(rf.size, rf.stride, rf.padding, unit)]


def _back_one_axis(counts: np.ndarray, a: Axis) -> np.ndarray:
    """Path counts one layer down, along one axis: every output position hands its count to
    each input position its window reads (padding reads are dropped)."""
    out = np.zeros(a.i, dtype=counts.dtype)
    for o in np.flatnonzero(counts):
        for m in range(a.k):
            if a.transposed:  # output o = j*s - p_lo + m*d gets input j
                j, rem = divmod(o + a.p_lo - m * a.d, a.s)
                if rem == 0 and 0 <= j < a.i:
                    out[j] += counts[o]
            else:
                pos = o * a.s - a.p_lo + m * a.d
                if 0 <= pos < a.i:
                    out[pos] += counts[o]
    return out


def path_counts(layers_axes: list[list[Axis]], unit) -> np.ndarray:
    """For each input position, how many paths lead to output ``unit`` of the last layer.

    Every layer acts on each axis separately, so the counts are the outer product of per-axis
    counts. Shape: the first layer's input spatial size.
    """
    per_axis = []
    for axis_index, x in enumerate(unit):
        last = layers_axes[-1][axis_index]
        if not 0 <= x < last.o:
            raise ValueError(f"unit {tuple(unit)} is outside the output, which has size "
                             f"{tuple(a.o for a in layers_axes[-1])}")
        counts = np.zeros(last.o, dtype=np.float64)
        counts[x] = 1
        for axes in reversed(layers_axes):
            counts = _back_one_axis(counts, axes[axis_index])
        per_axis.append(counts)
    out = per_axis[0]
    for counts in per_axis[1:]:
        out = np.multiply.outer(out, counts)
    return out


@dataclass
class ReceptiveFieldMap:
    """Where output ``unit`` of layer ``layer`` looks in the input: path ``counts`` per input
    pixel, the closed-form ``field`` and the ``span`` ``[(u, v), ...]`` it gives."""

    layer: str
    unit: tuple
    counts: np.ndarray
    field: ReceptiveField
    span: list[tuple]

    def draw(self, image=None):
        """A PIL image: ``image`` (HWC uint8, or a grey canvas) dimmed outside the field, the
        path counts as a heat map, the closed-form span as a rectangle (it may reach into the
        padding, drawn around the image) and the centre as a cross."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle

        from ..pictures.image import to_image

        counts = self.counts if self.counts.ndim == 2 else self.counts[None, :]
        H, W = counts.shape
        if image is None:
            image = np.full((H, W, 3), 200, np.uint8)
        image = np.asarray(image)
        if image.dtype != np.uint8:
            image = to_image(image)
        spans = self.span if len(self.span) == 2 else [(0, 0)] + list(self.span)
        (u0, v0), (u1, v1) = spans
        fig, ax = plt.subplots(figsize=(6, 6 * H / W if W >= H else 6), dpi=100)
        extent = (-.5, W - .5, H - .5, -.5)  # pixel centres on integer coordinates
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, extent=extent)
        seen = counts > 0
        ax.imshow(np.where(seen, 0.0, 0.6), cmap="gray_r", alpha=np.where(seen, 0, 0.6),
                  vmin=0, vmax=1, extent=extent)
        heat = np.ma.masked_where(~seen, counts)
        ax.imshow(heat, cmap="inferno", alpha=0.45, extent=extent)
        ax.add_patch(Rectangle((float(u1) - .5, float(u0) - .5), float(v1 - u1) + 1,
                               float(v0 - u0) + 1, fill=False, edgecolor="cyan", linewidth=1.5))
        centre = (float(u1 + v1) / 2, float(u0 + v0) / 2)
        ax.plot(*centre, marker="+", color="cyan", markersize=12)
        # the span may reach into the padding: widen the view on that side to show it
        ax.set_xlim(min(-.5, float(u1) - 1.5), max(W - .5, float(v1) + 1.5))
        ax.set_ylim(max(H - .5, float(v0) + 1.5), min(-.5, float(u0) - 1.5))
        ax.set_title(f"layer {self.layer}, unit {self.unit}: receptive field {self.field.size}, "
                     f"{int(seen.sum())} input pixels", fontsize=9)
        ax.set_xlabel(f"effective stride {self.field.stride}, effective padding "
                      f"{self.field.padding}", fontsize=8)
        fig.tight_layout()
        fig.canvas.draw()
        from PIL import Image

        picture = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
        plt.close(fig)
        return picture

    def __repr__(self) -> str:
        return (f"<ReceptiveFieldMap layer {self.layer}, unit {self.unit}: field "
                f"{self.field.size}, {int((self.counts > 0).sum())} input pixels>")

    def _repr_png_(self) -> bytes:
        """The drawing, for a notebook."""
        import io

        buffer = io.BytesIO()
        self.draw().save(buffer, format="PNG")
        return buffer.getvalue()

    def save(self, path, image=None):
        """Write :meth:`draw` to ``path`` (PNG), atomically."""
        from .._atomic import atomic_path

        with atomic_path(path) as tmp:
            self.draw(image).save(tmp, format="PNG")
        return path


def receptive_field_map(model, input_size, unit, layer=-1) -> ReceptiveFieldMap:
    """Which pixels of an input of ``input_size`` feed output ``unit`` (spatial position) of
    ``layer`` (a row index or name of ``summary(model, input_size)``, default the last layer
    with a spatial output). The model is read as a chain of its layers, in call order."""
    from .summary import summary

    rows = summary(model, input_size).rows
    names = [r.name for r in rows]
    if isinstance(layer, str):
        if layer not in names:
            raise ValueError(f"no layer named {layer!r}; layers: {', '.join(names)}")
        index = names.index(layer)
        nd = len(tuple(input_size)) - 2
        if len(rows[index].output_shape) != nd + 2:
            spatial = [r.name for r in rows if len(r.output_shape) == nd + 2]
            raise ValueError(f"layer {layer!r} ({rows[index].type}) has no spatial output: each "
                             f"of its outputs sees the whole input; give a layer with one: "
                             f"{', '.join(spatial) or 'none'}")
    else:
        index = range(len(rows))[layer]
    nd = len(tuple(input_size)) - 2
    while index >= 0 and len(rows[index].output_shape) != nd + 2:
        index -= 1  # by default: the last layer with a spatial unit
    if index < 0:
        raise ValueError("the model has no layer with a spatial output")
    chain_axes = [r.axes for r in rows[:index + 1] if r.axes]
    if not chain_axes:
        raise ValueError("the model has no sliding-window layer up to that layer")
    unit = tuple(int(x) for x in unit)
    if len(unit) != nd:
        raise ValueError(f"unit must have {nd} coordinates (one per spatial axis), got {unit}")
    field = rows[index].field
    return ReceptiveFieldMap(f"{rows[index].name} ({rows[index].type})", unit,
                             path_counts(chain_axes, unit), field, span(field, unit))
