"""A photo through one convolution: a named kernel on every colour channel, or a random layer.

:func:`filter_image` is ``F.conv2d`` with a depthwise weight: the 2-D kernel is copied to each
of the ``C`` channels and ``groups=C``, so red is filtered with red, green with green::

    image (1, C, H, W) ⋆ weight (C, 1, kH, kW), groups=C  ->  (1, C, H_out, W_out)

:func:`random_filter` is what the articles do to show that an untrained layer already makes
features: ``nn.Conv2d(C, out_channels, kernel_size)`` with its random initial weights.
"""

from __future__ import annotations

import numpy as np

from ..pictures.image import load_image, to_tensor
from .kernels import kernel as named_kernel

__all__ = ["filter_image", "random_filter", "as_image"]


def as_image(image, gray: bool = False, size=None) -> np.ndarray:
    """An HWC (or HW) uint8 array from a path, None (the sample photo) or an array."""
    if image is None or isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        return load_image(image, gray=gray, size=size)
    array = np.asarray(image)
    if gray and array.ndim == 3:
        from PIL import Image

        array = np.asarray(Image.fromarray(array).convert("L"))
    return array


def filter_image(image, kernel, stride=1, padding=0, gray: bool = False, size=None):
    """Correlate every channel of ``image`` with ``kernel`` (a name such as ``"sobel-x"``,
    ``"gaussian(5, 1)"``, numbers, or a 2-D array). Returns the ``(1, C, H_out, W_out)``
    float32 convlab Tensor ``F.conv2d`` gives; pixels are in [0, 1] before filtering.

    >>> import numpy as np
    >>> photo = np.arange(25, dtype=np.uint8).reshape(5, 5) * 10
    >>> filter_image(photo, "identity", padding=1).shape
    convlab.Size([1, 1, 5, 5])
    """
    import convlab
    import convlab.nn.functional as F

    x = to_tensor(as_image(image, gray=gray, size=size))
    k = named_kernel(kernel)
    C = x.shape[1]
    weight = np.repeat(k[None, None], C, axis=0)  # (kH, kW) -> (C, 1, kH, kW)
    return F.conv2d(x, convlab.tensor(weight, dtype=convlab.float32), stride=stride,
                    padding=padding, groups=C)


def random_filter(image, out_channels: int = 8, kernel_size: int = 3, stride=1, padding=0,
                  seed: int = 0, gray: bool = False, size=None):
    """``nn.Conv2d(C, out_channels, kernel_size)`` with its random initial weights (seeded),
    applied to ``image``: ``(1, out_channels, H_out, W_out)``, one feature map per channel."""
    import convlab
    import convlab.nn as nn

    x = to_tensor(as_image(image, gray=gray, size=size))
    convlab.manual_seed(seed)
    layer = nn.Conv2d(x.shape[1], out_channels, kernel_size, stride=stride, padding=padding)
    with convlab.no_grad():
        return layer(x)
