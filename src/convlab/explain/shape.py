"""Shape arithmetic of one layer, with the formulas filled in, and its inverse questions.

>>> print(shape("Conv2d(3, 16, 5, stride=2, padding=1)", "1x3x32x32"))
Conv2d(3, 16, 5, stride=2, padding=1) on input (1, 3, 32, 32)
  H: floor((32 + 2*1 - 1*(5-1) - 1) / 2) + 1 = 15
  W: floor((32 + 2*1 - 1*(5-1) - 1) / 2) + 1 = 15
  output shape  (1, 16, 15, 15)
  weight shape  (16, 3, 5, 5), bias (16,)
  parameters    1,216
  mult-adds     273,600
  H: inputs 31 to 32 give the same output 15 (stride 2)
  W: inputs 31 to 32 give the same output 15 (stride 2)

The inverse questions, per axis:

>>> padding_for(32, 32, k=5)        # padding that keeps 32 -> 32 with a 5-wide kernel
(2, 2)
>>> padding_for(32, 16, k=4, s=2)
(1, 1)
>>> input_sizes_for(15, k=5, s=2, p=1)
range(31, 33)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import geometry
from .layers import CONV_TRANSPOSE, Axis, Layer, describe

__all__ = ["shape", "ShapeReport", "EquivalentAxis", "padding_for", "input_sizes_for",
           "parse_shape", "axis_names"]


def parse_shape(text) -> tuple[int, ...]:
    """``"1x3x32x32"`` (or ``"1,3,32,32"``, or a sequence) as a tuple of positive ints."""
    if isinstance(text, str):
        parts = text.replace(",", "x").replace("*", "x").lower().split("x")
        try:
            dims = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(f"cannot read the shape {text!r}: expected sizes such as "
                             "1x3x32x32") from None
    else:
        dims = tuple(int(n) for n in text)
    if not dims or any(n < 1 for n in dims):
        raise ValueError(f"a shape needs positive sizes, got {text!r}")
    return dims


def axis_names(nd: int) -> tuple[str, ...]:
    """PyTorch's names of the spatial axes: ``L``; ``H, W``; ``D, H, W``."""
    names = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
    return names.get(nd, tuple(f"dim{i}" for i in range(nd)))


@dataclass(frozen=True)
class EquivalentAxis:
    """One axis of the direct convolution a transposed convolution equals (Dumoulin & Visin §4):

    insert ``s-1`` zeros between the inputs (``i -> stretched = (i-1)*s + 1``), pad ``pad_lo =
    d*(k-1) - p_lo`` before and ``pad_hi = d*(k-1) - p_hi + a`` after (``a`` = output_padding),
    then slide the flipped kernel with stride 1 and the same dilation. A negative padding crops.
    """

    i: int
    s: int
    stretched: int
    pad_lo: int
    pad_hi: int
    k: int
    d: int
    o: int

    @property
    def formula(self) -> str:
        return geometry.output_length_formula(self.stretched, self.k, 1, self.pad_lo, self.pad_hi,
                                              self.d)


def equivalent_axis(axis: Axis) -> EquivalentAxis:
    """The :class:`EquivalentAxis` of a transposed :class:`Axis`."""
    span = axis.d * (axis.k - 1)
    return EquivalentAxis(axis.i, axis.s, (axis.i - 1) * axis.s + 1, span - axis.p_lo,
                          span - axis.p_hi + axis.a, axis.k, axis.d, axis.o)


def padding_for(i: int, o: int, k: int, s: int = 1, d: int = 1) -> tuple[int, int]:
    """``(p_lo, p_hi)`` that turns input size ``i`` into output size ``o``: the smallest symmetric
    padding, or, where none exists, the odd element after (as ``padding='same'``).

    The formula ``o = floor((i + p_lo + p_hi - d*(k-1) - 1)/s) + 1`` holds for any total padding
    from ``(o-1)*s + d*(k-1) + 1 - i`` to ``s - 1`` more.
    """
    least = (o - 1) * s + d * (k - 1) + 1 - i
    if o < 1 or least + s - 1 < 0:
        unpadded = geometry.output_length(i, k, s, 0, 0, d)
        raise ValueError(f"no padding gives output {o} from input {i} with kernel {k}, stride {s}, "
                         f"dilation {d}: without padding the output is already {unpadded}")
    total = max(least, 0)
    if total % 2 and total + 1 <= least + s - 1:
        total += 1
    return total // 2, total - total // 2


