"""convlab as an ONNX backend (``onnx.backend.base.Backend``), so onnx's own test suite runs on it.

    import onnx.backend.test
    from convlab.onnx import backend
    tests = onnx.backend.test.BackendTest(backend.ConvlabBackend, __name__)

``prepare`` imports the model with :func:`convlab.onnx.load`; ``run`` feeds NumPy arrays and returns
NumPy arrays, without recording gradients.
"""

from __future__ import annotations

import numpy as np

import convlab

from ._require import require
from .importer import load, unsupported

require()
import onnx.backend.base as _base  # noqa: E402  (after the check that names the extra)


class ConvlabRep(_base.BackendRep):
    """A prepared model: ``run(inputs)`` returns its outputs as a list of NumPy arrays."""

    def __init__(self, module):
        self.module = module

    def run(self, inputs, **kwargs):
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        tensors = [convlab.from_numpy(np.array(x, order="C")) for x in inputs]
        with convlab.no_grad():
            outputs = self.module(*tensors)
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        return [o.detach().numpy() for o in outputs]


class ConvlabBackend(_base.Backend):
    """The backend: CPU only (convlab computes with NumPy)."""

    @classmethod
    def prepare(cls, model, device: str = "CPU", **kwargs):
        super().prepare(model, device, **kwargs)
        return ConvlabRep(load(model))

    @classmethod
    def is_compatible(cls, model, device: str = "CPU", **kwargs) -> bool:
        """Whether convlab implements every operator and element type of ``model`` (onnx's test
        runner skips the others as unsupported)."""
        return not unsupported(model)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device == "CPU"


prepare = ConvlabBackend.prepare
run_model = ConvlabBackend.run_model
supports_device = ConvlabBackend.supports_device
