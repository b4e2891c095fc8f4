"""The Tensor: an ndarray with PyTorch's API, dtype rules and reverse-mode autograd.

A Tensor holds its values in ``_data`` (a NumPy array) and, when it takes part in a graph, the
node that made it (``grad_fn``). Methods normalize their arguments, promote dtypes as PyTorch
does, and hand arrays to the ArrayFunctions in ``convlab.ops``.

Tensors follow PyTorch's storage model (``convlab.storage``): a view (``view``, slicing,
``transpose``, ``expand``, ...) shares its base's memory and version counter, and ``_base`` names
the base. An in-place op (every ``*_`` method, ``x[i] = v``, ``+=`` and the other augmented
assignments) writes into the memory, so the base and every view see it, bumps the version, and,
inside a graph, records itself: on a plain tensor its node becomes the tensor's ``grad_fn``; on a
view it rewrites the base's history (``CopySlices``), and each view's ``grad_fn`` is rebuilt from
the base's the next time it is used (``AsStridedBackward0``). The in-place ops live in
``inplace.py``; a view is made where an ``ArrayFunction`` with ``is_view`` returns a NumPy view of
its input (``autograd/graph.py``), by ``Tensor._view_of``.
"""

from __future__ import annotations

import builtins
import collections
import functools
import math
import weakref

import numpy as np

from . import _dtype
from ._dtype import dtype as _DType
from . import storage as _storage
from .autograd import graph as _graph
from .autograd.graph import AccumulateGrad, ArrayFunction, make_node
from .autograd.graph import backward as _run_backward
from .ops import elementwise as E
from .ops import reduction as R
from .ops import shape as S

__all__ = ["Tensor", "Size", "device"]


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``convlab.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"convlab.Size({list(self)})"

    def __getitem__(self, item):
        out = tuple.__getitem__(self, item)
        return Size(out) if isinstance(item, slice) else out

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class device:
    """convlab computes on the CPU only; ``device('cpu')`` exists so PyTorch code runs as is."""

    def __init__(self, type: str = "cpu", index=None):
        if isinstance(type, device):
            type = type.type
        if str(type).split(":")[0] != "cpu":
            raise RuntimeError(f"convlab runs on the CPU only; got device {type!r}")
        self.type = "cpu"
        self.index = None

    def __repr__(self) -> str:
        return "device(type='cpu')"

    def __str__(self) -> str:
        return "cpu"

    def __eq__(self, other) -> bool:
        return isinstance(other, (device, str)) and str(other).split(":")[0] == "cpu"

    def __hash__(self) -> int:
        return hash("cpu")


_CPU = device("cpu")

def _return_type(name: str) -> type:
    """A ``(values, indices)`` named tuple that prints as PyTorch's ``torch.return_types``."""

    def __repr__(self) -> str:
        return f"convlab.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"

    fields = collections.namedtuple(name, ["values", "indices"])
    return type(name, (fields,), {"__slots__": (), "__repr__": __repr__})


MaxResult, MinResult, TopkResult, SortResult = map(_return_type, ["max", "min", "topk", "sort"])


# ---------------------------------------------------------------------------------------------
# dtype promotion, PyTorch's way: dimensioned tensors decide; a 0-d tensor or a Python number
# only wins when it is of a higher category (bool < integer < floating).


_CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2}  # bool < integer < floating, by dtype kind


def _number_dtype(value) -> np.dtype:
    """The dtype a Python number takes part in promotion with (bool, int64, default float)."""
    if isinstance(value, (bool, np.bool_)):
        kind = "b"
    elif isinstance(value, (int, np.integer)):
        kind = "i"
    elif isinstance(value, (float, np.floating)):
        kind = "f"
    else:
        kind = np.asarray(value).dtype.kind
    if kind == "b":
        return np.dtype(np.bool_)
    if kind in "iu":
        return np.dtype(np.int64)
    if kind == "f":
        return _dtype.get_default_dtype().numpy
    raise TypeError(f"can't combine a Tensor with {type(value).__name__} {value!r}")


def _promote(*operands) -> np.dtype:
    """The result dtype of an elementwise op over Tensors and Python numbers.

    Three tiers, in order: tensors with dims, 0-d tensors, Python numbers. A later tier only
    changes the result when its category is higher, and then its own dtypes decide:
    ``int64 tensor + 2.5 -> float32``, ``float32 tensor + float64 0-d tensor -> float32``.
    """
    first = operands[0]
    if isinstance(first, Tensor) and first._data.ndim:
        # the common case, decided without building the tiers: a tensor with dims, and
        # operands of the same dtype or numbers of no higher category
        dtype = first._data.dtype
        category = _CATEGORY[dtype.kind]
        for op in operands[1:]:
            if isinstance(op, Tensor):
                other = op._data.dtype
                if other != dtype and (op._data.ndim or _CATEGORY[other.kind] > category):
                    break
            elif _CATEGORY[_number_dtype(op).kind] > category:
                break
        else:
            return dtype
    tiers = ([], [], [])
    for op in operands:
        if isinstance(op, Tensor):
            tiers[0 if op._data.ndim else 1].append(op._data.dtype)
        else:
            tiers[2].append(_number_dtype(op))
    result = None
    for dtypes in tiers:
        if not dtypes:
            continue
        best = builtins.max(_CATEGORY[d.kind] for d in dtypes)
        if result is None or best > _CATEGORY[result.kind]:
            result = np.result_type(*[d for d in dtypes if _CATEGORY[d.kind] == best])
    return result


def _as_operand(value, dtype: np.dtype):
    """``value`` as an operand of ``dtype``: a Tensor cast (differentiably) or a NumPy scalar."""
    if isinstance(value, Tensor):
        return value if value._data.dtype == dtype else value.to(dtype)
    if isinstance(value, (bool, int, float, np.generic)):
        return dtype.type(value)
    return Tensor._wrap(np.asarray(value, dtype=dtype))


def _broadcast_check(op: str, a, b) -> None:
    """Raise PyTorch's error, with both shapes, when ``a`` and ``b`` cannot broadcast."""
    sa, sb = np.shape(a._data if isinstance(a, Tensor) else a), np.shape(
        b._data if isinstance(b, Tensor) else b)
    if sa == sb:
        return
    for i in range(1, builtins.min(len(sa), len(sb)) + 1):
        x, y = sa[-i], sb[-i]
        if x != y and x != 1 and y != 1:
            dim = builtins.max(len(sa), len(sb)) - i
            raise RuntimeError(
                f"{op}: the size of tensor a ({x}) must match the size of tensor b ({y}) at "
                f"non-singleton dimension {dim} (shapes {list(sa)} and {list(sb)})")


def _binary(fn: type[ArrayFunction], op: str, a, b, float_result: bool = False,
            out: np.ndarray | None = None) -> "Tensor":
    """``fn`` on ``a`` and ``b`` promoted to one dtype (PyTorch's rules). ``out``: memory that an
    in-place op offers for the result (its tensor's, ``a``'s), used where the result has its
    dtype and shape."""
    dtype = _promote(a, b)
    if float_result and dtype.kind != "f":
        dtype = _dtype.get_default_dtype().numpy
    x, y = _as_operand(a, dtype), _as_operand(b, dtype)
    if isinstance(x, Tensor) and isinstance(y, Tensor) and x._data.shape != y._data.shape:
        _broadcast_check(op, x, y)  # (numbers broadcast against anything)
    if out is not None and dtype == out.dtype and _fills(out, x, y):
        return fn.apply(x, y, out=out)
    return fn.apply(x, y)


def _fills(out: np.ndarray, *operands) -> bool:
    """Whether the operands (Tensors and numbers) broadcast to exactly ``out``'s shape."""
    target = out.shape
    for o in operands:
        if isinstance(o, Tensor):
            shape = o._data.shape
            if shape != target and (len(shape) > len(target) or builtins.any(
                    s != 1 and s != t for s, t in zip(shape[::-1], target[::-1]))):
                return False
    return True


def _index_name(index) -> str:
    """PyTorch's grad_fn name for ``x[index]``: its last basic step (select, slice, unsqueeze),
    or ``IndexBackward0`` when tensors index."""
    name = "AliasBackward0"
    for item in index if isinstance(index, tuple) else (index,):
        if isinstance(item, np.ndarray) and item.ndim:
            return "IndexBackward0"
        if item is None:
            name = "UnsqueezeBackward0"
        elif isinstance(item, slice):
            if item != slice(None) or name == "AliasBackward0":
                name = "SliceBackward0"
        elif item is not Ellipsis:
            name = "SelectBackward0"
    return name


def _named(t: "Tensor", name: str) -> "Tensor":
    """Give ``t``'s graph node PyTorch's name for the op that made it, where one Function stands
    for several ops (``Reshape`` for view, squeeze and unsqueeze). No-op outside a graph.
    (``t`` was just made, so its own ``_grad_fn`` is current.)"""
    if t._grad_fn is not None:
        t._grad_fn.grad_fn_name = name
    return t


def _compare(ufunc, a, b) -> "Tensor":
    _broadcast_check(ufunc.__name__, a, b)
    dtype = _promote(a, b)
    x = a._data if isinstance(a, Tensor) else a
    y = b._data if isinstance(b, Tensor) else b
    return Tensor._wrap(np.asarray(ufunc(np.asarray(x, dtype), np.asarray(y, dtype))))


def _normalize_dim(dim: int, ndim: int, op: str = "dim") -> int:
    n = builtins.max(ndim, 1)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got "
            f"{dim})")
    return int(dim) % n


