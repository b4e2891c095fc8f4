"""``convlab.explain``: what a convolution does, as numbers, tables and pictures.

- :func:`shape`: one layer's shape arithmetic, formulas filled in; :func:`padding_for` and
  :func:`input_sizes_for` answer the inverse questions.
- :func:`summary`: a model's layers with parameters, mult-adds and receptive fields.
- :func:`trace`: one output element taken apart, product by product.
- :func:`receptive_field_map`: which input pixels feed one output unit, drawn over the image.
- :func:`animate` and :func:`gallery`: the sliding window, frame by frame.
"""

from .animate import Animation, animate
from .gallery import GALLERY, gallery
from .layer_spec import LayerSpec, parse_layer
from .layers import describe
from .receptive import ReceptiveField, ReceptiveFieldMap, receptive_field_map
from .shape import ShapeReport, input_sizes_for, padding_for, shape
from .summary import Summary, SummaryRow, summary
from .trace import Trace, trace

__all__ = ["shape", "ShapeReport", "padding_for", "input_sizes_for", "summary", "Summary",
           "SummaryRow", "trace", "Trace", "receptive_field_map", "ReceptiveFieldMap",
           "ReceptiveField", "animate", "Animation", "gallery", "GALLERY", "parse_layer",
           "LayerSpec", "describe"]
