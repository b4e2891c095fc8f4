"""In-place ops: how a Tensor changes in place, and how the graph records it.

Every ``*_`` method, ``x[i] = v`` and the augmented assignments (``+=``, ``-=``, ...) go through
``_inplace``: the new values are computed out of place from the current ones, checked to fit,
and written into the tensor's memory, so its base and every view see them; the version counter
is bumped. Inside a graph the change is recorded: on a plain tensor the new values' node becomes
its ``grad_fn``; on a view the base's history is rewritten with a ``CopySlices`` node, and each
view's ``grad_fn`` is rebuilt from the base's when next used (``Tensor._refresh_view``).
``_check_inplace`` refuses, with PyTorch's messages, what PyTorch refuses.

The functions here become Tensor methods when the module is imported (``convlab/__init__.py``
imports it right after ``tensor``).
"""

from __future__ import annotations

import numpy as np

from . import storage as _storage
from .autograd.graph import OUTPUT, collect_nodes, is_grad_enabled, make_node, saved_version
from .ops import elementwise as E
from .ops import shape as S
from .tensor import Tensor, _binary, _broadcast_check, _named


def _check_inplace(self, op: str, operands: tuple = (), data=None) -> bool:
    """Refuse, with PyTorch's messages, an in-place change PyTorch refuses, and say whether
    the graph will record it. ``data`` is the array written (``x[i] = v`` writes only a
    region of ``x``)."""
    base = self._base
    recorded = False
    if is_grad_enabled():
        recorded = self._requires_grad if base is None else base._requires_grad
        if not recorded:
            for t in operands:
                if isinstance(t, Tensor) and t._requires_grad:
                    recorded = True
                    break
    if recorded:
        if base is None:
            if self._grad_fn is None and self._requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
        elif base._requires_grad and not self._view_tracks:
            raise RuntimeError(
                "A view was created in no_grad mode and is being modified inplace "
                "with grad mode enabled. Given that this use case is ambiguous and "
                "error-prone, it is forbidden. You can clarify your code by moving both the "
                "view and the inplace either both inside the no_grad block (if you don't "
                "want the inplace to be tracked) or both outside (if you want the inplace to "
                "be tracked).")
        elif base._grad_fn is None and base._requires_grad:
            raise RuntimeError("a view of a leaf Variable that requires grad is being "
                               "used in an in-place operation.")
        elif self._view_tracks.__class__ is tuple:
            raise RuntimeError(
                f"Output {self._view_tracks[1]} of {self._view_tracks[0]} is a view and is "
                "being modified inplace. This view is the output of a function that returns "
                "multiple views. Such functions do not allow the output views to be modified "
                "inplace. You should replace the inplace operation by an out-of-place one.")
    data = self._data if data is None else data
    if not data.flags.writeable:
        if _storage.writable(data) is None:
            raise RuntimeError(f"{op}: this tensor's memory is read-only (it came from a "
                               "read-only NumPy array); clone() it first")
        # As PyTorch: a dim that repeats one element (expand) takes only a fill outside a
        # graph; windows that overlap otherwise (unfold) take fills, and convlab refuses
        # the rest (see below)
        repeats = any(s == 0 and n > 1 for n, s in zip(data.shape, data.strides))
        if repeats and (op != "fill_" or recorded):
            raise RuntimeError(
                "unsupported operation: more than one element of the written-to tensor "
                "refers to a single memory location. Please clone() the tensor before "
                "performing the operation.")
        if (not repeats and op not in ("fill_", "setitem")
                and _storage.overlaps_itself(data.shape, data.strides)):
            # PyTorch writes such a tensor element by element, so an element that several
            # windows share is changed once per window, in an order it does not promise
            raise RuntimeError(
                f"{op}: this tensor's windows overlap (as Tensor.unfold's with step < size): "
                "an in-place change would depend on the order elements are visited. "
                "clone() it first, or change the base tensor instead.")
    for other in operands:
        if (isinstance(other, Tensor) and other._data is not data
                and _storage.shares_root(other._data, data)
                and _partly_overlap(other._data, data)):
            raise RuntimeError(
                "unsupported operation: some elements of the input tensor and the "
                "written-to tensor refer to a single memory location. Please clone() the "
                "tensor before performing the operation.")
    return recorded

