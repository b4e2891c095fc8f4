"""Gradient checks in float64 that need no PyTorch: central differences and the dot-product test.

    from gradcheck import gradcheck

    x = convlab.randn(3, 4, dtype=convlab.float64, requires_grad=True)
    w = convlab.randn(4, 5, dtype=convlab.float64, requires_grad=True)
    gradcheck(lambda x, w: (x @ w).tanh(), (x, w))

``fn`` takes the inputs and returns a Tensor or a tuple of Tensors. Every input that requires grad
is checked against the gradient that ``backward`` computes for a random output weighting ``u``,
that is against ``J^T u`` where ``J`` is the Jacobian of ``phi(x) = <u, fn(x)>``'s inner map:

- element by element, with central differences
  ``(phi(x + h e_i) - phi(x - h e_i)) / 2h``, for inputs of at most ``max_elements`` elements;
- along random directions ``v`` (the dot-product test), for inputs of any size:
  ``<v, J^T u>`` from backward must equal ``<J v, u> = (phi(x + h v) - phi(x - h v)) / 2h``.

Choose inputs away from kinks (``relu`` at 0, ties in ``max``): there the two sides differ.
"""

from __future__ import annotations

import numpy as np

import convlab

__all__ = ["gradcheck"]


def gradcheck(fn, inputs, *, eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-4,
              max_elements: int = 512, directions: int = 2, seed: int = 0) -> bool:
    """Check ``fn``'s backward against finite differences; raise ``AssertionError`` if they differ.

    Args:
        fn: function of ``inputs`` returning a Tensor or a tuple of Tensors.
        inputs: a Tensor or a sequence of arguments; the Tensors that require grad (float64)
            are checked, the other arguments are passed as they are.
        eps: step of the central differences.
        atol, rtol: tolerance, ``|numeric - backward| <= atol + rtol * |numeric|`` per element.
        max_elements: inputs up to this size are checked element by element.
        directions: number of random directions of the dot-product test.
        seed: seed of the random ``u`` and ``v``.

    Returns:
        True, when every check passes.
    """
    inputs = [inputs] if isinstance(inputs, convlab.Tensor) else list(inputs)
    checked = [i for i, t in enumerate(inputs)
               if isinstance(t, convlab.Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for i in checked:
        if inputs[i].dtype != convlab.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; finite differences "
                            "need float64 inputs")
    rng = np.random.default_rng(seed)

    # backward: J^T u, one pass per differentiable output
    outputs = _outputs(fn(*inputs))
    us = [rng.standard_normal(o.shape) for o in outputs]
    for i in checked:
        inputs[i].grad = None
    differentiable = [(o, u) for o, u in zip(outputs, us) if o.requires_grad]
    for k, (o, u) in enumerate(differentiable):
        o.backward(convlab.from_numpy(u), retain_graph=k < len(differentiable) - 1)
    analytic = {i: (np.zeros(inputs[i].shape) if inputs[i].grad is None
                    else inputs[i].grad.numpy().astype(np.float64)) for i in checked}

    def phi(perturbed: dict) -> float:
        """<u, fn(x)> with the inputs in ``perturbed`` replaced by new values, without a graph."""
        args = [convlab.from_numpy(np.asarray(perturbed[i])) if i in perturbed else a
                for i, a in enumerate(inputs)]
        with convlab.no_grad():
            values = _outputs(fn(*args))
        return float(sum(np.sum(o.numpy().astype(np.float64) * u)
                         for o, u in zip(values, us) if o.is_floating_point()))

    base = {i: inputs[i].detach().numpy().astype(np.float64) for i in checked}

    for i in checked:
        x = base[i]
        if x.size > max_elements:
            continue
        numeric = np.zeros(x.shape)
        for j in range(x.size):
            step = np.zeros(x.size)
            step[j] = eps
            step = step.reshape(x.shape)
            numeric.flat[j] = (phi({i: x + step}) - phi({i: x - step})) / (2 * eps)
        bad = ~(np.abs(numeric - analytic[i]) <= atol + rtol * np.abs(numeric))  # NaN is bad
        if bad.any():
            j = np.unravel_index(np.argmax(bad), x.shape)
            raise AssertionError(
                f"gradcheck: input {i} of shape {list(x.shape)}: backward and central "
                f"differences differ at {bad.sum()} of {x.size} elements; first at "
                f"{[int(k) for k in j]}: backward {float(analytic[i][j])!r}, numeric "
                f"{float(numeric[j])!r}")

    for _ in range(directions):
        vs = {i: rng.standard_normal(base[i].shape) for i in checked}
        backward_side = sum(float(np.sum(vs[i] * analytic[i])) for i in checked)
        scale = sum(float(np.sum(np.abs(vs[i] * analytic[i]))) for i in checked)
        forward_side = (phi({i: base[i] + eps * vs[i] for i in checked})
                        - phi({i: base[i] - eps * vs[i] for i in checked})) / (2 * eps)
        if not abs(forward_side - backward_side) <= atol + rtol * max(scale, abs(forward_side)):
            raise AssertionError(
                f"gradcheck: dot-product test failed: <v, J^T u> = {backward_side!r} from "
                f"backward, <J v, u> = {forward_side!r} from central differences")
    return True


def _outputs(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]
