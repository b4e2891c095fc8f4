"""The commands ``convlab train``, ``convlab evaluate CHECKPOINT`` and ``convlab predict``."""

from __future__ import annotations

import argparse

import numpy as np

from .. import no_grad, tensor
from ..models import MODELS
from ..training.datasets import DATASETS, load_test_set, normalized, prepare_image
from ..training.loop import (OPTIMIZERS, SCHEDULES, TrainConfig, evaluate, load_checkpoint,
                   model_from_checkpoint, train)
from ..training.report import Reporter

# the flags that set a TrainConfig field; they default to None ("not given"), so that a resumed
# run can tell a flag the user gave from the run's own value
_CONFIG_FLAGS = ("data", "model", "epochs", "batch_size", "lr", "optimizer", "schedule",
                 "label_smoothing", "seed", "validation")


def add_parsers(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a CNN (default: on the digits that ship with convlab)",
        description="Train a CNN and write checkpoints, metrics.json and figures to the run "
                    "directory. A fraction of the training images is held out as a validation "
                    "set: best.npz is the epoch that does best on it, and the test images are "
                    "evaluated once, at the end, with best.npz.")
    defaults = TrainConfig()
    p.add_argument("--data", choices=list(DATASETS), help=f"default: {defaults.data}")
    p.add_argument("--root", help="directory holding the MNIST / Fashion-MNIST / CIFAR-10 files")
    p.add_argument("--model", choices=list(MODELS),
                   help="default: digits-cnn for digits, lenet5 for (fashion-)mnist, "
                        "resnet-small for cifar10")
    p.add_argument("--epochs", type=int,
                   help=f"default: {defaults.epochs}; with --resume, more epochs extend the run")
    p.add_argument("--batch-size", type=int, help=f"default: {defaults.batch_size}")
    p.add_argument("--lr", type=float, help=f"default: {defaults.lr:g}")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help=f"default: {defaults.optimizer}")
    p.add_argument("--schedule", choices=SCHEDULES,
                   help="learning rate over the run (default: cosine decay to 0)")
    p.add_argument("--label-smoothing", type=float,
                   help=f"default: {defaults.label_smoothing:g}")
    p.add_argument("--seed", type=int, help=f"default: {defaults.seed}")
    p.add_argument("--validation", type=float, metavar="FRACTION",
                   help="fraction of the training images held out to choose best.npz "
                        f"(default: {defaults.validation:g})")
    p.add_argument("--out", help="run directory (default: runs/<data>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in the run directory from its last checkpoint")
    p.add_argument("--force", action="store_true",
                   help="replace a run that the run directory already holds")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_train)

    p = subparsers.add_parser("evaluate", help="test accuracy and confusion matrix of a checkpoint")
    p.add_argument("checkpoint", help="a checkpoint file, or a run directory (its best.npz)")
    p.add_argument("--root", help="data directory, if not the one the run used")
    p.set_defaults(func=_evaluate)

    p = subparsers.add_parser(
        "predict", help="classify images with a trained checkpoint",
        description="Classify pictures with a trained checkpoint. Each picture is prepared as "
                    "the checkpoint's data set was made: a drawn digit is cropped to its ink, "
                    "fitted and centred, and made bright on black (draw it dark on light or "
                    "light on dark, any size, with a thick pen); a CIFAR-10 photo is resized "
                    "and cut to its middle. --show prints what the model gets.")
    p.add_argument("checkpoint", help="a checkpoint file, or a run directory (its best.npz)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")
    p.add_argument("--show", action="store_true",
                   help="print each prepared input as the model sees it")
    p.set_defaults(func=_predict)

    p = subparsers.add_parser(
        "export", help="write a trained checkpoint as an ONNX model",
        description="Write a checkpoint's model as ONNX (needs convlab[onnx]), for onnxruntime "
                    "and other frameworks. Its input is a batch of images normalized as the "
                    "checkpoint's data set (the batch size is free); its output the class "
                    "scores.")
    p.add_argument("checkpoint", help="a checkpoint file, or a run directory (its best.npz)")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.set_defaults(func=_export)


