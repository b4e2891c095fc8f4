"""Layers written as text, ``"Conv2d(3, 16, 5, stride=2, padding=1)"``, read safely.

:func:`parse_layer` reads the text with :mod:`ast` (never ``eval``): the call must name a known
layer and every argument must be a literal. It returns a :class:`LayerSpec`, which carries the
attributes a PyTorch module of that class would have (``in_channels``, ``kernel_size``,
``stride``, ...) but no weights, so the rest of ``explain`` reads a spec and a real module the
same way. ``Sequential(...)`` of layers gives a list of specs.

>>> spec = parse_layer("Conv2d(3, 16, 5, stride=2, padding=1)")
>>> spec.type_name, spec.kernel_size, spec.stride, spec.padding, spec.groups
('Conv2d', (5, 5), (2, 2), (1, 1), 1)
>>> [s.type_name for s in parse_layer("Sequential(Conv2d(3, 8, 5), ReLU(), MaxPool2d(2))")]
['Conv2d', 'ReLU', 'MaxPool2d']
>>> parse_layer("Conv2d(3, 16)")
Traceback (most recent call last):
...
TypeError: Conv2d(3, 16): missing a required argument: 'kernel_size'
"""

from __future__ import annotations

import ast
import inspect
import re

__all__ = ["LayerSpec", "parse_layer", "SIGNATURES"]

_REQUIRED = inspect.Parameter.empty


def _signature(*names_and_defaults) -> inspect.Signature:
    """``_signature("a", ("b", 1))``: positional-or-keyword parameters, a pair for a default."""
    params = []
    for item in names_and_defaults:
        name, default = (item, _REQUIRED) if isinstance(item, str) else item
        params.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                        default=default))
    return inspect.Signature(params)


_CONV = _signature("in_channels", "out_channels", "kernel_size", ("stride", 1), ("padding", 0),
                   ("dilation", 1), ("groups", 1), ("bias", True), ("padding_mode", "zeros"))
# PyTorch's ConvTranspose puts output_padding before groups and dilation last.
_CONV_T = _signature("in_channels", "out_channels", "kernel_size", ("stride", 1), ("padding", 0),
                     ("output_padding", 0), ("groups", 1), ("bias", True), ("dilation", 1),
                     ("padding_mode", "zeros"))
_MAX_POOL = _signature("kernel_size", ("stride", None), ("padding", 0), ("dilation", 1),
                       ("return_indices", False), ("ceil_mode", False))
_AVG_POOL = _signature("kernel_size", ("stride", None), ("padding", 0), ("ceil_mode", False),
                       ("count_include_pad", True), ("divisor_override", None))
_ADAPTIVE = _signature("output_size")
_BATCH_NORM = _signature("num_features", ("eps", 1e-5), ("momentum", 0.1), ("affine", True),
                         ("track_running_stats", True))

SIGNATURES: dict[str, inspect.Signature] = {
    **{f"Conv{n}d": _CONV for n in (1, 2, 3)},
    **{f"ConvTranspose{n}d": _CONV_T for n in (1, 2, 3)},
    **{f"MaxPool{n}d": _MAX_POOL for n in (1, 2, 3)},
    "AvgPool1d": _signature("kernel_size", ("stride", None), ("padding", 0), ("ceil_mode", False),
                            ("count_include_pad", True)),  # no divisor_override in 1-D
    **{f"AvgPool{n}d": _AVG_POOL for n in (2, 3)},
    **{f"LPPool{n}d": _signature("norm_type", "kernel_size", ("stride", None),
                                 ("ceil_mode", False)) for n in (1, 2, 3)},
    **{f"Adaptive{kind}Pool{n}d": _ADAPTIVE for kind in ("Avg", "Max") for n in (1, 2, 3)},
    **{f"BatchNorm{n}d": _BATCH_NORM for n in (1, 2, 3)},
    "Linear": _signature("in_features", "out_features", ("bias", True)),
    "Flatten": _signature(("start_dim", 1), ("end_dim", -1)),
    "ReLU": _signature(("inplace", False)),
    "ReLU6": _signature(("inplace", False)),
    "LeakyReLU": _signature(("negative_slope", 0.01), ("inplace", False)),
    "ELU": _signature(("alpha", 1.0), ("inplace", False)),
    "GELU": _signature(("approximate", "none")),
    "SiLU": _signature(("inplace", False)),
    "Sigmoid": _signature(),
    "Tanh": _signature(),
    "Identity": _signature(),
    "Softmax": _signature(("dim", None)),
    "LogSoftmax": _signature(("dim", None)),
    "Dropout": _signature(("p", 0.5), ("inplace", False)),
    "Dropout2d": _signature(("p", 0.5), ("inplace", False)),
}
"""The layers a string may name, with PyTorch's constructor signatures."""

