"""The Optimizer base class: parameter groups, per-parameter state, zero_grad and state_dict.

An optimizer holds ``param_groups``, a list of dicts that each name some parameters
(``group['params']``) and the options for them (``lr``, ``momentum``, ...). Options missing from a
group come from the optimizer's ``defaults``. ``state[p]`` holds what the update rule remembers
about parameter ``p`` between steps (momentum buffers, running averages, the step count).

Subclasses write one method, ``_update(x, g, state, group)``: change the parameter's array ``x`` in
place, given its gradient array ``g``. Working on the arrays in place is what lets views of a
parameter, and its ``.data``, see the new values, as they do in PyTorch.
"""

from __future__ import annotations

import copy
import itertools
import warnings
from collections import defaultdict

import numpy as np

from .. import _dtype
from ..autograd import enable_grad, no_grad
from ..tensor import Tensor

__all__ = ["Optimizer"]

_UNORDERED = ("optimizer parameters need to be organized in ordered collections, but the ordering "
              "of tensors in sets will change between runs. Please use a list instead.")


class Optimizer:
    """Base class of optimizers, as ``torch.optim.Optimizer``.

    ``params`` is an iterable of Tensors, of ``(name, Tensor)`` pairs (``named_parameters()``),
    or of dicts that each define a parameter group with its own options.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        # Tensors hash by identity, so each parameter is its own key.
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._stepped = False  # lets a scheduler warn when it is stepped before the optimizer
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a Tensor; wrap it in a list: [param]")
        if isinstance(params, set):
            raise TypeError(_UNORDERED)
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            text += "".join(f"    {key}: {group[key]}\n" for key in sorted(group)
                            if key != "params")
        return text + ")"

    # ---- parameter groups --------------------------------------------------------------------

    def _check_options(self, options: dict) -> None:
        """Raise ValueError for options the update rule cannot use (each optimizer says which)."""

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (defaults fill in the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry with the tensors to optimize")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(_UNORDERED)
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            params = [p[1] for p in params]
            param_group["param_names"] = names
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but parameter {i} of the "
                                f"group is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (parameter {i} of the group "
                                 f"was computed by {p.grad_fn.name()}); optimize the leaves it "
                                 "was computed from, or .detach() it into a new leaf")
        param_group["params"] = params
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        self._check_options(param_group)

        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "each is updated once per occurrence", stacklevel=3)
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if not taken.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        if any(("param_names" in g) != ("param_names" in param_group) for g in self.param_groups):
            raise ValueError("all optimizer param groups should be with/without names: cannot mix "
                             "named_parameters() with plain tensors")
        self.param_groups.append(param_group)

    # ---- the step ----------------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set ``.grad`` to None (the default), or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    p.grad.zero_()

    def step(self, closure=None):
        """Update every parameter that has a gradient; return what ``closure()`` returned.

        ``closure``, when given, recomputes the loss (with grad mode on) before the update.
        Parameters whose ``.grad`` is None are skipped, as in PyTorch.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state.get(p, {})
                    self._update(p._data, p.grad._data, state, group)
                    p._version_counter.bump()  # an in-place change, as PyTorch's p.add_()
                    if state:  # plain SGD keeps none, and state_dict() then lists none
                        self.state[p] = state
        self._stepped = True
        return loss

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError

    @staticmethod
    def _zeros_like(x: np.ndarray) -> Tensor:
        """A state buffer of the parameter's shape and dtype."""
        return Tensor._wrap(np.zeros_like(x))

    @staticmethod
    def _step_counter() -> Tensor:
        """The step count as PyTorch keeps it: a 0-d tensor of the default float dtype."""
        dtype = np.float64 if _dtype.get_default_dtype() is _dtype.float64 else np.float32
        return Tensor._wrap(np.zeros((), dtype))

    # ---- saving and loading ------------------------------------------------------------------

    def state_dict(self) -> dict:
        """The optimizer's state as PyTorch lays it out.

        ``{'state': {0: {...}, 1: {...}}, 'param_groups': [{'lr': ..., 'params': [0, 1]}, ...]}``:
        parameters are numbered in the order the groups list them, and the state tensors are the
        optimizer's own (not copies), as in PyTorch.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Take the state and group options saved by :meth:`state_dict` (copies, never aliases).

        The saved parameters are matched to this optimizer's by position, group by group.
        Floating-point state is cast to its parameter's dtype; shapes must agree.
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError("load_state_dict expects the dict returned by Optimizer.state_dict(),"
                             " with the keys 'state' and 'param_groups'")
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, but "
                             f"this optimizer has {len(self.param_groups)}")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group that doesn't match the size of"
                    f" optimizer's group: group {i} has {len(saved['params'])} parameters saved "
                    f"and {len(group['params'])} in this optimizer")
        params_by_id = dict(zip(itertools.chain.from_iterable(g["params"] for g in saved_groups),
                                itertools.chain.from_iterable(g["params"] for g in
                                                              self.param_groups)))
        state: defaultdict = defaultdict(dict)
        for key, saved_state in state_dict["state"].items():
            if key not in params_by_id:
                raise ValueError(f"loaded state dict has state for parameter {key!r}, which no "
                                 "saved parameter group lists")
            param = params_by_id[key]
            state[param] = {name: _cast_state(value, param, name, key)
                            for name, value in saved_state.items()}
        for group, saved in zip(self.param_groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.state = state
        self.param_groups = saved_groups


def _cast_state(value, param: Tensor, name: str, key):
    """A copy of one saved state entry, ready for ``param``: its dtype and its shape."""
    if name == "step":
        if isinstance(value, Tensor):
            return Tensor._wrap(value._data.copy())
        return Tensor._wrap(np.asarray(float(value), dtype=Optimizer._step_counter()._data.dtype))
    if not isinstance(value, Tensor):
        return copy.deepcopy(value)
    if value.shape != param.shape:
        raise ValueError(f"loaded state {name!r} of parameter {key} has shape {list(value.shape)}"
                         f", but the parameter has shape {list(param.shape)}")
    dtype = param._data.dtype if param.is_floating_point() else value._data.dtype
    return Tensor._wrap(value._data.astype(dtype, copy=True))


def _check_nonnegative(options: dict, **labels: str) -> None:
    """Raise PyTorch's ValueError for each option that is negative (or not a number at all).

    ``labels`` maps an option to the words PyTorch's message uses for it: ``lr="learning rate"``.
    """
    for key, label in labels.items():
        value = options[key]
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{key} must be a number, got {value!r}") from None
        if not number >= 0.0:
            raise ValueError(f"Invalid {label}: {value} ({key} must be >= 0)")
