"""How an imported graph runs when no gradient is recorded: the same values in fewer steps.

Under ``no_grad`` no one will ask for an intermediate value of the graph or for a gradient, so
:class:`~convlab.onnx.importer.OnnxModel` runs some runs of nodes as one step, as onnxruntime does
(:func:`inference_steps` finds them when the model is built):

- **Conv, then BatchNormalization** with its running statistics: one convolution with folded
  weights. Per output channel, with f = scale / sqrt(var + eps),
  ``BN(conv(x, w) + b) = conv(x, w * f) + (b - mean) * f + bias``.
- **x * Clip(x + 3, 0, 6) / 6**, HardSwish as exporters without the operator write it (four
  nodes): ``F.hardswish(x)``, the same arithmetic in the same order, in one op.
- **A node that reads only stored values** among which a weight (a Reshape of a bias; a node of
  fixed values alone was run at load): run once, its outputs kept.

What a step derives from weights (folded weights, a kept output) is kept with the tensors it came
from and recomputed when one of them is another tensor, has other memory, or was changed in
place: every in-place change counts in ``Tensor._version`` (an optimizer's step,
``load_state_dict``, ``w.mul_(2)``). Writes that PyTorch leaves out of the count (through
``w.data`` or ``w.numpy()``) are not seen: run a forward with gradients on, or build the model
again, after those.

With gradients on (training, fine-tuning, saliency) every node runs by itself, as the file has
it: the Parameters, the values and the gradients are the graph's, unchanged. A step whose nodes
carry hooks (``explain.summary`` registers forward hooks) runs its nodes one by one as well, so
that each hook sees its node.

Measured on one core (CPU time, median of 7 interleaved samples, node by node against these steps
in one process), the rapidocr text-direction classifier (257 nodes run as 168 steps: 35 Conv +
BatchNormalization, 18 HardSwish, 18 Reshapes of biases kept): 12.4 -> 9.4 ms at batch 1, 33.6 ->
27.5 ms at batch 8. The torchvision-style ResNet-50 and SqueezeNet that ``torch.onnx.export``
writes have no such runs (PyTorch's exporter folds BatchNormalization into the Conv itself).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

import convlab
import convlab.nn.functional as F

from .ops import OPS

__all__ = ["Step", "Cached", "ConvBatchNorm", "HardSwish", "inference_steps"]


def _hooked(node) -> bool:
    """Whether ``node`` has hooks, which must see it run by itself."""
    return bool(node._forward_pre_hooks or node._forward_hooks or node._backward_hooks)


class _Derived:
    """``derive(*tensors)``, kept while the tensors are the same objects with the same memory and
    no in-place change since (their version counter's value)."""

    def __init__(self, derive):
        self.derive = derive
        self.state, self.held, self.value = None, None, None

    def __call__(self, *tensors):
        state = tuple(None if t is None else
                      (id(t), id(t._data), id(t._version_counter), t._version_counter.value)
                      for t in tensors)
        if state != self.state:
            self.value = self.derive(*tensors)
            # held: the objects whose ids ``state`` compares, kept alive so no other takes an id
            self.state = state
            self.held = [(t, t._data, t._version_counter) for t in tensors if t is not None]
        return self.value


class Step:
    """Nodes run as one: ``inputs``, the values it reads (ONNX names, in order of first read),
    ``outputs``, those of its last node; calling it with the input values gives what the last
    node would (a Tensor, or a tuple of them)."""

    def __init__(self, nodes):
        self.nodes = tuple(nodes)
        made, inputs = set(), []
        for node in self.nodes:
            inputs += [name for name in node.inputs if name not in made and name not in inputs]
            made.update(node.outputs)
        self.inputs, self.outputs = tuple(inputs), tuple(self.nodes[-1].outputs)

    def __call__(self, *values):
        if any(_hooked(node) for node in self.nodes):
            return self.one_by_one(*values)
        return self.compute(*values)

    def compute(self, *values):
        raise NotImplementedError

    def one_by_one(self, *values):
        """The nodes, each by itself (with its hooks)."""
        known = dict(zip(self.inputs, values))
        for node in self.nodes:
            result = node(*[known[name] for name in node.inputs])
            known.update(zip(node.outputs, result if isinstance(result, tuple) else (result,)))
        outputs = tuple(known[name] for name in self.outputs)
        return outputs[0] if len(outputs) == 1 else outputs

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(node.name for node in self.nodes)})"


class Cached(Step):
    """A node whose inputs are all stored values (a weight among them): its outputs are kept
    until an input changes."""

    def __init__(self, node):
        super().__init__([node])
        self._outputs = _Derived(node.forward)

    def compute(self, *values):
        return self._outputs(*values)


class ConvBatchNorm(Step):
    """Conv, then BatchNormalization with its running statistics, as one convolution whose
    weight and bias fold the normalization in (per output channel o, f = scale / sqrt(var + eps)):
    ``w'[o] = w[o] * f[o]``, ``b'[o] = (b[o] - mean[o]) * f[o] + bias[o]``, computed in float64
    and kept in the weight's dtype."""

    def __init__(self, conv, norm):
        super().__init__([conv, norm])
        self._weights = _Derived(self._fold)

    def _fold(self, w, b, scale, bias, mean, var):
        eps = self.nodes[1].attr("epsilon", 1e-5)
        w_values = w.detach().numpy()
        f = (scale.detach().numpy().astype(np.float64)
             / np.sqrt(var.detach().numpy().astype(np.float64) + eps))
        shift = -mean.detach().numpy().astype(np.float64)
        if b is not None:
            shift = shift + b.detach().numpy()
        folded_w = w_values * f.reshape(-1, *([1] * (w_values.ndim - 1)))
        folded_b = shift * f + bias.detach().numpy()
        return (convlab.from_numpy(folded_w.astype(w_values.dtype)),
                convlab.from_numpy(folded_b.astype(w_values.dtype)))

    def compute(self, *values):
        conv, norm = self.nodes
        known = dict(zip(self.inputs, values))
        x, w, b = ([known[name] for name in conv.inputs] + [None])[:3]
        w, b = self._weights(w, b, *[known[name] for name in norm.inputs[1:]])
        return OPS["Conv"](conv, x, w, b)