def _normalize_dims(dim, ndim: int, op: str) -> tuple:
    """``dim`` (None, int or sequence) as a sorted tuple of non-negative axes."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        axes = tuple(_normalize_dim(d, ndim, op) for d in dim)
        if len(set(axes)) != len(axes):
            raise RuntimeError(f"{op}: dim {list(dim)} appears multiple times in the list of dims")
        return tuple(sorted(axes)) if ndim else ()
    return (_normalize_dim(dim, ndim, op),) if ndim else ()


def _shape_args(args) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f(Size([2, 3]))``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    out = []
    for a in args:
        if isinstance(a, Tensor):
            a = a.item()
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"sizes must be ints, got {a!r} ({type(a).__name__})")
        out.append(int(a))
    return tuple(out)


class Tensor:
    """A multi-dimensional array with PyTorch's API and autograd.

    >>> x = Tensor([1.0, 2.0, 3.0])
    >>> x.dtype, x.shape
    (convlab.float32, convlab.Size([3]))
    """

    # _base, _version_counter: the storage model (module docstring). _view_version and
    # _view_tracks are set on views only: the version their grad_fn was made at, and whether
    # the view was made in grad mode (only then does it take part in its base's graph); for one
    # of the views split, chunk or unbind return, _view_tracks is (op name, index) instead of
    # True, as PyTorch refuses in-place changes to those inside a graph.
    __slots__ = ("_data", "_requires_grad", "grad", "_grad_fn", "_accumulator", "_base",
                 "_version_counter", "_view_version", "_view_tracks", "__weakref__", "__dict__")

    # ---- construction ------------------------------------------------------------------------

    def __init__(self, *args, dtype=None, requires_grad: bool = False):
        """``Tensor(data)`` copies data as float32 (as ``torch.Tensor`` does); ``Tensor(2, 3)``
        or ``Tensor(Size([2, 3]))`` makes a zero-filled float32 tensor of that shape, and
        ``Tensor()`` an empty one."""
        np_dtype = _dtype.to_numpy_dtype(dtype or _dtype.get_default_dtype())
        if not args:
            array = np.zeros(0, np_dtype)
        elif len(args) == 1 and not isinstance(args[0], (int, np.integer, Size)):
            data = args[0]
            array = np.array(data._data if isinstance(data, Tensor) else data, dtype=np_dtype)
        else:
            array = np.zeros(_shape_args(args), np_dtype)
        self._init_fields(array)
        if requires_grad:
            self.requires_grad = True

    def _init_fields(self, array: np.ndarray, counter=None) -> None:
        """A fresh tensor's fields: ``array``'s values, no graph, and ``counter`` (to share a
        version counter) or a new one."""
        self._data = array
        self._requires_grad = False
        self.grad = None
        self._grad_fn = None
        self._accumulator = None
        self._base = None
        self._version_counter = _storage.VersionCounter() if counter is None else counter

    @classmethod
    def _wrap(cls, array: np.ndarray, counter=None) -> "Tensor":
        """A Tensor around ``array`` (no copy, no graph): the engine's way back to Tensors.
        ``counter``: a version counter to share (a view's, ``detach``'s), else a new one."""
        t = object.__new__(Tensor)
        t._data = array
        t._requires_grad = False
        t.grad = None
        t._grad_fn = None
        t._accumulator = None
        t._base = None
        t._version_counter = _storage.VersionCounter() if counter is None else counter
        return t

    def _view_of(self, array: np.ndarray, grad_mode: bool) -> "Tensor":
        """A view of this tensor over ``array`` (a NumPy view of ``self._data``): the same
        memory and version counter, ``_base`` the tensor that owns the memory. ``grad_mode``:
        whether grad mode is on as the view is made (only then is it part of the graph)."""
        t = Tensor._wrap(array, self._version_counter)
        t._view_version = self._version_counter.value
        base = self._base
        if base is None:
            t._base = self
            t._view_tracks = grad_mode
        else:
            t._base = base
            tracks = self._view_tracks  # a view of one of split's views is one too
            t._view_tracks = tracks if grad_mode and tracks.__class__ is tuple else grad_mode
        return t

    def _refresh_view(self) -> None:
        """Rebuild this view's place in the graph after its memory changed in place: its values
        now come from its base's current history, so its grad_fn becomes the base's grad_fn seen
        through the view's geometry (PyTorch's ``AsStridedBackward0``)."""
        base = self._base
        self._view_version = self._version_counter.value
        if self._view_tracks and base._requires_grad:
            node = make_node(S.AsStrided, (base,),
                             layout=_storage.layout_of(self._data, base._data))
            node.output_meta = (self._data.shape, self._data.dtype)
            self._grad_fn = node
            self._requires_grad = True

    # ---- storage -----------------------------------------------------------------------------

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's memory has seen (shared with its views)."""
        return self._version_counter.value

    def _is_view(self) -> bool:
        return self._base is not None

    def stride(self, dim: int | None = None):
        """Elements to step in memory for one step along each dim (PyTorch's strides)."""
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        if dim is None:
            return strides
        return strides[_normalize_dim(dim, self._data.ndim, "stride")]

    def storage_offset(self) -> int:
        """Where this tensor's first element lies in its memory, in elements."""
        start = self.untyped_storage().data_ptr()
        return (self.data_ptr() - start) // self._data.itemsize

    def data_ptr(self) -> int:
        """The address of the first element (0 for a tensor with no elements, as PyTorch)."""
        return _storage.address(self._data) if self._data.size else 0

    def untyped_storage(self) -> _storage.UntypedStorage:
        return _storage.UntypedStorage(self._data)

    # ---- autograd state ----------------------------------------------------------------------

    @property
    def grad_fn(self):
        """The graph node that made this tensor (None for a leaf)."""
        if self._base is not None and self._view_version != self._version_counter.value:
            self._refresh_view()
        return self._grad_fn

    @grad_fn.setter
    def grad_fn(self, node) -> None:
        self._grad_fn = node

    @property
    def requires_grad(self) -> bool:
        if self._base is not None and self._view_version != self._version_counter.value:
            self._refresh_view()
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if self.grad_fn is not None and not value:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if value and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients (got "
                f"{self.dtype})")
        self._requires_grad = value

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def _grad_node(self):
        """The graph node gradients flow into: ``grad_fn``, or the leaf's accumulator.

        The leaf keeps only a weak reference to its accumulator (the graphs that use it keep it
        alive), so a leaf and its node form no reference cycle.
        """
        if self._base is not None and self._view_version != self._version_counter.value:
            self._refresh_view()
        if self._grad_fn is not None:
            return self._grad_fn
        node = self._accumulator() if self._accumulator is not None else None
        if node is None:
            node = AccumulateGrad(self)
            self._accumulator = weakref.ref(node)
        return node

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn.retained_output = weakref.ref(self)

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient during ``backward()``, before it is
        used (sent on to the inputs, or added into ``.grad`` of a leaf); a result other than None
        replaces it. Returns a handle whose ``remove()`` unregisters the hook.

        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> handle = x.register_hook(lambda g: g * 10)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([20., 40.])
        >>> handle.remove()
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        node = self._grad_node()
        if self.grad_fn is None:
            # A leaf holds its accumulator weakly; while it has hooks, hold it: a reference
            # cycle (leaf -> node -> leaf) that the garbage collector breaks.
            self._hooked_accumulator = node
        return node.add_hook(hook)

    def backward(self, gradient=None, retain_graph: bool = False, create_graph: bool = False):
        """Accumulate the gradient of this tensor into ``.grad`` of every leaf it depends on."""
        if create_graph:
            raise NotImplementedError("convlab computes first derivatives only (create_graph)")
        _run_backward(self, gradient, retain_graph)

    def detach(self) -> "Tensor":
        """The same values (shared memory and version counter), cut from the graph: an in-place
        change through it is seen by the tensors that saved this one for backward."""
        return Tensor._wrap(self._data, self._version_counter)

    def detach_(self) -> "Tensor":
        if self._base is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self) -> "Tensor":
        """A Tensor sharing this one's memory, outside the graph and outside the version count:
        changes made through it are not checked by backward (PyTorch's ``.data``)."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value: "Tensor") -> None:
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)

    # ---- metadata ----------------------------------------------------------------------------

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_normalize_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self) -> _DType:
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def device(self) -> device:
        return _CPU

    @property
    def is_cuda(self) -> bool:
        return False

    is_xpu = is_mps = is_meta = is_sparse = is_quantized = is_cuda

    def cuda(self, device=None, non_blocking: bool = False):
        """convlab has no GPU: raises as a CPU-only PyTorch does (AssertionError)."""
        raise AssertionError(
            "convlab runs on the CPU only (it has no CUDA): keep tensors on the CPU, e.g. "
            "device = 'cuda' if convlab.cuda.is_available() else 'cpu'; x.to(device)")

    def dim(self) -> int:
        return self._data.ndim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self) -> int:
        return id(self)

    # ---- conversion --------------------------------------------------------------------------

    def numpy(self, force: bool = False) -> np.ndarray:
        """The values as an ndarray, sharing memory (no copy)."""
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with {self._data.size} values is ambiguous")
        return bool(self._data.reshape(()).item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def to(self, *args, **kwargs) -> "Tensor":
        """``to(dtype)``, ``to('cpu')``, ``to(device, dtype)``, ``to(other_tensor)``."""
        target = kwargs.get("dtype")
        for a in args:
            if isinstance(a, Tensor):
                target = a.dtype
            elif isinstance(a, (_DType, np.dtype, type)):
                target = a
            else:
                device(a)
        if "device" in kwargs and kwargs["device"] is not None:
            device(kwargs["device"])
        if target is None:
            return self
        np_dtype = _dtype.to_numpy_dtype(target)
        if np_dtype == self._data.dtype:
            return self
        return E.Cast.apply(self, np_dtype)

    _LEGACY_TYPES = {"float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor",
                     "int32": "IntTensor", "bool": "BoolTensor", "uint8": "ByteTensor",
                     "float16": "HalfTensor", "int16": "ShortTensor", "int8": "CharTensor"}

    def type(self, dtype=None):
        """The legacy type name (``'convlab.FloatTensor'``), or this tensor converted to
        ``dtype``: a dtype, a legacy type (``convlab.FloatTensor``) or its name
        (``'torch.FloatTensor'``)."""
        if dtype is None:
            return "convlab." + self._LEGACY_TYPES.get(self.dtype.name, self.dtype.name)
        if isinstance(dtype, str):
            names = {v: k for k, v in self._LEGACY_TYPES.items()}
            name = dtype.rsplit(".", 1)[-1]
            if name not in names:
                raise ValueError(f"type(): invalid type {dtype!r}; expected one of "
                                 f"{sorted('torch.' + n for n in names)} or a dtype")
            dtype = _dtype.from_numpy_dtype(np.dtype(names[name]))
        return self.to(getattr(dtype, "dtype", dtype))

    def sinh(self):
        """Hyperbolic sine, ``(e^x - e^-x) / 2`` (its last node named as PyTorch's)."""
        return _named((self.exp() - (-self).exp()) / 2, "SinhBackward0")

    def cosh(self):
        """Hyperbolic cosine, ``(e^x + e^-x) / 2`` (its last node named as PyTorch's)."""
        return _named((self.exp() + (-self).exp()) / 2, "CoshBackward0")

    def type_as(self, other: "Tensor") -> "Tensor":
        return self.to(other.dtype)

    def float(self) -> "Tensor":
        return self.to(_dtype.float32)

    def double(self) -> "Tensor":
        return self.to(_dtype.float64)

    def half(self) -> "Tensor":
        return self.to(_dtype.float16)

    def long(self) -> "Tensor":
        return self.to(_dtype.int64)

    def int(self) -> "Tensor":
        return self.to(_dtype.int32)

    def bool(self) -> "Tensor":
        return self.to(_dtype.bool_)

    def cpu(self) -> "Tensor":
        return self

    def contiguous(self) -> "Tensor":
        """This tensor if its elements lie in row-major order in memory, else a copy that does."""
        return self if self._data.flags.c_contiguous else S.Copy.apply(self, "C")

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def clone(self) -> "Tensor":
        """A copy in new memory, laid out as this tensor is (PyTorch's ``preserve_format``)."""
        return S.Copy.apply(self, "K")

    def __repr__(self) -> str:
        from ._printing import tensor_repr

        suffixes = []
        if self.grad_fn is not None:
            suffixes.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            suffixes.append("requires_grad=True")
        return tensor_repr(self._data, suffixes, default_float=_dtype.get_default_dtype().numpy)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    # ---- arithmetic --------------------------------------------------------------------------

    def __add__(self, other):
        return _binary(E.Add, "add", self, other)

    def __radd__(self, other):
        return _binary(E.Add, "add", other, self)

    def __sub__(self, other):
        return _binary(E.Sub, "sub", self, other)

    def __rsub__(self, other):
        return _named(_binary(E.Sub, "sub", other, self), "RsubBackward1")

    def __mul__(self, other):
        return _binary(E.Mul, "mul", self, other)

    def __rmul__(self, other):
        return _binary(E.Mul, "mul", other, self)

    def __truediv__(self, other):
        return _binary(E.Div, "div", self, other, float_result=True)

    def __rtruediv__(self, other):
        return _binary(E.Div, "div", other, self, float_result=True)

    def _check_integer_divisor(self, other) -> None:
        """Integer division by 0 has no value: PyTorch raises (NumPy would give 0)."""
        divisor = other._data if isinstance(other, Tensor) else np.asarray(other)
        if _promote(self, other).kind in "iub" and divisor.size and not np.all(divisor):
            raise RuntimeError("ZeroDivisionError: integer division by zero (the divisor holds "
                               "a 0); divide floating-point tensors to get inf")

    def __floordiv__(self, other):
        self._check_integer_divisor(other)
        with np.errstate(divide="ignore", invalid="ignore"):  # floats: inf and nan, as PyTorch
            return _compare(np.floor_divide, self, other)

    floor_divide = __floordiv__

    def __mod__(self, other):
        self._check_integer_divisor(other)
        out = _binary(E.Remainder, "remainder", self, other)
        return _named(out, "RemainderBackward1") if isinstance(other, Tensor) else out

    remainder = __mod__

    def __pow__(self, other):
        out = _binary(E.Pow, "pow", self, other)
        return _named(out, "PowBackward1") if isinstance(other, Tensor) else out

    def __rpow__(self, other):
        return _named(_binary(E.Pow, "pow", other, self), "PowBackward2")

    def __neg__(self):
        if self._data.dtype.kind == "b":
            raise RuntimeError(
                "Negation, the `-` operator, on a bool tensor is not supported. If you are "
                "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
        return E.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    add = __add__
    sub = __sub__
    subtract = __sub__
    mul = __mul__
    multiply = __mul__
    div = __truediv__
    divide = __truediv__
    true_divide = __truediv__
    pow = __pow__
    neg = __neg__
    negative = __neg__

    def matmul(self, other):
        return matmul(self, other)

    def mm(self, other):
        return matmul(self, other)

    def bmm(self, mat2):
        """Batched matrix product: (b, n, k) @ (b, k, m) -> (b, n, m), no broadcasting."""
        for name, t in (("batch1", self), ("batch2", mat2)):
            if not isinstance(t, Tensor):
                raise TypeError(f"bmm(): argument '{name}' must be Tensor, not "
                                f"{type(t).__name__}")
            if t.ndim != 3:
                raise RuntimeError(f"bmm(): {name} must be a 3D tensor, got {t.ndim}D")
        b, _, k = self.shape
        if tuple(mat2.shape[:2]) != (b, k):
            raise RuntimeError(f"bmm(): expected size for first two dimensions of batch2 tensor "
                               f"to be: {[b, k]} but got: {list(mat2.shape[:2])} (batch1 "
                               f"{list(self.shape)}, batch2 {list(mat2.shape)})")
        if mat2.dtype != self.dtype:
            raise RuntimeError(f"bmm(): expected scalar type {self.dtype.name} but found "
                               f"{mat2.dtype.name}")
        return _named(S.Matmul.apply(self, mat2), "BmmBackward0")

    def dot(self, other):
        """The inner product of two 1-D tensors of one size and dtype."""
        if not isinstance(other, Tensor):
            raise TypeError(f"dot(): argument 'tensor' must be Tensor, not "
                            f"{type(other).__name__}")
        if self.ndim != 1 or other.ndim != 1:
            raise RuntimeError(f"dot(): 1D tensors expected, but got {self.ndim}D and "
                               f"{other.ndim}D tensors")
        if self.shape != other.shape:
            raise RuntimeError(f"dot(): inconsistent tensor size, expected tensor "
                               f"[{self.shape[0]}] and src [{other.shape[0]}] to have the same "
                               "number of elements")
        if other.dtype != self.dtype:
            raise RuntimeError(f"dot(): expected both vectors to have same dtype, but found "
                               f"{self.dtype.name} and {other.dtype.name}")
        return _named(S.Matmul.apply(self, other), "DotBackward0")

    def outer(self, vec2):
        """The outer product of two 1-D tensors: ``out[i, j] = self[i] * vec2[j]``."""
        for name, t in (("self", self), ("vec2", vec2)):
            if not isinstance(t, Tensor):
                raise TypeError(f"outer(): argument '{name}' must be Tensor, not "
                                f"{type(t).__name__}")
            if t.ndim != 1:
                raise RuntimeError(f"outer(): expected 1-D argument {name}, but got {t.ndim}-D")
        return self.reshape(-1, 1) * vec2

    ger = outer

    # ---- comparisons and logic (no gradient) ---------------------------------------------------

    def __eq__(self, other):
        return _compare(np.equal, self, other)

    def __ne__(self, other):
        return _compare(np.not_equal, self, other)

    def __lt__(self, other):
        return _compare(np.less, self, other)

    def __le__(self, other):
        return _compare(np.less_equal, self, other)

    def __gt__(self, other):
        return _compare(np.greater, self, other)

    def __ge__(self, other):
        return _compare(np.greater_equal, self, other)

    eq = __eq__
    ne = __ne__
    lt = __lt__
    le = __le__
    gt = __gt__
    ge = __ge__

    def __and__(self, other):
        return _compare(np.bitwise_and if self._data.dtype.kind != "b" else np.logical_and,
                        self, other)

    def __or__(self, other):
        return _compare(np.bitwise_or if self._data.dtype.kind != "b" else np.logical_or,
                        self, other)

    def __xor__(self, other):
        return _compare(np.bitwise_xor if self._data.dtype.kind != "b" else np.logical_xor,
                        self, other)

    __rand__ = __and__
    __ror__ = __or__
    __rxor__ = __xor__

    def _shift(self, ufunc, other):
        """``self << other`` or ``>>``: integer (and bool) tensors only."""
        for t in (self, other):
            kind = (t._data if isinstance(t, Tensor) else np.asarray(t)).dtype.kind
            if kind not in "iub":
                raise TypeError(f"{ufunc.__name__}: shifts take integer tensors, got a "
                                f"{'float' if kind == 'f' else kind} operand")
        return _compare(ufunc, self, other)

    def __lshift__(self, other):
        return self._shift(np.left_shift, other)

    def __rshift__(self, other):
        return self._shift(np.right_shift, other)

    def __invert__(self):
        if self._data.dtype.kind == "b":
            return Tensor._wrap(np.logical_not(self._data))
        return Tensor._wrap(np.invert(self._data))

    def logical_and(self, other):
        return _compare(np.logical_and, self, other)

    def logical_or(self, other):
        return _compare(np.logical_or, self, other)

    def logical_xor(self, other):
        return _compare(np.logical_xor, self, other)

    def logical_not(self):
        return Tensor._wrap(np.logical_not(self._data))

    def equal(self, other) -> bool:
        return self.shape == other.shape and bool(np.array_equal(self._data, other._data))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
        return bool(np.allclose(self._data, other._data, rtol=rtol, atol=atol,
                                equal_nan=equal_nan))

    def isnan(self):
        return Tensor._wrap(np.isnan(self._data))

    def isinf(self):
        return Tensor._wrap(np.isinf(self._data))

    def isfinite(self):
        return Tensor._wrap(np.isfinite(self._data))

    def all(self, dim=None, keepdim: bool = False):
        axes = _normalize_dims(dim, self.ndim, "all")
        return Tensor._wrap(np.asarray(np.all(self._data, axis=axes, keepdims=keepdim)))

    def any(self, dim=None, keepdim: bool = False):
        axes = _normalize_dims(dim, self.ndim, "any")
        return Tensor._wrap(np.asarray(np.any(self._data, axis=axes, keepdims=keepdim)))

    # ---- pointwise functions -----------------------------------------------------------------

    def _float_input(self, op: str) -> "Tensor":
        if self._data.dtype.kind == "f":
            return self
        if self._data.dtype.kind in "iub":
            return self.to(_dtype.get_default_dtype())
        raise TypeError(f"{op}: expected a numeric tensor, got {self.dtype}")

    def abs(self):
        return E.Abs.apply(self)

    def exp(self):
        return E.Exp.apply(self._float_input("exp"))

    def log(self):
        return E.Log.apply(self._float_input("log"))

    def log1p(self):
        return E.Log1p.apply(self._float_input("log1p"))

    def sqrt(self):
        return E.Sqrt.apply(self._float_input("sqrt"))

    def rsqrt(self):
        return E.Rsqrt.apply(self._float_input("rsqrt"))

    def sin(self):
        return E.Sin.apply(self._float_input("sin"))

    def cos(self):
        return E.Cos.apply(self._float_input("cos"))

    def tanh(self):
        return E.Tanh.apply(self._float_input("tanh"))

    def sigmoid(self):
        return E.Sigmoid.apply(self._float_input("sigmoid"))

    def relu(self):
        return E.Relu.apply(self)

    def square(self):
        return self.pow(2)

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
        operands = [self] + [b for b in (min, max) if b is not None]
        dtype = _promote(*operands)
        # tensor bounds stay tensors (they get gradients); numbers become arrays
        lo = None if min is None else _as_operand(min, dtype) if isinstance(min, Tensor) else \
            np.asarray(min, dtype)
        hi = None if max is None else _as_operand(max, dtype) if isinstance(max, Tensor) else \
            np.asarray(max, dtype)
        out = E.Clamp.apply(_as_operand(self, dtype), lo, hi)
        tensor_bounds = isinstance(min, Tensor) or isinstance(max, Tensor)
        return _named(out, "ClampBackward0") if tensor_bounds else out

    clip = clamp

    def clamp_min(self, min):
        """``clamp(min=min)``."""
        return _named(self.clamp(min=min),
                      "ClampMinBackward1" if isinstance(min, Tensor) else "ClampMinBackward0")

    def clamp_max(self, max):
        """``clamp(max=max)``."""
        return _named(self.clamp(max=max),
                      "ClampMaxBackward1" if isinstance(max, Tensor) else "ClampMaxBackward0")

    def reciprocal(self):
        return E.Reciprocal.apply(self._float_input("reciprocal"))

    def erf(self):
        """The error function, 2/sqrt(pi) * integral from 0 to x of e^(-t^2) dt."""
        return E.Erf.apply(self._float_input("erf"))

    def _step(self, op: str, f, name: str) -> "Tensor":
        """A step function of the elements (``round``, ``floor``, ...): gradient 0. Integers are
        whole already: a copy."""
        kind = self._data.dtype.kind
        if kind == "b":
            raise NotImplementedError(f"{op}(): not implemented for bool tensors")
        if kind in "iu":
            return self.clone()
        return _named(E.Step.apply(self, f), name)

    def sign(self):
        """-1, 0 or 1 by the sign of each element; gradient 0 (a step function)."""
        if self._data.dtype.kind == "b":
            return self.clone()
        return _named(E.Step.apply(self, np.sign), "SignBackward0")

    def round(self, *, decimals: int = 0):
        """Round to the nearest integer (``decimals``: to that many decimal places), halves to
        even as PyTorch and NumPy do: 0.5 -> 0, 1.5 -> 2."""
        if decimals:
            if self._data.dtype.kind != "f":
                raise NotImplementedError("round(): decimals needs a floating point tensor, got "
                                          f"{self.dtype}")
            return self._step("round", lambda x: np.round(x, decimals), "RoundBackward1")
        return self._step("round", np.round, "RoundBackward0")

    def floor(self):
        return self._step("floor", np.floor, "FloorBackward0")

    def ceil(self):
        return self._step("ceil", np.ceil, "CeilBackward0")

    def trunc(self):
        """Round toward zero."""
        return self._step("trunc", np.trunc, "TruncBackward0")

    fix = trunc

    def frac(self):
        """The fractional part ``x - trunc(x)``, with the sign of x."""
        if self._data.dtype.kind != "f":
            raise NotImplementedError(f"frac(): not implemented for {self.dtype}")
        return E.Frac.apply(self)

    def lerp(self, end, weight):
        """``self + weight * (end - self)``: linear interpolation; ``weight`` a number or a
        tensor, each broadcasting."""
        if not isinstance(end, Tensor):
            raise TypeError(f"lerp(): argument 'end' must be Tensor, not {type(end).__name__}")
        if self._data.dtype.kind != "f":
            raise NotImplementedError(f"lerp(): not implemented for {self.dtype}")
        for name, other in (("end", end), ("weight", weight)):
            if isinstance(other, Tensor) and other.dtype != self.dtype:
                raise RuntimeError(f"lerp(): expected dtype {self.dtype.name} for `{name}` but "
                                   f"got dtype {other.dtype.name}")
        _broadcast_check("lerp", self, end)
        if isinstance(weight, Tensor):
            _broadcast_check("lerp", self, weight)
            _broadcast_check("lerp", end, weight)
            return _named(E.Lerp.apply(self, end, weight), "LerpBackward1")
        return E.Lerp.apply(self, end, self._data.dtype.type(weight))

    def isclose(self, other, rtol: float = 1e-05, atol: float = 1e-08,
                equal_nan: bool = False) -> "Tensor":
        """``|self - other| <= atol + rtol * |other|`` elementwise (broadcasting); NaNs are
        close to each other only with ``equal_nan``."""
        if not isinstance(other, Tensor):
            raise TypeError(f"isclose(): argument 'other' must be Tensor, not "
                            f"{type(other).__name__}")
        if other.dtype != self.dtype:
            raise RuntimeError(f"isclose(): expected other to have dtype {self.dtype.name}, got "
                               f"{other.dtype.name}")
        _broadcast_check("isclose", self, other)
        return Tensor._wrap(np.isclose(self._data, other._data, rtol=rtol, atol=atol,
                                       equal_nan=equal_nan))

    def maximum(self, other):
        return _binary(E.Maximum, "maximum", self, other)

    def minimum(self, other):
        return _binary(E.Minimum, "minimum", self, other)

    def softmax(self, dim: int, dtype=None):
        x = self if dtype is None else self.to(dtype)
        return R.Softmax.apply(x._float_input("softmax"), _normalize_dim(dim, self.ndim, "softmax"))

    def log_softmax(self, dim: int, dtype=None):
        x = self if dtype is None else self.to(dtype)
        return R.LogSoftmax.apply(x._float_input("log_softmax"),
                                  _normalize_dim(dim, self.ndim, "log_softmax"))

    # ---- reductions --------------------------------------------------------------------------

    def sum(self, dim=None, keepdim: bool = False, dtype=None):
        x = self if dtype is None else self.to(dtype)
        axes = _normalize_dims(dim, self.ndim, "sum")
        out_dtype = np.int64 if x._data.dtype.kind in "biu" else None
        out = R.Sum.apply(x, axes, keepdim, out_dtype)
        return out if dim is None else _named(out, "SumBackward1")

    def mean(self, dim=None, keepdim: bool = False, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind != "f":
            raise RuntimeError(
                f"mean(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {x.dtype.name.capitalize()}")
        out = R.Mean.apply(x, _normalize_dims(dim, self.ndim, "mean"), keepdim)
        return out if dim is None else _named(out, "MeanBackward1")

    def _correction(self, unbiased, correction) -> int:
        if correction is not None:
            return int(correction)
        return 1 if unbiased is None or unbiased else 0

    def var(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
        """Variance over ``dim``, divided by ``n - correction`` (default 1, Bessel's correction;
        ``unbiased=False`` is ``correction=0``). ``var(False)`` is ``var(unbiased=False)``."""
        if isinstance(dim, bool):
            dim, unbiased = None, dim
        return R.Var.apply(self._float_input("var"), _normalize_dims(dim, self.ndim, "var"),
                           self._correction(unbiased, correction), keepdim)

    def std(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
        """Standard deviation: the square root of :meth:`var`, with the same arguments."""
        if isinstance(dim, bool):
            dim, unbiased = None, dim
        return R.Std.apply(self._float_input("std"), _normalize_dims(dim, self.ndim, "std"),
                           self._correction(unbiased, correction), keepdim)

    def prod(self, dim=None, keepdim: bool = False):
        axes = _normalize_dims(dim, self.ndim, "prod")
        out = R.Prod.apply(self, axes, keepdim)
        return out if dim is None else _named(out, "ProdBackward1")

    def _check_nonempty(self, name: str, axes: tuple | None) -> None:
        """Max, min and their indices have no value over an empty dim: say so, as PyTorch.
        ``axes`` None is the reduction over all elements."""
        if axes is None:
            if self._data.size == 0:
                raise RuntimeError(
                    f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                    "Specify the reduction dim with the 'dim' argument.")
            return
        for a in axes:
            if self._data.shape[a] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {a} to have non-zero size "
                                 f"(input shape {list(self.shape)}).")

    def _extreme(self, dim, keepdim, largest: bool):
        name = "max" if largest else "min"
        if dim is None:
            self._check_nonempty(name, None)
            out = R.MaxMin.apply(self, tuple(range(self.ndim)), False, largest, True)
            return _named(out, "MaxBackward1" if largest else "MinBackward1")
        if isinstance(dim, Tensor):
            return (maximum if largest else minimum)(self, dim)
        axis = _normalize_dim(dim, self.ndim, name)
        self._check_nonempty(name, (axis,) if self.ndim else ())
        arg = (np.argmax if largest else np.argmin)(self._data, axis=axis, keepdims=True)
        index = Tensor._wrap(arg if self.ndim else arg.reshape(()))
        values = self.gather(axis, index) if self.ndim else self.clone()
        if not keepdim and self.ndim:
            values, index = values.squeeze(axis), index.squeeze(axis)
        values = _named(values, "MaxBackward0" if largest else "MinBackward0")
        return (MaxResult if largest else MinResult)(values, index)

    def max(self, dim=None, keepdim: bool = False):
        return self._extreme(dim, keepdim, True)

    def min(self, dim=None, keepdim: bool = False):
        return self._extreme(dim, keepdim, False)

    def amax(self, dim=(), keepdim: bool = False):
        axes = _normalize_dims(dim, self.ndim, "amax")
        self._check_nonempty("amax", axes)
        return R.MaxMin.apply(self, axes, keepdim, True)

    def amin(self, dim=(), keepdim: bool = False):
        axes = _normalize_dims(dim, self.ndim, "amin")
        self._check_nonempty("amin", axes)
        return _named(R.MaxMin.apply(self, axes, keepdim, False), "AminBackward0")

    def _arg_extreme(self, name: str, find, dim, keepdim: bool) -> "Tensor":
        if dim is None:
            self._check_nonempty(name, None)
            return Tensor._wrap(np.asarray(find(self._data), dtype=np.int64))
        axis = _normalize_dim(dim, self.ndim, name)
        if self.ndim == 0:
            return Tensor._wrap(np.zeros((), np.int64))
        self._check_nonempty(name, (axis,))
        return Tensor._wrap(find(self._data, axis=axis, keepdims=keepdim).astype(np.int64))

    def argmax(self, dim=None, keepdim: bool = False):
        return self._arg_extreme("argmax", np.argmax, dim, keepdim)

    def argmin(self, dim=None, keepdim: bool = False):
        return self._arg_extreme("argmin", np.argmin, dim, keepdim)

    def logsumexp(self, dim, keepdim: bool = False):
        return R.LogSumExp.apply(self._float_input("logsumexp"),
                                 _normalize_dims(dim, self.ndim, "logsumexp"), keepdim)

    def norm(self, p="fro", dim=None, keepdim: bool = False):
        if p in ("fro", None):
            p = 2
        elif p in ("inf", float("inf")):
            p = np.inf
        return R.Norm.apply(self._float_input("norm"), float(p),
                            _normalize_dims(dim, self.ndim, "norm"), keepdim)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        axis = _normalize_dim(dim, self.ndim, "topk")
        if self.ndim == 0:  # PyTorch: the tensor itself at index 0, for k = 0 too
            if k not in (0, 1):
                raise RuntimeError(f"topk: selected index k ({k}) out of range for a 0-d tensor")
            values, index = self.reshape(1).topk(1, 0, largest, sorted)
            return TopkResult(_named(values.reshape(()), "TopkBackward0"), index.reshape(()))
        if not 0 <= k <= self.shape[axis]:
            raise RuntimeError(f"topk: k ({k}) is out of range for dimension {axis} of size "
                               f"{self.shape[axis]}")
        key = -self._data if largest else self._data
        order = np.argsort(key, axis=axis, kind="stable")
        index = Tensor._wrap(np.take(order, np.arange(k), axis=axis).astype(np.int64))
        return TopkResult(_named(self.gather(axis, index), "TopkBackward0"), index)

    def sort(self, dim: int = -1, descending: bool = False):
        axis = _normalize_dim(dim, self.ndim, "sort")
        if self.ndim == 0:
            values, index = self.reshape(1).sort(0, descending)
            return SortResult(_named(values.reshape(()), "SortBackward0"), index.reshape(()))
        key = -self._data if descending else self._data
        index = Tensor._wrap(np.argsort(key, axis=axis, kind="stable").astype(np.int64))
        return SortResult(_named(self.gather(axis, index), "SortBackward0"), index)

    def argsort(self, dim: int = -1, descending: bool = False):
        return self.sort(dim, descending).indices

    def count_nonzero(self, dim=None):
        """How many elements are not zero, over ``dim`` (an int, a tuple, or None: all)."""
        axes = _normalize_dims(dim, self.ndim, "count_nonzero")
        return Tensor._wrap(np.asarray(np.count_nonzero(self._data, axis=axes), dtype=np.int64))

    def _scan(self, fn: type[ArrayFunction], op: str, dim, dtype) -> "Tensor":
        """A running reduction along ``dim``: integers and bools run in int64, as in PyTorch."""
        axis = _normalize_dim(dim, self.ndim, op)
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu" and dtype is None:
            x = x.to(_dtype.int64)
        if x.ndim == 0:
            return _named(fn.apply(x.reshape(1), 0).reshape(()), fn.grad_fn_name)
        return fn.apply(x, axis)

    def cumsum(self, dim: int, dtype=None):
        """Running sums along ``dim``: ``out[j] = self[0] + ... + self[j]``."""
        return self._scan(R.Cumsum, "cumsum", dim, dtype)

    def cumprod(self, dim: int, dtype=None):
        """Running products along ``dim``: ``out[j] = self[0] * ... * self[j]``."""
        return self._scan(R.Cumprod, "cumprod", dim, dtype)

    # ---- shape -------------------------------------------------------------------------------

    def _resolve_shape(self, op: str, shape: tuple) -> tuple:
        shape = list(shape)
        n = self._data.size
        if shape.count(-1) > 1:
            raise RuntimeError(f"{op}: only one dimension can be inferred, got shape {shape}")
        known = 1
        for s in shape:
            if s != -1:
                if s < 0:
                    raise RuntimeError(f"{op}: invalid shape dimension {s} in {shape}")
                known *= s
        if -1 in shape:
            if known == 0 or n % known:
                raise RuntimeError(
                    f"{op}: shape '{shape}' is invalid for input of size {n} (input shape "
                    f"{list(self.shape)})")
            shape[shape.index(-1)] = n // known
        elif known != n:
            raise RuntimeError(
                f"{op}: shape '{shape}' is invalid for input of size {n} (input shape "
                f"{list(self.shape)})")
        return tuple(shape)

    def reshape(self, *shape):
        return S.Reshape.apply(self, self._resolve_shape("reshape", _shape_args(shape)))

    def view(self, *shape):
        """The same memory seen with another shape; raises, as PyTorch does, when the memory's
        layout cannot be seen that way (``x.t().view(-1)``): ``reshape`` copies then."""
        if len(shape) == 1 and isinstance(shape[0], (_DType, np.dtype)):
            raise NotImplementedError("view(dtype) is not supported; use .to(dtype)")
        out = S.Reshape.apply(self, self._resolve_shape("view", _shape_args(shape)))
        if out._version_counter is not self._version_counter:  # NumPy had to copy
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) instead. "
                f"(input shape {list(self.shape)}, strides {list(self.stride())}, view shape "
                f"{list(out.shape)})")
        return out

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        if self.ndim == 0:
            return self.reshape(1)
        a = _normalize_dim(start_dim, self.ndim, "flatten")
        b = _normalize_dim(end_dim, self.ndim, "flatten")
        if a > b:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if a == b:
            return self  # nothing to merge: PyTorch returns the tensor itself
        s = self._data.shape
        return self.reshape(s[:a] + (math.prod(s[a:b + 1]),) + s[b + 1:])

    def unflatten(self, dim: int, sizes):
        axis = _normalize_dim(dim, self.ndim, "unflatten")
        sizes = list(sizes)
        if -1 in sizes:
            known = int(np.prod([s for s in sizes if s != -1]))
            sizes[sizes.index(-1)] = self.shape[axis] // known if known else 0
        if int(np.prod(sizes)) != self.shape[axis]:
            raise RuntimeError(
                f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim "
                f"{dim} ({self.shape[axis]}) in the input tensor")
        s = self.shape
        return self.reshape(s[:axis] + tuple(sizes) + s[axis + 1:])

    def squeeze(self, dim=None):
        if dim is None:
            shape = tuple(n for n in self._data.shape if n != 1)
            name = "SqueezeBackward0"
        else:
            axes = _normalize_dims(dim, self.ndim, "squeeze")
            shape = tuple(n for i, n in enumerate(self._data.shape)
                          if not (i in axes and n == 1))
            name = "SqueezeBackward2" if isinstance(dim, (tuple, list)) else "SqueezeBackward1"
        return _named(S.Reshape.apply(self, shape), name)

    def unsqueeze(self, dim: int):
        axis = _normalize_dim(dim, self.ndim + 1, "unsqueeze")
        s = self._data.shape
        return _named(S.Reshape.apply(self, s[:axis] + (1,) + s[axis:]), "UnsqueezeBackward0")

    def permute(self, *dims):
        dims = _shape_args(dims) if not (len(dims) == 1 and isinstance(dims[0], (tuple, list))) \
            else tuple(dims[0])
        if len(dims) != self.ndim:
            raise RuntimeError(
                f"permute(sparse_coo): number of dimensions in the tensor input does not match "
                f"the length of the desired ordering of dimensions i.e. input.dim() = {self.ndim}"
                f" is not equal to len(dims) = {len(dims)}")
        axes = tuple(_normalize_dim(d, self.ndim, "permute") for d in dims)
        if len(set(axes)) != len(axes):
            raise RuntimeError(f"permute(): duplicate dims are not allowed in {list(dims)}")
        return S.Permute.apply(self, axes)

    def transpose(self, dim0: int, dim1: int):
        if self.ndim == 0:
            return self
        axes = list(range(self.ndim))
        a = _normalize_dim(dim0, self.ndim, "transpose")
        b = _normalize_dim(dim1, self.ndim, "transpose")
        axes[a], axes[b] = axes[b], axes[a]
        return _named(S.Permute.apply(self, tuple(axes)), "TransposeBackward0")

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.ndim}D")
        return _named(self.transpose(0, 1), "TBackward0") if self.ndim == 2 else self

    @property
    def T(self):
        return S.Permute.apply(self, tuple(reversed(range(self.ndim))))

    @property
    def mT(self):
        if self.ndim < 2:
            raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. "
                               f"Got {self.ndim}-D tensor.")
        return self.transpose(-2, -1)

    def expand(self, *sizes):
        sizes = _shape_args(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError(
                f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal "
                f"to the number of dimensions in the tensor ({self.ndim})")
        lead = len(sizes) - self.ndim
        shape = []
        for i, n in enumerate(sizes):
            own = self._data.shape[i - lead] if i >= lead else None
            if n == -1:
                if own is None:
                    raise RuntimeError(f"expand: -1 is not allowed in a leading, non-existing "
                                       f"dimension {i}")
                n = own
            elif own is not None and own != n and own != 1:
                raise RuntimeError(
                    f"expand: the expanded size of the tensor ({n}) must match the existing size "
                    f"({own}) at non-singleton dimension {i}.  Target sizes: {list(sizes)}.  "
                    f"Tensor sizes: {list(self.shape)}")
            shape.append(n)
        return S.Expand.apply(self, tuple(shape))

    def expand_as(self, other):
        return self.expand(other.shape)

    def broadcast_to(self, shape):
        return self.expand(shape)

    def repeat(self, *sizes):
        reps = _shape_args(sizes)
        if len(reps) < self.ndim:
            raise RuntimeError(
                "Number of dimensions of repeat dims can not be smaller than number of "
                f"dimensions of tensor ({len(reps)} < {self.ndim})")
        return S.Repeat.apply(self, reps)

    def flip(self, *dims):
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        return S.Flip.apply(self, _normalize_dims(tuple(dims), self.ndim, "flip"))

    def roll(self, shifts, dims=None):
        """Shift the elements cyclically by ``shifts`` along ``dims`` (one shift per dim); with
        ``dims`` None, along the flattened tensor, whose shape is then restored."""
        shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
        axes = None if dims is None else (
            tuple(dims) if isinstance(dims, (tuple, list)) else (dims,))
        if not shifts:
            raise RuntimeError("roll(): `shifts` required")
        if len(shifts) != (1 if axes is None else len(axes)):
            raise RuntimeError(f"roll(): shifts and dimensions must align. shifts: "
                               f"{len(shifts)}, dims:{0 if axes is None else len(axes)}")
        shifts = tuple(int(k) for k in shifts)
        if axes is None:
            return S.Roll.apply(self, shifts[0], None)
        return S.Roll.apply(self, shifts, tuple(_normalize_dim(d, self.ndim, "roll")
                                                for d in axes))

    def movedim(self, source, destination):
        """Move the dims ``source`` to the positions ``destination`` (ints or sequences); the
        other dims keep their order."""
        source = tuple(source) if isinstance(source, (tuple, list)) else (source,)
        destination = (tuple(destination) if isinstance(destination, (tuple, list))
                       else (destination,))
        if len(source) != len(destination):
            raise RuntimeError(
                f"movedim: Invalid source or destination dims: source ({list(source)} dims) "
                f"should contain the same number of dims as destination ({list(destination)} "
                "dims)")
        src = [_normalize_dim(d, self.ndim, "movedim") for d in source]
        dst = [_normalize_dim(d, self.ndim, "movedim") for d in destination]
        for name, given, axes in (("source", source, src), ("destination", destination, dst)):
            if len(set(axes)) != len(axes):
                raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(given)})")
        order = [a for a in range(self.ndim) if a not in src]
        for d, a in sorted(zip(dst, src)):
            order.insert(d, a)
        return S.Permute.apply(self, tuple(order))

    moveaxis = movedim

    def _triangle(self, op: str, diagonal: int, upper: bool) -> "Tensor":
        if self.ndim < 2:
            raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions, got "
                               f"{self.ndim}")
        out = S.Triangle.apply(self, int(diagonal), upper)
        return _named(out, "TriuBackward0") if upper else out

    def tril(self, diagonal: int = 0):
        """The lower triangle of the last two dims: the elements on and below the
        ``diagonal``-th diagonal (0 the main one, > 0 above it), the others set to 0."""
        return self._triangle("tril", diagonal, False)

    def triu(self, diagonal: int = 0):
        """The upper triangle of the last two dims: on and above the ``diagonal``-th
        diagonal."""
        return self._triangle("triu", diagonal, True)

    def diag(self, diagonal: int = 0):
        """A 1-D tensor becomes the ``diagonal``-th diagonal of a square matrix (0 the main one,
        > 0 above it); a 2-D tensor gives that diagonal as a 1-D tensor."""
        if self.ndim not in (1, 2):
            raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {self.ndim}D")
        out = S.Diag.apply(self, int(diagonal))
        return _named(out, "DiagonalBackward0_copy") if self.ndim == 2 else out

    def narrow(self, dim: int, start: int, length: int):
        """The ``length`` elements from ``start`` along ``dim`` (a view, as ``x[..., a:b]``)."""
        axis = _normalize_dim(dim, self.ndim, "narrow")
        n = self.shape[axis]
        start, length = int(start), int(length)
        if not -n <= start <= n:
            raise IndexError(f"narrow(): start out of range (expected to be in range of [{-n}, "
                             f"{n}], but got {start})")
        if length < 0:
            raise RuntimeError(f"narrow(): length must be non-negative, got {length}")
        if start < 0:
            start += n
        if start + length > n:
            raise RuntimeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension "
                               f"size ({n}).")
        return self[(slice(None),) * axis + (slice(start, start + length),)]

    def select(self, dim: int, index: int):
        """The slice at ``index`` along ``dim``, that dim removed (a view, as ``x[..., i]``)."""
        axis = _normalize_dim(dim, self.ndim, "select")
        n = self.shape[axis]
        if not -n <= index < n:
            raise IndexError(f"select(): index {index} out of range for tensor of size "
                             f"{list(self.shape)} at dimension {dim}")
        return self[(slice(None),) * axis + (int(index),)]

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1):
        """The ``offset``-th diagonal of dims (dim1, dim2) (0 the main one, > 0 above it), as
        the last dim: a view, stepping by the sum of the two dims' strides."""
        a = _normalize_dim(dim1, self.ndim, "diagonal")
        b = _normalize_dim(dim2, self.ndim, "diagonal")
        if a == b:
            raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
        d = np.diagonal(self._data, int(offset), a, b)  # NumPy's view: the geometry, read-only
        out = S.AsStrided.apply(self, _storage.layout_of(d, self._data),
                                self._data.flags.writeable)
        return _named(out, "DiagonalBackward0")

    def unfold(self, dimension: int, size: int, step: int):
        """Every window of ``size`` elements along ``dimension``, ``step`` apart, as a new last
        dim: a view whose windows overlap when step < size (then it cannot be written to)."""
        axis = _normalize_dim(dimension, self.ndim, "unfold")
        n = self.shape[axis] if self.ndim else 1
        if size < 0 or size > n:
            raise RuntimeError(f"maximum size for tensor at dimension {axis} is {n} but size is "
                               f"{size}")
        if step <= 0:
            raise RuntimeError(f"step is {step} but must be > 0")
        data = self._data if self.ndim else self._data.reshape(1)
        shape, strides = list(data.shape), list(data.strides)
        shape[axis] = (n - size) // step + 1
        strides[axis] *= step
        windows = np.lib.stride_tricks.as_strided(
            data, tuple(shape) + (size,), tuple(strides) + (data.strides[axis],), writeable=False)
        out = S.AsStrided.apply(self, _storage.layout_of(windows, self._data),
                                self._data.flags.writeable and step >= size)
        return _named(out, "UnfoldBackward0")

    def as_strided(self, size, stride, storage_offset=None):
        """A window on this tensor's memory with the given sizes and strides (in elements),
        starting ``storage_offset`` elements into the memory (this tensor's offset if None).
        Every element must lie inside the memory; windows that repeat an element are
        read-only."""
        size, stride = _shape_args((size,)), _shape_args((stride,))
        if len(size) != len(stride):
            raise RuntimeError(f"mismatch in length of strides and shape: {len(size)} sizes, "
                               f"{len(stride)} strides")
        if builtins.min(stride, default=0) < 0:
            raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, "
                               f"got strides: {list(stride)}")
        start = self.storage_offset()
        offset = start if storage_offset is None else int(storage_offset)
        if offset < start:
            raise NotImplementedError(
                f"as_strided: a window that starts before this tensor's first element (storage "
                f"offset {offset} < {start}) is not supported; call it on the base tensor")
        memory = self.untyped_storage().nbytes() // self._data.itemsize  # in elements
        if all(size):  # every element must lie inside the memory
            last = offset + builtins.sum((n - 1) * s for n, s in zip(size, stride))
            if last >= memory:
                raise RuntimeError(
                    f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset "
                    f"{offset} reach element {last}, out of bounds for storage of {memory} "
                    "elements")
        layout = _storage.Layout(_storage.Geometry(self._data.shape, self.stride(), 0),
                                 _storage.Geometry(size, stride, offset - start), memory - start)
        writeable = self._data.flags.writeable and not _storage.overlaps_itself(size, stride)
        return S.AsStrided.apply(self, layout, writeable)

    def chunk(self, chunks: int, dim: int = 0):
        axis = _normalize_dim(dim, self.ndim, "chunk")
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        n = self.shape[axis]
        if n == 0:  # PyTorch gives ``chunks`` empty pieces
            return tuple(self[(slice(None),) * axis + (slice(0, 0),)] for _ in range(chunks))
        return self.split(-(-n // chunks), axis)

    def split(self, split_size_or_sections, dim: int = 0):
        axis = _normalize_dim(dim, self.ndim, "split")
        n = self.shape[axis]
        if isinstance(split_size_or_sections, (int, np.integer)):
            step = int(split_size_or_sections)
            if step <= 0 and n:
                raise RuntimeError(f"split: split_size must be positive, got {step}")
            sizes = [builtins.min(step, n - s) for s in range(0, n, step)] or [0]
            name = "SplitBackward0"
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n or builtins.min(sizes, default=0) < 0:
                raise RuntimeError(
                    f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's "
                    f"size at dimension {dim}), but got split_sizes={sizes}")
            name = "SplitWithSizesBackward0"
        out, start = [], 0
        for size in sizes:
            index = (slice(None),) * axis + (slice(start, start + size),)
            out.append(self[index])
            start += size
        return _views_of_one_op(out, name)

    def unbind(self, dim: int = 0):
        axis = _normalize_dim(dim, self.ndim, "unbind")
        return _views_of_one_op([self[(slice(None),) * axis + (i,)]
                                 for i in range(self.shape[axis])], "UnbindBackward0")

    # ---- indexing ----------------------------------------------------------------------------

    def _index(self, index):
        """``index`` with Tensors turned into arrays, checked the way PyTorch checks them."""
        if index.__class__ is slice or index.__class__ is int:  # the common case, as it is
            return index
        items = index if isinstance(index, tuple) else (index,)
        out = []
        for item in items:
            if isinstance(item, Tensor):
                item = item._data
            if isinstance(item, list):
                item = np.asarray(item)
                if item.size == 0:
                    item = item.astype(np.int64)
            if isinstance(item, np.ndarray):
                if item.dtype.kind not in "biu":
                    raise IndexError(
                        f"tensors used as indices must be long, int, byte or bool tensors (got "
                        f"{item.dtype.name})")
                if item.dtype == np.uint8:
                    item = item.astype(bool)  # PyTorch reads a byte tensor as a mask
            if isinstance(item, float):
                raise IndexError(f"indices must be integers, slices, None, ... or tensors; got "
                                 f"float {item}")
            out.append(item)
        return tuple(out) if isinstance(index, tuple) else out[0]

    def __getitem__(self, index):
        index = self._index(index)
        try:
            out = S.Index.apply(self, index)
        except IndexError as e:
            raise IndexError(f"index: {e} (tensor of shape {list(self.shape)})") from None
        return _named(out, _index_name(index)) if out._grad_fn is not None else out

    def masked_fill(self, mask, value):
        mask_array = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
        if mask_array.dtype != np.bool_:
            raise RuntimeError(f"masked_fill: expected mask of dtype bool, got "
                               f"{_dtype.from_numpy_dtype(mask_array.dtype)}")
        _broadcast_check("masked_fill", self, mask_array)
        if isinstance(value, Tensor):
            if value.ndim:
                raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but "
                                   f"got tensor with {value.ndim} dimension(s).")
            value = value.item()
        return S.MaskedFill.apply(self, mask_array, value)

    def _along_index(self, op: str, dim: int, index, src_shape=None) -> tuple[int, np.ndarray]:
        """``dim`` and ``index`` of gather and scatter, checked as PyTorch checks them: int64,
        as many dims as self, no larger than self apart from ``dim`` (nor than src, if one),
        every value a valid position along ``dim``."""
        axis = _normalize_dim(dim, self.ndim, op)
        idx = index._data if isinstance(index, Tensor) else np.asarray(index)
        if idx.dtype != np.int64:
            raise RuntimeError(f"{op}(): Expected dtype int64 for index, got "
                               f"{_dtype.from_numpy_dtype(idx.dtype)}")
        if idx.ndim != self.ndim:
            raise RuntimeError(
                f"{op}(): Index tensor must have the same number of dimensions as input tensor"
                f" ({idx.ndim} vs {self.ndim})")
        for a, (n_index, n_self) in enumerate(zip(idx.shape, self.shape)):
            if a != axis and n_index > n_self:
                raise RuntimeError(
                    f"{op}(): Size does not match at dimension {a} expected index "
                    f"{list(idx.shape)} to be smaller than self {list(self.shape)} apart from "
                    f"dimension {axis}")
        if src_shape is not None and (len(src_shape) != idx.ndim or any(
                n_index > n_src for n_index, n_src in zip(idx.shape, src_shape))):
            raise RuntimeError(f"{op}(): Expected index {list(idx.shape)} to be smaller size "
                               f"than src {list(src_shape)} in every dimension")
        if idx.size and (idx.min() < 0 or idx.max() >= self.shape[axis]):
            bad = idx.max() if idx.max() >= self.shape[axis] else idx.min()
            raise RuntimeError(f"{op}(): index {bad} is out of bounds for dimension {axis} "
                               f"with size {self.shape[axis]}")
        return axis, idx

    def gather(self, dim: int, index):
        axis, idx = self._along_index("gather", dim, index)
        return S.Gather.apply(self, axis, idx)

    def _scatter_src(self, op: str, src):
        """``src`` of scatter: a tensor of self's dtype, or a number (as an element of it)."""
        if isinstance(src, Tensor):
            if src.dtype != self.dtype:
                raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype (got "
                                   f"{self.dtype} and {src.dtype})")
            return src
        if isinstance(src, (bool, int, float, np.generic)):
            return self._data.dtype.type(src)
        raise TypeError(f"{op}(): argument 'src' must be Tensor or a number, not "
                        f"{type(src).__name__}")

    def scatter(self, dim: int, index, src=None, *, value=None):
        """A copy of self with ``src``'s elements written at the positions ``index`` gives
        along ``dim``: for dim=1, ``out[i][index[i][j][k]][k] = src[i][j][k]``. ``src`` may be
        a number (or given as ``value=``), written at every indexed position."""
        if (src is None) == (value is None):
            raise TypeError("scatter(): give exactly one of 'src' and 'value'")
        src = self._scatter_src("scatter", value if src is None else src)
        axis, idx = self._along_index("scatter", dim, index,
                                      src.shape if isinstance(src, Tensor) else None)
        out = S.Scatter.apply(self, axis, idx, src)
        return out if isinstance(src, Tensor) else _named(out, "ScatterBackward1")

    def scatter_add(self, dim: int, index, src):
        """A copy of self with ``src``'s elements added at the positions ``index`` gives along
        ``dim``: for dim=1, ``out[i][index[i][j][k]][k] += src[i][j][k]``, repeats adding up."""
        if not isinstance(src, Tensor):
            raise TypeError(f"scatter_add(): argument 'src' must be Tensor, not "
                            f"{type(src).__name__}")
        src = self._scatter_src("scatter_add", src)
        axis, idx = self._along_index("scatter_add", dim, index, src.shape)
        return S.ScatterAdd.apply(self, axis, idx, src)

    def index_select(self, dim: int, index):
        """The slices at positions ``index`` (a 1-D integer tensor) along ``dim``, in that
        order, repeats included."""
        if not isinstance(index, Tensor):
            raise TypeError(f"index_select(): argument 'index' must be Tensor, not "
                            f"{type(index).__name__}")
        if index._data.dtype not in (np.int32, np.int64):
            raise RuntimeError(f"index_select(): Expected dtype int32 or int64 for index, got "
                               f"{index.dtype}")
        if index.ndim > 1:
            raise IndexError(f"index_select(): Index is supposed to be a vector, got shape "
                             f"{list(index.shape)}")
        axis = _normalize_dim(dim, self.ndim, "index_select")
        idx = index._data.reshape(-1)
        n = self.shape[axis] if self.ndim else 1
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = idx.max() if idx.max() >= n else idx.min()
            raise IndexError(f"index_select(): index {bad} out of range in self (size {n} along "
                             f"dim {axis})")
        out = S.Index.apply(self, (slice(None),) * axis + (idx,))
        return _named(out, "IndexSelectBackward0")

    def nonzero(self, *, as_tuple: bool = False):
        """The indices of the nonzero elements: a (count, ndim) int64 tensor, one row per
        element in row-major order; ``as_tuple=True`` gives one 1-D tensor per dim instead."""
        if as_tuple:
            return tuple(Tensor._wrap(i.astype(np.int64))
                         for i in np.nonzero(np.atleast_1d(self._data)))
        return Tensor._wrap(np.argwhere(self._data).astype(np.int64))

    def unique(self, sorted: bool = True, return_inverse: bool = False,
               return_counts: bool = False, dim=None):
        """The distinct elements (with ``dim``: the distinct slices along it), in ascending
        order (also for ``sorted=False``), and optionally ``inverse`` (where each element went
        in the result) and ``counts``. No gradient."""
        axis = None if dim is None else _normalize_dim(dim, self.ndim, "unique")
        values, inverse, counts = np.unique(self._data, return_inverse=True, return_counts=True,
                                            axis=axis)
        out = [Tensor._wrap(values)]
        if return_inverse:
            out.append(Tensor._wrap(inverse.astype(np.int64).reshape(
                self._data.shape if axis is None else -1)))
        if return_counts:
            out.append(Tensor._wrap(counts.astype(np.int64)))
        return out[0] if len(out) == 1 else tuple(out)

    def bernoulli(self, p=None, *, generator=None):
        """A 0/1 draw per element, 1 with probability given by the element (or by ``p``, a
        number, for every element), of self's dtype. Gradient 0."""
        from ._random import rng

        if self._data.dtype.kind != "f":
            raise NotImplementedError(f"bernoulli(): not implemented for {self.dtype}")
        if p is not None:
            return self.detach().clone().bernoulli_(p, generator=generator)
        probs = self._data
        if probs.size and not (probs.min() >= 0 and probs.max() <= 1):  # NaN fails too
            raise RuntimeError("bernoulli(): expected every probability to be in [0, 1]")
        draw = rng(generator).random(probs.shape)
        out = E.Step.apply(self, lambda p: (draw < p).astype(p.dtype))
        return _named(out, "BernoulliBackward0")

    def multinomial(self, num_samples: int, replacement: bool = False, *, generator=None):
        """Draw ``num_samples`` category indices from the weights in the last dim (1-D: one
        distribution, 2-D: one per row; weights need not sum to 1). Without replacement each
        category is drawn at most once. Returns int64 indices."""
        from ._random import rng

        if self.ndim not in (1, 2):
            raise RuntimeError(f"multinomial(): prob_dist must be 1 or 2 dim, got {self.ndim}")
        if self._data.dtype.kind != "f":
            raise RuntimeError(f"multinomial() only supports floating-point dtypes for input, "
                               f"got: {self.dtype}")
        weights = self._data.reshape(-1, self.shape[-1]).astype(np.float64)  # (rows, k)
        k = weights.shape[1]
        if num_samples <= 0:
            raise RuntimeError(f"multinomial(): cannot sample n_sample <= 0 samples, got "
                               f"{num_samples}")
        if not replacement and num_samples > k:
            raise RuntimeError(f"multinomial(): cannot sample n_sample > prob_dist.size(-1) "
                               f"samples without replacement ({num_samples} > {k})")
        if not (np.isfinite(weights).all() and (weights >= 0).all()):
            raise RuntimeError("multinomial(): probability tensor contains either `inf`, `nan` "
                               "or element < 0")
        total = weights.sum(axis=1, keepdims=True)  # (rows, 1)
        if (total <= 0).any():
            raise RuntimeError("multinomial(): invalid multinomial distribution (sum of "
                               "probabilities <= 0)")
        generator = rng(generator)
        if replacement:
            # inverse CDF: the category whose interval of [0, 1) holds a uniform draw; the last
            # bound is set to 1 exactly, so rounding never sends a draw past the end
            cdf = np.cumsum(weights, axis=1) / total
            cdf[:, -1] = 1.0
            u = generator.random((len(weights), num_samples))
            out = np.stack([np.searchsorted(c, row, side="right") for c, row in zip(cdf, u)])
        else:
            # an exponential race, as PyTorch draws: category i arrives at time E_i / w_i; the
            # first num_samples to arrive, in order, are a draw without replacement
            with np.errstate(divide="ignore"):
                keys = weights / generator.exponential(size=weights.shape)
            out = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
        return Tensor._wrap(out.reshape(self.shape[:-1] + (num_samples,)).astype(np.int64))

    def new_zeros(self, *size):
        return Tensor._wrap(np.zeros(_shape_args(size), self._data.dtype))

    def new_ones(self, *size):
        return Tensor._wrap(np.ones(_shape_args(size), self._data.dtype))

    def new_full(self, size, fill_value):
        return Tensor._wrap(np.full(_shape_args((size,)), fill_value, self._data.dtype))

    def new_tensor(self, data):
        return Tensor._wrap(np.array(data, dtype=self._data.dtype))


def _numpy_keywords(method):
    """``method`` that also takes NumPy's spellings ``axis=`` and ``keepdims=``, as PyTorch's
    argument parser does (``x.argmax(axis=1)``)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if kwargs:
            for numpy_name, name in (("axis", "dim"), ("keepdims", "keepdim")):
                if numpy_name in kwargs:
                    if name in kwargs:
                        raise TypeError(f"{method.__name__}() got both '{name}' and its NumPy "
                                        f"spelling '{numpy_name}'")
                    kwargs[name] = kwargs.pop(numpy_name)
        return method(self, *args, **kwargs)

    return wrapper


for _name in ("all", "any", "softmax", "log_softmax", "sum", "mean", "var", "std", "prod", "max",
              "min", "amax", "amin", "argmax", "argmin", "logsumexp", "norm", "topk", "sort",
              "argsort", "count_nonzero", "cumsum", "cumprod", "unflatten", "squeeze",
              "unsqueeze", "narrow", "select", "chunk", "split", "unbind", "gather", "scatter",
              "scatter_add", "index_select", "unique", "size"):
    setattr(Tensor, _name, _numpy_keywords(getattr(Tensor, _name)))


def _views_of_one_op(views: list, name: str) -> tuple:
    """The views one op returns together (split, chunk, unbind), named as PyTorch names their
    node. PyTorch refuses to change one of them in place inside a graph: each is marked."""
    for i, v in enumerate(views):
        _named(v, name)
        if v._base is not None and v._view_tracks:
            v._view_tracks = (name, i)  # (truthy: it takes part in the graph)
    return tuple(views)


def matmul(a, b) -> Tensor:
    """Matrix product with broadcasting, as ``torch.matmul``."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul: expected Tensors, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got "
                           f"{a.ndim}D and {b.ndim}D")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        def fmt(s):
            return "x".join(str(n) for n in s)

        raise RuntimeError(
            f"matmul: mat1 and mat2 shapes cannot be multiplied ({fmt(a.shape)} and "
            f"{fmt(b.shape)}): {k_a} columns against {k_b} rows")
    if a.ndim > 2 and b.ndim > 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise RuntimeError(f"matmul: batch dimensions {list(a.shape[:-2])} and "
                               f"{list(b.shape[:-2])} cannot be broadcast") from None
    dtype = _promote(a, b)
    out = S.Matmul.apply(_as_operand(a, dtype), _as_operand(b, dtype))
    return _named(out, _MATMUL_NAMES.get((a.ndim, b.ndim), "UnsafeViewBackward0"))


