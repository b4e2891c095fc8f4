"""How an imported graph runs when no gradient is recorded: the same values in fewer steps.

Under ``no_grad`` no one will ask for an intermediate value of the graph or for a gradient, so
:class:`~convlab.onnx.importer.OnnxModel` runs some runs of nodes as one step, as onnxruntime does
(:func:`inference_steps` finds them when the model is built):

- **Conv, then maps that act on each channel as y -> s*y + t**: BatchNormalization with its
  running statistics (f = scale / sqrt(var + eps): ``BN(conv(x, w) + b) = conv(x, w*f) +
  (b - mean)*f + bias``), Add, Sub, Mul or Div by a per-channel weight (a bias the exporter
  left apart), HardSigmoid's ``alpha*y + beta`` (then only its clamp runs): one convolution
  with folded weight and bias.
- **x * Clip(x + 3, 0, 6) / 6**, HardSwish as exporters without the operator write it (four
  nodes): ``F.hardswish(x)``, the same arithmetic in the same order, in one op.
- **A node that reads only stored values** among which a weight (a Reshape of a bias; a node of
  fixed values alone was run at load), or the shape of a value (a Shape node's output, kept
  per shape): run once, its outputs kept.
- **A squeeze-excitation block**, ``x * HardSigmoid(Conv(Relu(Conv(GlobalAveragePool(x)))))``
  (MobileNetV3's): on the pooled 1x1 image the convolutions are matrix-vector products, and the
  block runs on arrays, in one compiled call (:mod:`.excitation`), with the folded weights of
  the two convolutions.
- **Pooling, products, sums and softmax** by themselves (MaxPool, GlobalAveragePool, MatMul,
  Add, Sub, Mul, Div, Softmax): their ops' computations on the arrays, what they need of the
  input shapes worked out once per shape (:class:`OnArrays`).
- **Every convolution** (by itself or with maps folded in) calls the engine on the arrays, its
  geometry worked out once per set of shapes, where F.conv*d would check its arguments and make
  an autograd op at every call (:class:`_Convolve`): the same call, so the same values.

What a step derives from weights (folded weights, a kept output) is kept with the tensors it came
from and recomputed when one of them is another tensor, has other memory, or was changed in
place: every in-place change counts in ``Tensor._version`` (an optimizer's step,
``load_state_dict``, ``w.mul_(2)``). Writes that PyTorch leaves out of the count (through
``w.data`` or ``w.numpy()``) are not seen, as autograd's checks do not see them: load the model
again after those. Folded weights are a second copy of the convolutions' weights, made at the
first call under ``no_grad``.

For a fixed input shape the steps are prepared once, as a whole-network plan on arrays
(:mod:`.plan`, through :meth:`Step.prepare`); the steps themselves run the plan's first call,
and calls that the plan steps aside for (hooks).

With gradients on (training, fine-tuning, saliency) every node runs by itself, as the file has
it: the Parameters, the values and the gradients are the graph's, unchanged. A step whose nodes
carry hooks (``explain.summary`` registers forward hooks) runs its nodes one by one as well, so
that each hook sees its node.

An activation after a Conv (Relu, HardSwish), and before it an Add of another value (a
residual connection), run in the convolution's step (:class:`_Tail`): the Add written into the
convolution's fresh output, the activation by its op into new memory, as the op computes it.
Written into the output in place, the activation is slower, not faster (one core, 1x256x56x56:
F.relu into new memory 132 us, the engine's compiled loop in place 253 us, where reading and
writing one array keeps it from vector code, NumPy's ``np.maximum(y, 0, out=y)`` 379 us).

Measured on one core (CPU time, median of 5 interleaved repeats in one process, as ``python -m
benchmarks onnx --one-core``), the rapidocr text-direction classifier (257 nodes run as 141
steps: 53 Conv with the BatchNormalization or the squeeze-excitation bias (and HardSigmoid)
after it, 18 HardSwish, 18 Reshapes of biases kept), with the GlobalAveragePool and Conv changes
of :mod:`.ops`: 10.7 -> 7.4 ms at batch 1, 28.9 -> 21.9 ms at batch 8 (onnxruntime: 1.0 and
7.9 ms). With the squeeze-excitation blocks, the activations and residual Adds in the
convolutions' steps, the convolutions called on the arrays and the shapes kept, it runs as 74
steps (35 convolutions with what follows them, 9 blocks, 22 kept values, 8 others): min of 50
on one core, 7.5 -> 4.4 ms at batch 1, 16.6 -> 13.1 ms at batch 8 (onnxruntime 1.2 and 8.1;
the engine's convolutions take 2.4 and 9.3 ms of them). The ResNet-50 and SqueezeNet that
``torch.onnx.export`` writes have no BatchNormalization to fold (PyTorch's exporter folds it
into the Conv itself); their Relus and ResNet's residual Adds join the convolutions' steps:
122 nodes as 57 steps, 65 as 39.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

import convlab
import convlab.nn.functional as F

from ..autograd.graph import ScratchCtx  # the ctx of an op run without a graph
from ..engine import elementwise, geometry, jit, parallel, pooling, select
from ..ops import activation as A
from ..ops import elementwise as E
from ..ops import reduction as R
from ..tensor import Tensor
from . import excitation
from .ops import OPS, conv_arguments, pool_geometry, torch_pool_padding

__all__ = ["Step", "Convolution", "ConcatOfConvolutions", "Cached", "ShapeOf", "ConvAffine",
           "HardSwish", "OnArrays",
           "SqueezeExcitation", "inference_steps"]


def _array(t):
    """The ndarray of Tensor ``t``, brought up to date first where it is a view of a value
    changed in place since (as an op's arguments are)."""
    if t._base is not None and t._view_version != t._version_counter.value:
        t._refresh_view()
    return t._data


class _Derived:
    """``derive(*tensors)``, kept while the tensors hold the same memory, unchanged: the same
    array and version counter, at the same count."""

    def __init__(self, derive):
        self.derive = derive
        self.seen, self.value = None, None  # seen: (array, counter, count) per tensor

    def __call__(self, *tensors):
        if not self._unchanged(tensors):
            self.value = self.derive(*tensors)
            self.seen = [None if t is None else
                         (t._data, t._version_counter, t._version_counter.value)
                         for t in tensors]
        return self.value

    def _unchanged(self, tensors) -> bool:
        """Whether ``tensors`` are what ``derive`` last saw: a loop that stops at the first
        change, run on every call of a step (6 tensors: 0.7 us, a tuple of their states built
        and compared 1.7 us)."""
        if self.seen is None or len(self.seen) != len(tensors):
            return False
        for t, seen in zip(tensors, self.seen):
            if t is None or seen is None:
                if t is not seen:
                    return False
                continue
            data, counter, count = seen
            if t._data is not data or t._version_counter is not counter or counter.value != count:
                return False
        return True


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
        # the nodes' hooks, which must see their nodes run by themselves: the Modules' own
        # dicts (a Module fills and empties them in place), read at every call (rapidocr's 67
        # runs of nodes: 68 us a call asking each node, 12 with the dicts at hand)
        self._hooks = tuple(hooks for node in self.nodes for hooks in (
            node._forward_pre_hooks, node._forward_hooks, node._backward_hooks))

    def __call__(self, *values):
        if any(self._hooks):
            return self.one_by_one(*values)
        return self.compute(*values)

    def compute(self, *values):
        raise NotImplementedError

    def prepare(self, *values):
        """The step as a function of its input arrays (in the order of ``inputs``) giving its
        output array, for a whole-network plan (:mod:`.plan`), which calls it with the same
        shapes, dtypes and weights at every call: what the step works out from those (the
        algorithm, folded weights) is taken now, from ``values``, the Tensors of one call.
        None where the step runs on Tensors (the plan then calls it as it is)."""
        return None

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


class _Convolve:
    """Conv ``node``'s convolution as F.conv*d computes it under ``no_grad``, on the arrays: the
    engine's call, its geometry worked out once per set of shapes. F.conv*d checks its
    arguments and goes through an autograd op at every call: for a Conv node on a 1x1 image
    (1x8x1x1 by 2x8x1x1, one core) 25 us, of which the engine's call is 13. Where the chosen
    algorithm has a ``forward_plan`` (pointwise, depthwise), its kept function runs, without
    the algorithm's decisions at every call.

    Calling it gives the output Tensor, or None where F.conv*d would do more than the engine's
    call (an input not float32 or float64, dtypes that differ): the caller then runs the op."""

    def __init__(self, node):
        self.node, self.geometries = node, {}
        self.runs = {}  # the algorithms' forward_plan functions, by shapes, dtype and threads

    def __call__(self, x, w, b):
        x, w, b = _array(x), _array(w), None if b is None else _array(b)
        convolve = self.prepared(x, w, b)
        return None if convolve is None else _tensor(convolve(x))

    def prepared(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None):
        """The convolution by ``w`` and ``b`` of arrays of ``x``'s shape and dtype, as a
        function of the input array (the algorithm and its kept plan chosen now), or None
        where F.conv*d would do more than the engine's call.

        The algorithm is chosen for weights that stay (:func:`.select.choose`'s
        ``weights_kept``), and an algorithm's ``forward_plan`` function is kept here per shapes
        and thread count, so that Winograd's keeps its transformed weights (made again when
        the weights' bits change) between calls of the steps too, not only in a network's
        plan: both then run the same algorithm, so hooks or none, the same numbers."""
        nd = w.ndim - 2
        if (x.dtype not in _FLOATS or w.dtype != x.dtype or (b is not None and b.dtype != x.dtype)
                or nd not in (1, 2, 3) or x.ndim != nd + 2):
            return None
        key = (x.shape, w.shape, None if b is None else b.shape)
        G = self.geometries.get(key)
        if G is None:
            if len(self.geometries) >= 64:  # a program that keeps feeding new shapes
                self.geometries.clear()
            _, options = conv_arguments(self.node, x.shape, w.shape)
            G = self.geometries[key] = geometry.conv_geometry(f"conv{nd}d", nd, *key, **options)
        algorithm = select.choose(G, x.shape, weights_kept=True)
        fixed = getattr(algorithm, "forward_fixed", None)  # the weights arranged once
        run = fixed and fixed(G, x.shape, x.dtype, w, b)
        if run:
            return run
        plan = getattr(algorithm, "forward_plan", None)
        if plan is not None:
            where = (key, x.dtype, parallel.threads(), jit.active(), algorithm.__name__)
            run = self.runs.get(where, _UNSEEN)
            if run is _UNSEEN:
                if len(self.runs) >= 64:
                    self.runs.clear()
                run = self.runs[where] = plan(G, x.shape, x.dtype)
            if run:
                return lambda x: run(x, w, b)
        return lambda x: algorithm.conv_forward(x, w, G, b)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# The ops of the activations that a convolution's step runs after it, by the first of their
# nodes: a Relu node, or HardSwish as four nodes (Add, Clip, Mul, Div: see HardSwish).
_ACTIVATIONS = {"Relu": E.Relu, "Add": A.Hardswish}
# the engine's compiled loops that their forwards call where elementwise.applies
_LOOPS = {E.Relu: elementwise.relu, A.Hardswish: elementwise.hardswish}

# An ndarray the steps computed as a Tensor (Tensor._wrap, the engine's way back to Tensors:
# convlab.from_numpy checks the type and dtype first, 0.84 against 0.48 us a call).
_tensor = Tensor._wrap

# The ctx an op's forward gets when no graph is recorded (what ``apply`` hands it then).
_NO_GRAPH = ScratchCtx((False,))


class _Tail:
    """What a convolution's step runs on the convolution's output y, a Tensor that nothing else
    reads: the Add of another value (a residual connection), if the step's nodes have one after
    the convolution's, then the activation of its last ``activation`` nodes (Relu, HardSwish).

    - The Add is written into y's array where r has y's shape and dtype: the same sums as the
      node's, without new memory, on the engine's threads where the sums' kernel runs threaded
      (:func:`.elementwise.sums_apply`; NumPy's ``np.add(y, r, out=y)`` runs on one).
    - The activation is its op's own forward on y's array (the engine's compiled loop, at any
      size: :mod:`convlab.engine.elementwise`), without ``apply`` around it (a Relu node takes
      15 us on 1x16x55x55, ``apply`` 12, the forward 7, one core)."""

    def __init__(self, step, residual: bool, activation: int):
        nodes = step.nodes
        self.op = _ACTIVATIONS[nodes[len(nodes) - activation].op_type] if activation else None
        self.other = None  # where the Add's other input is among the step's inputs
        if residual:
            add, before = nodes[len(nodes) - activation - 1], nodes[len(nodes) - activation - 2]
            other = next(name for name in add.inputs if name != before.outputs[0])
            self.other = step.inputs.index(other)

    def __call__(self, y, values):
        y = y._data  # the convolution's fresh output
        if self.other is not None:
            y = self.add(y, _array(values[self.other]))
        return _tensor(y if self.op is None else self.op.forward(_NO_GRAPH, y))

    @staticmethod
    def add(y: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``y + r``, into ``y`` (fresh) where ``r`` has its shape and dtype."""
        if elementwise.sums_apply(y, r):  # on the engine's threads
            elementwise.add_into(y, r)
        elif r.shape == y.shape and r.dtype == y.dtype:
            np.add(y, r, out=y)
        else:
            y = (_tensor(y) + _tensor(r))._data
        return y

    def prepared(self, convolve, x: int, values):
        """The step on arrays (:meth:`Step.prepare`): ``convolve`` (a function of the input
        array, :meth:`_Convolve.prepared`) of the step's input at position ``x`` (of the
        Tensors ``values``), then the tail. The activation is the engine's compiled loop
        where the op would call it on the convolution's output (its dtype and layout, seen
        once now), without the op's own checks: HardSwish on 1x32x6x96, one core, 5.61 ->
        4.28 us."""
        other, op = self.other, self.op
        if other is None and op is None:
            return lambda *arrays: convolve(arrays[x])
        if op is not None:
            y = convolve(_array(values[x]))  # what the activation gets, once
            if other is not None:
                y = self.add(y, _array(values[other]))
            loop = _LOOPS[op]
            if not elementwise.applies(y):
                def loop(y):
                    return op.forward(_NO_GRAPH, y)
        if other is None:
            return lambda *arrays: loop(convolve(arrays[x]))
        if op is None:
            return lambda *arrays: self.add(convolve(arrays[x]), arrays[other])
        return lambda *arrays: loop(self.add(convolve(arrays[x]), arrays[other]))


class Convolution(Step):
    """A Conv node, and after it an Add of another value and an activation where the step's
    nodes have them (:class:`_Tail`), on the arrays: the convolution by :class:`_Convolve`."""

    def __init__(self, nodes, residual: bool = False, activation: int = 0):
        super().__init__(nodes)
        self._convolve = _Convolve(self.nodes[0])
        position = {name: k for k, name in enumerate(self.inputs)}
        self._conv_inputs = [position[name] for name in self.nodes[0].inputs]
        self._tail = _Tail(self, residual, activation)

    def compute(self, *values):
        return self._tail(self.convolved(*values), values)

    def prepare(self, *values):
        convolve = self.prepared_convolution(values)
        return convolve and self._tail.prepared(convolve, self._conv_inputs[0], values)

    def prepared_convolution(self, values):
        """:meth:`_Convolve.prepared` for the step's input Tensors ``values``."""
        x, w, b = ([_array(values[k]) for k in self._conv_inputs] + [None])[:3]
        return self._convolve.prepared(x, w, b)

    def convolved(self, *values):
        """The convolution's output (a Tensor), before the Add and the activation."""
        x, w, b = ([values[k] for k in self._conv_inputs] + [None])[:3]
        y = self._convolve(x, w, b)
        return OPS["Conv"](self.nodes[0], x, w, b) if y is None else y