def input_sizes_for(o: int, k: int, s: int = 1, p=0, d: int = 1) -> range:
    """The input sizes that give output size ``o``: ``s`` of them (flooring hides the rest), the
    ambiguity that a transposed convolution's ``output_padding`` resolves. ``p`` is an int or
    ``(p_lo, p_hi)``."""
    p_lo, p_hi = (p, p) if isinstance(p, int) else p
    least = (o - 1) * s + d * (k - 1) + 1 - p_lo - p_hi
    return range(max(least, 1), least + s)


@dataclass
class ShapeReport:
    """What :func:`shape` found; ``str()`` prints it."""

    text: str
    layer: Layer
    input_shape: tuple
    output_shape: tuple
    axes: list[Axis]
    params: int
    mult_adds: int
    equivalent: list[EquivalentAxis] = field(default_factory=list)

    def same_output_inputs(self) -> list[range | None]:
        """Per axis, the input sizes with the same output (None where there is just one)."""
        if self.layer.kind == CONV_TRANSPOSE:
            return [None for _ in self.axes]
        return [input_sizes_for(a.o, a.k, a.s, (a.p_lo, a.p_hi), a.d)
                if a.s > 1 and not a.ceil_mode and not a.windows else None for a in self.axes]

    def __repr__(self) -> str:
        return (f"<ShapeReport {self.text}: {self.input_shape} -> {self.output_shape}, "
                f"{self.params:,} parameters>")

    def _repr_html_(self) -> str:
        """The report as preformatted text, for a notebook."""
        import html

        return f"<pre>{html.escape(str(self))}</pre>"

    def __str__(self) -> str:
        names = axis_names(len(self.axes))
        lines = [f"{self.text} on input {self.input_shape}"]
        lines += [f"  {n}: {a.formula}" for n, a in zip(names, self.axes)]
        lines.append(f"  output shape  {self.output_shape}")
        if self.layer.weight_shape is not None:
            bias = f", bias {self.layer.bias_shape}" if self.layer.has_bias else ", no bias"
            lines.append(f"  weight shape  {self.layer.weight_shape}{bias}")
        lines.append(f"  parameters    {self.params:,}")
        lines.append(f"  mult-adds     {self.mult_adds:,}")
        if self.equivalent:
            lines.append("  equals a direct convolution, stride 1, kernel flipped, in/out "
                         "channels swapped:")
            for n, e in zip(names, self.equivalent):
                lines.append(f"  {n}: {e.s - 1} zero(s) between inputs: {e.i} -> {e.stretched}; "
                             f"padding {e.pad_lo} before, {e.pad_hi} after; {e.formula}")
        for n, a, sizes in zip(names, self.axes, self.same_output_inputs()):
            if sizes is not None and len(sizes) > 1:
                lines.append(f"  {n}: inputs {sizes.start} to {sizes.stop - 1} give the same "
                             f"output {a.o} (stride {a.s})")
        return "\n".join(lines)


def shape(layer, input_shape) -> ShapeReport:
    """Output shape, per-axis formulas, weight shape, parameters and mult-adds of ``layer`` on
    ``input_shape`` (a tuple or ``"1x3x32x32"``). ``layer`` is a module, a spec or a string."""
    text = layer.strip() if isinstance(layer, str) else repr(layer)
    info = describe(layer)
    input_shape = parse_shape(input_shape)
    if not info.is_spatial and info.kind != "linear":
        raise ValueError(f"shape: {info.type_name} has no shape arithmetic to show; give a "
                         "convolution, pooling or linear layer")
    axes = info.axes(input_shape)
    output_shape = info.output_shape(input_shape)
    equivalent = [equivalent_axis(a) for a in axes] if info.kind == CONV_TRANSPOSE else []
    return ShapeReport(text, info, input_shape, output_shape, axes, info.params,
                       info.mult_adds(input_shape, output_shape), equivalent)
