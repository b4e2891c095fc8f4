"""``convlab.explain``: what a convolution does, as numbers, tables and pictures."""

from .layer_spec import LayerSpec, parse_layer
from .layers import describe
