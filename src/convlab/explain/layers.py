"""What ``explain`` needs to know about one layer, read from PyTorch's attribute names.

:func:`describe` turns a convlab module, a PyTorch module or a :class:`~.layer_spec.LayerSpec`
into a :class:`Layer`: its kind (convolution, transposed convolution, pooling, ...), its
arguments as per-axis tuples, and, given an input shape, its :class:`Axis` list — per spatial
axis the sliding window ``(k, s, p_lo, p_hi, d)``, the input and output sizes and the formula
with the numbers filled in. Shapes are computed by :mod:`convlab.engine.geometry` and the pooling
checks of :mod:`convlab.nn.functional`, so a layer that cannot fit raises the same error here as
when it runs.

>>> layer = describe(parse_layer("Conv2d(3, 16, 5, stride=2, padding=1)"))
>>> layer.output_shape((1, 3, 32, 32))
(1, 16, 15, 15)
>>> layer.axes((1, 3, 32, 32))[0].formula
'floor((32 + 2*1 - 1*(5-1) - 1) / 2) + 1 = 15'
>>> layer.params, layer.mult_adds((1, 3, 32, 32))
(1216, 273600)
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass

from ..engine import geometry
from .layer_spec import LayerSpec, parse_layer

__all__ = ["Layer", "Axis", "describe", "adaptive_window", "CONV", "CONV_TRANSPOSE", "POOL",
           "ADAPTIVE_POOL", "LINEAR", "FLATTEN", "POINTWISE", "OTHER"]

CONV, CONV_TRANSPOSE, POOL, ADAPTIVE_POOL = "conv", "conv_transpose", "pool", "adaptive_pool"
LINEAR, FLATTEN, POINTWISE, OTHER = "linear", "flatten", "pointwise", "other"

# Layers that act on each position alone and keep the shape: for the receptive field they are
# a window of (k, s, p) = (1, 1, 0).
_POINTWISE = re.compile(r"(ReLU6?|LeakyReLU|PReLU|ELU|SELU|CELU|GELU|SiLU|Mish|Sigmoid|Tanh|"
                        r"Hardswish|Hardsigmoid|Hardtanh|Softplus|Identity|Softmax|LogSoftmax|"
                        r"Dropout\d?d?|BatchNorm\dd|InstanceNorm\dd|GroupNorm|LayerNorm|"
                        r"LocalResponseNorm)")


@dataclass(frozen=True)
class Axis:
    """One spatial axis of a sliding-window layer applied to an input.

    ``i`` input size, ``o`` output size, window ``k`` (kernel), ``s`` (stride), ``p_lo``/``p_hi``
    (padding before/after), ``d`` (dilation). A transposed convolution is described by the
    convolution it transposes (``transposed=True``, ``a`` its ``output_padding``): there the
    window slides over the *output* and ``o = (i-1)*s - p_lo - p_hi + d*(k-1) + a + 1``.
    """

    i: int
    o: int
    k: int
    s: int
    p_lo: int
    p_hi: int
    d: int = 1
    ceil_mode: bool = False
    transposed: bool = False
    a: int = 0
    windows: tuple = ()  # adaptive pooling: the (start, end) of each output's window

    @property
    def k_eff(self) -> int:
        """The dilated kernel's footprint, ``d*(k-1) + 1``."""
        return self.d * (self.k - 1) + 1

    @property
    def formula(self) -> str:
        """The output-size formula with this axis's numbers."""
        if self.windows:
            spans = ", ".join(f"{lo}..{hi - 1}" for lo, hi in self.windows)
            sizes = ", ".join(str(hi - lo) for lo, hi in self.windows)
            return (f"{self.o} windows [floor(j*{self.i}/{self.o}), ceil((j+1)*{self.i}/{self.o}))"
                    f": {spans} (widths {sizes})")
        if self.transposed:
            return geometry.transposed_output_length_formula(self.i, self.k, self.s, self.p_lo,
                                                             self.p_hi, self.d, self.a)
        return geometry.output_length_formula(self.i, self.k, self.s, self.p_lo, self.p_hi,
                                              self.d, self.ceil_mode)


