"""The backward graph: grad mode, nodes, the ndarray op contract, backward and grad.

Every differentiable op of convlab is a subclass of :class:`ArrayFunction` with two static
methods that work on plain ndarrays::

    class Mul(ArrayFunction):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, gz):
            x, y = ctx.saved
            gx = unbroadcast(gz * y, x.shape) if ctx.needs_input_grad[0] else None
            gy = unbroadcast(gz * x, y.shape) if ctx.needs_input_grad[1] else None
            return gx, gy

``Mul.apply(a, b)`` unwraps Tensor arguments to their arrays, runs ``forward``, wraps the result
in a Tensor and, when grad mode is on and some input requires grad, records a node of the graph:
the ``ctx`` itself, which knows the nodes of its inputs. ``Tensor.backward`` walks those nodes
once, in reverse topological order. (Users write PyTorch's Tensor-contract
``convlab.autograd.Function``, in ``function.py``; its nodes live in the same graph.)

A node may hold hooks (``Tensor.register_hook``): functions that see, and may replace, the
gradient that arrives at the node before the node uses it.

Saved tensors are guarded by versions (``convlab.storage``): when an op saves one of its input or
output arrays, its node notes that tensor's version counter and value, and backward refuses, with
PyTorch's message, to use an array that an in-place op has changed since.

This module sits below ``convlab.tensor`` and never imports it: ``tensor.py`` hands it the Tensor
class (``use_tensor_class``) when it is defined.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable

import numpy as np

from ..engine import elementwise
from ..storage import shares_root

__all__ = [
    "ArrayFunction",
    "ScratchCtx",
    "no_grad",
    "enable_grad",
    "inference_mode",
    "set_grad_enabled",
    "is_grad_enabled",
    "unbroadcast",
    "backward",
    "grad",
    "RemovableHandle",
    "use_tensor_class",
]


# ---------------------------------------------------------------------------------------------
# grad mode

class _ThreadGradMode(threading.local):
    """The grad mode of each thread: recording until a ``no_grad`` block opens in it. A class
    default, not ``getattr(local, "enabled", True)``: a thread that never set the attribute
    paid for an AttributeError on every op (1.3 us, against 0.03)."""

    enabled = True


_state = _ThreadGradMode()


def is_grad_enabled() -> bool:
    """True when operations record the graph (the default)."""
    return _state.enabled


class _GradMode:
    """Context manager and decorator that runs code with graph recording on or off."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self):
        self._previous.append(is_grad_enabled())
        _state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self._previous.pop()
        return False

    def __call__(self, fn: Callable) -> Callable:
        mode = self.mode

        def wrapper(*args, **kwargs):
            with _GradMode(mode):
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        wrapper.__wrapped__ = fn
        return wrapper


class set_grad_enabled(_GradMode):
    """Graph recording on or off: ``with set_grad_enabled(False):``, as a decorator, or as a
    plain call ``set_grad_enabled(False)`` that switches the mode at once, as in PyTorch."""

    def __init__(self, mode: bool):
        super().__init__(mode)
        self._before = is_grad_enabled()
        _state.enabled = self.mode

    def __enter__(self):
        self._previous.append(self._before)  # the mode before the call, not the one it set
        _state.enabled = self.mode
        return self

    def __call__(self, fn: Callable) -> Callable:
        _state.enabled = self._before  # as a decorator, the mode applies inside fn only
        return super().__call__(fn)


class no_grad(_GradMode):
    """``with convlab.no_grad():`` runs ops without building a graph (evaluation, updates)."""

    def __init__(self):
        super().__init__(False)


class enable_grad(_GradMode):
    """``with convlab.enable_grad():`` records the graph again inside a ``no_grad`` block."""

    def __init__(self):
        super().__init__(True)