# PyTorch's grad_fn names for matmul, by the operands' dims (batched products: UnsafeView)
_MATMUL_NAMES = {(2, 2): "MmBackward0", (1, 1): "DotBackward0", (2, 1): "MvBackward0",
                 (1, 2): "SqueezeBackward4"}


def maximum(a, b) -> Tensor:
    return _binary(E.Maximum, "maximum", a, b)


def minimum(a, b) -> Tensor:
    return _binary(E.Minimum, "minimum", a, b)


def where(condition, input=None, other=None) -> Tensor:
    """``where(cond, x, y)``: x where cond is True, else y. ``where(cond)`` gives the indices."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if input is None and other is None:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in np.nonzero(cond))
    dtype = _promote(*(v for v in (input, other)))
    x, y = _as_operand(input, dtype), _as_operand(other, dtype)
    try:
        np.broadcast_shapes(cond.shape, x.shape, y.shape)
    except ValueError:
        raise RuntimeError(f"where: condition {list(cond.shape)}, input {list(x.shape)} and "
                           f"other {list(y.shape)} cannot be broadcast together") from None
    return E.Where.apply(cond.astype(bool, copy=False), x, y)


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    # PyTorch skips 1-D empty tensors in cat (legacy behaviour).
    tensors = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"cat(): zero-dimensional tensor (at position {i}) cannot be "
                               "concatenated")
    ndim = tensors[0].ndim
    axis = _normalize_dim(dim, ndim, "cat")
    for i, t in enumerate(tensors):
        if t.ndim != ndim or any(a != b for j, (a, b) in enumerate(zip(t.shape, tensors[0].shape))
                                 if j != axis):
            raise RuntimeError(
                f"cat(): Sizes of tensors must match except in dimension {axis}. Expected size "
                f"{list(tensors[0].shape)} but got size {list(t.shape)} for tensor number {i} in "
                "the list.")
    dtype = _promote(*tensors)
    return S.Concatenate.apply(axis, *(_as_operand(t, dtype) for t in tensors))


concat = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} at "
                f"entry 0 and {list(t.shape)} at entry {i}")
    axis = _normalize_dim(dim, tensors[0].ndim + 1, "stack")
    dtype = _promote(*tensors)
    return S.Stack.apply(axis, *(_as_operand(t, dtype) for t in tensors))


__all__ += ["matmul", "maximum", "minimum", "where", "cat", "concat", "stack"]


_graph.use_tensor_class(Tensor)  # the graph below wraps op results in it
