"""Which algorithm computes a convolution.

Every algorithm is a module with the same three functions on ndarrays and a
:class:`~convlab.engine.geometry.ConvGeometry`: ``conv_forward(x, w, G)``,
``conv_input_grad(gy, w, G)`` and ``conv_weight_grad(x, gy, G)``; the specialized ones also
have ``supports(G)``. :func:`choose` picks one per call from the geometry and the shapes;
``with using("reference"):`` forces one (tests, tracing) wherever it applies. Add an algorithm
by registering its module in ``ALGORITHMS`` and a rule in :func:`choose`.

The rules, from measurements against PyTorch's CPU convolution (BENCHMARKS.md; issue 6):

- a 1x1 kernel without padding is a matrix product on the input where it lies (``pointwise``);
- depthwise layers (one input channel per group, several groups) have no channel sum to give a
  matrix product: direct multiply-adds over the taps (``depthwise``, compiled) run at about
  PyTorch's speed, where im2col took 5x its time;
- 3x3 kernels with stride 1 take Winograd F(4, 3), 4x fewer multiplications, once the channel
  products are large enough to pay for the transforms (16 channels per group), the image
  holds two tiles per axis, the batch holds WINOGRAD_MIN_TILES tiles, and its tiles times the
  channels reach WINOGRAD_MIN_WORK (the weight's transform, made at every call, costs as much
  as the products of about 20 tiles: one image of 14x14 outputs, 16 tiles, took 1.2-1.9x
  im2col's time on one core, 1.5-2.3x on two, for 48-256 channels; 512 channels of 8x8, 4
  tiles, 3.4x; 8 such images with 48 channels, 6,144, broke even; 49 tiles of 128 channels
  took 0.6x). With 16 tiles no channel count pays: 384 and 512 channels of 14x14 or 13x13
  in one image (VGG's and AlexNet's late layers at batch 1), work 6,144-8,192, took 1.33-1.59x
  im2col's time on one core and 1.6-2.05x on two; with 32 tiles (two such images, or eight
  of 8x8) 0.59-0.93x. On one thread the products are the larger share and Winograd pays from
  WINOGRAD_MIN_WORK_ONE_THREAD (one core, CPU time, Winograd / im2col forward, load 3: one
  image of 16->64 channels of 55x55, SqueezeNet's first expand layers, 0.60-0.81; 32->128 of
  27x27, work 1,568, 0.78-0.99; 32 of 28x28 0.74-0.88; 64 of 28x28 0.46-0.70; forward and
  backward together 0.61-1.07, where im2col then ran 0.8-4 ms); on two threads im2col's bands
  share one image between the threads and Winograd's stages did not (the same layers 1.06-1.56x
  im2col's time). A dilated 3x3 kernel is split into ``dilation**nd`` undilated ones
  (with 3 input channels, as in a first layer, Winograd took 3.6x im2col's time);
- large kernels with stride 1 (49 taps and more, 7x7 in 2-D) go to the FFT, whose cost does
  not grow with the kernel;
- everything else, and the small layers where copying is cheap, is im2col + GEMM (a direct
  compiled loop for 1-3 input channels was tried: 1.4-1.7x im2col's time on the first layers
  of LeNet and a CIFAR net).

The rules see shapes only. Winograd and the FFT also look at the data when they are called: on
a NaN, an inf, or a value far larger than the typical ones (:mod:`.conditioning`), which
their transforms would spread beyond the windows that hold it, they hand the call to im2col.
"""

from __future__ import annotations

import functools
import math
import threading
from contextlib import contextmanager
from types import ModuleType

from . import depthwise, fft, im2col, parallel, pointwise, reference, winograd
from .geometry import ConvGeometry

__all__ = ["ALGORITHMS", "choose", "using", "supports"]

ALGORITHMS: dict[str, ModuleType] = {
    "im2col": im2col, "reference": reference, "winograd": winograd, "fft": fft,
    "depthwise": depthwise, "pointwise": pointwise,
}

