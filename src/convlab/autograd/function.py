"""Custom differentiable functions written on Tensors, as ``torch.autograd.Function``.

A user's function subclasses ``convlab.autograd.Function`` and writes ``forward`` and ``backward``
with Tensors, calling any convlab op inside (``F.conv2d``, ``x.exp()``, ...)::

    class Exp(convlab.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad_y):
            (y,) = ctx.saved_tensors
            return grad_y * y

``Exp.apply(x)`` runs ``forward`` with grad mode off, then, when an input requires grad, makes
the function one node of the graph: backward calls ``backward`` (also with grad mode off: first
derivatives only) with one gradient per output, and expects one gradient per input of forward.
The ``setup_context(ctx, inputs, output)`` style, ``ctx.needs_input_grad``, ``mark_dirty``,
``mark_non_differentiable`` and ``set_materialize_grads`` behave as in PyTorch.

convlab's own ops use the leaner contract of ``convlab.autograd.ArrayFunction`` (ndarrays in
and out, ``graph.py``); both kinds of node live in the same graph.
"""

from __future__ import annotations

import functools

import numpy as np

from . import graph
from .graph import (_FREED, OUTPUT, FunctionCtx, _wrong_count, check_saved, is_grad_enabled,
                    no_grad, saved_version)

__all__ = ["Function", "FunctionCtx", "once_differentiable", "InplaceFunction"]



class _TensorFunctionCtx(FunctionCtx):
    """The ``ctx`` of a Tensor-contract Function: what forward saves and marks, and the node
    that runs the user's ``backward``."""

    materialize_grads = True

    def __init__(self, function_class, needs_input_grad: tuple, next_nodes: tuple):
        super().__init__(_RunUserBackward, needs_input_grad, next_nodes)
        self.function_class = function_class
        self.grad_fn_name = function_class.__name__ + "Backward"
        self._to_save = ()
        self._saved = ()
        self._versions = ()
        self._dirty = ()
        self._non_differentiable = ()

    def save_for_backward(self, *tensors) -> None:
        Tensor = graph._Tensor  # handed to the graph by tensor.py
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} "
                                f"is not a Tensor or None (got {type(t).__name__})")
        self._to_save = tensors

    def mark_dirty(self, *tensors) -> None:
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self) -> tuple:
        """What forward saved, each checked to be unchanged since (PyTorch's version check)."""
        if self.released:
            raise RuntimeError(_FREED)
        Tensor = graph._Tensor  # handed to the graph by tensor.py
        values = [value for _, value in self._saved]
        check_saved(self, self._versions, values)
        return tuple(Tensor._wrap(value) if kind == "output" else value
                     for kind, value in self._saved)

    saved_variables = saved_tensors

    def release(self) -> None:
        self._saved = ()
        self.released = True


def _find(t, tensors) -> int:
    return next((i for i, s in enumerate(tensors) if s is t), -1)


class Function:
    """Base class of differentiable functions written on Tensors (see the module docstring)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs: tuple, output) -> None:
        """Overridden to save for backward from outside ``forward`` (then ``forward`` takes no
        ctx), as PyTorch 2's style."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):  # pragma: no cover - abstract
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    vjp = backward

    def __init__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is "
                           "deprecated. Please use new-style autograd function with static "
                           "forward method: call MyFunction.apply(...), not MyFunction()(...).")

    @classmethod
    def apply(cls, *args, **kwargs):
        Tensor = graph._Tensor  # handed to the graph by tensor.py
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        record = any(needs) and is_grad_enabled()
        next_nodes = tuple(a._grad_node() if need else None for a, need in zip(args, needs))
        ctx = _TensorFunctionCtx(cls, needs, next_nodes)
        with no_grad():
            if cls.setup_context is Function.setup_context:
                outputs = cls.forward(ctx, *args, **kwargs)
            else:
                outputs = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, outputs)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        for i, o in enumerate(outs):
            if o is not None and not isinstance(o, Tensor):
                raise TypeError(f"{cls.__name__}.forward must return Tensors (or a tuple of "
                                f"them); output {i} is {type(o).__name__}")
        if not record:
            ctx._saved = tuple(("input", t) for t in ctx._to_save)
            return outputs
        outs = tuple(_attach(ctx, i, o, len(outs), args) for i, o in enumerate(outs))
        ctx.output_metas = tuple(None if o is None else (o._data.shape, o._data.dtype)
                                 for o in outs)
        _keep_saved(ctx, outs)
        return outs[0] if single else outs


