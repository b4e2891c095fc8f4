"""A whole network's inference as one prepared list of steps on arrays, built once per input.

Under ``no_grad`` :class:`~convlab.onnx.importer.OnnxModel` runs its inference steps
(:mod:`.inference`). Run by themselves, the steps cost Python between the compiled kernels: each
looks up its input values in a dict by name, checks its nodes' hooks, wraps its arrays as
Tensors, checks that its weights are unchanged and finds its plan for the shapes. For a fixed
input (shapes and dtypes), thread count and weights, all of that is the same at every call, so a
:class:`Plan` decides it once, on the first call (which runs the steps as usual), and keeps:

- a slot per value of the graph, a list in which each call's arrays live (no dict, no Tensors);
- the values that do not change between calls (weights, and the outputs of the steps that read
  only weights or shapes: :class:`~.inference.Cached`, :class:`~.inference.ShapeOf`) in their
  slots once and for all;
- per step, the function of its input arrays that :meth:`~.inference.Step.prepare` gives (the
  convolution's algorithm and kept plan, folded weights, the pooling's window, chosen now), or
  for the steps that run on Tensors (a Reshape, a Gemm...), the step itself, its arrays wrapped.

A call then runs the functions in order, each reading and writing slots, and lets go of a slot
after its last reader (as the steps do: the memory of a deep network's early activations is
reused for the later ones). Its arrays are fresh ones from the kernels, not buffers kept between
calls, so the outputs it returns are its own, which the next call does not overwrite. Kept
buffers would save no work: the allocator hands the same memory back (0-1 page faults a call,
SqueezeNet 1.1 at batch 1), and they would hold every activation of every plan between calls.

A key (:func:`key`) picks the plan of the input shapes, dtypes and thread count. A plan holds
while it is valid (:meth:`Plan.valid`): the model's weights are the same Tensors, with the same
memory and version counts (an optimizer's step, ``load_state_dict``, ``w.mul_(2)`` count); a
changed weight lets go of every plan, and the call builds its plan again. While a node has
forward hooks, the model runs its steps one at a time (each hooked node by itself).

Measured on one core, CPU time per call in one process, the plan, the steps one at a time and
onnxruntime interleaved, p10 of 150 (load 3.9-4.1, other sessions running): the rapidocr
text-direction classifier at batch 1 (52 prepared steps, 309 weights checked) 2.82 -> 1.80 ms
(onnxruntime 1.33: 2.12 -> 1.35 of it); SqueezeNet 1.1 at batch 1 13.14 -> 12.88 ms
(onnxruntime 8.67), whose time is the kernels'.
"""

from __future__ import annotations

from operator import attrgetter, is_

import numpy as np

from ..engine import jit, parallel, select
from ..tensor import Tensor
from .inference import Cached, ShapeOf, Step, _array, _tensor

__all__ = ["Plan", "Plans", "key"]

# how many plans a model keeps (input shapes, dtypes, thread counts): a program that keeps
# feeding new shapes starts again from none when it reaches this many
MAX_PLANS = 8


def key(arrays) -> tuple:
    """What a plan is built for: the inputs' shapes and dtypes, the engine's thread count,
    whether its compiled kernels are on, and the convolution algorithm forced in this thread
    (``select.using``), all of which the steps' choices follow."""
    return (tuple((a.shape, a.dtype) for a in arrays), parallel.threads(), jit.active(),
            select._forced.name)


