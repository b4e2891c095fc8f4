"""Convolution on raw ndarrays: no Tensor, no autograd. See DESIGN.md, "The house"."""

from .conv import (
                   bias_grad,
                   conv_forward,
                   conv_input_grad,
                   conv_transpose_forward,
                   conv_transpose_input_grad,
                   conv_transpose_weight_grad,
                   conv_weight_grad,
                   fold,
                   unfold,
)
from .geometry import (
                   ConvGeometry,
                   conv_geometry,
                   conv_transpose_geometry,
                   fold_geometry,
                   output_length,
                   output_length_formula,
                   resolve_output_padding,
                   unfold_geometry,
)

__all__ = [
    "ConvGeometry", "conv_geometry", "conv_transpose_geometry", "unfold_geometry",
    "fold_geometry", "resolve_output_padding", "output_length", "output_length_formula",
    "conv_forward", "conv_input_grad", "conv_weight_grad", "bias_grad",
    "conv_transpose_forward", "conv_transpose_input_grad", "conv_transpose_weight_grad",
    "unfold", "fold",
]