class ConcatOfConvolutions(Step):
    """A Concat along the channels of convolutions' outputs, each with its Relu or none, that
    the Concat alone reads (SqueezeNet's Fire modules: the 1x1 and the 3x3 expand convolutions
    side by side): each activated output is written straight into its channels of the Concat's
    output, sample by sample (a sample's channels are one contiguous run), so no value is
    copied once more by the Concat. SqueezeNet 1.1's eight Concats at batch 1 took 0.49 ms of
    13 (one core).

    Outputs whose shapes the Concat would refuse go to the nodes, one by one (which say why)."""

    def __init__(self, convolutions, concat):
        super().__init__([node for c in convolutions for node in c.nodes] + [concat])
        self._convolutions = convolutions
        position = {name: k for k, name in enumerate(self.inputs)}
        self._where = [[position[name] for name in c.inputs] for c in convolutions]

    def compute(self, *values):
        ys = [_array(c.convolved(*[values[k] for k in where]))
              for c, where in zip(self._convolutions, self._where)]
        if not self._fit(ys):
            return self.one_by_one(*values)
        return _tensor(self._joined(ys))

    def prepare(self, *values):
        parts = []  # per convolution: its function of the input array, the input's position
        for c, where in zip(self._convolutions, self._where):
            convolve = c.prepared_convolution([values[k] for k in where])
            if convolve is None:
                return None
            parts.append((convolve, where[c._conv_inputs[0]]))
        # the outputs' shapes, from one more run of the convolutions (once, for the plan)
        if not self._fit([convolve(_array(values[x])) for convolve, x in parts]):
            return None
        return lambda *arrays: self._joined([convolve(arrays[x]) for convolve, x in parts])

    @staticmethod
    def _fit(ys) -> bool:
        """Whether the convolutions' outputs ``ys`` join along the channels."""
        first = ys[0]
        return not any(y.ndim != first.ndim or y.ndim < 2 or y.shape[0] != first.shape[0]
                       or y.shape[2:] != first.shape[2:] or y.dtype != first.dtype for y in ys)

    def _joined(self, ys):
        """The Concat's output array: the outputs ``ys``, activated, in their channels."""
        first = ys[0]
        out = np.empty((first.shape[0], sum(y.shape[1] for y in ys), *first.shape[2:]),
                       first.dtype)
        start = 0
        for c, y in zip(self._convolutions, ys):
            part = out[:, start:start + y.shape[1]]
            for n in range(len(y)):
                if c._tail.op is None:
                    part[n] = y[n]
                elif elementwise.applies(y[n], part[n]):
                    elementwise.relu(y[n], out=part[n])  # the Relu op's own loop, into place
                else:
                    part[n] = E.Relu.forward(_NO_GRAPH, y[n])
            start += y.shape[1]
        return out


