"""``convlab explore``: an interactive page, one self-contained HTML file (inline script, style
and data; nothing fetched from the network).

:func:`layer_page` opens on one 2-D convolution or pooling layer with convlab's own seeded
example (:func:`~.example.example`, the numbers of ``explain --trace``); in the page the learner
changes the layer and its input and sees the window slide, each output's trace, the shape
formula and the code. :func:`model_page` shows a model on an image: the summary table with
receptive fields, and each convolution's feature maps. :func:`serve` serves a page on
127.0.0.1.
"""

from __future__ import annotations

import base64
import html
import io
import json

import numpy as np

from .example import example
from .explore_page import PAGE
from .layer_spec import parse_layer
from .layers import ADAPTIVE_POOL, CONV, CONV_TRANSPOSE, POOL, describe
from .shape import parse_shape

__all__ = ["layer_page", "model_page", "page_config", "serve"]

_LIMITS = {"H": 12, "W": 12, "cin": 8, "cout": 8}  # what the page's controls allow


def _one(name: str, values, text: str) -> int:
    """The one value of a per-axis tuple whose axes agree (the page's controls are square)."""
    values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    if len(set(values)) != 1:
        raise ValueError(f"explore: {text} has {name} {values}; the page shows the same "
                         f"{name} on both axes (use `convlab explain` for this layer)")
    return int(values[0])


def page_config(layer, input_shape, seed: int = 0) -> dict:
    """The page's controls for ``layer`` on ``input_shape`` (``(1, C, H, W)`` or ``HxW``)."""
    text = layer.strip() if isinstance(layer, str) else repr(layer)
    info = describe(layer)
    if info.nd != 2 or info.kind not in (CONV, CONV_TRANSPOSE, POOL, ADAPTIVE_POOL):
        raise ValueError(f"explore: the page shows 2-D convolution and pooling layers, got "
                         f"{info.type_name}; use `convlab explain` for it")
    dims = parse_shape(input_shape)
    if len(dims) == 2:
        dims = (1, info.in_channels or 1, *dims)
    if len(dims) != 4 or dims[0] != 1:
        raise ValueError(f"explore: --input is one sample, 1xCxHxW or HxW, got {dims}")
    _, C, H, W = dims
    config = {"kind": "conv", "transposed": False, "H": H, "W": W, "cin": C, "cout": C,
              "k": 1, "s": 1, "p": 0, "mode": "zeros", "d": 1, "groups": 1, "op": 0,
              "seed": int(seed)}
    if info.kind in (CONV, CONV_TRANSPOSE):
        if isinstance(info.padding, str):
            raise ValueError(f"explore: give {text} a number as padding (the page has no "
                             f"padding={info.padding!r})")
        config.update(transposed=info.kind == CONV_TRANSPOSE, cout=info.out_channels,
                      k=_one("kernel_size", info.kernel_size, text),
                      s=_one("stride", info.stride, text),
                      p=_one("padding", info.padding, text),
                      d=_one("dilation", info.dilation, text), groups=info.groups,
                      mode=info.padding_mode,
                      op=_one("output_padding", info.output_padding, text)
                      if info.kind == CONV_TRANSPOSE else 0)
    elif info.kind == POOL:
        spec = parse_layer(text) if isinstance(layer, str) else layer
        if info.type_name.startswith("LP") or info.ceil_mode or not getattr(
                spec, "count_include_pad", True) or getattr(spec, "divisor_override", None):
            raise ValueError(f"explore: the page shows max and average pooling with the "
                             f"defaults of ceil_mode, count_include_pad and divisor_override; "
                             f"use `convlab explain` for {text}")
        config.update(kind="max" if info.type_name.startswith("Max") else "avg",
                      k=_one("kernel_size", info.kernel_size, text),
                      s=_one("stride", info.stride, text), p=_one("padding", info.padding, text),
                      d=_one("dilation", info.dilation, text))
    else:
        config.update(kind="adaptive_max" if "Max" in info.type_name else "adaptive_avg",
                      k=_one("output_size", [a.o for a in info.axes(dims)], text))
    for key, most in _LIMITS.items():
        if config[key] > most:
            raise ValueError(f"explore: the page draws at most {most} for {key} "
                             f"({config[key]} asked); `convlab explain` animates a window of a "
                             "larger input")
    info.axes(dims)  # the layer's own complaint if it does not fit
    return config


def layer_page(layer, input_shape, seed: int = 0) -> str:
    """The page, opening on ``layer`` with convlab's example for ``seed``."""
    config = page_config(layer, input_shape, seed)
    shape = (1, config["cin"], config["H"], config["W"])
    module, x = example(layer, shape, seed)
    weight = getattr(module, "weight", None)
    bias = getattr(module, "bias", None)
    opening = {"config": config, "x": x.ravel().tolist(),
               "w": None if weight is None else weight.detach().numpy().ravel().tolist(),
               "b": None if bias is None else bias.detach().numpy().ravel().tolist()}
    if config["kind"] == "conv" and opening["b"] is None:
        raise ValueError("explore: the page draws layers with a bias; drop bias=False")
    return _fill(PAGE, {"opening": opening})


def _fill(page: str, data: dict) -> str:
    text = json.dumps(data).replace("</", "<\\/")  # never end the script element early
    return page.replace("__DATA__", text)


def _png(array) -> str:
    """An image (HxW or HxWx3 uint8) as a data URL."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def model_page(model, x, image, title: str, max_maps: int = 16) -> str:
    """A page for ``model`` on input ``x`` (``(1, C, H, W)``; ``image`` the picture it was made
    from, uint8): the summary with receptive fields, then each convolution's feature maps."""
    from ..pictures.feature_maps import feature_maps
    from ..pictures.image import tile, to_image
    from .summary import summary

    table = summary(model, tuple(x.shape))
    maps = feature_maps(model, x)
    rows = {r.name: r for r in table.rows}
    sections = []
    for name, kind, m in maps:
        count = min(len(m), max_maps)
        row = rows.get(name)
        field = "" if row is None else (f"; receptive field {row.receptive_field}, effective "
                                        f"stride {row.effective_stride}")
        picture = tile(m[:count], columns=min(count, 8))
        width = min(4 * picture.shape[1], 1000)  # small maps drawn 4 pixels a pixel
        sections.append(f'<h3>{html.escape(name)}: {html.escape(kind)}, {m.shape[0]} maps of '
                        f'{m.shape[1]}x{m.shape[2]}{html.escape(field)}</h3>'
                        f'<img class="maps" style="width:{width}px" '
                        f'alt="{html.escape(name)} feature maps" src="{_png(picture)}">')
    shown = image if np.asarray(image).dtype == np.uint8 else to_image(image)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>convlab explore: {html.escape(title)}</title><style>"
            "body{font-family:DejaVu Sans,Verdana,sans-serif;margin:16px}"
            "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;"
            "padding:2px 6px;text-align:right}td:nth-child(-n+2){text-align:left}"
            "img{image-rendering:pixelated;max-width:100%}"
            "img.input{width:224px}h3{font-size:14px}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>"
            f'<img class="input" alt="input" src="{_png(shown)}">'
            f"{table._repr_html_()}{''.join(sections)}</body></html>")


def serve(page: str, port: int = 0) -> None:
    """Serve ``page`` on http://127.0.0.1:PORT/ until Ctrl-C (``port=0``: any free port)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = page.encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the name http.server calls)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet: one line at start is enough
            pass

    with ThreadingHTTPServer(("127.0.0.1", port), Handler) as server:
        print(f"serving on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)",
              flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped")