def _inplace(self, op: str, compute, *operands, takes_out: bool = False,
             saves_self: bool = True) -> "Tensor":
    """Change this tensor in place to ``compute()``, its new values computed from its current
    ones (with ``operands``, the other tensors the op reads), and return it.

    The values are written into this tensor's memory, so the base and every view see them,
    and the version is bumped. Inside a graph the change is recorded: the new values' node
    becomes this tensor's ``grad_fn`` or, for a view, the base's history is rewritten with
    a ``CopySlices`` node (``ops.shape``). What the new nodes saved of the memory about to be
    overwritten is copied first, so they keep the values they saw, as PyTorch's in-place
    ops keep ``original_self``.

    ``takes_out``: ``compute(out)`` may write its values straight into ``out``, this tensor's
    memory, when their dtype and shape are this tensor's (a NumPy ufunc with ``out=``): no new
    array and no copy back. One core, 32x64x32x32 float32, ``x.mul_(0.5)`` 0.68 -> 0.20 ms
    (PyTorch 0.16). It is offered where nothing can need the old values afterwards: outside a
    graph, or inside one when the op saves none of its input for backward
    (``saves_self=False``: an addition or a subtraction). Otherwise ``compute(None)``
    computes out of place.

    (A compiled loop written in place can lose to an out-of-place one: LLVM turns a ReLU's
    ``x[i] = x[i] if x[i] > 0 else 0`` into masked stores, which AMD's cores run slowly:
    1.0 ms against 0.38 for the same loop into other memory. ``relu_`` writes with NumPy's
    masked copy instead; ``leaky_relu_`` and ``hardtanh_`` (``relu6``) have in-place kernels
    that store every value (:mod:`.engine.elementwise`); the other activations compute out
    of place and copy back.)
    """
    recorded = self._check_inplace(op, operands)
    data = self._data
    args = ()
    if takes_out:
        args = (data if data.flags.writeable and not (recorded and saves_self) else None,)
    if recorded:
        with collect_nodes() as nodes:
            result = self._new_values(op, compute, args)
        counter = self._version_counter
        for node in nodes:
            _keep_saved_values(node, counter)
    else:
        result = self._new_values(op, compute, args)
    if result._data is not data:
        np.copyto(data if data.flags.writeable else _storage.writable(data), result._data)
    self._version_counter.bump()
    node = result._grad_fn
    if node is None:  # not recorded: the tensor keeps its history (and backward will
        return self  # refuse to use what that history saved of the old values)
    _saved_output_is(node, result, self)
    if self._base is None:
        self._grad_fn = node
        self._requires_grad = True
        return self
    base = self._base
    copy = make_node(S.CopySlices, (base, result),
                     layout=_storage.layout_of(self._data, base._data))
    copy.output_meta = (base._data.shape, base._data.dtype)
    base._grad_fn = copy
    base._requires_grad = True
    return self  # its own grad_fn is rebuilt from the base's when next used

def _new_values(self, op: str, compute, args: tuple = ()) -> "Tensor":
    """``compute(*args)``, checked to fit this tensor: its shape, and a dtype that casts to
    this tensor's (then cast)."""
    result = compute(*args)
    if not isinstance(result, Tensor):
        result = Tensor._wrap(np.asarray(result))
    if result._data.shape != self._data.shape:
        raise RuntimeError(f"{op}: output with shape {list(self.shape)} doesn't match "
                           f"the broadcast shape {list(result.shape)}")
    if result._data.dtype != self._data.dtype:
        if not np.can_cast(result._data.dtype, self._data.dtype, "same_kind"):
            raise RuntimeError(f"{op}: result type {result.dtype.name} can't be cast to "
                               f"the desired output type {self.dtype.name}")
        result = result.to(self.dtype)
    return result

def add_(self, other, alpha=1):
    return self._inplace(
        "add_", lambda out: _binary(E.Add, "add", self, other if alpha == 1 else other * alpha,
                                    out=out),
        other, takes_out=True, saves_self=False)

def sub_(self, other, alpha=1):
    return self._inplace(
        "sub_", lambda out: _binary(E.Sub, "sub", self, other if alpha == 1 else other * alpha,
                                    out=out),
        other, takes_out=True, saves_self=False)

def mul_(self, other):
    return self._inplace("mul_", lambda out: _binary(E.Mul, "mul", self, other, out=out), other,
                         takes_out=True)

def div_(self, other):
    return self._inplace("div_", lambda out: _binary(E.Div, "div", self, other,
                                                     float_result=True, out=out),
                         other, takes_out=True)

def pow_(self, other):
    return self._inplace("pow_", lambda: self ** other, other)

def remainder_(self, other):
    return self._inplace("remainder_", lambda: self % other, other)

