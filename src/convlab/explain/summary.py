"""A model summary with the columns nobody has all of: per layer the output shape, kernel /
stride / padding / dilation / groups, parameters, mult-adds, and the receptive field, effective
stride and effective padding (closed forms of :mod:`.receptive`, dilation included).

>>> s = summary("Sequential(Conv2d(3, 8, 5), ReLU(), Conv2d(8, 16, 3))", (1, 3, 32, 32))
>>> [(r.name, r.output_shape, r.params, str(r.receptive_field)) for r in s.rows]
[('0', (1, 8, 28, 28), 608, '5'), ('1', (1, 8, 28, 28), 0, '5'), ('2', (1, 16, 26, 26), 1168, '7')]
>>> s.total_params
1776

How the layers are found:

- a layer string, a list of layers, or a ``Sequential`` tree of known layers: shapes are
  computed from the layers' arguments, layer after layer, with no forward pass (so VGG-16 at
  224×224 is summarized instantly);
- any other model: one forward pass on zeros (``no_grad``, eval mode, restored afterwards) with
  a forward hook on every leaf module records each call's input and output shapes, as
  torchinfo does. The receptive field then follows the tensors from layer to layer; an input
  made outside a module (``a + b`` in a residual block) takes the largest field among the
  recorded outputs of its shape, so the field is the maximum over paths.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

from .layer_spec import LayerSpec, parse_layer
from .example import check_input_size
from .layers import FLATTEN, LINEAR, OTHER, Axis, describe
from .receptive import WHOLE_INPUT, PerAxis, ReceptiveField, step
from .shape import parse_shape

__all__ = ["summary", "Summary", "SummaryRow"]


@dataclass
class SummaryRow:
    """One call of one layer. ``field`` holds the receptive field at its output
    (:data:`~.receptive.WHOLE_INPUT` from a Flatten or Linear layer on: every output sees the
    whole input)."""

    name: str
    type: str
    depth: int
    input_shape: tuple
    output_shape: tuple
    params: int
    mult_adds: int
    field: ReceptiveField | str | None
    axes: list[Axis] = field(default_factory=list)
    groups: int | None = None
    unseen_window: bool = False  # a function outside the modules resized the input on the way

    @property
    def kernel_size(self) -> PerAxis | None:
        return PerAxis(a.k for a in self.axes) if self.axes else None

    @property
    def stride(self) -> PerAxis | None:
        return PerAxis(a.s for a in self.axes) if self.axes else None

    @property
    def padding(self) -> PerAxis | None:
        """Per axis the padding, or ``(lo, hi)`` where the two sides differ."""
        if not self.axes:
            return None
        return PerAxis(a.p_lo if a.p_lo == a.p_hi else (a.p_lo, a.p_hi) for a in self.axes)

    @property
    def dilation(self) -> PerAxis | None:
        return PerAxis(a.d for a in self.axes) if self.axes else None

    @property
    def formulas(self) -> list[str]:
        """The output-size formula of each spatial axis, numbers filled in."""
        return [a.formula for a in self.axes]

    @property
    def _sliding_field(self) -> ReceptiveField | None:
        return self.field if isinstance(self.field, ReceptiveField) else None

    @property
    def receptive_field(self) -> PerAxis | str | None:
        """Per axis the field's size, or ``"all"`` (the whole input) after Flatten/Linear."""
        if self.field == WHOLE_INPUT:
            return WHOLE_INPUT
        return self.field.size if self.field else None

    @property
    def effective_stride(self) -> PerAxis | None:
        return self._sliding_field.stride if self._sliding_field else None

    @property
    def effective_padding(self) -> PerAxis | None:
        return self._sliding_field.padding if self._sliding_field else None


