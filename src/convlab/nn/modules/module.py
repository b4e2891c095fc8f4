"""``Module``: the base class of every layer and model, as ``torch.nn.Module``.

A Module owns three ordered registries, filled by plain attribute assignment:

- ``_parameters``: ``self.weight = Parameter(...)`` (learnable; in ``parameters()``),
- ``_buffers``: ``self.register_buffer("running_mean", t)`` (state that is not learned, such as
  BatchNorm's statistics; saved in ``state_dict()`` unless ``persistent=False``),
- ``_modules``: ``self.conv1 = Conv2d(...)`` (children, walked recursively).

Everything else (``parameters()``, ``state_dict()``, ``train()``, ``to(dtype)``, ``repr``) walks
these registries, so a model written as a tree of Modules needs no bookkeeping of its own. Keys of
nested names join with dots, as PyTorch's do: ``conv1.weight``, ``bn.running_mean``.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping

import numpy as np

from ... import _dtype
from ...autograd.graph import ArrayFunction, RemovableHandle, is_grad_enabled, no_grad
from ...tensor import Tensor, device
from ...storage import VersionCounter
from ..parameter import Parameter, is_lazy

__all__ = ["Module", "RemovableHandle"]


def _typename(value) -> str:
    """How PyTorch names a value's type in its errors: ``convlab.FloatTensor``, ``int``."""
    if isinstance(value, Tensor):
        return value.type()
    cls = type(value)
    module = "" if cls.__module__ == "builtins" else cls.__module__ + "."
    return module + cls.__qualname__


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first by ``spaces``: how a child's repr nests in its parent's."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [" " * spaces + line for line in rest])


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it could not match (empty lists when all did)."""

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class _HookTap(ArrayFunction):
    """Identity on the way forward; on the way back it hands the gradient to ``on_grad``, which
    returns the gradient to pass on. Placed on a module's inputs and outputs, it lets a backward
    hook see exactly the gradients that flow through that module."""

    grad_fn_name = "BackwardHookFunctionBackward"

    @staticmethod
    def forward(ctx, x, on_grad):
        ctx.on_grad = on_grad
        return x.view()  # a new array over the same memory, as PyTorch's identity view

    @staticmethod
    def backward(ctx, g):
        return ctx.on_grad(g), None


class _BackwardHookCall:
    """The gradients of one forward call of a module with full backward hooks.

    The output taps fire first (they are downstream), collecting ``grad_output``; the input taps
    then collect ``grad_input``, and when the last one arrives the hooks run. A hook's returned
    ``grad_input`` replaces the gradient that flows on: the input tap that fires last passes it
    on, so a replacement needs a module with one input that requires grad (a layer, as usual).
    """

    def __init__(self, module: "Module", args: tuple):
        self.module = module
        self.n_inputs = len(args)
        self.grad_input: dict[int, np.ndarray] = {}
        self.grad_output: dict[int, np.ndarray] = {}
        self.tapped_inputs = [i for i, a in enumerate(args)
                              if isinstance(a, Tensor) and a.requires_grad]
        self.tapped_outputs: list[int] = []

    def tap_inputs(self, args: tuple) -> tuple:
        return tuple(_HookTap.apply(a, functools.partial(self._on_input_grad, i))
                     if i in self.tapped_inputs else a for i, a in enumerate(args))

    def tap_outputs(self, output):
        outputs = output if isinstance(output, tuple) else (output,)
        self.tapped_outputs = [j for j, y in enumerate(outputs)
                               if isinstance(y, Tensor) and y.requires_grad]
        tapped = tuple(_HookTap.apply(y, functools.partial(self._on_output_grad, j))
                       if j in self.tapped_outputs else y for j, y in enumerate(outputs))
        return tapped if isinstance(output, tuple) else tapped[0]

    def _on_output_grad(self, j: int, g: np.ndarray) -> np.ndarray:
        self.grad_output[j] = g
        if len(self.grad_output) == len(self.tapped_outputs) and not self.tapped_inputs:
            warnings.warn("Full backward hook is firing when gradients are computed with respect "
                          "to module outputs since no inputs require gradients.", stacklevel=2)
            self._run_hooks()
        return g

    def _on_input_grad(self, i: int, g: np.ndarray) -> np.ndarray:
        self.grad_input[i] = g
        if len(self.grad_input) < len(self.tapped_inputs):
            return g
        replaced = self._run_hooks()
        if replaced is not None and len(self.tapped_inputs) > 1:
            raise RuntimeError(f"{self.module._get_name()}: a full backward hook can replace "
                               "grad_input only when one input requires grad")
        return g if replaced is None else replaced[i]

    def _run_hooks(self) -> list | None:
        """Call each hook with ``(module, grad_input, grad_output)`` (tuples of Tensors, None
        where an input has no gradient); return the last replacement of grad_input, as arrays."""
        def wrap(grads: dict, n: int) -> tuple:
            return tuple(Tensor._wrap(grads[k]) if k in grads else None for k in range(n))

        grad_output = wrap(self.grad_output, max(self.tapped_outputs) + 1)
        grad_input, replaced = wrap(self.grad_input, self.n_inputs), None
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, grad_output)
            if result is None:
                continue
            result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
            if len(result) != self.n_inputs:
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                   f"got {len(result)}, but expected {self.n_inputs}")
            grad_input = result
            replaced = [None if g is None else g.detach().numpy() for g in result]
        return replaced


class Module:
    """Base class of layers and models: subclass it, assign layers and parameters in
    ``__init__``, and compute in ``forward``; call the module (``net(x)``), not ``forward``.

    >>> import convlab.nn as nn
    >>> class Tiny(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(4, 2)
    ...     def forward(self, x):
    ...         return self.fc(x)
    >>> Tiny()
    Tiny(
      (fc): Linear(in_features=4, out_features=2, bias=True)
    )
    >>> [name for name, _ in Tiny().named_parameters()]
    ['fc.weight', 'fc.bias']
    """

    training: bool

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these registries to exist first
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks_with_kwargs", set())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks_with_kwargs", set())
        object.__setattr__(self, "_backward_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function')

    # ---- calling --------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        """Run the forward pre-hooks, ``forward``, then the forward hooks."""
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks):
            return self.forward(*args, **kwargs)  # no hooks: the usual case, kept short
        for hook_id, hook in list(self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        backward_hooks = None
        if self._backward_hooks and is_grad_enabled():
            backward_hooks = _BackwardHookCall(self, args)
            args = backward_hooks.tap_inputs(args)
        output = self.forward(*args, **kwargs)
        for hook_id, hook in list(self._forward_hooks.items()):
            if hook_id in self._forward_hooks_with_kwargs:
                result = hook(self, args, kwargs, output)
            else:
                result = hook(self, args, output)
            if result is not None:
                output = result
        if backward_hooks is not None:
            output = backward_hooks.tap_outputs(output)
        return output

    def _register_hook(self, hooks: dict, with_kwargs_ids: set, hook: Callable, prepend: bool,
                       with_kwargs: bool) -> RemovableHandle:
        handle = RemovableHandle(hooks, with_kwargs_ids)
        hooks[handle.id] = hook
        if with_kwargs:
            with_kwargs_ids.add(handle.id)
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` runs before ``forward``; a non-None result replaces ``args``
        (a single value is wrapped in a tuple). With ``with_kwargs=True`` the hook is
        ``hook(module, args, kwargs)`` and returns ``(args, kwargs)`` or None."""
        return self._register_hook(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs,
                                   hook, prepend, with_kwargs)

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` runs after ``forward``; a non-None result replaces the
        output. With ``with_kwargs=True`` it is ``hook(module, args, kwargs, output)``."""
        return self._register_hook(self._forward_hooks, self._forward_hooks_with_kwargs, hook,
                                   prepend, with_kwargs)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False
                                    ) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` runs during backward, once the gradients
        with respect to this call's inputs are known: tuples of Tensors, one per positional
        input (None where it needs no gradient) and per output. A non-None result replaces
        ``grad_input`` (e.g. guided backprop clamps it at 0).

        Grad-CAM reads ``grad_output[0]`` of the last conv layer: how much each of its feature
        maps mattered to the score.
        """
        return self._register_hook(self._backward_hooks, set(), hook, prepend, False)

    # ---- registration -------------------------------------------------------------------------

    def _check_new_name(self, kind: str, name, registry: dict) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError(f"{kind} name can't contain \".\", got: {name}")
        if name == "":
            raise KeyError(f"{kind} name can't be empty string \"\"")
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add ``param`` (a Parameter, or None for an absent one such as ``bias=False``)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_new_name("parameter", name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            "(convlab.nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                f"created explicitly. To express '{name}' as a function of another Tensor, "
                "compute the value in the forward() method.")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (e.g. BatchNorm's running mean).

        Persistent buffers are saved in ``state_dict()``; ``to(dtype)`` casts floating ones.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_new_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(convlab Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Add a child module under ``name`` (what ``self.name = module`` does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        self._check_new_name("module", name, self._modules)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value) -> None:
        def remove_from(*registries):
            for registry in registries:
                if name in registry:
                    if isinstance(registry, set):
                        registry.discard(name)
                    else:
                        del registry[name]

        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            remove_from(self.__dict__, self._buffers, self._modules,
                        self._non_persistent_buffers_set)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(convlab.nn.Parameter or None expected)")
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            if "_modules" not in self.__dict__:
                raise AttributeError("cannot assign module before Module.__init__() call")
            remove_from(self.__dict__, self._parameters, self._buffers,
                        self._non_persistent_buffers_set)
            self._modules[name] = value
        elif name in self.__dict__.get("_modules", {}):
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                "(convlab.nn.Module or None expected)")
            self._modules[name] = value
        elif name in self.__dict__.get("_buffers", {}):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                "(convlab.Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Only called when ordinary lookup fails: look in the three registries.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def get_submodule(self, target: str) -> "Module":
        """The module at dotted path ``target`` (``"features.0"``); ``""`` is this module."""
        module = self
        if target == "":
            return module
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` (``"features.0.weight"``)."""
        return self._get_registered(target, "_parameters", "an nn.Parameter")

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target`` (``"bn.running_mean"``)."""
        return self._get_registered(target, "_buffers", "a buffer")

    def _get_registered(self, target: str, registry: str, what: str):
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        if name not in getattr(module, registry):
            raise AttributeError(f"`{name}` is not {what}")
        return getattr(module, registry)[name]

    # ---- walking the tree ---------------------------------------------------------------------

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """This module and all below it, depth first, each once (a shared one under its first
        name) unless ``remove_duplicate=False``."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            child_prefix = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, child_prefix, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """The direct children, each once."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True):
        seen = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs; a parameter shared by two layers comes once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every child (recursively), then on this module; returns ``self``.
        The usual use is custom initialization: ``net.apply(init_weights)``."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients --------------------------------------------------------------------

    def train(self, mode: bool = True) -> "Module":
        """Set training mode (Dropout drops, BatchNorm uses batch statistics) here and below."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> "Module":
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Turn gradient tracking of every parameter on or off (e.g. to freeze layers)."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (the default), or to zeros."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad = Tensor._wrap(np.zeros_like(param.grad._data))

    # ---- dtype --------------------------------------------------------------------------------

    def _cast_floating(self, np_dtype: np.dtype) -> "Module":
        """Convert every floating parameter, gradient and buffer, keeping the objects (so an
        optimizer built before the call still holds this model's parameters)."""
        for module in self.modules():
            for tensor in itertools.chain(module._parameters.values(), module._buffers.values()):
                if tensor is None or tensor._data.dtype.kind != "f":
                    continue
                if tensor._data.dtype == np_dtype:
                    continue
                # new memory, so a new version count (as PyTorch's new tensors start at 0)
                tensor._data = tensor._data.astype(np_dtype)
                tensor._version_counter = VersionCounter()
                if tensor.grad is not None:
                    tensor.grad = Tensor._wrap(tensor.grad._data.astype(np_dtype))
        return self

    def to(self, *args, **kwargs) -> "Module":
        """``to(dtype)``, ``to('cpu')``, ``to(device, dtype)`` or ``to(tensor)``: casts floating
        parameters and buffers; integer buffers (``num_batches_tracked``) keep their dtype."""
        target = kwargs.get("dtype")
        for arg in list(args) + [kwargs.get("device"), kwargs.get("tensor")]:
            if arg is None:
                continue
            if isinstance(arg, Tensor):
                target = arg.dtype
            elif isinstance(arg, (_dtype.dtype, np.dtype, type)):
                target = arg
            else:
                device(arg)  # raises for anything but the CPU
        if target is None:
            return self
        np_dtype = _dtype.to_numpy_dtype(target)
        if np_dtype.kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired "
                            f"dtype={_dtype.from_numpy_dtype(np_dtype)}")
        return self._cast_floating(np_dtype)

    def float(self) -> "Module":
        return self._cast_floating(np.dtype(np.float32))

    def double(self) -> "Module":
        return self._cast_floating(np.dtype(np.float64))

    def half(self) -> "Module":
        return self._cast_floating(np.dtype(np.float16))

    def cpu(self) -> "Module":
        return self

    # ---- state dict ---------------------------------------------------------------------------

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        for name, param in self._parameters.items():
            if param is not None:
                # a lazy module's placeholder is saved as is: it has no values to detach
                keep = keep_vars or is_lazy(param)
                destination[prefix + name] = param if keep else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()

    def state_dict(self, *, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Every parameter and persistent buffer under its dotted name, as detached tensors
        sharing memory with the model (``keep_vars=True`` keeps the Parameters themselves)."""
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        return destination

    def _load_from_state_dict(self, state_dict: Mapping, prefix: str, missing_keys: list,
                              unexpected_keys: list, error_msgs: list) -> None:
        """Copy this module's own entries of ``state_dict`` (not its children's) into place."""
        persistent = {k: v for k, v in self._buffers.items()
                      if k not in self._non_persistent_buffers_set}
        local = {k: v for k, v in itertools.chain(self._parameters.items(), persistent.items())
                 if v is not None}
        for name, param in local.items():
            key = prefix + name
            if key not in state_dict:
                missing_keys.append(key)
                continue
            value = state_dict[key]
            if isinstance(value, np.ndarray):
                value = Tensor._wrap(value)
            if not isinstance(value, Tensor):
                error_msgs.append(f'While copying the parameter named "{key}", expected '
                                  f"convlab.Tensor or ndarray from checkpoint but received "
                                  f"{type(value)}")
                continue
            if is_lazy(value):
                continue  # nothing to copy from a placeholder
            if is_lazy(param):
                param.materialize(value._data.shape)
            elif value._data.shape != param._data.shape:
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {value.shape} from "
                    f"checkpoint, the shape in current model is {param.shape}.")
                continue
            with no_grad():
                param._data[...] = value._data
                param._version_counter.bump()
        for key in state_dict:
            if key.startswith(prefix):
                name = key[len(prefix):].split(".", 1)[0]
                if name not in self._modules and name not in local:
                    unexpected_keys.append(key)

    def load_state_dict(self, state_dict: Mapping, strict: bool = True) -> _IncompatibleKeys:
        """Copy parameters and buffers from ``state_dict`` into this module and its children.

        With ``strict=True`` (the default) a missing or unexpected key raises; a shape mismatch
        always raises. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing: list[str] = []
        unexpected: list[str] = []
        errors: list[str] = []

        def load(module: Module, local_state: dict, prefix: str) -> None:
            module._load_from_state_dict(local_state, prefix, missing, unexpected, errors)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local_state.items()
                                 if k.startswith(child_prefix)}, child_prefix)

        load(self, dict(state_dict), "")
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(errors)))
        return _IncompatibleKeys(missing, unexpected)

    # ---- repr ---------------------------------------------------------------------------------

    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text between the parentheses of this module's repr (its constructor arguments).
        Subclasses override it; it may span several lines."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(module), 2)
                       for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"