@dataclass
class Layer:
    """A layer's kind and arguments, normalized: tuples of ``nd`` ints, stride never None."""

    type_name: str
    kind: str
    nd: int = 0
    in_channels: int | None = None
    out_channels: int | None = None
    kernel_size: tuple = ()
    stride: tuple = ()
    padding: object = ()  # tuple of ints or (lo, hi) pairs, or 'same' / 'valid'
    dilation: tuple = ()
    groups: int = 1
    output_padding: tuple = ()
    has_bias: bool = False
    padding_mode: str = "zeros"
    ceil_mode: bool = False
    output_size: tuple = ()  # adaptive pooling
    in_features: int | None = None
    out_features: int | None = None
    flatten_dims: tuple = (1, -1)
    own_params: int | None = None  # counted from the module's tensors when it has them

    # ---- shapes ---------------------------------------------------------------------------

    @property
    def weight_shape(self) -> tuple | None:
        """PyTorch's layout: conv ``(C_out, C_in/g, *k)``, transposed ``(C_in, C_out/g, *k)``,
        linear ``(out, in)``."""
        if self.kind == CONV:
            return (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        if self.kind == CONV_TRANSPOSE:
            return (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        if self.kind == LINEAR:
            return (self.out_features, self.in_features)
        return None

    @property
    def bias_shape(self) -> tuple | None:
        if not self.has_bias:
            return None
        return (self.out_features,) if self.kind == LINEAR else (self.out_channels,)

    @property
    def params(self) -> int:
        """Weight and bias elements (the module's own tensors when it has them)."""
        if self.own_params is not None:
            return self.own_params
        shapes = [s for s in (self.weight_shape, self.bias_shape) if s is not None]
        return sum(math.prod(s) for s in shapes)

    @property
    def is_spatial(self) -> bool:
        """Whether the layer slides a window (and so has an :class:`Axis` per spatial dim)."""
        return self.kind in (CONV, CONV_TRANSPOSE, POOL, ADAPTIVE_POOL)

    def _geometry(self, input_shape):
        """The engine's checked geometry of a (transposed) convolution on ``input_shape``."""
        name = f"conv{self.nd}d" if self.kind == CONV else f"conv_transpose{self.nd}d"
        if self.kind == CONV:
            return geometry.conv_geometry(name, self.nd, input_shape, self.weight_shape,
                                          self.bias_shape, self.stride, self.padding,
                                          self.dilation, self.groups)
        return geometry.conv_transpose_geometry(name, self.nd, input_shape, self.weight_shape,
                                                self.bias_shape, self.stride, self.padding,
                                                self.output_padding, self.groups, self.dilation)

    def axes(self, input_shape) -> list[Axis]:
        """One :class:`Axis` per spatial dim; raises the layer's own error when it cannot fit."""
        input_shape = tuple(int(n) for n in input_shape)
        if self.kind in (CONV, CONV_TRANSPOSE):
            G = self._geometry(input_shape)
            if self.kind == CONV:
                self._check_padding_mode(G)
                return [Axis(i, o, k, s, lo, hi, d) for i, o, k, s, (lo, hi), d
                        in zip(G.in_size, G.out_size, G.kernel_size, G.stride, G.padding,
                               G.dilation)]
            # G describes the convolution this one transposes: its out_size is our input.
            return [Axis(i, o, k, s, lo, hi, d, transposed=True, a=a)
                    for i, o, k, s, (lo, hi), d, a
                    in zip(G.out_size, G.in_size, G.kernel_size, G.stride, G.padding,
                           G.dilation, G.output_padding)]
        if self.kind == POOL:
            return self._pool_axes(input_shape)
        if self.kind == ADAPTIVE_POOL:
            return self._adaptive_axes(input_shape)
        return []

    def _check_padding_mode(self, G) -> None:
        """The limits of ``padding_mode`` (as ``F.pad``): ``reflect`` pads less than the input
        size, ``circular`` at most the input size (wrapping around once)."""
        for axis, (i, (lo, hi)) in enumerate(zip(G.in_size, G.padding)):
            if self.padding_mode == "reflect" and max(lo, hi) >= i:
                raise ValueError(f"{self.type_name}: padding_mode='reflect' needs padding less "
                                 f"than the input size, but got padding ({lo}, {hi}) for "
                                 f"spatial dim {axis} of size {i}")
            if self.padding_mode == "circular" and max(lo, hi) > i:
                raise ValueError(f"{self.type_name}: padding_mode='circular' wraps around more "
                                 f"than once: padding ({lo}, {hi}) for spatial dim {axis} of "
                                 f"size {i}")

    def _pool_axes(self, input_shape) -> list[Axis]:
        from ..nn.functional import pooling  # its checks carry the messages F.max_pool2d raises

        name = f"{'max' if self.type_name.startswith('Max') else 'avg'}_pool{self.nd}d"
        K, S, P, D = pooling._window(name, self.nd, tuple(input_shape), self.kernel_size,
                                     self.stride, self.padding, self.dilation, self.ceil_mode)
        I = input_shape[-self.nd:]
        return [Axis(i, geometry.output_length(i, k, s, p, p, d, self.ceil_mode), k, s, p, p, d,
                     ceil_mode=self.ceil_mode)
                for i, k, s, p, d in zip(I, K, S, P, D)]

    def _adaptive_axes(self, input_shape) -> list[Axis]:
        """Adaptive pooling's windows, :func:`adaptive_window` of each output. For the
        receptive field the axis also carries ``k`` = the widest window and ``s`` = the
        largest step between window starts (exact when ``o`` divides ``i``)."""
        I = input_shape[-self.nd:]
        O = tuple(i if o is None else o for i, o in zip(I, self.output_size))
        axes = []
        for i, o in zip(I, O):
            if o < 1:
                raise ValueError(f"{self.type_name}: output size must be at least 1, got {o}")
            windows = tuple(adaptive_window(j, i, o) for j in range(o))
            k = max(hi - lo for lo, hi in windows)
            s = max([b[0] - a[0] for a, b in zip(windows, windows[1:])], default=1)
            axes.append(Axis(i, o, k, max(s, 1), 0, 0, windows=windows))
        return axes

    def output_shape(self, input_shape) -> tuple:
        """The output shape for ``input_shape`` (batched or unbatched)."""
        input_shape = tuple(int(n) for n in input_shape)
        if self.is_spatial:
            axes = self.axes(input_shape)
            lead = input_shape[:-self.nd]
            if self.kind in (CONV, CONV_TRANSPOSE):
                lead = lead[:-1] + (self.out_channels,)
            return lead + tuple(a.o for a in axes)
        if self.kind == LINEAR:
            if input_shape[-1] != self.in_features:
                rows = math.prod(input_shape[:-1])
                raise ValueError(f"{self.type_name}: mat1 and mat2 shapes cannot be multiplied "
                                 f"({rows}x{input_shape[-1]} and {self.in_features}x"
                                 f"{self.out_features})")
            return input_shape[:-1] + (self.out_features,)
        if self.kind == FLATTEN:
            start, end = (d % len(input_shape) for d in self.flatten_dims)
            return (input_shape[:start] + (math.prod(input_shape[start:end + 1]),)
                    + input_shape[end + 1:])
        return input_shape

    def mult_adds(self, input_shape, output_shape=None) -> int:
        """Multiply-adds of one forward pass (torchinfo's count: a bias counts as one).

        Convolution: each output element costs ``C_in/g * prod(k)`` plus its bias. Transposed
        convolution: each *input* element is multiplied by a ``C_out/g * prod(k)`` slice of the
        weight, plus one bias per output element. Linear: ``in + 1`` per output element.
        """
        input_shape = tuple(input_shape)
        output_shape = self.output_shape(input_shape) if output_shape is None else output_shape
        bias = math.prod(output_shape) if self.has_bias else 0
        if self.kind == CONV:
            return math.prod(output_shape) * (self.in_channels // self.groups
                                              * math.prod(self.kernel_size)) + bias
        if self.kind == CONV_TRANSPOSE:
            return math.prod(input_shape) * (self.out_channels // self.groups
                                             * math.prod(self.kernel_size)) + bias
        if self.kind == LINEAR:
            return math.prod(output_shape) * self.in_features + bias
        return 0


def adaptive_window(j: int, i: int, o: int) -> tuple[int, int]:
    """``(start, end)`` of output ``j``'s window when adaptive pooling maps ``i`` inputs to ``o``
    outputs: ``[floor(j*i/o), ceil((j+1)*i/o))``; neighbouring windows may overlap.

    >>> [adaptive_window(j, 5, 3) for j in range(3)]
    [(0, 2), (1, 4), (3, 5)]
    """
    return (j * i) // o, -((-(j + 1) * i) // o)


def _type_name(layer) -> str:
    return layer.type_name if isinstance(layer, LayerSpec) else type(layer).__name__


def _count_params(layer) -> int | None:
    """Elements in the module's own parameters (not its children's); None for a spec."""
    named = getattr(layer, "named_parameters", None)
    if named is None:
        return None
    return sum(math.prod(p.shape) for _, p in named(recurse=False))


def _tuple(value, nd: int):
    """An int (or a 1-tuple) as ``nd`` of them; strings (``'same'``) and tuples pass through."""
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return (int(value),) * nd
    items = tuple(value)
    return items * nd if len(items) == 1 else items


def _has_bias(layer) -> bool:
    """A module holds a bias tensor or None; a spec holds the constructor's bool."""
    bias = getattr(layer, "bias", None)
    return bias is not None and bias is not False


def describe(layer) -> Layer:
    """A :class:`Layer` for a module (convlab or PyTorch), a :class:`LayerSpec` or a layer
    string."""
    if isinstance(layer, str):
        layer = parse_layer(layer)
        if isinstance(layer, list):
            raise ValueError("describe: expected one layer, got a Sequential; use summary()")
    name = _type_name(layer)
    params = _count_params(layer)
    match = re.fullmatch(r"Conv(Transpose)?([123])d", name)
    if match:
        nd = int(match.group(2))
        transposed = bool(match.group(1))
        return Layer(
            name, CONV_TRANSPOSE if transposed else CONV, nd,
            in_channels=layer.in_channels, out_channels=layer.out_channels,
            kernel_size=_tuple(layer.kernel_size, nd), stride=_tuple(layer.stride, nd),
            padding=_tuple(layer.padding, nd), dilation=_tuple(layer.dilation, nd),
            groups=layer.groups,
            output_padding=_tuple(getattr(layer, "output_padding", 0), nd) if transposed else (),
            has_bias=_has_bias(layer),
            padding_mode=getattr(layer, "padding_mode", "zeros"), own_params=params)
    match = re.fullmatch(r"(Max|Avg|LP)Pool([123])d", name)
    if match:
        nd = int(match.group(2))
        stride = layer.stride if layer.stride not in (None, (), []) else layer.kernel_size
        return Layer(name, POOL, nd, kernel_size=_tuple(layer.kernel_size, nd),
                     stride=_tuple(stride, nd), padding=_tuple(getattr(layer, "padding", 0), nd),
                     dilation=_tuple(getattr(layer, "dilation", 1), nd),
                     ceil_mode=bool(layer.ceil_mode), own_params=params)
    match = re.fullmatch(r"Adaptive(Max|Avg)Pool([123])d", name)
    if match:
        nd = int(match.group(2))
        size = layer.output_size
        size = (size,) * nd if size is None or isinstance(size, int) else tuple(size)
        return Layer(name, ADAPTIVE_POOL, nd, output_size=size, own_params=params)
    if name == "Linear":
        return Layer(name, LINEAR, in_features=layer.in_features,
                     out_features=layer.out_features,
                     has_bias=_has_bias(layer), own_params=params)
    if name == "Flatten":
        return Layer(name, FLATTEN, flatten_dims=(layer.start_dim, layer.end_dim),
                     own_params=params)
    if _POINTWISE.fullmatch(name):
        if params is None and name.startswith("BatchNorm") and layer.affine:
            params = 2 * layer.num_features  # weight and bias; the running stats are buffers
        return Layer(name, POINTWISE, own_params=params or 0)
    return Layer(name, OTHER, own_params=params or 0)
