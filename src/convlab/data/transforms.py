"""Image transforms with torchvision's names and arguments (``torchvision.transforms``).

Two kinds of image go through them:

- a NumPy array ``(H, W, C)`` or ``(H, W)``, usually uint8: what the datasets hand out where
  torchvision hands out a PIL image;
- a Tensor ``(..., C, H, W)``, as :class:`ToTensor` makes it.

A typical pipeline, for CIFAR-10::

    transform = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(),
                         Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))])

The random transforms draw from convlab's global generator, so ``convlab.manual_seed`` makes
them repeatable.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np

from .. import _dtype, _random
from ..tensor import Tensor

__all__ = ["Compose", "ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip"]


class Compose:
    """Apply ``transforms`` one after another.

    >>> Compose([ToTensor(), Normalize((0.5,), (0.5,))])
    Compose(
        ToTensor()
        Normalize(mean=(0.5,), std=(0.5,))
    )
    """

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        return "Compose(\n" + "".join(f"    {t!r}\n" for t in self.transforms) + ")"


class ToTensor:
    """NumPy image ``(H, W, C)`` or ``(H, W)`` -> Tensor ``(C, H, W)`` (``(1, H, W)`` for 2-D).

    uint8 pixels are scaled to [0, 1] as float32 (the default dtype): ``x / 255``. Other dtypes
    keep their values and dtype, as in torchvision.

    >>> ToTensor()(np.array([[0, 255]], dtype=np.uint8))
    tensor([[[0., 1.]]])
    """

    def __call__(self, pic) -> Tensor:
        if not isinstance(pic, np.ndarray):
            raise TypeError(f"ToTensor: pic should be a NumPy array (H x W x C or H x W). Got "
                            f"{type(pic).__name__}" + (": it is a Tensor already"
                                                       if isinstance(pic, Tensor) else ""))
        if pic.ndim not in (2, 3):
            raise ValueError(f"ToTensor: pic should be 2/3 dimensional (H x W or H x W x C). Got "
                             f"{pic.ndim} dimensions, shape {pic.shape}")
        if pic.ndim == 2:
            pic = pic[:, :, None]  # (H, W) -> (H, W, 1)
        chw = pic.transpose(2, 0, 1)  # (H, W, C) -> (C, H, W)
        chw = np.ascontiguousarray(chw)
        if pic.dtype == np.uint8:
            dtype = _dtype.to_numpy_dtype(_dtype.get_default_dtype())
            return Tensor._wrap(np.divide(chw, 255, dtype=dtype))
        try:
            _dtype.from_numpy_dtype(pic.dtype)
        except TypeError as e:
            raise TypeError(f"ToTensor: {e}; convert the image first, e.g. "
                            "pic.astype(np.float32)") from None
        return Tensor._wrap(chw)

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """``output[c] = (input[c] - mean[c]) / std[c]`` for each channel of a float Tensor image.

    Args:
        mean, std: one value per channel (or one value for all).
        inplace: overwrite the input Tensor's numbers instead of making a new Tensor.

    Shape: input and output ``(..., C, H, W)``.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False):
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def __call__(self, tensor: Tensor) -> Tensor:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Normalize: expected a Tensor image, got {type(tensor).__name__}; "
                            "apply ToTensor() first")
        x = tensor._data
        if x.dtype.kind != "f":
            raise TypeError(f"Normalize: input tensor should be a float tensor. Got {tensor.dtype}")
        if x.ndim < 3:
            raise ValueError(f"Normalize: expected tensor to be a tensor image of size "
                             f"(..., C, H, W). Got tensor.size() = {list(x.shape)}")
        C = x.shape[-3]
        mean = np.asarray(self.mean, dtype=x.dtype).reshape(-1)
        std = np.asarray(self.std, dtype=x.dtype).reshape(-1)
        for name, values in (("mean", mean), ("std", std)):
            if values.size not in (1, C):
                raise ValueError(f"Normalize: {name} has {values.size} values, but the image has "
                                 f"{C} channels (shape {list(x.shape)})")
        if (std == 0).any():
            raise ValueError(f"Normalize: std evaluated to zero after conversion to "
                             f"{tensor.dtype}, leading to division by zero")
        mean, std = mean[:, None, None], std[:, None, None]  # (C,) -> (C, 1, 1)
        if self.inplace:
            np.subtract(x, mean, out=x)
            np.divide(x, std, out=x)
            return tensor
        return Tensor._wrap((x - mean) / std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class RandomCrop:
    """Crop a ``size`` window at a random place, after padding the image if asked.

    Args:
        size: ``(h, w)`` of the crop, or one int for a square.
        padding: added on each border first: an int for all four, ``(left/right, top/bottom)``,
            or ``(left, top, right, bottom)``.
        pad_if_needed: pad an image smaller than ``size`` (by the missing width on the left and
            on the right, the missing height on the top and bottom, as torchvision does).
        fill: the padding value for ``padding_mode='constant'``.
        padding_mode: ``'constant'``, ``'edge'``, ``'reflect'`` or ``'symmetric'`` (``np.pad``'s
            modes of those names).

    The corner is drawn uniformly from the positions where the window fits.
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant"):
        self.size = _size_pair(size)
        if padding is not None:
            _padding_ltrb(padding)  # validate now, not at the first image
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"RandomCrop: padding_mode should be 'constant', 'edge', 'reflect' or "
                             f"'symmetric', but got {padding_mode!r}")
        if not isinstance(fill, numbers.Number):
            raise TypeError(f"RandomCrop: fill should be a number, but got {fill!r}")
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, img):
        array, h_axis = _image_array(img, "RandomCrop")
        if self.padding is not None:
            array = self._pad(array, h_axis, _padding_ltrb(self.padding))
        th, tw = self.size
        h, w = array.shape[h_axis], array.shape[h_axis + 1]
        if self.pad_if_needed and w < tw:
            array = self._pad(array, h_axis, (tw - w, 0, tw - w, 0))
        if self.pad_if_needed and h < th:
            array = self._pad(array, h_axis, (0, th - h, 0, th - h))
        h, w = array.shape[h_axis], array.shape[h_axis + 1]
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than input "
                             f"image size {(h, w)}" + (" after padding" if self.padding else ""))
        if (h, w) == (th, tw):
            top = left = 0
        else:
            rng = _random.rng()
            top, left = int(rng.integers(0, h - th + 1)), int(rng.integers(0, w - tw + 1))
        window = [slice(None)] * array.ndim
        window[h_axis], window[h_axis + 1] = slice(top, top + th), slice(left, left + tw)
        return _like(img, np.ascontiguousarray(array[tuple(window)]))

    def _pad(self, array: np.ndarray, h_axis: int, ltrb) -> np.ndarray:
        left, top, right, bottom = ltrb
        widths = [(0, 0)] * array.ndim
        widths[h_axis], widths[h_axis + 1] = (top, bottom), (left, right)
        if self.padding_mode == "constant":
            return np.pad(array, widths, mode="constant", constant_values=self.fill)
        return np.pad(array, widths, mode=self.padding_mode)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror the image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p should be a probability in [0, 1], got {p}")
        self.p = p

    def __call__(self, img):
        array, h_axis = _image_array(img, "RandomHorizontalFlip")
        if _random.rng().random() < self.p:
            return _like(img, np.flip(array, axis=h_axis + 1).copy())
        return img

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


def _image_array(img, who: str) -> tuple[np.ndarray, int]:
    """The array of ``img`` and the axis of its height: -2 for a Tensor ``(..., H, W)``, 0 for a
    NumPy ``(H, W[, C])`` image."""
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise ValueError(f"{who}: a Tensor image needs at least 2 dimensions (..., H, W), but "
                             f"got shape {list(img.shape)}")
        return img._data, img.ndim - 2
    if isinstance(img, np.ndarray):
        if img.ndim not in (2, 3):
            raise ValueError(f"{who}: a NumPy image should be H x W or H x W x C, but got shape "
                             f"{img.shape}")
        return img, 0
    raise TypeError(f"{who}: img should be a NumPy array (H x W[ x C]) or a Tensor (..., H, W), "
                    f"but got {type(img).__name__}")


def _like(img, array: np.ndarray):
    return Tensor._wrap(array) if isinstance(img, Tensor) else array


def _size_pair(size) -> tuple[int, int]:
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        pair = (int(size), int(size))
    elif isinstance(size, Sequence) and len(size) in (1, 2) \
            and all(isinstance(s, numbers.Integral) for s in size):
        pair = (int(size[0]), int(size[-1]))
    else:
        raise ValueError(f"RandomCrop: size should be an int or a sequence of 1 or 2 ints, but "
                         f"got {size!r}")
    if min(pair) <= 0:
        raise ValueError(f"RandomCrop: size should be positive, but got {size!r}")
    return pair


def _padding_ltrb(padding) -> tuple[int, int, int, int]:
    """``padding`` as (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral):
        values = (padding,) * 4
    elif isinstance(padding, Sequence) and len(padding) == 2:
        values = (padding[0], padding[1], padding[0], padding[1])
    elif isinstance(padding, Sequence) and len(padding) in (1, 4):
        values = tuple(padding) * (4 // len(padding))
    else:
        raise ValueError(f"RandomCrop: padding should be an int or a sequence of 1, 2 or 4 ints, "
                         f"but got {padding!r}")
    if not all(isinstance(v, numbers.Integral) and v >= 0 for v in values):
        raise ValueError(f"RandomCrop: padding should be non-negative integers, but got "
                         f"{padding!r}")
    return values
