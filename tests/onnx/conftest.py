"""Every whole-network plan (convlab.onnx.plan) that a test here builds is checked at once: run
again on its first call's inputs, it must give that call's outputs (the steps') to the bit. A
test that calls a model once under no_grad tests its plan too."""

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _plans_equal_their_steps(monkeypatch):
    try:
        from convlab.onnx import plan
    except ImportError:  # onnx missing: the tests here skip
        yield
        return
    build = plan.Plan.__init__

    def checked(self, model, steps, dropped, inputs):
        build(self, model, steps, dropped, inputs)
        if not _random(steps):
            again = self([t.detach().numpy() for t in inputs])
            for ours, theirs in zip(again, self.outputs):
                assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
                assert np.array_equal(ours.detach().numpy(), theirs.detach().numpy(),
                                      equal_nan=ours.dtype.is_floating_point)

    monkeypatch.setattr(plan.Plan, "__init__", checked)
    yield


def _random(steps) -> bool:
    """Whether a step may draw random numbers (Dropout in training mode)."""
    return any(node.op_type == "Dropout" for step in steps
               for node in getattr(step, "nodes", (step,)))
