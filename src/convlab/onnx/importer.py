"""An ONNX graph as an ordinary convlab Module.

The graph's initializers (and the float tensors of its Constant nodes) become Parameters, so an
imported network fine-tunes like any other; integer initializers (shapes, axes, indices) become
buffers. Each node becomes a child module named after the node, whose ``repr`` shows its operator and
attributes, and whose ``forward`` is the matching function of :mod:`convlab.onnx.ops`. The graph's
``forward`` runs the nodes in the file's order (ONNX stores them topologically sorted), passing
values by name; under ``no_grad`` it runs some runs of nodes as one step, as onnxruntime does
(a Conv with the BatchNormalization after it folded in: :mod:`convlab.onnx.inference`), those
steps prepared once per input shape as a plan on arrays (:mod:`convlab.onnx.plan`).

Constant folding: a node whose inputs are all fixed values (buffers, Constant outputs, or outputs
of other folded nodes; never a Parameter, whose value training changes) gives the same outputs on
every call, so it runs once, when the model is built, and its outputs are stored as buffers. Files
often compute weights or shapes that way (onnx's own test networks make every weight with a
ConstantOfShape node); folding leaves the model's outputs, and its gradients, as they were.
"""

from __future__ import annotations

import os
import re

import numpy as np

import convlab
from convlab import nn

from ._require import require
from .inference import inference_steps
from .ops import OPS
from .plan import Plans

_REQUIRED = object()
_ONNX_DOMAINS = ("", "ai.onnx")


def _safe(name: str, taken: set) -> str:
    """A Module attribute name for an ONNX name (which may hold dots, slashes, colons...)."""
    safe = re.sub(r"\W", "_", name) or "value"
    if safe[0].isdigit():
        safe = "_" + safe
    candidate, k = safe, 1
    while candidate in taken:
        candidate, k = f"{safe}_{k}", k + 1
    taken.add(candidate)
    return candidate


def _array_tensor(array: np.ndarray):
    return convlab.from_numpy(np.array(array, copy=True))


def _attribute_value(attribute):
    """An AttributeProto as a Python value: numbers, strings, lists, or a Tensor for TENSOR."""
    onnx = require()
    from onnx import numpy_helper

    value = onnx.helper.get_attribute_value(attribute)
    if attribute.type == onnx.AttributeProto.TENSOR:
        return _array_tensor(numpy_helper.to_array(value))
    if isinstance(value, bytes):
        return value.decode()
    if attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
        return value
    if isinstance(value, (list, tuple)):
        return [v.decode() if isinstance(v, bytes) else v for v in value]
    return value


class OnnxNode(nn.Module):
    """One ONNX node: its operator, attributes and opset; ``forward(*inputs)`` computes its outputs.

    ``repr`` reads ``Conv(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])``.
    """

    def __init__(self, op_type: str, name: str, attributes: dict, opset: int,
                 inputs: list[str], outputs: list[str], stored_inputs: dict | None = None):
        super().__init__()
        self.op_type, self.name, self.opset = op_type, name, opset
        self.inputs, self.outputs = inputs, outputs
        self.n_outputs = len(outputs)
        self._attributes = attributes
        # the inputs the model stores (weights, biases, statistics, shapes), by position:
        # (shape, whether a trainable Parameter); the values themselves live on the model
        self.stored_inputs = stored_inputs or {}
        # what an operator works out from the attributes and the input shapes, kept by shapes
        # so that it is worked out once (ops.conv)
        self.memo = {}

    def attr(self, name: str, default=_REQUIRED):
        """The attribute ``name``, or ``default`` when the node does not set it."""
        if name in self._attributes:
            return self._attributes[name]
        if default is _REQUIRED:
            raise ValueError(f"ONNX node {self.name!r} ({self.op_type}, opset {self.opset}) lacks "
                             f"its required attribute {name!r}")
        return default

    def forward(self, *inputs):
        return OPS[self.op_type](self, *inputs)

    def layer_description(self, input_shape):
        """This node, applied to an input of ``input_shape``, as ``explain`` describes a layer
        (:func:`convlab.onnx.description.describe_node`): kernel, stride, padding, channels and
        parameters for summary's columns and ``convlab explain``."""
        from .description import describe_node

        return describe_node(self, input_shape)

    def equivalent_layer(self, input_shape) -> str:
        """The convlab layer, as text, that computes what this Conv, ConvTranspose or pooling
        node computes on an input of ``input_shape`` (see :mod:`convlab.onnx.description`)."""
        from .description import equivalent_layer

        return equivalent_layer(self, input_shape)

    def _get_name(self) -> str:
        return self.op_type

    def extra_repr(self) -> str:
        shown = []
        for key, value in sorted(self._attributes.items()):
            if isinstance(value, convlab.Tensor):
                value = f"tensor{list(value.shape)}" if value.numel() > 4 else value.tolist()
            shown.append(f"{key}={value}")
        return ", ".join(shown)