class Plans:
    """A model's plans, by :func:`key`: :meth:`outputs` runs a call by its plan. A copy of the
    model (``copy.deepcopy``, pickle) starts with none: a plan's functions hold the arrays of the
    model it was built for."""

    def __init__(self):
        self._plans = {}  # key -> Plan, or None where a plan could not be built
        self._hooks = None  # the hooks of the model's nodes: the Modules' own dicts

    def __deepcopy__(self, memo):
        return Plans()

    def __reduce__(self):
        return (Plans, ())

    def outputs(self, model, steps, dropped, inputs):
        """The graph's outputs (a tuple of Tensors) for ``inputs``, by the plan of their key
        (built now, running the ``steps``, where there is none or a weight changed since), or
        None where the steps must run the call: a node has hooks, an input is not a Tensor, a
        plan could not be built or its shapes differ inside the graph."""
        if self._hooks is None:  # (backward hooks do nothing under no_grad)
            self._hooks = tuple(hooks for node in model.nodes.values()
                                for hooks in (node._forward_pre_hooks, node._forward_hooks))
        if any(self._hooks) or not all(isinstance(t, Tensor) for t in inputs):
            return None
        arrays = [_array(t) for t in inputs]
        k = key(arrays)
        plan = self._plans.get(k, _MISSING)
        if plan is None:
            return None
        if plan is _MISSING or not plan.valid(model):
            # changed weights leave every plan stale: none keeps the old weights' memory
            if plan is not _MISSING or len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            try:
                plan = Plan(model, steps, dropped, inputs)
            except _Unplanned:
                self._plans[k] = None
                return None
            self._plans[k] = plan
            outputs, plan.outputs = plan.outputs, None  # a plan keeps no call's values
            return outputs
        try:
            return plan(arrays)
        except _Stale:
            return None


_MISSING = object()


class _Stale(Exception):
    """A call whose shapes differ from the plan's inside the graph (a Shape node saw another
    shape): the steps run it instead."""


_data = attrgetter("_data")
_count = attrgetter("_version_counter.value")


class Plan:
    """The prepared steps of ``model`` for inputs like ``inputs`` (Tensors), built while running
    the model's inference ``steps`` (with ``dropped``, the values to let go of after each) on
    them: ``outputs``, that run's outputs, as the steps give them."""

    def __init__(self, model, steps, dropped, inputs):
        stored = {**model._buffers, **model._parameters}
        self._parameters = tuple(model._parameters.values())
        self._buffers = tuple(model._buffers.values())
        self._weights = tuple(stored[attribute] for attribute in model._stored.values())
        self._arrays = tuple(map(_data, self._weights))
        self._counts = list(map(_count, self._weights))
        if any(t._base is not None for t in self._weights):  # views: their arrays follow a base
            raise _Unplanned
        slot = {}  # value name -> its slot
        fixed = {"": None}  # the values that every call shares (Tensors), by name
        fixed.update((name, stored[attribute]) for name, attribute in model._stored.items())
        values = dict(fixed)
        values.update(zip(model.input_names, inputs))
        self._inputs = [slot.setdefault(name, len(slot)) for name in model.input_names]
        self._runs = []  # per step: (function of the slots, slots to let go of after it)
        for step, done in zip(steps, dropped):
            args = [values[name] for name in step.inputs]
            result = step(*args)
            results = result if isinstance(result, tuple) else (result,)
            if not all(isinstance(r, Tensor) for r in results):
                raise _Unplanned
            values.update(zip(step.outputs, results))
            for name in step.inputs:
                slot.setdefault(name, len(slot))
            if isinstance(step, Cached):  # outputs shared by every call, nothing to run
                fixed.update(zip(step.outputs, results))
                continue
            if isinstance(step, ShapeOf):  # the same, while its input has the same shape
                fixed.update(zip(step.outputs, results))
                run = _same_shape(slot[step.inputs[0]], args[0].shape)
            else:
                outs = [slot.setdefault(name, len(slot)) if name else None
                        for name in step.outputs]
                run = _run(step, args, results, fixed, slot, outs)
            self._runs.append((run, tuple(slot[name] for name in done)))
            for name in done:
                del values[name]
        self.outputs = tuple(values[name] for name in model.output_names)
        # each output by its slot; a fixed one (a weight, or a view of one) as its Tensor
        self._outputs = [(slot.setdefault(name, len(slot)), _shares(values[name], fixed))
                         for name in model.output_names]
        self._template = [None] * len(slot)  # the slots of the fixed values filled
        for name, k in slot.items():
            if name in fixed and fixed[name] is not None:
                self._template[k] = _array(fixed[name])

    def valid(self, model) -> bool:
        """Whether the plan still computes ``model``'s values: the same weight Tensors, with
        the same memory (``model.double()`` gives new memory and a new version counter;
        ``w.data = ...`` new memory), unchanged since (the counts of their version counters)."""
        return not (len(model._parameters) != len(self._parameters)
                    or len(model._buffers) != len(self._buffers)
                    or not all(map(is_, model._parameters.values(), self._parameters))
                    or not all(map(is_, model._buffers.values(), self._buffers))
                    or not all(map(is_, map(_data, self._weights), self._arrays))
                    or list(map(_count, self._weights)) != self._counts)

    def __call__(self, arrays):
        """The graph's outputs (Tensors) for the input ``arrays``; raises _Stale where a shape
        inside the graph differs from the plan's."""
        s = self._template.copy()
        for k, a in zip(self._inputs, arrays):
            s[k] = a
        for run, done in self._runs:
            run(s)
            for k in done:
                s[k] = None
        return tuple(tensor if tensor is not None else _tensor(s[k])
                     for k, tensor in self._outputs)


