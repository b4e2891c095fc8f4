"""Automatic differentiation, as ``torch.autograd``.

- ``graph.py``: the backward graph, grad mode (``no_grad`` ...), ``backward`` and ``grad``, and
  ``ArrayFunction``, the ndarray contract convlab's own ops are written in;
- ``function.py``: ``Function``, PyTorch's contract for custom differentiable functions on
  Tensors, and ``once_differentiable``;
- ``gradcheck.py``: ``gradcheck``, backward against central differences.
"""

from . import function
from .function import Function, FunctionCtx
from .gradcheck import GradcheckError, gradcheck
from .graph import (AccumulateGrad, ArrayFunction, Node, RemovableHandle, backward,
                    enable_grad, grad, inference_mode, is_grad_enabled, no_grad,
                    set_grad_enabled, unbroadcast)

__all__ = ["Function", "FunctionCtx", "function", "ArrayFunction", "no_grad", "enable_grad",
           "inference_mode", "set_grad_enabled", "is_grad_enabled", "backward", "grad",
           "gradcheck", "GradcheckError", "unbroadcast", "Node", "AccumulateGrad",
           "RemovableHandle"]