class Cached(Step):
    """A node whose inputs are all stored values (a weight among them): its outputs are kept
    until an input changes."""

    def __init__(self, node):
        super().__init__([node])
        self._outputs = _Derived(node.forward)

    def compute(self, *values):
        return self._outputs(*values)


class ShapeOf(Step):
    """A Shape node, its output kept per shape of its input: the same Tensor for the same shape,
    so that the nodes computing on it and on stored values alone (Cast, Slice, Concat of a
    Reshape's target shape) are :class:`Cached` steps that keep theirs too. rapidocr's head, a
    Reshape to (N, -1) worked out by Shape, Cast, Slice, Cast and Concat at every call: 150 us
    as five steps, about 25 us as these (one core, batch 1)."""

    def __init__(self, node):
        super().__init__([node])
        self._kept = {}  # input shape -> output

    def compute(self, x):
        y = self._kept.get(x.shape)
        if y is None:
            if len(self._kept) >= 64:  # a program that keeps feeding new shapes
                self._kept.clear()
            y = self._kept[x.shape] = self.nodes[0].forward(x)
        return y


class ConvAffine(Step):
    """Conv, then maps of its output that act on each channel as y -> s*y + t, run as one
    convolution whose weight and bias fold them in.

    The maps: BatchNormalization with its running statistics (f = scale / sqrt(var + eps):
    s = f, t = bias - mean*f); Add, Sub, Mul or Div by a weight that holds one value per channel,
    or one for all (``y + c``, ``y - c``, ``c * y``, ``y / c``); and, last, HardSigmoid's
    ``alpha*y + beta``, after which only its clamp to [0, 1] is left to run. Starting from s = 1,
    t = b, each map composes into (s, t), and the convolution runs with ``w'[o] = w[o] * s[o]``
    and bias t, computed in float64 and kept in the weight's dtype. A weight that turns out not
    to be per-channel (its shape is known only when it is computed) leaves the nodes to run one by
    one. After the maps, an Add of another value (``residual``) and an activation (its
    ``activation`` nodes) run in the step too (:class:`_Tail`)."""

    def __init__(self, nodes, residual: bool = False, activation: int = 0):
        super().__init__(nodes)
        self._maps = self.nodes[1:len(self.nodes) - activation - residual]
        # where, among the step's inputs, the Conv's inputs are, and the maps' weights (their
        # inputs other than the value coming down the chain)
        position = {name: k for k, name in enumerate(self.inputs)}
        self._conv_inputs = [position[name] for name in self.nodes[0].inputs]
        self._map_weights = [position[name] for before, node in zip(self.nodes, self._maps)
                             for name in node.inputs if name != before.outputs[0]]
        self._clamp = bool(self._maps) and self._maps[-1].op_type == "HardSigmoid"
        self._weights = _Derived(self._fold)
        self._convolve = _Convolve(self.nodes[0])
        self._tail = _Tail(self, residual, activation)

    def _fold(self, w, b, *weights):
        """(w', b') as Tensors, or None where a weight is not per-channel."""
        w_values = w.detach().numpy()
        C, rank = w_values.shape[0], w_values.ndim
        s = np.ones(C)
        t = np.zeros(C) if b is None else b.detach().numpy().astype(np.float64)
        weights = iter(weights)
        for node in self._maps:
            op = node.op_type
            if op == "HardSigmoid":
                alpha, beta = node.attr("alpha", 0.2), node.attr("beta", 0.5)
                s, t = s * alpha, t * alpha + beta
                continue
            if op == "BatchNormalization":
                scale, bias, mean, var = (_per_channel(next(weights), C, 1, w_values.dtype)
                                          for _ in range(4))
                if any(v is None for v in (scale, bias, mean, var)):
                    return None
                f = scale / np.sqrt(var + node.attr("epsilon", 1e-5))
                s, t = s * f, (t - mean) * f + bias
                continue
            c = _per_channel(next(weights), C, rank, w_values.dtype)
            if c is None:
                return None
            if op == "Add":
                t = t + c
            elif op == "Sub":
                t = t - c
            elif op == "Mul":
                s, t = s * c, t * c
            else:  # Div
                s, t = s / c, t / c
        folded_w = w_values * s.reshape(-1, *([1] * (rank - 1)))
        return (convlab.from_numpy(folded_w.astype(w_values.dtype)),
                convlab.from_numpy(t.astype(w_values.dtype)))

    def folded(self, values):
        """(w', b') for the step's input ``values`` (kept until a weight changes), or None."""
        w, b = ([values[k] for k in self._conv_inputs[1:]] + [None])[:2]
        return self._weights(w, b, *[values[k] for k in self._map_weights])

    def prepare(self, *values):
        folded = self.folded(values)
        if folded is None or self._clamp:
            return None
        x = self._conv_inputs[0]
        convolve = self._convolve.prepared(_array(values[x]), *(f._data for f in folded))
        return convolve and self._tail.prepared(convolve, x, values)

    def compute(self, *values):
        folded = self.folded(values)
        if folded is None:
            return self.one_by_one(*values)
        x = values[self._conv_inputs[0]]
        y = self._convolve(x, *folded)
        if y is None:
            y = OPS["Conv"](self.nodes[0], x, *folded)
        if self._clamp:
            y = y.clamp(0.0, 1.0)
        return self._tail(y, values)