def floor_divide_(self, other):
    return self._inplace("floor_divide_", lambda: self // other, other)

def addcmul_(self, tensor1, tensor2, value=1):
    return self._inplace("addcmul_", lambda: self + tensor1 * tensor2 * value,
                         tensor1, tensor2)

def addcdiv_(self, tensor1, tensor2, value=1):
    return self._inplace("addcdiv_", lambda: self + tensor1 / tensor2 * value,
                         tensor1, tensor2)

def lerp_(self, end, weight):
    return self._inplace("lerp_", lambda: self.lerp(end, weight), end, weight)

def relu_(self):
    """``relu``, in place, written where the values lie, also inside a graph: a ReLU saves its
    output, not its input (``nn.ReLU(inplace=True)``, ``F.relu(x, inplace=True)``)."""
    return self._inplace("relu_", lambda out: E.Relu.apply(self, out=out), takes_out=True,
                         saves_self=False)

def clamp_(self, min=None, max=None):
    return self._inplace("clamp_", lambda: self.clamp(min, max), min, max)

def clamp_min_(self, min):
    return self._inplace("clamp_min_", lambda: self.clamp_min(min), min)

def clamp_max_(self, max):
    return self._inplace("clamp_max_", lambda: self.clamp_max(max), max)

def masked_fill_(self, mask, value):
    return self._inplace("masked_fill_", lambda: self.masked_fill(mask, value), value)

def scatter_(self, dim: int, index, src=None, *, value=None):
    return self._inplace("scatter_", lambda: self.scatter(dim, index, src, value=value),
                         src)

def scatter_add_(self, dim: int, index, src):
    return self._inplace("scatter_add_", lambda: self.scatter_add(dim, index, src), src)

def copy_(self, src, non_blocking: bool = False):
    """Write ``src`` (broadcast to this shape, cast to this dtype) into this tensor."""
    src = src if isinstance(src, Tensor) else Tensor._wrap(np.asarray(src))
    _broadcast_check("copy_", self, src)
    if src._data is self._data:
        return self
    return self._inplace("copy_", lambda: E.CopyFrom.apply(self, src), src)

def fill_(self, value):
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions.")
        value = value.item()
    return self._inplace("fill_", lambda: E.Fill.apply(self, value))

def zero_(self):
    return _named(self.fill_(0), "ZeroBackward0")

def _fill_with(self, op: str, values: np.ndarray) -> "Tensor":
    return self._inplace(op, lambda: E.Fill.apply(self, values))

def uniform_(self, a: float = 0.0, b: float = 1.0, generator=None):
    from ._random import rng

    return self._fill_with("uniform_", rng(generator).uniform(a, b, self._data.shape))

def normal_(self, mean: float = 0.0, std: float = 1.0, generator=None):
    from ._random import rng

    return self._fill_with("normal_", rng(generator).normal(mean, std, self._data.shape))

def bernoulli_(self, p: float = 0.5, generator=None):
    from ._random import rng

    if not isinstance(p, Tensor) and not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    return self._fill_with("bernoulli_", rng(generator).random(self._data.shape) < p)

# ``x += y`` and the other augmented assignments change x in place, as in PyTorch (without
# them Python would rebind the name to a new tensor and x's memory would stay as it was).
# ``x @= y`` rebinds, as in PyTorch, which has no in-place matrix product.

def __iand__(self, other):
    return self._inplace("__iand__", lambda: self & other, other)

def __ior__(self, other):
    return self._inplace("__ior__", lambda: self | other, other)

def __ixor__(self, other):
    return self._inplace("__ixor__", lambda: self ^ other, other)

def __ilshift__(self, other):
    return self._inplace("__ilshift__", lambda: self << other, other)

def __irshift__(self, other):
    return self._inplace("__irshift__", lambda: self >> other, other)

def __setitem__(self, index, value):
    """``x[index] = value``, written in place. Inside a graph, ints and slices select a view
    that ``copy_`` fills (PyTorch's ``CopySlices``); index tensors record ``index_put_``."""
    index = self._index(index)
    if isinstance(value, Tensor) and value._data.dtype != self._data.dtype:
        value = value.to(self.dtype)
    records = is_grad_enabled() and (self.requires_grad or (
        isinstance(value, Tensor) and value._requires_grad))
    if not records:
        data = self._data
        try:
            if isinstance(value, Tensor) or not data.flags.writeable:
                # the region written, for the checks: a read-only tensor may have writable
                # regions (expanded), and x[a:b] = x[a:b] (after +=) overlaps only itself
                region = S.basic_view(data, index) if S.is_basic(index) else None
                self._check_inplace("setitem", (value,), region)
                data = data if data.flags.writeable else _storage.writable(data)
            data[index] = value._data if isinstance(value, Tensor) else value
        except (IndexError, ValueError) as e:
            raise type(e)(f"setitem: {e} (tensor of shape {list(self.shape)})") from None
        self._version_counter.value += 1
        return
    if not isinstance(value, Tensor):
        value = Tensor._wrap(np.asarray(value, dtype=self._data.dtype))
    if S.is_basic(index):
        region = self[index]
        _broadcast_check("setitem", region, value)
        region._inplace("setitem", lambda: E.CopyFrom.apply(region, value), value)
    else:
        self._inplace("index_put_", lambda: S.IndexPut.apply(self, value, index), value)


# ---- attached to Tensor -------------------------------------------------------------------

for _method in (
    _check_inplace, _inplace, _new_values, add_, sub_, mul_, div_, pow_, remainder_,
    floor_divide_, addcmul_, addcdiv_, lerp_, relu_, clamp_, clamp_min_, clamp_max_,
    masked_fill_, scatter_, scatter_add_, copy_, fill_, zero_, _fill_with, uniform_, normal_,
    bernoulli_,
    __iand__, __ior__, __ixor__, __ilshift__, __irshift__, __setitem__):
    setattr(Tensor, _method.__name__, _method)
Tensor.__iadd__ = add_
Tensor.__isub__ = sub_
Tensor.__imul__ = mul_
Tensor.__itruediv__ = div_
Tensor.__ifloordiv__ = floor_divide_
Tensor.__imod__ = remainder_
Tensor.__ipow__ = pow_


def _inplace_method(name: str):
    """``name_``: the out-of-place method ``name`` written back into the tensor."""

    def method(self, *args, **kwargs):
        return self._inplace(name + "_", lambda: getattr(self, name)(*args, **kwargs), *args)

    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"``{name}``, in place: the result is written into this tensor."
    return method


for _name in ("neg", "abs", "exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh",
              "sinh", "cosh", "sigmoid", "square", "reciprocal", "erf", "sign", "floor",
              "ceil", "trunc", "frac", "round", "tril", "triu", "logical_not", "logical_and",
              "logical_or", "logical_xor", "eq", "ne", "lt", "le", "gt", "ge", "cumsum",
              "cumprod"):
    if hasattr(Tensor, _name) and not hasattr(Tensor, _name + "_"):
        setattr(Tensor, _name + "_", _inplace_method(_name))
Tensor.negative_ = Tensor.neg_
Tensor.absolute_ = Tensor.abs_
Tensor.fix_ = Tensor.trunc_
Tensor.clip_ = Tensor.clamp_
Tensor.subtract_ = Tensor.sub_
Tensor.multiply_ = Tensor.mul_
Tensor.divide_ = Tensor.true_divide_ = Tensor.div_


def _restride_method(name: str):
    """``name_`` for a view op (``t_``, ``transpose_``, ``squeeze_``, ``unsqueeze_``): the
    tensor itself takes the view's shape and strides over the same memory, and, in a graph, the
    view op's node."""

    def method(self, *args):
        self._check_inplace(name + "_")
        view = getattr(self, name)(*args)
        self._data = view._data
        if view._grad_fn is not None:  # PyTorch numbers the in-place forms' nodes 1
            self._grad_fn, self._requires_grad = view._grad_fn, True
            self._grad_fn.grad_fn_name = view._grad_fn.name().replace("Backward0", "Backward1")
        return self

    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"``{name}``, in place: this tensor takes the view's shape and strides."
    return method


for _name in ("t", "transpose", "squeeze", "unsqueeze", "swapaxes"):
    setattr(Tensor, _name + "_", _restride_method(_name))


def _partly_overlap(x: np.ndarray, y: np.ndarray) -> bool:
    """True when ``x`` and ``y`` share elements without being the same window of memory: an
    in-place write to ``y`` would change what the op is still reading from ``x``."""
    if (x.shape == y.shape and x.strides == y.strides
            and _storage.address(x) == _storage.address(y)):
        return False
    try:
        return bool(np.shares_memory(x, y, max_work=1_000_000))
    except np.exceptions.TooHardError:
        return True


def _keep_saved_values(node, counter) -> None:
    """Before an in-place write into the memory ``counter`` guards: where ``node`` (made by the
    op that writes) saved arrays of that memory, give it copies, so its backward sees the values
    it was computed from."""
    records = node.saved_versions
    if not any(r[1] is counter and r[3] is not OUTPUT for r in records):
        return
    saved, kept = list(node.saved), []
    for record in records:
        if record[1] is counter and record[3] is not OUTPUT:
            saved[record[0]] = saved[record[0]].copy()
        else:
            kept.append(record)
    node.saved, node.saved_versions = tuple(saved), tuple(kept)


def _saved_output_is(node, result: Tensor, tensor: Tensor) -> None:
    """``result``'s values were just written into ``tensor``: where ``node`` saved its output,
    it keeps ``tensor``'s memory instead, guarded at the version the write left (so a later
    in-place change of ``tensor`` is caught, as in PyTorch)."""
    records = node.saved_versions
    for k, (position, counter, _, producer) in enumerate(records):
        if producer is OUTPUT and counter is result._version_counter:
            saved = list(node.saved)
            saved[position] = tensor._data
            node.saved = tuple(saved)
            node.saved_versions = (records[:k] + (saved_version(position, tensor, OUTPUT),)
                                   + records[k + 1:])
            return