class OnnxModel(nn.Module):
    """The whole graph: Parameters for its weights, one :class:`OnnxNode` per node that runs in
    ``forward`` (nodes of fixed values ran once at load: their outputs are buffers).

    ``forward(*inputs)`` takes the graph's inputs in order (Tensors) and returns its output, or a
    tuple when the graph has several.
    """

    def __init__(self, model):
        super().__init__()
        graph = model.graph
        opset = {o.domain: o.version for o in model.opset_import}
        self.opset = max((opset.get(d, 0) for d in _ONNX_DOMAINS), default=0) or 1
        self._check_supported(model)
        taken, self._stored = set(), {}
        from onnx import numpy_helper

        state = _state_only(graph)
        for initializer in graph.initializer:
            self._store(initializer.name, numpy_helper.to_array(initializer), taken,
                        initializer.name in state)
        names = set(self._stored)
        self.input_names = [i.name for i in graph.input if i.name not in names]
        # each input's dims as the file declares them: a number, or a name (a free batch size)
        self.input_shapes = {
            i.name: tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                          for d in i.type.tensor_type.shape.dim)
            for i in graph.input if i.name not in names}
        self.output_names = [o.name for o in graph.output]
        self.nodes = nn.ModuleDict()
        for k, proto in enumerate(graph.node):
            attributes = {a.name: _attribute_value(a) for a in proto.attribute}
            key = _safe(proto.name or f"{proto.op_type}_{k}", taken)
            node = OnnxNode(proto.op_type, proto.name or key, attributes, self.opset,
                            list(proto.input), list(proto.output), self._stored_inputs(proto))
            if self._is_foldable(node):  # Constant nodes among them: they have no inputs
                self._fold(node, taken, state)
            else:
                self.nodes[key] = node
        # how forward runs, by grad mode: each node by itself, or, when no gradient is recorded,
        # in fewer steps (convlab.onnx.inference); with the values to let go of after each step
        nodes = list(self.nodes.values())
        steps = inference_steps(self, nodes)
        self._runs = {True: (nodes, self._last_reads(nodes)),
                      False: (steps, self._last_reads(steps))}
        # under no_grad, the steps prepared once per input shape (convlab.onnx.plan)
        self._plans = Plans()

    def _last_reads(self, steps) -> list[tuple[str, ...]]:
        """Per step (a node, or a run of nodes), in order, the values computed in ``forward``
        that it is the last to read: ``forward`` drops them after the step, so that a deep
        network holds only the activations still to be read, not all of them (the graph's
        outputs and stored values are kept)."""
        kept = set(self._stored) | set(self.output_names)
        last = {}
        for k, step in enumerate(steps):
            last.update((name, k) for name in step.inputs if name and name not in kept)
        reads = [[] for _ in steps]
        for name, k in last.items():
            reads[k].append(name)
        return [tuple(names) for names in reads]

    def _check_supported(self, model) -> None:
        missing = unsupported(model)
        if missing:
            raise NotImplementedError(f"convlab.onnx cannot run this model (opset {self.opset}): "
                                      + "; ".join(missing))

    def _stored_inputs(self, proto) -> dict[int, tuple[tuple, bool]]:
        """(shape, whether a Parameter) of each input of node ``proto`` that the model stores."""
        found = {}
        for position, name in enumerate(proto.input):
            if name in self._stored:
                attribute = self._stored[name]
                value = getattr(self, attribute)
                found[position] = (tuple(value.shape), attribute in self._parameters)
        return found

    def _fixed(self, onnx_name: str) -> bool:
        """Whether the value ``onnx_name`` is the same on every call: stored, and not a Parameter."""
        attribute = self._stored.get(onnx_name)
        return attribute is not None and attribute in self._buffers

    def _is_foldable(self, node: OnnxNode) -> bool:
        """Whether ``node`` can run once at load: its inputs all fixed (an omitted optional input,
        named "", counts as fixed), and its result not random (Dropout in training mode is)."""
        return node.op_type != "Dropout" and all(name == "" or self._fixed(name)
                                                 for name in node.inputs)

    def _fold(self, node: OnnxNode, taken: set, state: set) -> None:
        """Run ``node`` now and store its outputs: a Constant node's value as an initializer is
        (float weights of more than one number become Parameters, the rest buffers), any other
        node's outputs as buffers derived from the file, so left out of ``state_dict``."""
        with convlab.no_grad():
            result = node(*[getattr(self, self._stored[name]) if name else None
                            for name in node.inputs])
        if node.op_type == "Constant":
            weight = result.dtype.is_floating_point and result.numel() > 1
            name = node.outputs[0]
            self._store(name, result.numpy(), taken, not weight or name in state)
            return
        for name, value in zip(node.outputs, result if isinstance(result, tuple) else (result,)):
            if name:
                attribute = _safe(name, taken)
                self.register_buffer(attribute, value, persistent=False)
                self._stored[name] = attribute

    def _store(self, onnx_name: str, array: np.ndarray, taken: set, is_state: bool) -> None:
        """A float weight as a Parameter; running statistics, resize scales, scalars and anything
        not float (shapes, indices) as a buffer."""
        attribute = _safe(onnx_name, taken)
        tensor = _array_tensor(array)
        if tensor.dtype.is_floating_point and not is_state:
            self.register_parameter(attribute, nn.Parameter(tensor))
        else:
            self.register_buffer(attribute, tensor)
        self._stored[onnx_name] = attribute

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise TypeError(f"this ONNX model takes {len(self.input_names)} input(s) "
                            f"{self.input_names}, got {len(inputs)}")
        grad = convlab.is_grad_enabled()
        steps, dropped = self._runs[grad]
        outputs = None if grad else self._plans.outputs(self, steps, dropped, inputs)
        if outputs is None:
            outputs = self._run(steps, dropped, inputs)
        return outputs[0] if len(outputs) == 1 else outputs

    def _run(self, steps, dropped, inputs) -> tuple:
        """The graph's outputs, the ``steps`` run one after the other on Tensors."""
        stored = {**self._buffers, **self._parameters}  # by attribute name, without __getattr__
        values = {"": None}
        values.update({name: stored[attribute] for name, attribute in self._stored.items()})
        values.update(zip(self.input_names, inputs))
        for step, done in zip(steps, dropped):  # topological order
            result = step(*[values[name] for name in step.inputs])
            if not isinstance(result, tuple):
                result = (result,)
            values.update(zip(step.outputs, result))
            for name in done:  # let go of activations no later node reads (memory to reuse)
                del values[name]
        return tuple(values[name] for name in self.output_names)


