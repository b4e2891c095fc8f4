"""The ``convlab filter`` and ``convlab features`` commands.

``filter`` puts a photo (by default the one that ships with convlab) through a named kernel,
a kernel given as numbers, or a random convolution layer, and writes the result scaled for
display. ``features`` draws what a trained model's convolution layers make of an image.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .errors import user_errors

__all__ = ["add_parsers"]


def add_parsers(subparsers) -> None:
    """Register ``filter`` and ``features``."""
    from ..vision.kernels import KERNELS

    p = subparsers.add_parser(
        "filter", help="apply a kernel or a random conv layer to a photo",
        description="Correlate a photo with a kernel, as conv2d does (no flip), and write the "
                    "result scaled for display: a kernel that sums to 1 (blur, sharpen, emboss) "
                    "gives a photo, clipped to [0, 1]; signed results (edges) show 0 as "
                    "mid-grey. Without IMAGE, uses the photo shipped with convlab. "
                    f"Named kernels: {', '.join(sorted(KERNELS))}, gaussian(size, sigma), "
                    "box(size); or numbers such as \"1 0 -1; 2 0 -2; 1 0 -1\"; or random "
                    "(a fresh Conv2d, --channels maps).")
    p.add_argument("image", nargs="?", help="an image file (default: the sample photo)")
    p.add_argument("--kernel", required=True, help="a kernel name, numbers, or 'random'")
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--padding", default="0",
                   help="an int, 'same' or 'valid' (default 0)")
    p.add_argument("--gray", action="store_true", help="convert the photo to grey first")
    p.add_argument("--size", type=int, help="resize so that the longer side has SIZE pixels")
    p.add_argument("--channels", type=int, default=8,
                   help="feature maps of a random layer (default 8)")
    p.add_argument("--kernel-size", type=int, default=3, help="kernel of a random layer")
    p.add_argument("--seed", type=int, default=0, help="seed of a random layer (default 0)")
    p.add_argument("--out", required=True, help="output image, e.g. out.png")
    p.set_defaults(func=_filter_command)

    p = subparsers.add_parser(
        "features", help="draw a trained model's feature maps for an image",
        description="Run IMAGE through the model saved in CHECKPOINT (by convlab train) and "
                    "draw every convolution layer's output maps.")
    p.add_argument("checkpoint")
    p.add_argument("image")
    p.add_argument("--out", default="features.png", help="output image (default features.png)")
    p.add_argument("--max-maps", type=int, default=16,
                   help="channels shown per layer (default 16)")
    p.set_defaults(func=_features_command)


def _padding(text: str):
    if text in ("same", "valid"):
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    if isinstance(value, int) or (isinstance(value, tuple)
                                  and all(isinstance(v, int) for v in value)):
        return value
    raise ValueError(f"--padding must be an int, a tuple of ints, 'same' or 'valid', got {text!r}")


@user_errors("filter")
def _filter_command(args) -> int:
    from ..vision.filter import as_image, filter_image, random_filter
    from ..pictures.image import save_image, tile, to_image
    from ..vision.kernels import kernel

    photo = as_image(args.image, gray=args.gray, size=args.size)
    padding = _padding(args.padding)
    if args.kernel == "random":
        y = random_filter(photo, args.channels, args.kernel_size, args.stride, padding,
                          args.seed)
        picture = tile(y)
        what = f"a random Conv2d({photo.shape[2] if photo.ndim == 3 else 1}, {args.channels}, " \
               f"{args.kernel_size}) (seed {args.seed})"
    else:
        k = kernel(args.kernel)
        y = filter_image(photo, k, args.stride, padding)
        # a kernel summing to 1 keeps the brightness (blur, sharpen, emboss): show it as a photo,
        # clipped; others (edges) get to_image's scaling, 0 as mid-grey when signed
        keeps_brightness = abs(float(k.sum()) - 1) < 1e-6
        picture = to_image(y, (0.0, 1.0) if keeps_brightness else None)
        what = f"{args.kernel} ({k.shape[0]}x{k.shape[1]} correlation kernel)"
    source = args.image or "the sample photo"
    path = save_image(picture, args.out)
    print(f"{what} on {source} {photo.shape[0]}x{photo.shape[1]} -> "
          f"{y.shape[2]}x{y.shape[3]}; wrote {path}")
    return 0


@user_errors("features")
def _features_command(args) -> int:
    import convlab

    from ..training.datasets import prepare_image
    from ..training.loop import load_checkpoint, model_from_checkpoint
    from ..pictures.feature_maps import draw_feature_maps, feature_maps

    for path in (args.checkpoint, args.image):
        if not Path(path).exists():
            raise FileNotFoundError(f"no such file: {path}")
    state = load_checkpoint(args.checkpoint)  # a run directory stands for its best.npz
    data = state["config"]["data"]
    model = model_from_checkpoint(state, args.checkpoint)
    pixels = prepare_image(args.image, data)  # (C, H, W), normalized as in training
    maps = feature_maps(model, convlab.tensor(pixels[None]))
    picture = draw_feature_maps(pixels, maps, args.max_maps,
                                f"{args.image} as {state['config']['model']} sees it")
    picture.save(args.out)
    print(f"wrote {args.out}: {len(maps)} convolution layers")
    return 0
