"""The commands ``convlab train``, ``convlab evaluate CHECKPOINT`` and ``convlab predict``."""

from __future__ import annotations

import argparse

import numpy as np

from .. import no_grad, tensor
from ..models import MODELS
from .datasets import DATASETS, load_datasets
from .loop import OPTIMIZERS, SCHEDULES, TrainConfig, evaluate, load_checkpoint, model_from_checkpoint, train
from .report import Reporter


def add_parsers(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a CNN (default: on the digits that ship with convlab)",
        description="Train a CNN and write checkpoints, metrics.json and figures to the run "
                    "directory.")
    defaults = TrainConfig()
    p.add_argument("--data", choices=list(DATASETS), default=defaults.data)
    p.add_argument("--root", help="directory holding the MNIST / Fashion-MNIST / CIFAR-10 files")
    p.add_argument("--model", choices=list(MODELS),
                   help="default: digits-cnn for digits, lenet5 for (fashion-)mnist, "
                        "resnet-small for cifar10")
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer)
    p.add_argument("--schedule", choices=SCHEDULES, default=defaults.schedule,
                   help="learning rate over the run (default: cosine decay to 0)")
    p.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing)
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--out", help="run directory (default: runs/<data>)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the run directory's last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_train)

    p = subparsers.add_parser("evaluate", help="test accuracy and confusion matrix of a checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("--root", help="data directory, if not the one the run used")
    p.set_defaults(func=_evaluate)

    p = subparsers.add_parser("predict", help="classify images with a trained checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")
    p.set_defaults(func=_predict)


def _train(args: argparse.Namespace) -> int:
    config = TrainConfig(data=args.data, root=args.root, model=args.model, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                         schedule=args.schedule, label_smoothing=args.label_smoothing,
                         seed=args.seed, out=args.out)
    train(config, resume=args.resume, reporter=Reporter(quiet=args.quiet))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    state = load_checkpoint(args.checkpoint)
    config = state["config"]
    _, test_set = load_datasets(config["data"], args.root or config["root"])
    classes = DATASETS[config["data"]].classes
    result = evaluate(model_from_checkpoint(state), test_set, num_classes=len(classes))
    reporter = Reporter()
    reporter.console.print(f"{args.checkpoint}: {config['model']} on {config['data']}, "
                           f"epoch {state['epoch']}")
    reporter.finish(result, classes)
    return 0


def prepare_image(path: str, data: str) -> np.ndarray:
    """An image file as the model's input: grey or RGB, resized, scaled and normalized the way
    the training images were. Dark-on-light pictures are inverted for the digit sets, whose
    strokes are bright on black."""
    from PIL import Image

    info = DATASETS[data]
    with Image.open(path) as img:
        img = img.convert("L" if info.in_channels == 1 else "RGB")
        img = img.resize((info.image_size, info.image_size), Image.Resampling.LANCZOS)
        pixels = np.asarray(img, dtype=np.float32) / 255.0
    if info.in_channels == 1:
        if data != "fashion-mnist" and pixels.mean() > 0.5:
            pixels = 1.0 - pixels
        pixels = pixels[None]  # (H, W) -> (1, H, W)
    else:
        pixels = np.moveaxis(pixels, -1, 0)  # (H, W, 3) -> (3, H, W)
    mean = np.asarray(info.mean, np.float32)[:, None, None]
    std = np.asarray(info.std, np.float32)[:, None, None]
    return (pixels - mean) / std


def _predict(args: argparse.Namespace) -> int:
    state = load_checkpoint(args.checkpoint)
    data = state["config"]["data"]
    classes = DATASETS[data].classes
    model = model_from_checkpoint(state)
    batch = tensor(np.stack([prepare_image(p, data) for p in args.images]))
    with no_grad():
        probabilities = model(batch).softmax(1)
    top = max(1, min(args.top, len(classes)))
    values, indices = probabilities.topk(top, dim=1)
    reporter = Reporter()
    for path, p, k in zip(args.images, values.tolist(), indices.tolist()):
        guesses = ", ".join(f"{classes[c]} {q:.1%}" for c, q in zip(k, p))
        reporter.console.print(f"{path}: {guesses}")
    return 0


__all__ = ["add_parsers", "prepare_image"]
