"""Photos in and out: Pillow files <-> HWC uint8 arrays <-> NCHW float tensors.

A photo on disk is rows × columns × colours of bytes (``HWC``, ``uint8``, 0..255); a convolution
wants ``(N, C, H, W)`` floats. :func:`to_tensor` and :func:`to_image` are the two directions::

    (H, W, 3) uint8 --to_tensor--> (1, 3, H, W) float32 in [0, 1] --to_image--> (H, W, 3) uint8

:func:`to_image` also makes any filter output displayable (see :func:`display_range`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["load_image", "save_image", "sample_photo", "to_tensor", "to_image", "display_range",
           "as_array", "tile", "prepare_drawing", "prepare_photo", "text_picture"]


def sample_photo() -> Path:
    """Path of the photo that ships with convlab: ``china.jpg``, CC BY 2.0 (PHOTO_LICENSE.txt)."""
    return Path(str(resources.files("convlab.vision") / "china.jpg"))


def load_image(path=None, gray: bool = False,
               size: int | tuple[int, int] | None = None) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8, or ``(H, W)`` with ``gray=True``.

    ``path=None`` reads :func:`sample_photo`. ``size`` resizes first: an int is the longer side
    (aspect kept), a pair is ``(H, W)``.
    """
    from PIL import Image

    path = sample_photo() if path is None else Path(path)
    im = _read(path, "L" if gray else "RGB")
    if size is not None:
        im = im.resize(_target_size(im.size, size), Image.Resampling.LANCZOS)
    return np.asarray(im).copy()


