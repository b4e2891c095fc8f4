"""The one output-size formula of convolution and pooling, and the checks that explain themselves.

Per spatial axis, with input size ``i``, kernel ``k``, stride ``s``, padding ``p_lo``/``p_hi`` on
the two sides and dilation ``d`` (Dumoulin & Visin, Relationship 15)::

    k_eff = d * (k - 1) + 1
    o     = floor((i + p_lo + p_hi - k_eff) / s) + 1

Pooling's ``ceil_mode`` rounds up instead, then drops a last window that would start in the
right padding (PyTorch's ``pooling_output_shape_pad_lr``). A transposed convolution runs the
formula backwards (Relationship 14, ``a`` = ``output_padding``)::

    o = (i - 1) * s - p_lo - p_hi + k_eff + a

:class:`ConvGeometry` is what one convolution call becomes once its arguments are checked: the
engine receives it and nothing else about the call. A transposed convolution is described by the
geometry of the convolution it is the transpose of (its input is that convolution's output, its
output that convolution's input), so one engine serves both directions.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

__all__ = [
    "output_length",
    "output_length_formula",
    "transposed_output_length",
    "transposed_output_length_formula",
    "ConvGeometry",
    "expand_param",
    "conv_geometry",
    "conv_transpose_geometry",
    "resolve_output_padding",
    "unfold_geometry",
    "fold_geometry",
]


def output_length(
    i: int, k: int, s: int = 1, p_lo: int = 0, p_hi: int | None = None, d: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output size along one axis. ``p_hi`` defaults to ``p_lo`` (symmetric padding).

    >>> output_length(6, 2)
    5
    >>> output_length(32, 5, s=2, p_lo=1)
    15
    >>> output_length(3, 2, s=2, p_lo=1, ceil_mode=True)
    2
    """
    if p_hi is None:
        p_hi = p_lo
    span = i + p_lo + p_hi - (d * (k - 1) + 1)
    if not ceil_mode:
        return span // s + 1
    o = (span + s - 1) // s + 1
    if (o - 1) * s >= i + p_lo:  # the last window would start inside the right padding
        o -= 1
    return o


def output_length_formula(
    i: int, k: int, s: int = 1, p_lo: int = 0, p_hi: int | None = None, d: int = 1,
    ceil_mode: bool = False,
) -> str:
    """The formula of :func:`output_length` with the numbers filled in.

    >>> output_length_formula(32, 5, s=2, p_lo=1)
    'floor((32 + 2*1 - 1*(5-1) - 1) / 2) + 1 = 15'
    >>> output_length_formula(10, 3, p_lo=0, p_hi=1)
    'floor((10 + 0 + 1 - 1*(3-1) - 1) / 1) + 1 = 9'
    """
    if p_hi is None:
        p_hi = p_lo
    pad = f"2*{p_lo}" if p_lo == p_hi else f"{p_lo} + {p_hi}"
    rounding = "ceil" if ceil_mode else "floor"
    text = f"{rounding}(({i} + {pad} - {d}*({k}-1) - 1) / {s}) + 1"
    return f"{text} = {output_length(i, k, s, p_lo, p_hi, d, ceil_mode)}"


def transposed_output_length(
    i: int, k: int, s: int = 1, p_lo: int = 0, p_hi: int | None = None, d: int = 1, a: int = 0,
) -> int:
    """Output size of a transposed convolution along one axis (``a`` is ``output_padding``).

    >>> transposed_output_length(3, 3, s=2, p_lo=1, a=1)
    6
    """
    if p_hi is None:
        p_hi = p_lo
    return (i - 1) * s - p_lo - p_hi + d * (k - 1) + a + 1


def transposed_output_length_formula(
    i: int, k: int, s: int = 1, p_lo: int = 0, p_hi: int | None = None, d: int = 1, a: int = 0,
) -> str:
    """The formula of :func:`transposed_output_length` with the numbers filled in.

    >>> transposed_output_length_formula(3, 3, s=2, p_lo=1, a=1)
    '(3 - 1)*2 - 2*1 + 1*(3-1) + 1 + 1 = 6'
    """
    if p_hi is None:
        p_hi = p_lo
    pad = f"2*{p_lo}" if p_lo == p_hi else f"{p_lo} - {p_hi}"
    text = f"({i} - 1)*{s} - {pad} + {d}*({k}-1) + {a} + 1"
    return f"{text} = {transposed_output_length(i, k, s, p_lo, p_hi, d, a)}"