def _per_channel(c, C: int, rank: int, dtype):
    """Weight ``c`` as C float64 values, one per channel of an (N, C, ...) value of ``rank`` axes
    that it multiplies or adds to, or None where it is not one value per channel (or one for
    all) in that dtype: shape (C,) for BatchNormalization (rank 1), (C, 1, ...) or (1, C, 1, ...)
    under NumPy's broadcasting, or a single value of at most ``rank`` axes."""
    if c is None or not c.dtype.is_floating_point:
        return None
    values = c.detach().numpy()
    if values.dtype != dtype or values.ndim > rank:
        return None
    if values.size == 1:
        return np.full(C, values.reshape(()), dtype=np.float64)
    per_channel = [(C,) + (1,) * (rank - 2), (1, C) + (1,) * (rank - 2)] if rank > 1 else [(C,)]
    if values.shape not in per_channel:
        return None
    return values.reshape(C).astype(np.float64)


class HardSwish(Step):
    """x * Clip(x + 3, 0, 6) / 6 as ``F.hardswish(x)``: the same operations in the same order
    (x + 3, clip, times x, over 6), so the same values, in one op instead of four nodes."""

    def compute(self, x, *constants):
        data = _array(x)
        if data.dtype in _FLOATS:
            return _tensor(A.Hardswish.forward(_NO_GRAPH, data))
        return F.hardswish(x)  # which says what it takes

    def prepare(self, x, *constants):
        if _array(x).dtype in _FLOATS:
            return lambda x, *constants: A.Hardswish.forward(_NO_GRAPH, x)
        return None


