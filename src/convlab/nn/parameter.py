"""``Parameter``: a Tensor that a Module registers as one of its learnable weights.

Assigning a Parameter to a Module attribute (``self.weight = Parameter(...)``) is what puts it in
``module.parameters()`` and ``module.state_dict()``. It is a leaf that requires grad, and it shares
memory with the tensor it was made from, as in PyTorch.

``UninitializedParameter`` is the placeholder of a lazy module (``LazyConv2d``): a parameter
whose shape is not known until the first forward call, when ``materialize(shape)`` gives it
memory and turns it into an ordinary ``Parameter``.
"""

from __future__ import annotations

import copy

import numpy as np

from .. import _dtype
from ..tensor import Tensor

__all__ = ["Parameter", "UninitializedParameter", "is_lazy"]


class Parameter(Tensor):
    """A learnable tensor: a leaf with ``requires_grad=True`` that Modules register.

    >>> import convlab
    >>> Parameter(convlab.zeros(2))
    Parameter containing:
    tensor([0., 0.], requires_grad=True)
    """

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            data = Tensor._wrap(np.empty(0, dtype=_dtype.get_default_dtype().numpy))
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: data must be a Tensor, got {type(data).__name__}")
        # shared memory and version counter, as torch.nn.Parameter(t) shares t's storage
        self._init_fields(data._data, data._version_counter)
        self.requires_grad = requires_grad

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(Tensor._wrap(self._data.copy()), self.requires_grad)
            if self.grad is not None:
                memo[id(self)].grad = copy.deepcopy(self.grad, memo)
        return memo[id(self)]


class UninitializedParameter(Parameter):
    """A parameter of unknown shape, held by a lazy module until its first forward call.

    Its dtype is known (``to(dtype)`` changes it); its shape is not, so asking for it raises.
    """

    def __init__(self, requires_grad: bool = True, dtype=None):
        np_dtype = _dtype.to_numpy_dtype(dtype or _dtype.get_default_dtype())
        super().__init__(Tensor._wrap(np.empty(0, dtype=np_dtype)), requires_grad)

    def materialize(self, shape) -> None:
        """Give the parameter memory of ``shape`` (uninitialized values: the module's
        ``reset_parameters()`` fills them) and make it an ordinary ``Parameter``."""
        self._data = np.empty(tuple(int(n) for n in shape), dtype=self._data.dtype)
        self.__class__ = Parameter

    def _no_shape(self, *args, **kwargs):
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter. The module that holds it is "
            "lazy: run it once on an input (or load a state_dict into it) to give it a shape.")

    shape = property(_no_shape)
    size = numel = dim = _no_shape

    def __repr__(self) -> str:
        return "<UninitializedParameter>"

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = UninitializedParameter(self.requires_grad,
                                                    _dtype.from_numpy_dtype(self._data.dtype))
        return memo[id(self)]


def is_lazy(value) -> bool:
    """True for an ``UninitializedParameter`` (a lazy module's parameter without a shape yet)."""
    return isinstance(value, UninitializedParameter)