def _attach(ctx: _TensorFunctionCtx, i: int, out, count: int, args: tuple):
    """Make output ``i`` of a recorded Function a node of the graph: the Function's own node
    when it is the only output, else a node that picks its part of the gradient."""
    if out is None:
        return None
    if _find(out, ctx._non_differentiable) >= 0 or out._data.dtype.kind not in "fc":
        return out
    if _find(out, args) >= 0 and _find(out, ctx._dirty) < 0:
        out = out.detach()  # an input returned unchanged: a new tensor over the same memory
    if count == 1:
        node = ctx
        ctx.output_meta = (out._data.shape, out._data.dtype)
    else:
        node = FunctionCtx(_SelectOutput, (True,), (ctx,))
        node.index, node.count = i, count
        node.grad_fn_name = ctx.grad_fn_name
        node.output_meta = (out._data.shape, out._data.dtype)
    out._grad_fn = node
    out._requires_grad = True
    return out


def _keep_saved(ctx: _TensorFunctionCtx, outs: tuple) -> None:
    """Store what forward saved: inputs as themselves, outputs by their memory (an output holds
    this node as its grad_fn: keeping the tensor would make a reference cycle), each with the
    version it had."""
    saved, versions = [], []
    for i, t in enumerate(ctx._to_save):
        if t is None:
            saved.append(("input", None))
        elif _find(t, outs) >= 0:
            saved.append(("output", t._data))
            versions.append(saved_version(i, t, OUTPUT))
        else:
            saved.append(("input", t))
            versions.append(saved_version(i, t, t._grad_fn))
    ctx._saved, ctx._versions = tuple(saved), tuple(versions)
    ctx._to_save = ()


class _RunUserBackward:
    """The graph's side of a Tensor-contract Function: calls the user's ``backward`` with one
    Tensor per output and turns what it returns into one array per input."""

    grad_fn_name = "FunctionBackward"
    # What a user's backward returns may be memory the user holds (a saved tensor, a global):
    # the backward walk neither adds into it nor lets a leaf keep it as its .grad.
    foreign_grads = True

    @staticmethod
    def backward(ctx: _TensorFunctionCtx, g):
        Tensor = graph._Tensor  # handed to the graph by tensor.py
        grads = g if isinstance(g, tuple) else (g,)
        metas = ctx.output_metas
        tensors = []
        for grad, meta in zip(grads, metas):
            if grad is None and ctx.materialize_grads and meta is not None:
                grad = np.zeros(meta[0], dtype=meta[1])
            tensors.append(None if grad is None else Tensor._wrap(grad))
        with no_grad():
            result = ctx.function_class.backward(ctx, *tensors)
        result = result if isinstance(result, tuple) else (result,)
        n = len(ctx.next_nodes)
        if len(result) > n and all(r is None for r in result[n:]):
            result = result[:n]  # PyTorch accepts extra Nones after the last input
        if len(result) != n:
            raise _wrong_count(ctx, result)
        arrays = []
        for r, need in zip(result, ctx.needs_input_grad):
            if r is None or not need:
                arrays.append(None)
            else:
                arrays.append(r._data if isinstance(r, Tensor) else np.asarray(r))
        return tuple(arrays)


class _SelectOutput:
    """The node of output ``index`` of a Function with several: passes its gradient on in the
    Function's slot ``index`` (the Function's node adds the slots of all its outputs)."""

    @staticmethod
    def backward(ctx, g):
        return (tuple(g if j == ctx.index else None for j in range(ctx.count)),)


def once_differentiable(fn):
    """Mark a ``backward`` as first-order only. convlab's backward is always first order (it
    runs with grad mode off), so this only keeps PyTorch programs running unchanged."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)

    return wrapper


InplaceFunction = Function