class inference_mode(_GradMode):
    """``with convlab.inference_mode():`` runs ops without building a graph, as ``no_grad``.

    PyTorch's inference mode also skips the bookkeeping of views and versions (and makes
    tensors that refuse to enter a graph later); convlab keeps that bookkeeping, which is cheap
    (``storage.py``), so here the two modes differ only in name. ``inference_mode(False)`` turns
    grad mode on, as in PyTorch. A decorator too, with or without the parentheses.
    """

    def __new__(cls, mode=True):
        if callable(mode):  # ``@inference_mode`` without parentheses: mode is the function
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):
        super().__init__(not mode)


# ---------------------------------------------------------------------------------------------
# helpers for backward formulas


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` back to ``shape``: the adjoint of NumPy broadcasting.

    Broadcasting prepends axes and stretches axes of size 1; its adjoint sums over exactly those.
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


# ---------------------------------------------------------------------------------------------
# graph nodes


class RemovableHandle:
    """Returned by ``register_hook`` and the module hook methods: ``handle.remove()``
    unregisters the hook. ``extra`` is a set of ids that marks hooks with an option (a module's
    hooks that take keyword arguments); the id leaves it too."""

    _next_id = itertools.count()

    def __init__(self, hooks: dict, extra: set | None = None):
        self.id = next(RemovableHandle._next_id)
        self._hooks = hooks
        self._extra = extra

    def remove(self) -> None:
        self._hooks.pop(self.id, None)
        if self._extra is not None:
            self._extra.discard(self.id)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class Node:
    """A node of the backward graph. ``next_nodes[i]`` is the node of input ``i`` (or None).

    ``hooks`` (None until the first is added) maps handle ids to functions of the gradient that
    arrives at the node: ``backward`` calls them in order, before the node uses the gradient.
    """

    next_nodes: tuple = ()
    hooks: dict | None = None

    def add_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(grad)`` on the gradient arriving here; a result other than None replaces
        the gradient (the same shape and dtype)."""
        if self.hooks is None:
            self.hooks = {}
        handle = RemovableHandle(self.hooks)
        self.hooks[handle.id] = hook
        return handle

    def name(self) -> str:
        return type(self).__name__

    @property
    def next_functions(self) -> tuple:
        """PyTorch's view of the graph links: ``((node, 0), (None, 0), ...)``, one per input."""
        return tuple((node, 0) for node in self.next_nodes)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


class ShownNode(Node):
    """A node that only shows PyTorch's graph in ``next_functions``, where one convlab op stands
    for several of PyTorch's (``F.linear``: a transpose of the weight, then ``addmm``).
    Gradients never pass through it."""

    def __init__(self, name: str, child: Node):
        self._name = name
        self.next_nodes = (child,)

    def name(self) -> str:
        return self._name


class AccumulateGrad(Node):
    """The node of a leaf tensor that requires grad: backward adds into ``leaf.grad``."""

    def __init__(self, leaf):
        self.variable = leaf

    @property
    def output_meta(self) -> tuple:
        return self.variable._data.shape, self.variable._data.dtype


class FunctionCtx(Node):
    """What ``forward`` and ``backward`` share: saved arrays, flags, and the graph links.

    Its name is the PyTorch name of the op (``MulBackward0``): the Function's ``grad_fn_name``,
    or ``ctx.grad_fn_name`` where one Function stands for several PyTorch ops (``Reshape`` is
    ``ViewBackward0``, ``UnsqueezeBackward0`` or ``SqueezeBackward1`` depending on the call).
    """

    grad_fn_name = None
    recording = True  # forward runs inside a graph: backward will be asked (see ScratchCtx)
    # What a new node starts with, set on the class so that creating one (once per op of every
    # step) assigns only the three links below.
    saved = ()
    saved_versions = ()  # a saved_version record for each saved array a tensor owns
    released = False
    retained_output = None  # weak reference to the output, set by retain_grad()
    output_meta = None  # (shape, dtype) of the output: what its gradient must be

    def __init__(self, fn_cls, needs_input_grad: tuple, next_nodes: tuple):
        self.fn_cls = fn_cls
        self.needs_input_grad = needs_input_grad
        self.next_nodes = next_nodes

    def save_for_backward(self, *arrays):
        self.saved = arrays

    def name(self) -> str:
        return self.grad_fn_name or self.fn_cls.grad_fn_name

    @property
    def next_functions(self) -> tuple:
        """PyTorch's view of the graph links: ``((node, 0), (None, 0), ...)``, one per tensor
        input, in PyTorch's order where an op says it differs (``graph_links``)."""
        links = tuple((node, 0) for node, need in zip(self.next_nodes, self.needs_input_grad)
                      if need is not None)
        reorder = getattr(self.fn_cls, "graph_links", None)
        return reorder(self, links) if reorder is not None else links

    def release(self) -> None:
        """Free the arrays forward kept for backward, once backward has used them and the graph
        is not retained: what ``save_for_backward`` got, and any ndarray set on ``ctx``. Sizes,
        axes and flags stay, so a graph that saved no arrays can run backward again (as in
        PyTorch)."""
        attributes = self.__dict__
        arrays = [k for k, v in attributes.items() if isinstance(v, np.ndarray)]
        for key in arrays:
            del attributes[key]
        if self.saved or arrays:
            self.saved = ()
            self.saved_versions = ()
            self.released = True


# What a node remembers of a tensor whose array it saved, as a tuple (made once per saved array
# of every op, so no class): (position in ``saved``, the tensor's version counter, the version
# it had, the node that made the tensor: None for a leaf, OUTPUT for the saving node's own
# output). Backward compares the counter with the version before it uses the array.
OUTPUT = "output"


def saved_version(position: int, tensor, producer) -> tuple:
    counter = tensor._version_counter
    return position, counter, counter.value, producer


def check_saved(node: "FunctionCtx", records: tuple, arrays) -> None:
    """Raise PyTorch's error if a tensor ``node`` saved (``arrays[position]``) has changed in
    place since."""
    for position, counter, version, producer in records:
        if counter.value != version:
            from .._dtype import from_numpy_dtype

            array = arrays[position]
            array = array._data if hasattr(array, "_data") else array
            producer = node if producer is OUTPUT else producer
            made_by = ("" if producer is None
                       else f", which is output 0 of {_short_name(producer)},")
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{_type_name(from_numpy_dtype(array.dtype))} "
                f"{list(array.shape)}]{made_by} is at version {counter.value}; expected "
                f"version {version} instead. Hint: the tensor was saved by {node.name()} and "
                "changed in place afterwards; clone() it before changing it, or change it out "
                "of place.")


def _short_name(node: Node) -> str:
    """PyTorch names the producer of a saved tensor without the ``Backward0`` suffix."""
    name = node.name()
    cut = name.rfind("Backward")
    return name[:cut] if cut > 0 else name


def _type_name(dtype) -> str:
    legacy = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
              "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
              "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}
    return "convlab." + legacy.get(dtype.name, dtype.name)


def _saved_versions(saved: tuple, args: tuple, result) -> tuple:
    """A ``saved_version`` record for each saved array that is the array of an input tensor (of
    ``args``) or of the output ``result``, or a view of one."""
    Tensor = _Tensor
    records = []
    for i, s in enumerate(saved):
        if s is result._data:
            records.append(saved_version(i, result, OUTPUT))
            continue
        if not isinstance(s, np.ndarray):
            continue
        for a in args:  # the input's own array, as almost always
            if isinstance(a, Tensor) and s is a._data:
                records.append(saved_version(i, a, a._grad_fn))
                break
        else:
            if s.base is None:
                continue
            for a in args:  # a view of an input's memory (not merely of the same allocation:
                # tensors loaded from one file share one buffer)
                if (isinstance(a, Tensor) and shares_root(s, a._data)
                        and np.may_share_memory(s, a._data)):
                    records.append(saved_version(i, a, a._grad_fn))
                    break
    return tuple(records)


# Nodes made while an in-place op computes its new values (see ``collect_nodes``): the in-place
# op copies what they saved of the tensor it is about to overwrite. None when no op is running.
_collected: list | None = None


class collect_nodes:
    """``with collect_nodes() as nodes:``: the graph nodes recorded inside the block."""

    def __enter__(self) -> list:
        global _collected
        self._outer, _collected = _collected, []
        return _collected

    def __exit__(self, *exc) -> None:
        global _collected
        _collected = self._outer


class ArrayFunction:
    """Base class of convlab's differentiable ops, on ndarrays; see the module docstring.

    ``forward(ctx, *args)`` receives ndarrays where the caller passed Tensors (other arguments
    unchanged) and returns one ndarray. ``backward(ctx, grad)`` returns one gradient per positional
    argument of ``forward`` (None for non-tensors and inputs that need no gradient), each of its
    input's shape.

    ``grad_fn_name`` is how the node prints in ``grad_fn=<...>``: PyTorch's name for the op,
    ``<ClassName>Backward0`` unless a subclass sets it. ``is_view`` marks ops that PyTorch calls
    views: when forward returns a NumPy view of its first input, the result is a view of that
    tensor (same memory, same version counter, ``_base`` set).
    """

    differentiable = True  # False for ops whose output never has a gradient (argmax, comparisons)
    is_view = False
    grad_fn_name: str = "FunctionBackward"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "grad_fn_name" not in cls.__dict__:
            cls.grad_fn_name = cls.__name__ + "Backward0"

    @staticmethod
    def forward(ctx, *args):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        # This runs for every op of every training step: keep it to the bare bookkeeping.
        Tensor = _Tensor
        arrays = []
        needs = []
        any_needs = False
        for a in args:
            if isinstance(a, Tensor):
                if a._base is not None and a._view_version != a._version_counter.value:
                    a._refresh_view()  # its base changed in place since the view was made
                arrays.append(a._data)
                need = a._requires_grad
                any_needs = any_needs or need
                needs.append(need)
            else:
                arrays.append(a)
                needs.append(None)  # not a tensor (falsy; next_functions leaves it out)
        needs = tuple(needs)
        record = any_needs and cls.differentiable and _state.enabled
        if record:
            next_nodes = tuple([a._grad_node() if need else None for a, need in zip(args, needs)])
            ctx = FunctionCtx(cls, needs, next_nodes)
        else:
            ctx = ScratchCtx(needs)
        out = cls.forward(ctx, *arrays, **kwargs)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)
        if cls.is_view and _is_view_of(out, arrays[0]):
            result = args[0]._view_of(out, _state.enabled)
        else:
            result = Tensor._wrap(out)
        if record:
            result._requires_grad = True
            result._grad_fn = ctx
            ctx.output_meta = (out.shape, out.dtype)
            if ctx.saved:
                ctx.saved_versions = _saved_versions(ctx.saved, args, result)
            if _collected is not None:
                _collected.append(ctx)
        return result


def _is_view_of(out: np.ndarray, x: np.ndarray) -> bool:
    """True when a view op's result is a NumPy view of its input (reshape may have copied):
    NumPy's own base links first, the walk to the owning array only where they do not tell."""
    base = out.base
    return base is not None and (base is x or base is x.base or shares_root(out, x))


_Tensor = None  # convlab.tensor.Tensor, handed over by tensor.py (which imports this module)


def use_tensor_class(cls) -> None:
    """Called once by ``convlab.tensor``: the class that op results and gradients are wrapped
    in."""
    global _Tensor
    _Tensor = cls


class ScratchCtx:
    """The ctx handed to forward when no graph is recorded: saves go nowhere, and
    ``recording`` tells forward that nothing it would keep for backward is needed. Code that
    runs an op's forward on arrays itself (``convlab.onnx.inference``) hands it one too."""

    recording = False

    def __init__(self, needs_input_grad: tuple):
        self.needs_input_grad = needs_input_grad

    def save_for_backward(self, *arrays):
        pass


def make_node(fn_cls, inputs: tuple, **attributes) -> FunctionCtx:
    """A graph node of ``fn_cls`` over ``inputs`` (Tensors or None), recorded without running a
    forward: for the nodes that in-place ops and views attach to existing tensors (PyTorch's
    ``CopySlices`` and ``AsStridedBackward0``). ``attributes`` are set on the node for its
    backward."""
    needs = tuple(t is not None and t._requires_grad for t in inputs)
    node = FunctionCtx(fn_cls, needs, tuple(t._grad_node() if need else None
                                            for t, need in zip(inputs, needs)))
    node.__dict__.update(attributes)
    return node


# ---------------------------------------------------------------------------------------------
# backward

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward.")


def _topological_order(roots: list) -> list[Node]:
    """Nodes reachable from ``roots``, each after every node that feeds gradient into it."""
    order, seen = [], set(roots)
    for root in roots:
        stack = [(root, iter(root.next_nodes))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child is not None and child not in seen:
                    seen.add(child)
                    stack.append((child, iter(child.next_nodes)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _wrong_count(node: FunctionCtx, grads: tuple) -> RuntimeError:
    return RuntimeError(
        f"function {node.name()} returned an incorrect number of gradients (expected "
        f"{len(node.next_nodes)}, got {len(grads)})")


def _wrong_shape(node: FunctionCtx, i: int, g: np.ndarray, shape: tuple) -> RuntimeError:
    return RuntimeError(
        f"Function {node.name()} returned an invalid gradient at index {i} - got "
        f"{list(g.shape)} but expected shape compatible with {list(shape)}")


def _seed(tensor, gradient, i: int) -> np.ndarray:
    """The gradient that starts backward at output ``i``: ``gradient``, or 1 for a scalar."""
    if not tensor.requires_grad:
        raise RuntimeError(
            f"element {i} of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if tensor._data.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        return np.ones_like(tensor._data)
    grad = gradient._data if isinstance(gradient, _Tensor) else np.asarray(gradient)
    if grad.shape != tensor._data.shape:
        size = tensor.shape.__class__  # convlab.Size (this module does not import tensor.py)
        raise RuntimeError(
            f"Mismatch in shape: grad_output[{i}] has a shape of {size(grad.shape)!r} and "
            f"output[{i}] has a shape of {tensor.shape!r}.")
    return grad.astype(tensor._data.dtype, copy=False)


def backward(tensor, gradient=None, retain_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    _run({tensor._grad_node() if tensor.requires_grad else None: _seed(tensor, gradient, 0)},
         retain_graph)


def _run(seeds: dict, retain_graph: bool, wanted: dict | None = None) -> None:
    """Walk the graph from ``seeds`` (node -> gradient) once, in reverse topological order: each
    node receives the sum of the gradients its consumers sent it, checks that what it saved is
    unchanged, then sends one gradient to each of its inputs, checked to have the input's shape
    and cast to its dtype. Nodes hash by identity, so they are the keys of the pending gradients.

    With ``wanted`` (node -> None), the gradients arriving at those nodes are stored there and no
    leaf's ``.grad`` changes (``autograd.grad``); otherwise leaves accumulate into ``.grad``.
    """
    grads: dict[Node, np.ndarray] = dict(seeds)
    # How many gradients this walk sent from each memory; a leaf may keep a gradient sent from
    # its memory once (see _accumulate). The seeds and what hooks return may be the caller's
    # arrays: never kept.
    sent = _Sends()
    for g in seeds.values():
        if isinstance(g, np.ndarray):
            sent.set(g, 2)
    for node in _topological_order(list(seeds)):
        g = grads.pop(node, None)
        if g is None:
            continue
        if node.hooks:
            g = _run_hooks(node, g)
            sent.set(g, 2)
        if wanted is not None and node in wanted:
            wanted[node] = g
        if isinstance(node, AccumulateGrad):
            if wanted is None:
                _accumulate(node.variable, g, keep=not retain_graph and sent.get(g) == 1)
            continue
        if node.released:
            raise RuntimeError(_FREED)
        if node.saved_versions:
            check_saved(node, node.saved_versions, node.saved)
        if node.retained_output is not None and wanted is None:  # after the hooks: .grad is
            out = node.retained_output()  # what the node used
            if out is not None:
                _accumulate(out, g)
        input_grads = node.fn_cls.backward(node, g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(node.next_nodes):
            raise _wrong_count(node, input_grads)
        sends = []
        foreign = getattr(node.fn_cls, "foreign_grads", False)  # a user's arrays: never written
        for i, (child, cg) in enumerate(zip(node.next_nodes, input_grads)):
            if child is None or cg is None:
                continue
            meta = child.output_meta
            if meta is None:  # a Function with several outputs: a tuple, one slot each
                sends.append((child, cg))
                continue
            shape, dtype = meta
            if cg.shape != shape:
                raise _wrong_shape(node, i, cg, shape)
            cg = cg if cg.dtype == dtype else cg.astype(dtype)
            sent.set(cg, 2 if foreign else sent.get(cg) + 1)
            sends.append((child, cg))
        if not retain_graph:
            node.release()
        for child, cg in sends:
            pending = grads.get(child)
            if pending is None:
                grads[child] = cg
            elif wanted is None and not retain_graph and _owned(pending, sent):
                grads[child] = _add_into(pending, cg)
            else:
                grads[child] = total = _add(pending, cg)  # a new array: sent once
                if isinstance(total, np.ndarray):
                    sent.set(total, 1)


def _owned(g, sent: _Sends) -> bool:
    """Whether gradient ``g`` is an array that only the backward walk holds, which it may
    write: sent from its memory once (no hook saw it, no other node got it; the caller also
    rules out a kept graph and ``autograd.grad``'s wanted values), writable, and all of its
    memory (:func:`_whole`, as :func:`_accumulate` asks of a gradient it keeps)."""
    return isinstance(g, np.ndarray) and sent.get(g) == 1 and _whole(g)


def _whole(g: np.ndarray) -> bool:
    """Whether ``g`` is writable and all of its memory: an array that owns it, or a
    C-contiguous view of all of such an array."""
    base = g if g.base is None else g.base
    return (g.flags.writeable and g.flags.c_contiguous and isinstance(base, np.ndarray)
            and base.flags.owndata and base.size == g.size)


def _add_into(pending: np.ndarray, g):
    """``pending += g``: a second gradient added into the first, which the walk alone holds
    (:func:`_owned`), as PyTorch adds into a gradient buffer no one else holds (both have the
    node's shape and dtype: the walk checked and cast them). A new array
    for the sum held three gradients at once where two do: at every residual join of a
    backward pass."""
    if elementwise.sums_apply(pending, g):
        return elementwise.add_into(pending, g)
    np.add(pending, g, out=pending)
    return pending


def _add(a, b):
    """The sum of two gradients sent to one node: arrays, or tuples of arrays and None (one
    slot per output of a Function with several)."""
    if not isinstance(a, tuple):
        return elementwise.add(a, b) if elementwise.sums_apply(a, b) else a + b
    return tuple(y if x is None else x if y is None else x + y for x, y in zip(a, b))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused=None, is_grads_batched: bool = False, materialize_grads: bool = False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned, not accumulated: no
    leaf's ``.grad`` changes. As ``torch.autograd.grad`` (first order).

    >>> import convlab
    >>> x = convlab.tensor([1.0, 2.0], requires_grad=True)
    >>> convlab.autograd.grad((x * x).sum(), x)
    (tensor([2., 4.]),)
    >>> x.grad is None
    True
    """
    Tensor = _Tensor
    if create_graph:
        raise NotImplementedError(
            "convlab computes first derivatives only: autograd.grad(create_graph=True) (double "
            "backward) is not supported")
    if is_grads_batched:
        raise NotImplementedError("autograd.grad(is_grads_batched=True) is not supported")
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads "
                         "is True")
    allow_unused = materialize_grads if allow_unused is None else allow_unused
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one grad_output per output: got {len(grad_outputs)} "
                           f"grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: inputs[{i}] must be a Tensor, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (inputs[{i}]) does not "
                               "require grad")
    seeds: dict = {}
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        node = out._grad_node() if out.requires_grad else None
        seed = _seed(out, g, i)
        seeds[node] = seed if node not in seeds else seeds[node] + seed
    wanted = {t._grad_node(): None for t in inputs}
    _run(seeds, bool(retain_graph), wanted)
    results = []
    for i, t in enumerate(inputs):
        g = wanted[t._grad_node()]
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (inputs[{i}]) appears to not have been "
                    "used in the graph. Set allow_unused=True if this is the desired behavior.")
            results.append(Tensor._wrap(np.zeros_like(t._data)) if materialize_grads else None)
        else:
            results.append(Tensor._wrap(np.array(g, dtype=t._data.dtype)))
    return tuple(results)


def _run_hooks(node: Node, g: np.ndarray) -> np.ndarray:
    """Pass ``g`` through ``node``'s hooks in order; each may return a replacement."""
    for hook in list(node.hooks.values()):
        result = hook(_Tensor._wrap(g))
        if result is None:
            continue
        new = result._data if isinstance(result, _Tensor) else np.asarray(result)
        name = getattr(hook, "__name__", type(hook).__name__)
        if new.shape != g.shape:
            raise RuntimeError(f"hook '{name}' has changed the size of value: it returned "
                               f"shape {list(new.shape)} for a gradient of shape {list(g.shape)}")
        if new.dtype != g.dtype:
            raise RuntimeError(f"hook '{name}' has changed the type of value (was {g.dtype} got "
                               f"{new.dtype})")
        g = new
    return g


class _Sends:
    """How many gradients a backward walk sent from each memory owner: an array, or the array
    a view is of (NumPy points every view at the array that owns the memory).

    The counts are kept by the owner's ``id``, each with a weak reference to its owner, and a
    count whose owner is gone reads as 0: Python gives a freed object's id to the next one made,
    and a count left behind by a freed gradient made a new gradient look sent twice, so a leaf
    copied it where it could have kept it. Which gradients met a stale id changed with
    unrelated allocations: a copy of 2.25 MB (a 256x256x3x3 weight's gradient) at random in
    VGG-11's step, whose peak memory went between 22.3 and 23.5 MiB from run to run."""

    def __init__(self):
        self._counts: dict[int, tuple[int, Callable]] = {}

    @staticmethod
    def _owner(a: np.ndarray):
        return a if a.base is None else a.base

    def set(self, a: np.ndarray, count: int) -> None:
        owner = self._owner(a)
        try:
            ref = weakref.ref(owner)
        except TypeError:  # an owner that is not an array (bytes under np.frombuffer) lives on
            ref = lambda owner=owner: owner  # while a's view of it does
        self._counts[id(owner)] = (count, ref)

    def get(self, a: np.ndarray) -> int:
        owner = self._owner(a)
        entry = self._counts.get(id(owner))
        return entry[0] if entry is not None and entry[1]() is owner else 0


def _accumulate(t, g: np.ndarray, keep: bool = False) -> None:
    """``t.grad += g``, in place as PyTorch does (code that holds ``t.grad`` sees the sum).

    A first gradient is copied, since the same array may flow to several tensors and may be a
    read-only view; with ``keep`` (the walk sent it from its memory once, so nothing else holds
    it) a writable array that is all of its memory becomes ``t.grad`` itself, as PyTorch's
    AccumulateGrad steals a gradient no one else holds: a copy of every parameter's gradient
    each step saved (one core, ResNet-18 at batch 32: 11 MB of copies a step)."""
    if t.grad is None:
        if keep and g.dtype == t._data.dtype and _whole(g):
            t.grad = _Tensor._wrap(g)
        else:
            t.grad = _Tensor._wrap(np.array(g, dtype=t._data.dtype))
    elif t.grad._data.flags.writeable and t.grad._data.shape == g.shape:
        np.add(t.grad._data, g, out=t.grad._data, casting="unsafe")
        t.grad._version_counter.bump()
    else:
        t.grad = _Tensor._wrap(t.grad._data + g)