@dataclass
class Summary:
    """The table: ``rows`` and the totals at its foot. ``print()`` shows it; so does rich."""

    title: str
    input_size: tuple
    rows: list[SummaryRow]
    total_params: int
    trainable_params: int
    itemsize: int = 4

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def total_mult_adds(self) -> int:
        return sum(r.mult_adds for r in self.rows)

    @property
    def memory(self) -> dict[str, float]:
        """torchinfo's estimate in MB (10**6 bytes): input, forward/backward activations (every
        layer's output, kept for backward and its gradient), parameters, and their sum."""
        mb = self.itemsize / 1e6
        sizes = {"input": math.prod(self.input_size) * mb,
                 "forward/backward pass":
                     2 * sum(math.prod(r.output_shape) for r in self.rows) * mb,
                 "params": self.total_params * mb}
        sizes["estimated total"] = sum(sizes.values())
        return sizes

    _COLUMNS = ("Layer", "Type", "Output Shape", "Kernel", "Stride", "Padding", "Dilation",
                "Groups", "Param #", "Mult-Adds", "RF", "Eff. stride", "Eff. padding")

    def _cells(self, r: SummaryRow) -> list[str]:
        def text(v):
            return "--" if v is None else str(v)

        def field_text(v):
            return text(v) + ("*" if r.unseen_window and v is not None else "")

        return ["  " * r.depth + r.name, r.type, str(list(r.output_shape)),
                text(r.kernel_size), text(r.stride), text(r.padding), text(r.dilation),
                text(r.groups), f"{r.params:,}" if r.params else "--",
                f"{r.mult_adds:,}" if r.mult_adds else "--", field_text(r.receptive_field),
                field_text(r.effective_stride), field_text(r.effective_padding)]

    def _table(self, columns: list[int], title: str | None):
        from rich.table import Table

        table = Table(title=title, title_justify="left", show_lines=False)
        for c in columns:
            name = self._COLUMNS[c]
            table.add_column(name, justify="left" if name in ("Layer", "Type") else "right",
                             no_wrap=True)
        for r in self.rows:
            cells = self._cells(r)
            table.add_row(*(cells[c] for c in columns))
        return table

    def _foot(self) -> str:
        memory = self.memory
        foot = [f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}",
                f"Total mult-adds ({_unit(self.total_mult_adds)[1]}): "
                f"{_unit(self.total_mult_adds)[0]:.2f}",
                f"Input size (MB): {memory['input']:.2f}",
                f"Forward/backward pass size (MB): {memory['forward/backward pass']:.2f}",
                f"Params size (MB): {memory['params']:.2f}",
                f"Estimated Total Size (MB): {memory['estimated total']:.2f}"]
        if any(r.unseen_window for r in self.rows):
            foot.append("* a function called in forward (not a module, e.g. F.max_pool2d) "
                        "resized the input on the way: its window is missing from these fields")
        return "\n".join(foot)

    def __rich_console__(self, console, options):
        """One table where it fits the console's width; else as many as it takes, each
        starting with the layer names, so no column is cut."""
        from rich.text import Text

        def width(columns):
            table = self._table(columns, None)
            return console.measure(table, options=options.update_width(10_000)).maximum

        tables, columns = [], [0]
        for c in range(1, len(self._COLUMNS)):
            if len(columns) > 1 and width(columns + [c]) > options.max_width:
                tables.append(columns)
                columns = [0]
            columns.append(c)
        tables.append(columns)
        for n, columns in enumerate(tables):
            yield self._table(columns, self.title if n == 0 else None)
        yield Text(self._foot())

    def __repr__(self) -> str:
        return (f"<Summary {self.title}: {len(self.rows)} layers, {self.total_params:,} "
                f"parameters, {self.total_mult_adds:,} mult-adds>")

    def _repr_html_(self) -> str:
        """The table as HTML, for a notebook."""
        import html

        head = "".join(f"<th>{html.escape(c)}</th>" for c in self._COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in self._cells(r))
                       + "</tr>" for r in self.rows)
        foot = html.escape(self._foot()).replace("\n", "<br>")
        return (f"<div><b>{html.escape(self.title)}</b><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table><p>{foot}</p></div>")

    def __str__(self) -> str:
        from rich.console import Console

        buffer = io.StringIO()
        Console(file=buffer, width=400, color_system=None, force_terminal=False).print(self)
        return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())


def _unit(n: int) -> tuple[float, str]:
    for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if n >= scale:
            return n / scale, unit
    return n / 1e6, "M"


# ---- finding the layers ------------------------------------------------------------------------