def _read(path, mode: str):
    """An image file decoded as a Pillow image in ``mode``, with Pillow's errors as one-line
    messages that name the file; an image too large to decode safely (Pillow's
    decompression-bomb guard) is refused before it is decoded."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.convert(mode)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such image file: {path}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path} is a directory, not an image file") from None
    except Image.DecompressionBombError as e:
        raise ValueError(f"{path} is too large to decode: {e}") from None
    except OSError as e:
        raise ValueError(f"cannot read {path} as an image: {e}") from None


def _grey_and_alpha(path) -> tuple[np.ndarray, np.ndarray]:
    """An image file as grey levels and opacity, both ``(H, W)`` float32 in [0, 1]."""
    rgba = _read(path, "RGBA")  # via RGBA, so that a palette's transparency is kept
    la = np.asarray(rgba.convert("LA"), dtype=np.float32) / 255.0
    return la[..., 0], la[..., 1]


def prepare_drawing(path, size: int, box: int, centre_of_mass: bool = False) -> np.ndarray:
    """A picture of one drawn figure (a digit, a piece of clothing) made the way the digit data
    sets were made: ``(size, size)`` float32 in [0, 1], the figure bright on black.

    1. Transparent pixels are laid on a background that contrasts with the ink (white under
       dark strokes, black under light ones), as a drawing program shows them.
    2. A light background (the border's median grey above 1/2) is inverted: the data sets
       have bright strokes on black.
    3. The background level is subtracted and the brightest ink scaled to 1.
    4. The image is cropped to the ink (the pixels above a tenth of the brightest) and
       resized, aspect kept, so that its longer side is ``box`` pixels: by area averaging when
       shrinking, as the 8x8 digits count ink pixels in 4x4 blocks of a 32x32 drawing.
    5. It is centred on a black ``size`` x ``size`` canvas: by its bounding box, or with
       ``centre_of_mass=True`` by its centre of mass (MNIST: a 20x20 box in 28x28).
    6. The brightest pixel is scaled to 1 again (the data's strokes reach full intensity).
    """
    from PIL import Image

    grey, alpha = _grey_and_alpha(path)
    if alpha.min() < 1:
        opaque = alpha > 0.5
        ink_is_dark = (grey[opaque].mean() if opaque.any() else 0.0) < 0.5
        grey = alpha * grey + (1 - alpha) * (1.0 if ink_is_dark else 0.0)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) > 0.5:
        grey, border = 1.0 - grey, 1.0 - border
    ink = np.clip(grey - np.median(border), 0.0, None)
    if ink.max() <= 0.05:
        raise ValueError(f"{path}: found no drawing on the background (the picture is one "
                         "flat colour)")
    ink /= ink.max()
    rows, cols = np.nonzero(ink > 0.1)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = ink.shape
    scale = box / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    shrinking = scale < 1
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    fitted = np.asarray(Image.fromarray(ink, mode="F").resize((new_w, new_h), resample))
    fitted = np.clip(fitted, 0.0, None)
    # centre: by the bounding box, or move the centre of mass to the canvas's centre
    top, left = (size - new_h) / 2, (size - new_w) / 2
    if centre_of_mass and fitted.sum() > 0:
        ys, xs = np.indices(fitted.shape)
        top = size / 2 - 0.5 - (ys * fitted).sum() / fitted.sum()
        left = size / 2 - 0.5 - (xs * fitted).sum() / fitted.sum()
    top = int(np.clip(round(top), 0, size - new_h))
    left = int(np.clip(round(left), 0, size - new_w))
    canvas = np.zeros((size, size), np.float32)
    canvas[top:top + new_h, left:left + new_w] = fitted
    return canvas / canvas.max()


def prepare_photo(path, size: int) -> np.ndarray:
    """A photo as ``(3, size, size)`` float32 in [0, 1]: transparent pixels laid on white, the
    shorter side resized to ``size`` (aspect kept) and the middle ``size`` x ``size`` cut out,
    as CIFAR-10's 32x32 photos frame their object."""
    from PIL import Image

    rgba = _read(path, "RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    w, h = rgb.size
    scale = size / min(w, h)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    rgb = rgb.resize((new_w, new_h), Image.Resampling.LANCZOS)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    rgb = rgb.crop((left, top, left + size, top + size))
    return np.moveaxis(np.asarray(rgb, dtype=np.float32) / 255.0, -1, 0)  # (H, W, 3) -> (3, H, W)


def text_picture(image: np.ndarray) -> str:
    """An ``(H, W)`` image with values in [0, 1] (or ``(3, H, W)``, shown by its brightness) as
    text, two characters a pixel from ' ' (0) to '@' (1), one line a row.

    >>> print(text_picture(np.array([[0.0, 1.0], [0.5, 0.0]])))
      @@
    ==
    """
    values = np.asarray(image, dtype=np.float64)
    if values.ndim == 3:
        values = values.mean(0)  # (3, H, W) -> (H, W)
    ramp = " .:-=+*#%@"
    levels = np.clip(np.round(values * (len(ramp) - 1)), 0, len(ramp) - 1).astype(int)
    return "\n".join("".join(2 * ramp[v] for v in row).rstrip() for row in levels)


def _target_size(wh: tuple[int, int], size) -> tuple[int, int]:
    """Pillow's ``(W, H)`` for ``size`` (longer side, or ``(H, W)``)."""
    if isinstance(size, int):
        scale = size / max(wh)
        return max(1, round(wh[0] * scale)), max(1, round(wh[1] * scale))
    h, w = size
    return int(w), int(h)


def save_image(image, path) -> Path:
    """Write an ``(H, W)`` or ``(H, W, 3)`` uint8 array (or anything :func:`to_image` takes) to
    ``path``; the format follows the suffix (``.png``, ``.jpg``, ...)."""
    from PIL import Image

    array = image if _is_uint8_image(image) else to_image(image)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def _is_uint8_image(image) -> bool:
    return (isinstance(image, np.ndarray) and image.dtype == np.uint8
            and (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))))


def as_array(x) -> np.ndarray:
    """The NumPy values of a convlab Tensor, a PyTorch tensor or an array-like (no copy where
    possible)."""
    if hasattr(x, "_data"):  # convlab.Tensor
        return x._data
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # torch.Tensor
        return x.detach().cpu().numpy()
    return np.asarray(x)


def to_tensor(image, dtype=None):
    """``(H, W, C)`` or ``(H, W)`` uint8 -> a ``(1, C, H, W)`` convlab Tensor in [0, 1] (float32).

    >>> to_tensor(np.zeros((4, 5, 3), np.uint8)).shape
    convlab.Size([1, 3, 4, 5])
    """
    import convlab

    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, None]  # (H, W) -> (H, W, 1)
    if array.ndim != 3:
        raise ValueError(f"to_tensor: expected an (H, W) or (H, W, C) image, got shape "
                         f"{array.shape}")
    scale = 255.0 if array.dtype == np.uint8 else 1.0
    chw = np.ascontiguousarray(array.transpose(2, 0, 1)[None])  # (H, W, C) -> (1, C, H, W)
    return convlab.tensor(chw / scale, dtype=dtype or convlab.float32)


