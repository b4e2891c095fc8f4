"""The ``convlab shape``, ``summary``, ``explain`` and ``gallery`` commands.

:func:`add_parsers` registers them on the ``convlab`` command's subparsers; each runs a function
``f(args) -> exit code``. A user error (a layer that cannot fit, a bad shape, a missing file)
prints one line to stderr and exits 2, without a traceback.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from .errors import user_errors

__all__ = ["add_parsers", "load_model"]

# argparse takes "-1,0,0,0" for an option unless it looks like a negative number
_NEGATIVE_LIST = re.compile(r"^-\d+([,x:]-?\d+)*$")


def add_parsers(subparsers) -> None:
    """Register ``shape``, ``summary``, ``explain``, ``gallery`` and ``explore``."""
    p = subparsers.add_parser(
        "shape", help="a layer's output shape, with the formula filled in",
        description="Shape arithmetic of one layer: per-axis formula, output and weight shapes, "
                    "parameters, mult-adds; for a transposed convolution the direct convolution "
                    "it equals. Example: convlab shape \"Conv2d(3, 16, 5, stride=2, padding=1)\" "
                    "--input 1x3x32x32")
    p.add_argument("layer", help='a layer, e.g. "Conv2d(3, 16, 5, stride=2, padding=1)"')
    p.add_argument("--input", required=True, help="input shape, e.g. 1x3x32x32")
    p.add_argument("--output-size", metavar="SIZE",
                   help="a wanted output size (e.g. 16 or 16x16): print the padding (or, for a "
                        "transposed convolution, the output_padding) that gives it")
    p.set_defaults(func=_shape_command)

    p = subparsers.add_parser(
        "summary", help="a model's layers with shapes, parameters and receptive fields",
        description="Model summary: per layer the output shape, kernel/stride/padding/dilation/"
                    "groups, parameters, mult-adds, receptive field, effective stride and "
                    "padding. MODEL is FILE.py:FACTORY (a function returning the model), an ONNX "
                    "file (with convlab[onnx]), a convlab.models name, or a layer string such as "
                    "\"Sequential(Conv2d(3, 8, 5), ReLU())\".")
    p.add_argument("model", help="FILE.py:FACTORY, a model name, or a layer string")
    p.add_argument("--input", required=True, help="input shape, e.g. 1x3x224x224")
    p.add_argument("--num-classes", type=int, default=10,
                   help="classes, for a convlab.models name (default 10)")
    p.add_argument("--run", action="store_true",
                   help="run a forward pass even for a Sequential model")
    p.add_argument("--rf-map", metavar="PATH",
                   help="also draw which input pixels feed one output unit (PNG)")
    p.add_argument("--unit", default="0,0", metavar="I,J",
                   help="the output position for --rf-map (default 0,0)")
    p.add_argument("--layer", help="the layer for --rf-map, by name (default: the last "
                                   "with a spatial output)")
    p.add_argument("--image", help="draw --rf-map over this image, resized to the input")
    p.set_defaults(func=_summary_command)

    p = subparsers.add_parser(
        "explain", help="show what a layer does: shapes, a trace, an animation",
        description="Explain one convolution or pooling layer: its shape arithmetic, "
                    "optionally one output traced back to its inputs (--trace) and an animation "
                    "of the sliding window (--gif). The layer is text, or a Conv, ConvTranspose "
                    "or pooling node of an ONNX file (MODEL.onnx --node NAME --input MODEL_INPUT: "
                    "the node at its place in the model, with its receptive field).")
    p.add_argument("layer", help='a layer, e.g. "ConvTranspose2d(1, 1, 3, stride=2)", or an '
                                 "ONNX file with --node")
    p.add_argument("--input", required=True,
                   help="input shape (1x1x5x5) or its spatial size (5x5); for an ONNX file, "
                        "the model's input")
    p.add_argument("--node", help="for an ONNX file: the node, by its name in `convlab summary` "
                                  "(nodes.conv1) or in the file")
    p.add_argument("--gif", metavar="PATH", help="write the sliding-window animation here")
    p.add_argument("--png", metavar="PATH", help="write the animation's first frame here")
    p.add_argument("--trace", metavar="N,C,I,J",
                   help="take this output element apart (the same whole-number input and "
                        "weights as the GIF, from --seed)")
    p.add_argument("--window", metavar="A:B,C:D",
                   help="animate these output positions per axis (default: the top-left "
                        "corner, at most 8x8, 16 in 1-D, 4x4x4 in 3-D); 'all' for every "
                        "position")
    p.add_argument("--channels", default="0", metavar="C,...",
                   help="output channels to animate, in turn (default 0; 'all' for every one)")
    p.add_argument("--numbers", choices=("auto", "yes", "no"), default="auto",
                   help="write values in the animation's cells (default: when small)")
    p.add_argument("--ms", type=int, default=700, help="milliseconds per frame (default 700)")
    p.add_argument("--seed", type=int, default=0, help="seed for the values (default 0)")
    p._negative_number_matcher = _NEGATIVE_LIST  # --trace -1,0,0,0 is a value, not an option
    p.set_defaults(func=_explain_command)

    p = subparsers.add_parser(
        "gallery", help="render the standard convolution animations",
        description="Render the standard set of animations into OUT_DIR: no padding, padding, "
                    "half and full padding, stride, stride with padding, dilation, the "
                    "transposed twin of each; the sum over input channels, groups, depthwise, "
                    "1x1 as channel mixing, the padding modes, max, average and adaptive "
                    "pooling; and two pictures: im2col and the backward pass.")
    p.add_argument("out_dir", help="folder for the GIFs")
    p.add_argument("--only", nargs="+", metavar="NAME", help="render only these entries")
    p.add_argument("--ms", type=int, default=700, help="milliseconds per frame (default 700)")
    p.set_defaults(func=_gallery_command)

    p = subparsers.add_parser(
        "explore", help="an interactive page: a layer you can change, or a model on an image",
        description="Write (--out) or serve on 127.0.0.1 (--serve) one self-contained HTML page. "
                    "For a layer: the window sliding over real numbers, each output's trace "
                    "on hover, the shape formula and the code, with controls for the input size, "
                    "channels, kernel, stride, padding and its mode, dilation, groups, "
                    "transposed and the pooling kind; it opens with the numbers of `convlab "
                    "explain LAYER --input SHAPE --trace ...` for the same --seed. For "
                    "FILE.py:FACTORY (or a model name) with --image: the summary with receptive "
                    "fields and each convolution's feature maps.")
    p.add_argument("layer", help='a layer such as "Conv2d(3, 2, 3, padding=1)", or '
                                 "FILE.py:FACTORY / a model name with --image")
    p.add_argument("--input", required=True, help="input shape, e.g. 1x3x5x5 (or 5x5)")
    p.add_argument("--image", help="a picture to run a model on")
    p.add_argument("--seed", type=int, default=0, help="seed for the numbers (default 0)")
    p.add_argument("--num-classes", type=int, default=10,
                   help="classes, for a convlab.models name (default 10)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="PAGE.html", help="write the page here")
    where.add_argument("--serve", action="store_true", help="serve it on 127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="port for --serve (default: any free)")
    p.set_defaults(func=_explore_command)


def _sizes(text: str, nd: int) -> tuple[int, ...]:
    from ..explain.shape import parse_shape

    sizes = parse_shape(text)
    if len(sizes) == 1:
        sizes = sizes * nd
    if len(sizes) != nd:
        raise ValueError(f"--output-size needs 1 or {nd} sizes, got {text!r}")
    return sizes


@user_errors("shape")
def _shape_command(args) -> int:
    from ..engine.geometry import resolve_output_padding
    from ..explain.layers import CONV_TRANSPOSE
    from ..explain.shape import axis_names, padding_for, shape

    report = shape(args.layer, args.input)
    print(report)
    if args.output_size:
        nd = len(report.axes)
        wanted = _sizes(args.output_size, nd)
        names = axis_names(nd)
        if report.layer.kind == CONV_TRANSPOSE:
            info = report.layer
            a = resolve_output_padding(info.type_name, nd, report.input_shape, wanted,
                                       info.stride, info.padding, info.kernel_size,
                                       info.dilation)
            print(f"  output size {wanted}: output_padding={a if len(set(a)) > 1 else a[0]}")
        else:
            for name, axis, o in zip(names, report.axes, wanted):
                lo, hi = padding_for(axis.i, o, axis.k, axis.s, axis.d)
                pad = str(lo) if lo == hi else f"({lo}, {hi}) (before, after)"
                print(f"  {name}: output {o} needs padding {pad}")
    return 0


def load_model(text: str, input_shape: tuple, num_classes: int = 10):
    """A model from ``FILE.py:FACTORY``, an ONNX file, a ``convlab.models`` name, or a layer
    string."""
    if text.endswith(".onnx"):
        if not Path(text).is_file():
            raise FileNotFoundError(f"no such file: {text}")
        from ..onnx import load

        return load(text)
    if ".py:" in text:
        path, factory = text.rsplit(":", 1)
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # the user's own file, run as `python FILE.py` would
        if not hasattr(module, factory):
            raise ValueError(f"{path} has no {factory!r}")
        return getattr(module, factory)()
    from ..models import MODELS, build_model

    if text in MODELS:
        return build_model(text, input_shape[1], num_classes)
    if "(" in text:
        return text
    raise ValueError(f"cannot read the model {text!r}: give FILE.py:FACTORY, a FILE.onnx, one "
                     f"of {', '.join(MODELS)}, or a layer string")


@user_errors("summary")
def _summary_command(args) -> int:
    from rich.console import Console

    from ..explain.shape import parse_shape
    from ..explain.summary import summary

    input_shape = parse_shape(args.input)
    model = load_model(args.model, input_shape, args.num_classes)
    table = summary(model, input_shape, run=True if args.run else None)
    Console().print(table)  # split into two tables where one is wider than the terminal
    if args.rf_map:
        _rf_map(model, input_shape, args)
    return 0


def _rf_map(model, input_shape: tuple, args) -> None:
    from ..pictures.image import load_image
    from ..explain.receptive import receptive_field_map

    unit = _ints(args.unit, "--unit", "3,4")
    rf = receptive_field_map(model, input_shape, unit, -1 if args.layer is None else args.layer)
    image = None
    if args.image and len(input_shape) == 4:
        image = load_image(args.image, gray=input_shape[1] == 1, size=input_shape[2:])
    rf.save(args.rf_map, image)
    print(f"wrote {args.rf_map}: layer {rf.layer}, unit {rf.unit}, "
          f"{int((rf.counts > 0).sum())} input pixels")


@user_errors("explain")
def _explain_command(args) -> int:
    from ..explain.animate import animate
    from ..explain.layer_spec import parse_layer
    from ..explain.layers import describe
    from ..explain.shape import parse_shape, shape

    if args.gif and not args.gif.lower().endswith(".gif"):
        raise ValueError(f"--gif {args.gif}: the animation is a .gif file; for one frame as a "
                         "picture use --png")
    if args.layer.endswith(".onnx"):
        spec, dims, row = _onnx_node(args.layer, args.node, parse_shape(args.input))
    else:
        spec, row = parse_layer(args.layer), None
        if isinstance(spec, list):
            raise ValueError("explain takes one layer; use `convlab summary` for a Sequential")
        info = describe(spec)
        dims = parse_shape(args.input)
        if len(dims) == info.nd:  # spatial size only: one sample, the layer's channels
            dims = (1, info.in_channels or 1, *dims)
    if row is not None:
        print(f"{args.layer}, node {row.name} ({row.type}), as the convlab layer that computes "
              "the same:")
    print(shape(spec, dims))
    if row is not None:
        print(f"  receptive field {row.receptive_field} of the model's input, effective stride "
              f"{row.effective_stride}, effective padding {row.effective_padding}")
    if args.trace:
        print()
        print(_trace(spec, dims, args.trace, args.seed))
    if args.gif or args.png:
        numbers = None if args.numbers == "auto" else args.numbers == "yes"
        channels = args.channels if args.channels == "all" else _ints(args.channels,
                                                                       "--channels", "0,1")
        anim = animate(spec, dims, numbers=numbers, seed=args.seed, window=args.window,
                       out_channels=channels)
        print(f"animating {anim!r}")
        if args.gif:
            print(f"wrote {anim.save(args.gif, ms=args.ms)} ({len(anim.steps)} frames)")
        if args.png:
            print(f"wrote {anim.save_png(args.png)} (the first frame)")
    return 0


def _onnx_node(path: str, name: str | None, model_input: tuple):
    """Node ``name`` of the ONNX file at ``path`` as the convlab layer that computes the same,
    the shape of its input when the model runs on ``model_input``, and its summary row (for the
    receptive field). The node is named as summary lists it, or as the file does."""
    from ..explain.layer_spec import parse_layer
    from ..explain.summary import summary

    model = load_model(path, model_input)
    nodes = {f"nodes.{key}": node for key, node in model.nodes.items()}
    windows = [key for key, node in nodes.items()
               if node.op_type in ("Conv", "ConvTranspose", "MaxPool", "AveragePool")]
    if name is None:
        raise ValueError(f"{path}: say which node with --node, e.g. --node "
                         f"{(windows or list(nodes) or ['NAME'])[0]} (its Conv, ConvTranspose "
                         f"and pooling nodes: {_listed(windows)})")
    key = name if name in nodes else next(
        (k for k, node in nodes.items() if node.name == name or k == f"nodes.{name}"), None)
    if key is None:
        raise ValueError(f"{path} has no node {name!r}; its Conv, ConvTranspose and pooling "
                         f"nodes: {_listed(windows)}")
    row = next((r for r in summary(model, model_input, run=True).rows if r.name == key), None)
    if row is None:
        raise ValueError(f"node {name!r} of {path} did not run on an input of {model_input}")
    return parse_layer(nodes[key].equivalent_layer(row.input_shape)), row.input_shape, row


def _listed(names: list[str], most: int = 8) -> str:
    shown = ", ".join(names[:most]) or "none"
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _ints(text: str, option: str, example: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise ValueError(f"{option} needs comma-separated integers such as {example}, got "
                         f"{text!r}") from None


def _trace(spec, dims: tuple, index_text: str, seed: int):
    from ..explain.example import example
    from ..explain.trace import trace

    layer, x = example(spec, dims, seed)
    return trace(layer, x, _ints(index_text, "--trace", "0,0,1,1"))


@user_errors("gallery")
def _gallery_command(args) -> int:
    from ..explain.gallery import gallery

    for path in gallery(args.out_dir, args.only, ms=args.ms):
        print(f"wrote {path}")
    return 0


@user_errors("explore")
def _explore_command(args) -> int:
    from .._atomic import write_text_atomic
    from ..explain.explore import layer_page, model_page, serve
    from ..explain.shape import parse_shape

    if args.image:
        from ..pictures.image import load_image, to_tensor

        shape = parse_shape(args.input)
        if len(shape) != 4:
            raise ValueError(f"--input: a model takes 1xCxHxW, got {args.input!r}")
        model = load_model(args.layer, shape, args.num_classes)
        if isinstance(model, str):
            raise ValueError("--image shows a model: give FILE.py:FACTORY, a FILE.onnx or a "
                             "model name")
        image = load_image(args.image, gray=shape[1] == 1, size=shape[2:])
        page = model_page(model, to_tensor(image), image, args.layer)
    elif args.layer.endswith(".onnx") or ".py:" in args.layer:
        raise ValueError(f"{args.layer} is a model: its page shows what it makes of a picture, "
                         "give one with --image")
    else:
        page = layer_page(args.layer, args.input, args.seed)
    if args.serve:
        serve(page, args.port)
        return 0
    write_text_atomic(args.out, page)
    print(f"wrote {args.out} ({len(page):,} bytes, self-contained: open it in a browser)")
    return 0