class _Unplanned(Exception):
    """A step gave something other than Tensors: the model runs its steps."""


def _same_shape(k: int, shape: tuple):
    """A ShapeOf step's run: its output is the plan's while slot k has ``shape``."""
    def run(s):
        if s[k].shape != shape:
            raise _Stale
    return run


# The nodes that give their first input's values in another shape (in C order, as NumPy's reshape).
_RESHAPES = {"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity"}


def _reshape(node, args, results, fixed: dict):
    """For a node of _RESHAPES whose other inputs are fixed (so its output's shape follows its
    input's), a function that reshapes the input array to the output shape of the first call;
    else None. SqueezeNet's Flatten of 1x1000x1x1 on Tensors: 33.7 us (one core, load 4), the
    array's reshape 0.4."""
    if (node.op_type not in _RESHAPES or len(results) != 1 or not args
            or not all(name in fixed for name in node.inputs[1:])):
        return None
    x, y = _array(args[0]), _array(results[0])
    if x.dtype != y.dtype or x.size != y.size:
        return None
    shape = y.shape
    return lambda x, *fixed: x.reshape(shape)


def _shares(tensor, fixed: dict):
    """``tensor`` where it is one of the ``fixed`` Tensors or shares memory with one (a call
    returns it as the steps do, its own version counter kept), else None."""
    data = _array(tensor)
    for t in fixed.values():
        if t is tensor or (t is not None and np.may_share_memory(data, _array(t))):
            return tensor
    return None


def _run(step, args, results, fixed: dict, slot: dict, outs: list):
    """A function of the slots that runs ``step`` (its input and output Tensors of the first
    call: ``args``, ``results``) and writes its outputs' slots ``outs``."""
    ins = [slot[name] for name in step.inputs]
    prepared = (step.prepare(*args) if isinstance(step, Step)
                else _reshape(step, args, results, fixed))
    if prepared is not None:  # a function of arrays, one output
        (o,) = outs
        if len(ins) == 1:
            (i,) = ins

            def run(s):
                s[o] = prepared(s[i])
        else:
            def run(s):
                s[o] = prepared(*[s[i] for i in ins])
        return run
    # on Tensors: the fixed values as the Tensors they are, the others wrapped
    compute = step.compute if isinstance(step, Step) else step.forward
    template = [fixed.get(name) for name in step.inputs]
    computed = [(p, slot[name]) for p, name in enumerate(step.inputs) if name not in fixed]

    def run(s):
        args = template.copy()
        for p, k in computed:
            args[p] = _tensor(s[k])
        result = compute(*args)
        for k, r in zip(outs, result if isinstance(result, tuple) else (result,)):
            if k is not None:
                s[k] = _array(r)
    return run
