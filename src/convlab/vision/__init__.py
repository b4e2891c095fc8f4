"""``convlab.vision``: photos in and out, and the classic image kernels."""

from .image import display_range, load_image, sample_photo, save_image, tile, to_image, to_tensor
from .kernels import KERNELS, kernel