@dataclass(frozen=True)
class ConvGeometry:
    """One checked convolution: ``x (N, C_in, *in_size) ⋆ w (C_out, C_in/groups, *kernel_size)
    -> y (N, C_out, *out_size)``, cross-correlation as in PyTorch::

        y[n, co, o] = sum over c in co's group, k < kernel_size of
                      w[co, c, k] * x[n, c, o*stride - pad_lo + k*dilation]   (zero outside x)

    ``out_size`` is the formula's value, except for a transposed convolution with
    ``output_padding >= stride`` (allowed when it is below the dilation), whose last outputs no
    input reaches: there ``out_size`` is the transposed input size and the formula's extra
    windows are not computed. ``transposed`` and ``output_padding`` only describe the call.

    >>> g = conv_geometry("conv2d", 2, (1, 3, 10, 10), (8, 3, 3, 3), stride=2, padding=1)
    >>> g.out_size, g.padding, g.kernel_extent
    ((5, 5), ((1, 1), (1, 1)), (3, 3))
    """

    name: str
    in_size: tuple[int, ...]
    out_size: tuple[int, ...]
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]
    in_channels: int
    out_channels: int
    groups: int = 1
    transposed: bool = False
    output_padding: tuple[int, ...] = ()

    @property
    def nd(self) -> int:
        """Number of spatial dimensions."""
        return len(self.kernel_size)

    @property
    def pad_lo(self) -> tuple[int, ...]:
        return tuple(lo for lo, _ in self.padding)

    @property
    def kernel_extent(self) -> tuple[int, ...]:
        """``k_eff = d*(k-1) + 1`` per axis: the footprint of the dilated kernel."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation))

    @property
    def window_span(self) -> tuple[int, ...]:
        """Per axis, the length of padded input the ``out_size`` windows read:
        ``(o-1)*s + k_eff``; it can be shorter than ``pad_lo + i + pad_hi`` when the stride
        does not divide (the last rows are never read)."""
        return tuple((o - 1) * s + ke for o, s, ke
                     in zip(self.out_size, self.stride, self.kernel_extent))


# ---------------------------------------------------------------------------------------------
# argument normalization


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _shape(shape) -> str:
    return "[" + ", ".join(str(n) for n in shape) + "]"


def expand_param(name: str, arg: str, value, nd: int) -> tuple[int, ...]:
    """An int or a sequence of ``nd`` ints (or of one int) as a tuple of ``nd`` ints.

    >>> expand_param("conv2d", "stride", 2, 2)
    (2, 2)
    >>> expand_param("conv2d", "stride", (1, 2, 3), 2)
    Traceback (most recent call last):
    ...
    ValueError: conv2d: stride must be an int or a tuple of 2 ints, got (1, 2, 3)
    """
    if _is_int(value):
        return (int(value),) * nd
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{name}: {arg} must be an int or a tuple of {nd} ints, "
                        f"got {type(value).__name__} {value!r}") from None
    if not all(_is_int(v) for v in items):
        raise TypeError(f"{name}: {arg} must be an int or a tuple of {nd} ints, got {value!r}")
    if len(items) == 1:
        items = items * nd
    if len(items) != nd:
        raise ValueError(f"{name}: {arg} must be an int or a tuple of {nd} ints, got {value!r}")
    return tuple(int(v) for v in items)


def _positive(name: str, arg: str, values: tuple[int, ...], message: str) -> None:
    if any(v < 1 for v in values):
        shown = values[0] if len(set(values)) == 1 else values
        raise ValueError(f"{name}: {message}, got {arg}={shown}")


def _same_padding(i: int, k: int, s: int, d: int) -> tuple[int, int]:
    """``'same'``: ``o = ceil(i / s)``; the total padding that gives it, the odd element at the end.

    With stride 1 this is PyTorch's rule (``total = d*(k-1)``); with a larger stride it is
    TensorFlow's (``total = max(0, (o-1)*s + k_eff - i)``), which PyTorch refuses.
    """
    o = -(-i // s)
    total = max(0, (o - 1) * s + d * (k - 1) + 1 - i)
    return total // 2, total - total // 2


def _padding_pairs(name: str, padding, nd: int, in_size, kernel_size, stride, dilation,
                   allow_strings: bool) -> tuple[tuple[int, int], ...]:
    """``padding`` as ``((lo, hi), ...)``, one pair per spatial axis.

    Accepts an int, a tuple of ``nd`` ints or pairs (per-side padding, a convlab extension),
    and, where ``allow_strings``, ``'valid'`` and ``'same'``.
    """
    if isinstance(padding, str):
        if not allow_strings:
            raise ValueError(f"{name}: padding must be an int or a tuple of {nd} ints or "
                             f"(lo, hi) pairs, got the string {padding!r}")
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            return tuple(_same_padding(i, k, s, d)
                         for i, k, s, d in zip(in_size, kernel_size, stride, dilation))
        raise ValueError(f"{name}: Invalid padding string {padding!r}, should be one of "
                         "{'same', 'valid'}")
    if _is_int(padding):
        pairs = ((int(padding), int(padding)),) * nd
    else:
        try:
            items = tuple(padding)
        except TypeError:
            raise TypeError(f"{name}: padding must be an int, a tuple of {nd} ints or (lo, hi) "
                            f"pairs, or a string, got {type(padding).__name__}") from None
        if len(items) == 1:
            items = items * nd
        if len(items) != nd:
            raise ValueError(f"{name}: padding must have {nd} entries (one per spatial dim), "
                             f"got {padding!r}")
        pairs = []
        for p in items:
            if _is_int(p):
                pairs.append((int(p), int(p)))
                continue
            pair = tuple(p) if isinstance(p, (tuple, list)) else ()
            if len(pair) != 2 or not all(_is_int(v) for v in pair):
                raise TypeError(f"{name}: each padding entry must be an int or an (lo, hi) pair "
                                f"of ints, got {p!r} in padding={padding!r}")
            pairs.append((int(pair[0]), int(pair[1])))
        pairs = tuple(pairs)
    if any(v < 0 for pair in pairs for v in pair):
        raise ValueError(f"{name}: negative padding is not supported, got padding={padding!r}")
    return pairs


def _split_input(name: str, nd: int, input_shape) -> tuple[tuple[int, ...], int, int]:
    """(spatial size, channels, index of the first spatial dim) of a batched or unbatched input."""
    input_shape = tuple(input_shape)
    if len(input_shape) not in (nd + 1, nd + 2):
        raise ValueError(f"{name}: Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input, "
                         f"but got input of size: {_shape(input_shape)}")
    first = len(input_shape) - nd
    return input_shape[first:], input_shape[first - 1], first


def _check_weight_and_groups(name: str, nd: int, input_shape, weight_shape, groups,
                             transposed: bool) -> None:
    if not _is_int(groups):
        raise TypeError(f"{name}: groups must be an int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"{name}: expected groups to be greater than 0, but got groups={groups}")
    weight_shape = tuple(weight_shape)
    layout = "(C_in, C_out/groups, *kernel)" if transposed else "(C_out, C_in/groups, *kernel)"
    if len(weight_shape) != nd + 2:
        raise ValueError(f"{name}: weight must be {nd + 2}-D {layout}, got weight of size "
                         f"{_shape(weight_shape)}")
    if any(n < 1 for n in weight_shape[2:]):
        raise ValueError(f"{name}: kernel sizes must be positive, got weight of size "
                         f"{_shape(weight_shape)}")
    if weight_shape[0] % groups:
        raise ValueError(f"{name}: Given groups={groups}, expected weight to be divisible by "
                         f"{groups} at dimension 0, but got weight of size {_shape(weight_shape)} "
                         f"({weight_shape[0]} % {groups} = {weight_shape[0] % groups})")
    channels = tuple(input_shape)[len(input_shape) - nd - 1]
    expected = weight_shape[0] if transposed else weight_shape[1] * groups
    if channels != expected:
        rule = (f"weight.shape[0] = {expected}" if transposed
                else f"weight.shape[1] * groups = {weight_shape[1]} * {groups} = {expected}")
        raise ValueError(f"{name}: Given groups={groups}, weight of size {_shape(weight_shape)}, "
                         f"expected input{_shape(input_shape)} to have {expected} channels "
                         f"({rule}), but got {channels} channels instead")


def _check_bias(name: str, bias_shape, channels: int, weight_shape) -> None:
    if bias_shape is not None and tuple(bias_shape) != (channels,):
        raise ValueError(f"{name}: Given weight of size {_shape(weight_shape)}, expected bias to "
                         f"be 1-dimensional with {channels} elements, but got bias of size "
                         f"{_shape(bias_shape)} instead")


def _check_fits(name: str, first: int, in_size, kernel_size, stride, pairs, dilation) -> tuple:
    """The output size; raises when a dilated kernel is larger than the padded input."""
    out = []
    for axis, (i, k, s, (lo, hi), d) in enumerate(
            zip(in_size, kernel_size, stride, pairs, dilation)):
        o = output_length(i, k, s, lo, hi, d)
        if o < 1:
            k_eff = d * (k - 1) + 1
            kernel = f"kernel {k}" + (f" dilated to {k_eff}" if d != 1 else "")
            raise ValueError(f"{name}: {kernel} does not fit the padded input {i + lo + hi} "
                             f"along dim {first + axis}: "
                             f"{output_length_formula(i, k, s, lo, hi, d)}")
        out.append(o)
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# one geometry per call


def conv_geometry(name: str, nd: int, input_shape, weight_shape, bias_shape=None, stride=1,
                  padding=0, dilation=1, groups=1) -> ConvGeometry:
    """Check the arguments of ``conv{nd}d`` and resolve them into a :class:`ConvGeometry`.

    ``input_shape`` is ``(N, C_in, *S)`` or unbatched ``(C_in, *S)``; ``weight_shape`` is
    ``(C_out, C_in/groups, *K)``. ``padding`` is an int, a tuple, ``'valid'``, ``'same'``
    (any stride: ``out = ceil(in / stride)``, the odd padding element at the end) or per-side
    pairs ``((lo, hi), ...)``.

    >>> conv_geometry("conv1d", 1, (1, 1, 10), (1, 1, 4), stride=3, padding="same").padding
    ((1, 2),)
    >>> conv_geometry("conv2d", 2, (1, 1, 10, 10), (1, 1, 7, 7), dilation=2)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: conv2d: kernel 7 dilated to 13 does not fit the padded input 10 along dim 2: ...
    """
    in_size, channels, first = _split_input(name, nd, input_shape)
    _check_weight_and_groups(name, nd, input_shape, weight_shape, groups, transposed=False)
    kernel_size = tuple(weight_shape[2:])
    stride = expand_param(name, "stride", stride, nd)
    dilation = expand_param(name, "dilation", dilation, nd)
    _positive(name, "stride", stride, "non-positive stride is not supported")
    _positive(name, "dilation", dilation, "dilation should be greater than zero")
    _check_bias(name, bias_shape, weight_shape[0], weight_shape)
    pairs = _padding_pairs(name, padding, nd, in_size, kernel_size, stride, dilation,
                           allow_strings=True)
    out_size = _check_fits(name, first, in_size, kernel_size, stride, pairs, dilation)
    return ConvGeometry(name, tuple(in_size), out_size, kernel_size, stride, pairs, dilation,
                        channels, weight_shape[0], groups)


def conv_transpose_geometry(name: str, nd: int, input_shape, weight_shape, bias_shape=None,
                            stride=1, padding=0, output_padding=0, groups=1,
                            dilation=1) -> ConvGeometry:
    """Check the arguments of ``conv_transpose{nd}d`` and return the geometry of the
    convolution it is the transpose of: that convolution's ``in_size`` is this call's output
    size and its ``out_size`` this call's input size.

    ``weight_shape`` is ``(C_in, C_out/groups, *K)``, which is exactly the weight of that
    convolution. ``output_padding`` must be smaller than the stride or the dilation per axis.

    >>> g = conv_transpose_geometry("conv_transpose1d", 1, (1, 4, 3), (4, 2, 3), stride=2,
    ...                             padding=1, output_padding=1)
    >>> g.in_size, g.out_size, g.in_channels, g.out_channels
    ((6,), (3,), 2, 4)
    """
    in_size, channels, first = _split_input(name, nd, input_shape)
    _check_weight_and_groups(name, nd, input_shape, weight_shape, groups, transposed=True)
    kernel_size = tuple(weight_shape[2:])
    stride = expand_param(name, "stride", stride, nd)
    dilation = expand_param(name, "dilation", dilation, nd)
    output_padding = expand_param(name, "output_padding", output_padding, nd)
    _positive(name, "stride", stride, "non-positive stride is not supported")
    _positive(name, "dilation", dilation, "dilation should be greater than zero")
    if any(a < 0 for a in output_padding):
        raise ValueError(f"{name}: negative output_padding is not supported, got "
                         f"output_padding={output_padding}")
    for axis, (a, s, d) in enumerate(zip(output_padding, stride, dilation)):
        if a >= s and a >= d:
            raise ValueError(f"{name}: output padding must be smaller than either stride or "
                             f"dilation, but got output_padding={a} with stride={s} and "
                             f"dilation={d} along dim {first + axis}")
    C_out = weight_shape[1] * groups
    _check_bias(name, bias_shape, C_out, weight_shape)
    pairs = _padding_pairs(name, padding, nd, in_size, kernel_size, stride, dilation,
                           allow_strings=False)
    out_size = []
    for axis, (i, k, s, (lo, hi), d, a) in enumerate(
            zip(in_size, kernel_size, stride, pairs, dilation, output_padding)):
        o = transposed_output_length(i, k, s, lo, hi, d, a)
        if o < 1:
            raise ValueError(f"{name}: the output size along dim {first + axis} is not "
                             f"positive: {transposed_output_length_formula(i, k, s, lo, hi, d, a)}")
        out_size.append(o)
    return ConvGeometry(name, tuple(out_size), tuple(in_size), kernel_size, stride, pairs,
                        dilation, C_out, channels, groups, transposed=True,
                        output_padding=output_padding)


def resolve_output_padding(name: str, nd: int, input_shape, output_size, stride, padding,
                           kernel_size, dilation) -> tuple[int, ...]:
    """The ``output_padding`` that makes a transposed convolution produce ``output_size``
    (``ConvTranspose{nd}d.forward(input, output_size)``; PyTorch's ``_output_padding``).

    ``output_size`` may include the leading non-spatial dims. Per axis the reachable sizes are
    ``min = (i-1)*s - p_lo - p_hi + d*(k-1) + 1`` up to ``min + s - 1``.

    >>> resolve_output_padding("ConvTranspose2d", 2, (1, 4, 5, 5), (10, 9), 2, 1, 3, 1)
    (1, 0)
    >>> resolve_output_padding("ConvTranspose2d", 2, (1, 4, 5, 5), (12, 9), 2, 1, 3, 1)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ConvTranspose2d: requested an output size of (12, 9), but valid sizes range ...
    """
    input_shape = tuple(input_shape)
    in_size, _, first = _split_input(name, nd, input_shape)
    sizes = tuple(int(o) for o in output_size)
    if len(sizes) == nd + first:
        sizes = sizes[first:]
    if len(sizes) != nd:
        raise ValueError(f"{name}: for {len(input_shape)}D input, output_size must have {nd} or "
                         f"{nd + first} elements (got {len(sizes)})")
    kernel_size = expand_param(name, "kernel_size", kernel_size, nd)
    stride = expand_param(name, "stride", stride, nd)
    dilation = expand_param(name, "dilation", dilation, nd)
    pairs = _padding_pairs(name, padding, nd, in_size, kernel_size, stride, dilation,
                           allow_strings=False)
    lo_sizes = tuple(transposed_output_length(i, k, s, lo, hi, d)
                     for i, k, s, (lo, hi), d in zip(in_size, kernel_size, stride, pairs, dilation))
    hi_sizes = tuple(m + s - 1 for m, s in zip(lo_sizes, stride))
    if any(not lo <= o <= hi for o, lo, hi in zip(sizes, lo_sizes, hi_sizes)):
        raise ValueError(f"{name}: requested an output size of {sizes}, but valid sizes range "
                         f"from {lo_sizes} to {hi_sizes} (for an input of {tuple(in_size)})")
    return tuple(o - m for o, m in zip(sizes, lo_sizes))


def _window_args(name: str, nd: int, kernel_size, dilation, stride):
    kernel_size = expand_param(name, "kernel_size", kernel_size, nd)
    dilation = expand_param(name, "dilation", dilation, nd)
    stride = expand_param(name, "stride", stride, nd)
    _positive(name, "kernel_size", kernel_size, "kernel_size must be positive")
    _positive(name, "dilation", dilation, "dilation should be greater than zero")
    _positive(name, "stride", stride, "non-positive stride is not supported")
    return kernel_size, dilation, stride


def _unfold_rank(kernel_size, ndim: int) -> int:
    """Spatial dims of an unfold input: ``len(kernel_size)``; for an int kernel 2 on a 3-D or
    4-D input (PyTorch's image case), else all but the batch and channel dims."""
    if not _is_int(kernel_size):
        try:
            return len(tuple(kernel_size))
        except TypeError:
            return 2
    return 2 if ndim in (3, 4) else max(ndim - 2, 1)


def unfold_geometry(name: str, input_shape, kernel_size, dilation=1, padding=0,
                    stride=1) -> ConvGeometry:
    """Geometry of ``unfold`` (im2col) on ``(N, C, *S)`` or ``(C, *S)``: a convolution with
    ``groups = C`` and one output channel per (channel, kernel tap), the identity kernel.

    >>> g = unfold_geometry("unfold", (2, 3, 5, 5), 2)
    >>> g.out_size, g.out_channels
    ((4, 4), 12)
    """
    nd = _unfold_rank(kernel_size, len(tuple(input_shape)))
    in_size, channels, first = _split_input(name, nd, input_shape)
    kernel_size, dilation, stride = _window_args(name, nd, kernel_size, dilation, stride)
    pairs = _padding_pairs(name, padding, nd, in_size, kernel_size, stride, dilation,
                           allow_strings=False)
    out_size = _check_fits(name, first, in_size, kernel_size, stride, pairs, dilation)
    return ConvGeometry(name, tuple(in_size), out_size, kernel_size, stride, pairs, dilation,
                        channels, channels * math.prod(kernel_size), groups=max(channels, 1))


def fold_geometry(name: str, input_shape, output_size, kernel_size, dilation=1, padding=0,
                  stride=1) -> ConvGeometry:
    """Geometry of ``fold`` (col2im), the transpose of ``unfold``: the input is
    ``(N, C*prod(K), L)`` or ``(C*prod(K), L)`` and the output ``(N, C, *output_size)``.

    >>> fold_geometry("fold", (1, 12, 16), (5, 5), 2).in_channels
    3
    >>> fold_geometry("fold", (1, 12, 9), (5, 5), 2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: fold: expected input's last dimension (9) to equal the number of sliding blocks ...
    """
    input_shape = tuple(input_shape)
    nd = len(tuple(output_size)) if not _is_int(output_size) else _unfold_rank(kernel_size, 4)
    out_size_arg = expand_param(name, "output_size", output_size, nd)
    if len(input_shape) not in (2, 3):
        raise ValueError(f"{name}: Expected 2D (unbatched) or 3D (batched) input, but got input "
                         f"of size: {_shape(input_shape)}")
    kernel_size, dilation, stride = _window_args(name, nd, kernel_size, dilation, stride)
    pairs = _padding_pairs(name, padding, nd, out_size_arg, kernel_size, stride, dilation,
                           allow_strings=False)
    taps = math.prod(kernel_size)
    rows, L = input_shape[-2:]
    if rows % taps:
        raise ValueError(f"{name}: expected the size of input's dimension {len(input_shape) - 2} "
                         f"({rows}) to be divisible by the product of kernel_size "
                         f"{' * '.join(map(str, kernel_size))} = {taps}")
    blocks = _check_fits(name, len(input_shape) - 1, out_size_arg, kernel_size, stride, pairs,
                         dilation)
    if L != math.prod(blocks):
        raise ValueError(f"{name}: expected input's last dimension ({L}) to equal the number of "
                         f"sliding blocks {' * '.join(map(str, blocks))} = {math.prod(blocks)} "
                         f"for output_size={out_size_arg}, kernel_size={kernel_size}, "
                         f"dilation={dilation}, padding={pairs}, stride={stride}")
    C = rows // taps
    return ConvGeometry(name, out_size_arg, blocks, kernel_size, stride, pairs, dilation,
                        C, rows, groups=max(C, 1), transposed=True, output_padding=(0,) * nd)