def _spec_leaves(layers, prefix: str = ""):
    """``(name, layer)`` for a (nested) list of layers, named ``0``, ``1``, ``1.0``, ..."""
    for index, layer in enumerate(layers):
        name = f"{prefix}{index}"
        if isinstance(layer, str):
            layer = parse_layer(layer)
        if isinstance(layer, (list, tuple)):
            yield from _spec_leaves(layer, name + ".")
        elif _children(layer):
            yield from _module_leaves(layer, name + ".")
        else:
            yield name, layer


def _children(module) -> list:
    named = getattr(module, "named_children", None)
    return list(named()) if named else []


def _module_leaves(module, prefix: str = ""):
    for name, child in _children(module):
        if _children(child):
            yield from _module_leaves(child, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", child


def _is_sequential_tree(model) -> bool:
    """Whether the order of the leaves is the order of the calls: containers are Sequential."""
    if isinstance(model, (str, LayerSpec, list, tuple)):
        return True
    children = _children(model)
    if not children:
        return describe(model).kind != OTHER
    return type(model).__name__ == "Sequential" and all(_is_sequential_tree(c) for _, c in children)


# ---- building the rows -------------------------------------------------------------------------


def _described(layer, input_shape: tuple):
    """:func:`~.layers.describe` of ``layer``, or the description a module gives of itself for
    an input shape (``layer_description``: an imported ONNX node, whose arguments are its
    operator's attributes and the shapes of its weights)."""
    own = getattr(layer, "layer_description", None)
    return own(input_shape) if callable(own) else describe(layer)


def _row(name: str, layer, input_shape: tuple, output_shape: tuple | None,
         rf: ReceptiveField | None) -> SummaryRow:
    info = _described(layer, input_shape)
    axes = info.axes(input_shape) if info.is_spatial else []
    if output_shape is None:
        output_shape = info.output_shape(input_shape)
    if axes:
        rf = step(rf if isinstance(rf, ReceptiveField) else None, axes)
    elif info.kind in (FLATTEN, LINEAR) and rf is not None:
        rf = WHOLE_INPUT  # each output mixes every input position
    groups = info.groups if info.kind in ("conv", "conv_transpose") else None
    return SummaryRow(name, info.type_name, name.count("."), tuple(input_shape),
                      tuple(output_shape), info.params, info.mult_adds(input_shape, output_shape),
                      rf, axes, groups)


def _analytic_rows(model, input_size: tuple) -> list[SummaryRow]:
    if isinstance(model, str):
        model = parse_layer(model)
    if isinstance(model, (list, tuple)):
        leaves = list(_spec_leaves(model))
    elif _children(model):
        leaves = list(_module_leaves(model))
    else:
        leaves = [("0", model)]
    rows, shape, rf = [], input_size, None
    for name, layer in leaves:
        row = _row(name, layer, shape, None, rf)
        rows.append(row)
        shape, rf = row.output_shape, row.field
    return rows


def _first_tensor(value, name: str, module, what: str):
    """The first tensor of a leaf's call ``args`` or its output: the one its row describes.

    A leaf called with no argument (or returning an empty tuple) has no such tensor, so it has
    no row to give: an error names the layer rather than an IndexError from inside the hook.
    """
    if not isinstance(value, (tuple, list)):
        return value
    if not value:
        raise ValueError(f"summary: layer {name!r} ({type(module).__name__}) was {what}; a row "
                         "describes a layer's first input and first output, so every leaf "
                         "module that forward calls must take a tensor and return one")
    return value[0]


def _run_rows(model, input_size: tuple) -> list[SummaryRow]:
    """Rows from one forward pass with a hook on every leaf module."""
    check_input_size(input_size, "summary (a forward pass)",
                     "a Sequential of known layers is summarized without running it; else give "
                     "a smaller input")
    x = _zeros(model, input_size)
    calls = []  # (name, module, input tensor, output tensor), in call order
    handles = []
    for name, module in _module_leaves(model) if _children(model) else [("0", model)]:
        def hook(m, args, output, name=name):
            calls.append((name, m, _first_tensor(args, name, m, "called with no argument"),
                          _first_tensor(output, name, m, "returned an empty tuple")))
        handles.append(module.register_forward_hook(hook))
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with _no_grad(model):
            model(x)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.training = mode

    # Receptive fields follow the tensors: id -> (tensor kept alive, its field, whether a
    # function outside the modules changed its size on the way, so the field misses a window)
    fields = {id(x): (x, None, False)}
    rows = []
    for name, module, inp, out in calls:
        known = fields.get(id(inp))
        if known is not None and known[0] is inp:
            rf, unseen = known[1], known[2]
        else:
            rf, unseen = _widest_of_shape(fields.values(), tuple(inp.shape), rows)
        row = _row(name, module, tuple(inp.shape), tuple(out.shape), rf)
        row.unseen_window = unseen
        fields[id(out)] = (out, row.field, unseen)
        rows.append(row)
    return rows


def _widest_of_shape(known, shape: tuple, rows: list[SummaryRow]):
    """For a tensor made outside a module: the largest field among recorded tensors of its shape
    (the maximum over the paths that were summed or concatenated). With none of its shape, a
    function changed the size (``F.max_pool2d`` in ``forward``), which hooks cannot see: the
    last field, flagged. Returns ``(field, flagged)``."""
    same = [(f, flag) for t, f, flag in known
            if isinstance(f, ReceptiveField) and tuple(t.shape) == shape]
    if same:
        return max(same, key=lambda pair: math.prod(float(v) for v in pair[0].size))
    if not rows:
        return None, False
    spatial = len(shape) == len(rows[-1].output_shape) and shape[2:] != rows[-1].output_shape[2:]
    return rows[-1].field, rows[-1].unseen_window or spatial


def _framework(model) -> str:
    """``torch`` for a PyTorch module (summarized with torch tensors), else ``convlab``."""
    return "torch" if type(model).__module__.split(".")[0] == "torch" or any(
        type(m).__module__.split(".")[0] == "torch" for m in model.modules()) else "convlab"


def _zeros(model, input_size):
    if _framework(model) == "torch":
        import torch

        params = list(model.parameters())
        return torch.zeros(input_size, dtype=params[0].dtype if params else torch.float32)
    import convlab

    params = list(model.parameters())
    return convlab.zeros(*input_size, dtype=params[0].dtype if params else convlab.float32)


def _no_grad(model):
    if _framework(model) == "torch":
        import torch

        return torch.no_grad()
    import convlab

    return convlab.no_grad()


def _totals(model, rows: list[SummaryRow]) -> tuple[int, int]:
    """(total, trainable) parameters; a shared parameter counts once."""
    parameters = getattr(model, "parameters", None)
    if parameters is None or isinstance(model, (str, list, tuple, LayerSpec)):
        total = sum(r.params for r in rows)
        return total, total
    unique = {id(p): p for p in parameters()}.values()
    total = sum(math.prod(p.shape) for p in unique)
    trainable = sum(math.prod(p.shape) for p in unique if p.requires_grad)
    return total, trainable


def _build(layers):
    """A convlab module from a layer string, a spec or a list of them (to run it)."""
    import convlab.nn as nn

    if isinstance(layers, str):
        layers = parse_layer(layers)
    if isinstance(layers, LayerSpec):
        return layers.build()
    built = [_build(layer) if isinstance(layer, (list, tuple, str)) else
             layer.build() if isinstance(layer, LayerSpec) else layer for layer in layers]
    return nn.Sequential(*built)


def summary(model, input_size, run: bool | None = None) -> Summary:
    """Summarize ``model`` (a module, a list of layers, or a layer string such as
    ``"Sequential(Conv2d(3, 8, 5), ReLU())"``) for an input of ``input_size`` ``(N, C, H, W)``.

    ``run=None`` computes the shapes from the layers' arguments when the call order is known
    (Sequential trees and layer strings), else runs one forward pass; ``run=True`` always runs.
    """
    input_size = parse_shape(input_size)
    if run is None:
        run = not _is_sequential_tree(model)
    title = model if isinstance(model, str) else (
        "Sequential" if isinstance(model, (list, tuple)) else type(model).__name__)
    if run and isinstance(model, (str, LayerSpec, list, tuple)):
        model = _build(model)
    rows = _run_rows(model, input_size) if run else _analytic_rows(model, input_size)
    total, trainable = _totals(model, rows)
    itemsize = 4
    if hasattr(model, "parameters") and not isinstance(model, (list, tuple)):
        first = next(iter(model.parameters()), None)
        itemsize = first.element_size() if first is not None else 4
    return Summary(f"{title} on input {list(input_size)}", input_size, rows, total, trainable,
                   itemsize)