class OnArrays(Step):
    """A node of one output computed on the arrays, as its op computes it, without the checks
    and the autograd op around it: MaxPool (one output, a window geometry that PyTorch's
    pooling has), GlobalAveragePool (1 to 3 spatial axes), Softmax along one axis (opset 13
    on, or the last axis), MatMul, and Add, Sub, Mul and Div of two values of one float
    dtype. What the node needs of its input shapes (the pooling's window, the axis) is worked
    out once per shape. Inputs that the node would refuse, convert or broadcast with an error
    (another dtype, shapes that do not broadcast) leave it to the node, which says why.

    One core, min of 50 x5 interleaved, node -> on the arrays: SqueezeNet's MaxPools at batch 1
    (3x3 stride 2, ceil_mode) 217 -> 201 us (64x111x111), 143 -> 127 (128x55x55), 188 -> 165
    (256x27x27); in rapidocr's head at batch 1 (the network's steps timed in place, min of
    200) MaxPool 74 -> 42 us (23 of them worked out its window at every call),
    GlobalAveragePool 57 -> 31, Softmax 50 -> 38, MatMul 21 -> 10, Add 21 -> 7; the whole
    classifier 3.14 -> 3.03 ms (onnxruntime 0.99)."""

    def __init__(self, node):
        super().__init__([node])
        self._kept = {}  # input shapes -> the function of the arrays, or None: the node's
        self._make = getattr(self, "_" + node.op_type.lower())

    def compute(self, *values):
        arrays = [_array(v) for v in values]
        key = tuple((a.shape, a.dtype) for a in arrays)
        run = self._kept.get(key, _UNSEEN)
        if run is _UNSEEN:
            if len(self._kept) >= 64:  # a program that keeps feeding new shapes
                self._kept.clear()
            run = self._kept[key] = self._make(*arrays)
        if run is None:
            return self.nodes[0](*values)
        return _tensor(_ndarray(run(*arrays)))

    def prepare(self, *values):
        run = self._make(*[_array(v) for v in values])
        return run and (lambda *arrays: _ndarray(run(*arrays)))

    def _maxpool(self, x):
        node = self.nodes[0]
        geometry = pool_geometry(node, x.shape)
        padding = torch_pool_padding(node, geometry)
        nd = len(geometry[0])
        if (padding is None or x.dtype not in _FLOATS or not 1 <= nd <= 3
                or x.ndim != nd + 2):
            return None
        window = tuple(geometry[0]), tuple(geometry[1]), tuple(padding), tuple(geometry[2])
        ceil = bool(node.attr("ceil_mode", 0))
        # the pooling's decisions for this shape taken once (about 9 us a call, one core)
        kept = pooling.max_pool_plan(x.shape, x.dtype, *window, ceil)
        return kept or (lambda x: pooling.max_pool(x, *window, ceil, False)[0])

    def _globalaveragepool(self, x):
        nd = x.ndim - 2
        if x.dtype not in _FLOATS or not 1 <= nd <= 3:
            return None
        ones = (1,) * nd
        return lambda x: pooling.adaptive_avg_pool(x, ones)

    def _softmax(self, x):
        node = self.nodes[0]
        if x.dtype not in _FLOATS or x.ndim == 0:
            return None
        axis = node.attr("axis", -1 if node.opset >= 13 else 1)
        axis = axis + x.ndim if axis < 0 else axis
        if not (0 <= axis < x.ndim and (node.opset >= 13 or axis == x.ndim - 1)):
            return None
        return lambda x: R.Softmax.forward(_NO_GRAPH, x, axis)

    def _matmul(self, a, b):
        if a.dtype not in _FLOATS or b.dtype != a.dtype or min(a.ndim, b.ndim) < 1:
            return None
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            return None
        k = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
        if k[0] != k[1]:
            return None
        return np.matmul

    def _binary(self, a, b):
        if a.dtype not in _FLOATS or b.dtype != a.dtype:
            return None
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            return None
        return _BINARY[self.nodes[0].op_type]

    _add = _sub = _mul = _div = _binary