class HardSwish(Step):
    """x * Clip(x + 3, 0, 6) / 6 as ``F.hardswish(x)``: the same operations in the same order
    (x + 3, clip, times x, over 6), so the same values, in one op instead of four nodes."""

    def compute(self, x, *constants):
        return F.hardswish(x)


def _fixed_scalar(model, name: str):
    """The value of a stored scalar that training does not change (a buffer), else None."""
    attribute = model._stored.get(name)
    if attribute is None or attribute not in model._buffers:
        return None
    value = model._buffers[attribute]
    if value.numel() != 1 or not value.dtype.is_floating_point:
        return None
    return float(value.item())


class _Graph:
    """Who reads what, for matching runs of nodes."""

    def __init__(self, model, nodes):
        self.model, self.nodes = model, nodes
        self.readers = defaultdict(list)  # value name -> indices of the nodes that read it
        for k, node in enumerate(nodes):
            for name in node.inputs:
                self.readers[name].append(k)
        self.kept = set(model.output_names)

    def only_reader(self, k: int, op_type: str, position: int = 0):
        """The node that alone reads node k's (first) output, at input ``position``, if it is an
        ``op_type`` node and the output is not one of the graph's, else None."""
        name = self.nodes[k].outputs[0]
        readers = self.readers[name]
        if name in self.kept or len(readers) != 1:
            return None
        node = self.nodes[readers[0]]
        if node.op_type != op_type or node.inputs[position] != name:
            return None
        return readers[0]

    def stored(self, name: str) -> bool:
        return name in self.model._stored

    def conv_batch_norm(self, k: int):
        """[k, j] where Conv k's output goes only to BatchNormalization j, which normalizes by
        stored per-channel statistics of Conv k's stored weight."""
        conv = self.nodes[k]
        if conv.op_type != "Conv" or len(conv.outputs) != 1 or 1 not in conv.stored_inputs:
            return None
        j = self.only_reader(k, "BatchNormalization")
        if j is None:
            return None
        norm = self.nodes[j]
        channels = (conv.stored_inputs[1][0][0],)
        if (norm.attr("training_mode", 0) or norm.attr("spatial", 1) != 1
                or len(norm.outputs) != 1 or len(norm.inputs) != 5
                or any(norm.stored_inputs.get(p, ((), False))[0] != channels for p in range(1, 5))):
            return None
        return [k, j]

    def hard_swish(self, k: int):
        """[k, c, m, d] for Add(x, 3) -> Clip(0, 6) -> Mul(x, that) -> Div(6), the constants
        fixed, each intermediate read only by the next node."""
        add = self.nodes[k]
        if add.op_type != "Add" or len(add.inputs) != 2 or _fixed_scalar(self.model, add.inputs[1]) != 3:
            return None
        x = add.inputs[0]
        c = self.only_reader(k, "Clip")
        if c is None:
            return None
        clip = self.nodes[c]
        bounds = [clip.attr("min", None), clip.attr("max", None)]
        for p, name in enumerate(clip.inputs[1:3]):
            bounds[p] = _fixed_scalar(self.model, name) if name else bounds[p]
        if bounds != [0, 6]:
            return None
        readers = self.readers[clip.outputs[0]]
        if clip.outputs[0] in self.kept or len(readers) != 1:
            return None
        m = readers[0]
        mul = self.nodes[m]
        if mul.op_type != "Mul" or sorted(mul.inputs) != sorted([x, clip.outputs[0]]):
            return None
        d = self.only_reader(m, "Div")
        if d is None or _fixed_scalar(self.model, self.nodes[d].inputs[1]) != 6:
            return None
        return [k, c, m, d]

    def weights_only(self, k: int, cached: set) -> bool:
        """Whether node k reads only stored values and outputs of such nodes (``cached``), and
        gives none of the graph's outputs (which the caller could change)."""
        node = self.nodes[k]
        return (node.op_type != "Dropout" and any(node.inputs)
                and not self.kept.intersection(node.outputs)
                and all(name == "" or self.stored(name) or name in cached for name in node.inputs))


def inference_steps(model, nodes) -> list:
    """The steps that run ``nodes`` (the model's, in order) under ``no_grad``: a node itself, or a
    :class:`Step` for a run of them, placed where its first node was (the run's other inputs are
    stored values, ready from the start)."""
    graph = _Graph(model, nodes)
    steps, taken, cached = [], set(), set()
    for k, node in enumerate(nodes):
        if k in taken:
            continue
        run = graph.conv_batch_norm(k)
        if run is not None:
            steps.append(ConvBatchNorm(*[nodes[i] for i in run]))
        elif (run := graph.hard_swish(k)) is not None:
            steps.append(HardSwish([nodes[i] for i in run]))
        elif graph.weights_only(k, cached):
            cached.update(node.outputs)
            steps.append(Cached(node))
            run = [k]
        else:
            steps.append(node)
            run = [k]
        taken.update(run)
    return steps