# Inputs that hold state or settings, not weights: BatchNormalization's running mean and variance,
# Resize's roi and scales, Upsample's scales.
_STATE_INPUTS = {"BatchNormalization": (3, 4), "Resize": (1, 2), "Upsample": (1,)}


def _state_only(graph) -> set[str]:
    """Names of the values that nodes read only as state or settings (see _STATE_INPUTS)."""
    state, weights = set(), set()
    for node in graph.node:
        positions = _STATE_INPUTS.get(node.op_type, ())
        for k, name in enumerate(node.input):
            (state if k in positions else weights).add(name)
    return state - weights


# ONNX element types convlab has a dtype for (TensorProto.FLOAT, UINT8, INT8, INT16, INT32, INT64,
# BOOL, FLOAT16, DOUBLE); the others (bfloat16, float8, int4, unsigned 16-64 bit, strings) it lacks.
_DTYPES = {1, 2, 3, 5, 6, 7, 9, 10, 11}


def unsupported(model) -> list[str]:
    """What in ``model`` convlab cannot run: operators (named with their node and domain) and
    element types of the graph's inputs, outputs and Cast targets. Empty when all is supported."""
    graph = model.graph
    found = [f"unsupported operator {n.op_type} (node {n.name!r}, domain {n.domain or 'ai.onnx'})"
             for n in graph.node if n.domain not in _ONNX_DOMAINS or n.op_type not in OPS]
    for value in list(graph.input) + list(graph.output):
        kind = value.type.tensor_type.elem_type
        if kind not in _DTYPES:
            found.append(f"{value.name!r} has element type {_type_name(kind)}, which convlab lacks")
    for n in graph.node:
        for a in n.attribute:
            if n.op_type == "Cast" and a.name == "to" and a.i not in _DTYPES:
                found.append(f"node {n.name!r} casts to {_type_name(a.i)}, which convlab lacks")
    return found


def _type_name(kind: int) -> str:
    onnx = require()
    return onnx.TensorProto.DataType.Name(kind) if kind else "no tensor type"


def read_model(source):
    """An onnx ModelProto from a path, bytes, or a ModelProto (returned as is)."""
    onnx = require()
    if isinstance(source, onnx.ModelProto):
        return source
    if isinstance(source, (bytes, bytearray)):
        return onnx.load_model_from_string(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        if not os.path.isfile(source):
            raise FileNotFoundError(f"convlab.onnx.load: no ONNX file at {os.fspath(source)!r}")
        return onnx.load(os.fspath(source))
    raise TypeError("convlab.onnx.load: expected a path, bytes or an onnx.ModelProto, got "
                    f"{type(source).__name__}")


def load(source) -> OnnxModel:
    """Import an ONNX model (path, bytes or ModelProto) as a convlab Module."""
    return OnnxModel(read_model(source))