_UNSEEN = object()
_BINARY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.true_divide}
_ON_ARRAYS = {"MaxPool", "GlobalAveragePool", "Softmax", "MatMul", *_BINARY}


def _ndarray(out) -> np.ndarray:
    """``out`` as an array: NumPy gives a scalar for 0-d operands."""
    return out if isinstance(out, np.ndarray) else np.asarray(out)


class SqueezeExcitation(Step):
    """MobileNetV3's squeeze-excitation block, ``x * gate(x)``: GlobalAveragePool, a 1x1 Conv
    (with the maps :class:`ConvAffine` folds), Relu, a 1x1 Conv ending in HardSigmoid, then Mul
    by x. On the pooled 1x1 image the two convolutions are matrix-vector products, so the step
    runs on arrays (:func:`.excitation.squeeze_excite`, a compiled kernel or NumPy): the pool,
    two products with the folded weights, the Relu and the clamp, and the product with x.

    ``squeeze`` and ``excite`` are the ConvAffine steps of the two convolutions (they keep the
    folded weights); a convolution that turns out not to be a product (a kernel larger than
    1x1, which only the run time weight shows) leaves the nodes to run one by one.

    Measured on one core, the rapidocr classifier's nine blocks at batch 1 (x from 1x8x12x96 to
    1x200x2x96): about 210 us each as five steps (pool 49, the convolutions 55 and 65, Relu 17,
    Mul 26 us), 44-59 us as this one by NumPy (the pool 10-12 us, the products and the clamp 10,
    the product with x 4-13), 15-20 us by the compiled kernel (1x88x3x96, 1x200x2x96; batch 8,
    8x200x2x96: 151 -> 93 us, on 2 threads 152 -> 80). The whole classifier, min of 20
    interleaved, NumPy's block -> the kernel: one core, batch 1 4.02 -> 3.69 ms, batch 8 12.35
    -> 11.91; 2 threads 5.76 -> 4.91 and 9.1 -> 8.2."""

    def __init__(self, nodes, squeeze: ConvAffine, excite: ConvAffine):
        super().__init__(nodes)
        self.squeeze, self.excite = squeeze, excite
        position = {name: k for k, name in enumerate(self.inputs)}
        self._x = position[self.nodes[0].inputs[0]]
        # each convolution's inputs among the step's (its first, the chain's value, is not one)
        self._conv_values = [[position.get(name) for name in conv.inputs]
                             for conv in (squeeze, excite)]

    def compute(self, *values):
        data = _array(values[self._x])
        weights = self._weights(data, values)
        if weights is None:
            return self.one_by_one(*values)
        return _tensor(excitation.squeeze_excite(data, *weights))

    def prepare(self, *values):
        weights, x = self._weights(_array(values[self._x]), values), self._x
        return weights and (lambda *arrays: excitation.squeeze_excite(arrays[x], *weights))

    def _weights(self, data, values):
        """(w1, b1, w2, b2), the two products' folded weights as arrays, or None where the
        convolutions are not products on ``data`` (:meth:`_products`)."""
        folded = [conv.folded([None if k is None else values[k] for k in positions])
                  for conv, positions in zip((self.squeeze, self.excite), self._conv_values)]
        if any(f is None for f in folded) or not self._products(data, folded):
            return None
        (w1, b1), (w2, b2) = ((w._data.reshape(len(w._data), -1), b._data) for w, b in folded)
        return w1, b1, w2, b2

    @staticmethod
    def _products(data, folded) -> bool:
        """Whether both folded convolutions are matrix-vector products on ``data``'s floats: 1x1
        kernels in its dtype (only the weights at run time tell)."""
        ones = (1,) * (data.ndim - 2)
        return data.dtype in _FLOATS and all(
            w._data.dtype == data.dtype and w._data.shape[2:] == ones for w, _ in folded)


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
    """Who reads what, and which values derive from stored values alone, for matching runs of
    nodes."""

    def __init__(self, model, nodes):
        self.model, self.nodes = model, nodes
        self.readers = defaultdict(list)  # value name -> indices of the nodes that read it
        for k, node in enumerate(nodes):
            for name in node.inputs:
                self.readers[name].append(k)
        self.kept = set(model.output_names)
        # the nodes that read only stored values, shapes (outputs of Shape nodes, kept per
        # shape: shape_of) and outputs of such nodes, and give none of the graph's outputs
        # (which the caller could change): their outputs can be kept
        self.weights_only, self.shape_of, self.derived = set(), set(), set()
        for k, node in enumerate(nodes):
            if self.kept.intersection(node.outputs):
                continue
            if node.op_type == "Shape":
                self.shape_of.add(k)
                self.derived.update(node.outputs)
            elif (node.op_type != "Dropout" and any(node.inputs)
                    and all(self.fixed_or_weight(name) for name in node.inputs)):
                self.weights_only.add(k)
                self.derived.update(node.outputs)

    def fixed_or_weight(self, name: str) -> bool:
        """Whether value ``name`` is omitted, stored, or derived from stored values and input
        shapes alone."""
        return name == "" or name in self.model._stored or name in self.derived

    def only_reader(self, k: int, op_types, position=None):
        """The node that alone reads node k's (first) output, if its operator is one of
        ``op_types`` (and it reads the value at input ``position``, when given) and the output is
        not one of the graph's; else None."""
        name = self.nodes[k].outputs[0]
        readers = self.readers[name]
        if name in self.kept or len(readers) != 1:
            return None
        node = self.nodes[readers[0]]
        if node.op_type not in op_types or (position is not None
                                            and node.inputs[position] != name):
            return None
        return readers[0]

    def _affine(self, j: int, name: str) -> bool:
        """Whether node j maps the value ``name`` per channel in a way ConvAffine folds."""
        node = self.nodes[j]
        others = [other for other in node.inputs if other != name]
        if len(node.outputs) != 1 or not all(self.fixed_or_weight(o) for o in others):
            return False
        if node.op_type == "BatchNormalization":
            return (not node.attr("training_mode", 0) and node.attr("spatial", 1) == 1
                    and len(node.inputs) == 5 and node.inputs[0] == name)
        if node.op_type in ("Add", "Mul", "Sub", "Div"):
            return (len(node.inputs) == 2 and len(others) == 1
                    and (node.op_type in ("Add", "Mul") or node.inputs[0] == name))
        return node.op_type == "HardSigmoid"

    def convolution(self, k: int, taken: set):
        """(run, affine, residual, activation) for Conv k of one output: run, [k, ...] with the
        nodes ConvAffine folds in after it, if any (then ``affine``), an Add of another value
        that alone reads the last of them (``residual``), and the activation that alone reads
        the last node so far (:meth:`activation`; ``activation``: how many nodes). An Add that
        another run has ``taken`` (a residual Add of two convolutions: the first claims it) is
        left to it. None where node k is no such Conv, or one that runs once on stored values."""
        node = self.nodes[k]
        if (node.op_type != "Conv" or len(node.outputs) != 1 or len(node.inputs) < 2
                or k in self.weights_only):
            return None
        run = self.conv_affine(k)
        affine = run is not None
        run = run or [k]
        add = self.only_reader(run[-1], ("Add",))
        residual = (add is not None and add not in taken and len(self.nodes[add].outputs) == 1
                    and len(set(self.nodes[add].inputs)) == 2)
        if residual:
            run.append(add)
        activation = self.activation(run[-1])
        return run + activation, affine, residual, len(activation)

    def concat_of_convolutions(self, k: int, runs: dict):
        """The last nodes of the runs (keys of ``runs``) whose outputs Concat k alone reads, in
        its order, where each run is a :class:`Convolution` with a Relu or no activation and
        no Add, and the Concat joins them along the channels (axis 1); else None."""
        node = self.nodes[k]
        if (node.op_type != "Concat" or node.attr("axis", None) != 1 or len(node.inputs) < 2
                or len(set(node.inputs)) != len(node.inputs)):
            return None
        made_by = {step.outputs[0]: j for j, step in runs.items()}
        found = []
        for name in node.inputs:
            j = made_by.get(name)
            step = runs.get(j)
            if (type(step) is not Convolution or step._tail.other is not None
                    or step._tail.op not in (None, E.Relu)
                    or name in self.kept or self.readers[name] != [k]):
                return None
            found.append(j)
        return found

    def activation(self, k: int) -> list[int]:
        """The nodes of the activation that alone reads node k's output: [Relu], or the four
        nodes of HardSwish (:meth:`hard_swish`) when they are its only readers; else []."""
        relu = self.only_reader(k, ("Relu",))
        if relu is not None:
            return [relu]
        name = self.nodes[k].outputs[0]
        readers = self.readers[name]
        if name in self.kept or len(readers) != 2:
            return []
        run = self.hard_swish(readers[0])
        return run if run is not None and sorted(readers) == sorted([run[0], run[2]]) else []

    def conv_affine(self, k: int):
        """[k, ...] for Conv k (its weight and bias stored or derived from stored values) and the
        nodes after it that ConvAffine folds in, each the only reader of the one before; None
        where no node follows that it folds."""
        conv = self.nodes[k]
        if (conv.op_type != "Conv" or len(conv.outputs) != 1
                or not all(self.fixed_or_weight(name) for name in conv.inputs[1:])):
            return None
        run = [k]
        while self.nodes[run[-1]].op_type != "HardSigmoid":  # HardSigmoid ends with a clamp
            j = self.only_reader(run[-1], ("BatchNormalization", "Add", "Sub", "Mul", "Div",
                                           "HardSigmoid"))
            if j is None or not self._affine(j, self.nodes[run[-1]].outputs[0]):
                break
            run.append(j)
        return run if len(run) > 1 else None

    def squeeze_excitation(self, k: int):
        """(run, squeeze, excite) for GlobalAveragePool k -> Conv (and maps) -> Relu -> Conv
        (and maps) ending in HardSigmoid -> Mul by the pool's input, each intermediate read only
        by the next node, both convolutions without padding in one group: run, the nodes' indices
        in order; squeeze and excite, the convolutions' runs. None where the nodes differ."""
        if self.nodes[k].op_type != "GlobalAveragePool":
            return None
        x = self.nodes[k].inputs[0]
        first = self.only_reader(k, ("Conv",), 0)
        squeeze = first is not None and (self.conv_affine(first) or [first])
        relu = squeeze and self.nodes[squeeze[-1]].op_type != "HardSigmoid" and self.only_reader(
            squeeze[-1], ("Relu",))
        second = relu and self.only_reader(relu, ("Conv",), 0)
        excite = second and self.conv_affine(second)
        if not excite or self.nodes[excite[-1]].op_type != "HardSigmoid":
            return None
        if not all(self._pointwise(self.nodes[c]) for c in (first, second)):
            return None
        mul = self.only_reader(excite[-1], ("Mul",))
        gate = self.nodes[excite[-1]].outputs[0]
        if mul is None or sorted(self.nodes[mul].inputs) != sorted([x, gate]):
            return None
        return [k, *squeeze, relu, *excite, mul], squeeze, excite

    def _pointwise(self, conv) -> bool:
        """Whether Conv ``conv``, on a 1x1 image with a 1x1 kernel, is a matrix-vector product:
        one group, no padding (its weights, stored or not, are its own, and read at run time)."""
        pads = conv.attr("pads", None)
        return (conv.attr("group", 1) == 1 and len(conv.inputs) >= 2
                and conv.attr("auto_pad", "NOTSET") in ("NOTSET", "VALID")
                and (pads is None or not any(pads)))

    def hard_swish(self, k: int):
        """[k, c, m, d] for Add(x, 3) -> Clip(0, 6) -> Mul(x, that) -> Div(6), the constants
        fixed, each intermediate read only by the next node."""
        add = self.nodes[k]
        if add.op_type != "Add" or len(add.inputs) != 2 or _fixed_scalar(self.model, add.inputs[1]) != 3:
            return None
        x = add.inputs[0]
        c = self.only_reader(k, ("Clip",), 0)
        if c is None:
            return None
        clip = self.nodes[c]
        bounds = [clip.attr("min", None), clip.attr("max", None)]
        for p, name in enumerate(clip.inputs[1:3]):
            bounds[p] = _fixed_scalar(self.model, name) if name else bounds[p]
        if bounds != [0, 6]:
            return None
        m = self.only_reader(c, ("Mul",))
        if m is None or sorted(self.nodes[m].inputs) != sorted([x, clip.outputs[0]]):
            return None
        d = self.only_reader(m, ("Div",), 0)
        if d is None or _fixed_scalar(self.model, self.nodes[d].inputs[1]) != 6:
            return None
        return [k, c, m, d]