# Conv constructors turn ints into tuples (PyTorch's _single/_pair/_triple); pooling keeps them.
_TUPLED = ("kernel_size", "stride", "padding", "dilation", "output_padding")


class LayerSpec:
    """A layer's constructor arguments as PyTorch's attribute names, without weights.

    ``type_name`` is the class name (``"Conv2d"``). Conv specs hold tuples as a PyTorch conv
    module does; ``bias`` is a bool here (a module holds a tensor or None).
    """

    def __init__(self, type_name: str, text: str, arguments: dict):
        self.type_name = type_name
        self.text = text
        self.arguments = dict(arguments)
        self.__dict__.update(arguments)

    def __repr__(self) -> str:
        return self.text

    def build(self):
        """The convlab module this spec describes, with freshly initialized weights."""
        import convlab.nn

        return getattr(convlab.nn, self.type_name)(**self.arguments)


def parse_layer(text: str):
    """A :class:`LayerSpec` for ``"Name(args...)"``, or a list of them for ``"Sequential(...)"``."""
    if not isinstance(text, str):
        raise TypeError(f"parse_layer: expected a string such as 'Conv2d(3, 16, 3)', got "
                        f"{type(text).__name__}")
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ValueError(f"cannot read the layer {text!r}: expected a call such as "
                         "'Conv2d(3, 16, 5, stride=2, padding=1)'") from None
    return _from_node(node, text.strip())


def _call_name(node) -> str | None:
    """``Conv2d`` for ``Conv2d(...)``, ``nn.Conv2d(...)`` and ``torch.nn.Conv2d(...)``."""
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _from_node(node, source: str):
    name = _call_name(node)
    text = ast.unparse(node) if node is not None else source
    if name is None:
        raise ValueError(f"cannot read the layer {text!r}: expected a call such as "
                         "'Conv2d(3, 16, 5, stride=2, padding=1)'")
    if name == "Sequential":
        if node.keywords:
            raise ValueError(f"{text}: Sequential takes layers only")
        return [_from_node(arg, source) for arg in node.args]
    name = _canonical(name)
    try:
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    except ValueError:
        raise ValueError(f"{text}: arguments must be literals (numbers, strings, tuples)") from None
    if None in kwargs:
        raise ValueError(f"{text}: **kwargs are not supported")
    try:
        bound = SIGNATURES[name].bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{text}: {e}") from None
    bound.apply_defaults()
    attributes = dict(bound.arguments)
    nd = _spatial_dims(name)
    if name.startswith("Conv"):
        _check_conv(text, attributes)
        for key in _TUPLED:
            if key in attributes and not isinstance(attributes[key], str):
                attributes[key] = _ntuple(text, key, attributes[key], nd)
    return LayerSpec(name, text, attributes)


def _canonical(name: str) -> str:
    if name in SIGNATURES:
        return name
    by_lower = {n.lower(): n for n in SIGNATURES}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    raise ValueError(f"unknown layer {name!r}; known: Sequential, {', '.join(SIGNATURES)}")


def _spatial_dims(name: str) -> int:
    match = re.search(r"([123])d$", name)
    return int(match.group(1)) if match else 0


def _ntuple(text: str, key: str, value, nd: int) -> tuple:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * nd
    if isinstance(value, (tuple, list)) and len(value) == nd:
        return tuple(value)
    raise ValueError(f"{text}: {key} must be an int or a tuple of {nd} values, got {value!r}")


def _check_conv(text: str, a: dict) -> None:
    """PyTorch's constructor checks (``_ConvNd.__init__``), with its messages."""
    groups = a["groups"]
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{text}: groups must be a positive integer")
    if a["in_channels"] % groups:
        raise ValueError(f"{text}: in_channels must be divisible by groups")
    if a["out_channels"] % groups:
        raise ValueError(f"{text}: out_channels must be divisible by groups")
    padding = a["padding"]
    if isinstance(padding, str) and padding not in ("same", "valid"):
        raise ValueError(f"{text}: Invalid padding string {padding!r}, should be one of "
                         "{'same', 'valid'}")
    modes = ("zeros", "reflect", "replicate", "circular")
    if a["padding_mode"] not in modes:
        raise ValueError(f"{text}: padding_mode must be one of {modes}, but got "
                         f"padding_mode={a['padding_mode']!r}")