WINOGRAD_MIN_CHANNELS = 16  # per group, in and out
WINOGRAD_MIN_WORK = 5000  # the batch's output tiles times the channels per group (the fewer side)
WINOGRAD_MIN_WORK_ONE_THREAD = 1500  # the same, when the engine runs one thread
WINOGRAD_MIN_TILES = 32  # the batch's output tiles, over which the weight's transform is shared
FFT_MIN_TAPS = 49

class _ThreadChoice(threading.local):
    """The algorithm :func:`using` forces in this thread (None: :func:`choose`'s pick). A class
    default: ``getattr`` with a default on an unset name costs an AttributeError, 1.3 us."""

    name = None


_forced = _ThreadChoice()


def choose(G: ConvGeometry, shape: tuple[int, ...], weights_kept: bool = False) -> ModuleType:
    """The algorithm for geometry ``G`` on an input (forward) or output gradient of ``shape``.

    ``weights_kept``: the caller convolves by the same weights over and over through the
    algorithm's ``forward_plan`` (``convlab.onnx``'s inference plans). Winograd's plan keeps
    its transformed weights, so the thresholds that pay for their transform at every call
    (WINOGRAD_MIN_TILES, WINOGRAD_MIN_WORK) do not apply: every 3x3 layer it supports with
    WINOGRAD_MIN_CHANNELS takes it. Winograd's plan / im2col at batch 1, forward, 2 threads
    (``chrt -f 10``, p10 of 60, load 0.8): 16->64 channels of 55x55 0.67, 32->128 of 27x27
    0.64, 48->192 of 13x13 (16 tiles) 0.80, 64->256 of 13x13 0.73, 256 of 14x14 0.67 (the
    transform at every call: 0.86-1.60); one core (CPU time): 0.66, 0.69, 0.96, 0.88, 0.67.

    >>> from convlab.engine.geometry import conv_geometry
    >>> choose(conv_geometry("conv2d", 2, (1, 3, 8, 8), (4, 3, 3, 3)), (1, 3, 8, 8)).__name__
    'convlab.engine.im2col'
    """
    name = _forced.name
    if name is not None and supports(ALGORITHMS[name], G):
        return ALGORITHMS[name]
    return _rules(G, shape[0], parallel.threads(), weights_kept)


@functools.lru_cache(maxsize=1024)
def _rules(G: ConvGeometry, batch: int, threads: int, weights_kept: bool) -> ModuleType:
    """:func:`choose`'s rules, kept per geometry, batch size, thread count and whether the
    weights are kept: a network asks the same questions every step (2-3 us a convolution, a
    tenth of a small one's time)."""
    if pointwise.supports(G):
        return pointwise
    if depthwise.supports(G) and G.groups > 1:
        return depthwise
    channels = min(G.in_channels, G.out_channels) // G.groups
    tiles = batch * math.prod(-(-o // winograd.M) for o in G.out_size)
    min_work = WINOGRAD_MIN_WORK if threads > 1 else WINOGRAD_MIN_WORK_ONE_THREAD
    if (winograd.supports(G) and channels >= WINOGRAD_MIN_CHANNELS
            and min(G.out_size) >= 2 * winograd.M
            and (weights_kept or (tiles >= WINOGRAD_MIN_TILES and tiles * channels >= min_work))):
        return winograd
    if fft.supports(G) and math.prod(G.kernel_size) >= FFT_MIN_TAPS:
        return fft
    return im2col


def supports(algorithm: ModuleType, G: ConvGeometry) -> bool:
    """Whether ``algorithm`` computes geometry ``G`` (the general ones compute every one)."""
    return getattr(algorithm, "supports", lambda G: True)(G)


@contextmanager
def using(name: str):
    """Run every convolution in this thread with algorithm ``name`` inside the block, where the
    algorithm applies (the others keep :func:`choose`'s pick).

    >>> with using("reference"):
    ...     choose(None, ()).__name__
    'convlab.engine.reference'
    """
    if name not in ALGORITHMS:
        raise ValueError(f"unknown convolution algorithm {name!r}; known: {sorted(ALGORITHMS)}")
    previous = _forced.name
    _forced.name = name
    try:
        yield
    finally:
        _forced.name = previous
