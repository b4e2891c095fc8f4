"""``convlab.vision``: photos in and out, the classic image kernels, filters and feature maps."""

from ..pictures import draw_feature_maps, feature_maps
from .filter import filter_image, random_filter
from ..pictures import (display_range, load_image, sample_photo, save_image, tile, to_image,
                        to_tensor)
from .kernels import KERNELS, kernel

__all__ = ["load_image", "save_image", "sample_photo", "to_tensor", "to_image", "display_range",
           "tile", "KERNELS", "kernel", "filter_image", "random_filter", "feature_maps",
           "draw_feature_maps"]