def _train(args: argparse.Namespace) -> int:
    given = {name: getattr(args, name) for name in _CONFIG_FLAGS
             if getattr(args, name) is not None}
    config = TrainConfig(**given, root=args.root, out=args.out)
    if args.resume and args.force:
        raise ValueError("--resume continues the run and --force replaces it: give one")
    train(config, resume=args.resume, reporter=Reporter(quiet=args.quiet), force=args.force,
          changes=given)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    state = load_checkpoint(args.checkpoint)
    config = state["config"]
    test_set = load_test_set(config["data"], args.root or config.get("root"))
    classes = DATASETS[config["data"]].classes
    result = evaluate(model_from_checkpoint(state, args.checkpoint), test_set,
                      num_classes=len(classes))
    reporter = Reporter()
    epoch = f", epoch {state['epoch']}" if "epoch" in state else ""
    reporter.console.print(f"{args.checkpoint}: {config['model']} on {config['data']}{epoch}",
                           soft_wrap=True)
    reporter.finish(result, classes)
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..onnx import export

    state = load_checkpoint(args.checkpoint)
    info = DATASETS[state["config"]["data"]]
    model = model_from_checkpoint(state, args.checkpoint)
    example = tensor(np.zeros((1, info.in_channels, info.image_size, info.image_size),
                              np.float32))
    export(model, example, args.onnx, opset=args.opset)
    print(f"wrote {args.onnx}: {state['config']['model']} for {state['config']['data']}, input "
          f"(batch, {info.in_channels}, {info.image_size}, {info.image_size}) normalized with "
          f"mean {list(info.mean)} and std {list(info.std)}, output {len(info.classes)} class "
          "scores")
    return 0


def _predict_onnx(args: argparse.Namespace) -> int:
    """``predict`` with an ONNX classifier: each picture resized and cut to the model's input
    size, values in [0, 1] (an ONNX file does not say how its training images were
    normalized), classes by index."""
    from ..onnx import load
    from ..pictures.image import prepare_photo

    model = load(args.checkpoint)
    dims = model.input_shapes[model.input_names[0]] if model.input_names else None
    if not dims or len(dims) != 4 or not all(isinstance(d, int) for d in dims[1:]):
        raise ValueError(f"{args.checkpoint}: predict needs an image classifier with a fixed "
                         f"input (batch, channels, height, width); its input is {dims}")
    _, channels, height, width = dims
    if height != width or channels not in (1, 3):
        raise ValueError(f"{args.checkpoint}: predict prepares square images of 1 or 3 "
                         f"channels; the model takes {channels}x{height}x{width}")
    pixels = [prepare_photo(path, height) for path in args.images]
    if channels == 1:
        pixels = [p.mean(0, keepdims=True) for p in pixels]
    with no_grad():
        scores = model(tensor(np.stack(pixels)))
    values, indices = scores.softmax(1).topk(min(args.top, scores.shape[1]), dim=1)
    for path, p, k in zip(args.images, values.tolist(), indices.tolist()):
        print(f"{path}: " + ", ".join(f"class {c} {q:.1%}" for c, q in zip(k, p)))
    return 0


def _predict(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise ValueError(f"--top must be at least 1, got {args.top}")
    if str(args.checkpoint).endswith(".onnx"):
        return _predict_onnx(args)
    state = load_checkpoint(args.checkpoint)
    data = state["config"]["data"]
    classes = DATASETS[data].classes
    model = model_from_checkpoint(state, args.checkpoint)
    shown = [prepare_image(p, data, normalize=False) for p in args.images]
    batch = tensor(np.stack([normalized(pixels, data) for pixels in shown]))
    with no_grad():
        probabilities = model(batch).softmax(1)
    top = min(args.top, len(classes))
    values, indices = probabilities.topk(top, dim=1)
    reporter = Reporter()
    for path, pixels, p, k in zip(args.images, shown, values.tolist(), indices.tolist()):
        guesses = ", ".join(f"{classes[c]} {q:.1%}" for c, q in zip(k, p))
        reporter.console.print(f"{path}: {guesses}", soft_wrap=True, markup=False)
        if args.show:
            from ..pictures.image import text_picture

            size = pixels.shape[-1]
            print(f"{path} as the model sees it ({size}x{size}):")
            print(text_picture(pixels))
    return 0


__all__ = ["add_parsers"]