def _on_arrays(node) -> bool:
    """Whether :class:`OnArrays` runs ``node``: one of its operators, with one output."""
    return node.op_type in _ON_ARRAYS and len(node.outputs) == 1


def inference_steps(model, nodes) -> list:
    """The steps that run ``nodes`` (the model's, in order) under ``no_grad``: a node itself, or a
    :class:`Step` for a run of them. A run takes the place of its last node: by then every value
    that any of its nodes reads from outside the run is computed."""
    graph = _Graph(model, nodes)
    runs, taken = {}, set()  # last node's index -> the run's Step
    for k in range(len(nodes)):
        if k in taken:
            continue
        if (found := graph.squeeze_excitation(k)) is not None:
            run, squeeze, excite = found
            convs = (ConvAffine([nodes[i] for i in c]) for c in (squeeze, excite))
            step = SqueezeExcitation([nodes[i] for i in run], *convs)
        elif (found := graph.convolution(k, taken)) is not None:
            run, affine, residual, activation = found
            step = (ConvAffine if affine else Convolution)([nodes[i] for i in run], residual,
                                                           activation)
        elif (run := graph.hard_swish(k)) is not None:
            step = HardSwish([nodes[i] for i in run])
        else:
            continue
        runs[run[-1]] = step
        taken.update(run)
    for k, node in enumerate(nodes):
        if (found := graph.concat_of_convolutions(k, runs)) is not None:
            runs[k] = ConcatOfConvolutions([runs.pop(j) for j in found], node)
            taken.add(k)
    steps = []
    for k, node in enumerate(nodes):
        if k in runs:
            steps.append(runs[k])
        elif k in graph.shape_of:
            steps.append(ShapeOf(node))
        elif k not in taken:
            steps.append(Cached(node) if k in graph.weights_only
                         else OnArrays(node) if _on_arrays(node) else node)
    return steps
