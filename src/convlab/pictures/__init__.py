"""Pictures in and out, below ``explain``, ``vision`` and ``training``: loading, preparing and
saving images (``image``), and a model's feature maps drawn as a grid (``feature_maps``)."""

from .feature_maps import draw_feature_maps, feature_maps
from .image import (display_range, load_image, sample_photo, save_image, tile, to_image,
                    to_tensor)

__all__ = ["load_image", "save_image", "sample_photo", "to_tensor", "to_image", "display_range",
           "tile", "feature_maps", "draw_feature_maps"]