def display_range(values: np.ndarray) -> tuple[float, float]:
    """The value range that maps to black..white when showing a filter output.

    - values inside [0, 1] (a photo, a blur): shown as they are, ``(0, 1)``;
    - values with both signs (edges): symmetric around 0, so 0 is mid-grey, ``(-m, m)``;
    - anything else: ``(min, max)``.

    >>> display_range(np.array([0.2, 0.9])), display_range(np.array([-2.0, 1.0]))
    ((0.0, 1.0), (-2.0, 2.0))
    """
    lo, hi = float(np.min(values)), float(np.max(values))
    if lo >= 0 and hi <= 1:
        return 0.0, 1.0
    if lo < 0 < hi:
        m = max(-lo, hi)
        return -m, m
    return (lo, hi) if hi > lo else (lo - 1, hi + 1)


def to_image(x, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """A tensor or array of one image -> ``(H, W)`` or ``(H, W, 3)`` uint8 for display.

    Takes ``(1, C, H, W)``, ``(C, H, W)`` with C 1 or 3, or ``(H, W)``. Values are mapped from
    ``value_range`` (default :func:`display_range`) to 0..255 and clipped.
    """
    a = np.asarray(as_array(x), dtype=np.float64)
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ValueError(f"to_image: expected one image, got a batch of {a.shape[0]}")
        a = a[0]
    if a.ndim == 3:
        if a.shape[0] not in (1, 3):
            raise ValueError(f"to_image: expected 1 or 3 channels, got {a.shape[0]}; "
                             "use tile() to show each channel")
        a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)  # (3, H, W) -> (H, W, 3)
    if a.ndim != 2 and not (a.ndim == 3 and a.shape[2] == 3):
        raise ValueError(f"to_image: expected an image, got shape {a.shape}")
    lo, hi = display_range(a) if value_range is None else value_range
    return np.clip(np.round((a - lo) / (hi - lo) * 255), 0, 255).astype(np.uint8)


def tile(maps, columns: int | None = None, gap: int = 2) -> np.ndarray:
    """Feature maps ``(C, H, W)`` (or ``(1, C, H, W)``) as one grey ``uint8`` grid image, each map
    scaled by its own :func:`display_range`, ``gap`` white pixels between them."""
    a = np.asarray(as_array(maps), dtype=np.float64)
    if a.ndim == 4:
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"tile: expected (C, H, W) maps, got shape {a.shape}")
    C, H, W = a.shape
    columns = columns or int(np.ceil(np.sqrt(C)))
    rows = -(-C // columns)
    grid = np.full((rows * (H + gap) - gap, columns * (W + gap) - gap), 255, np.uint8)
    for c in range(C):
        r, q = divmod(c, columns)
        grid[r * (H + gap):r * (H + gap) + H, q * (W + gap):q * (W + gap) + W] = to_image(a[c])
    return grid
