"""Mirrors three pytorch/tutorials programs about autograd:
beginner_source/basics/autogradqs_tutorial.py (commit db77dcf6e3637924f43852c014f2af9978b0f891):
a one-layer network ``z = torch.matmul(x, w) + b`` with
``binary_cross_entropy_with_logits``, the gradients of ``w`` and ``b``, ``grad_fn`` of z and of
the loss, ``torch.no_grad()`` and ``detach()``, and the Jacobian product with
``retain_graph=True`` accumulating until ``inp.grad.zero_()``;
beginner_source/examples_autograd/polynomial_autograd.py (commit
92f11a171bb3f3f6bbd8dfb102c59d67c2385032): fitting a cubic to sin(x) with four scalar tensors
updated by hand (``a -= learning_rate * a.grad`` under ``no_grad``, ``a.grad = None``); and
beginner_source/examples_autograd/polynomial_custom_function.py (commit
c53e7d4efc0e39e455c531d21ec7db28ba220214): the same fit through a custom
``torch.autograd.Function``, ``LegendrePolynomial3``, with ``ctx.save_for_backward`` and
``ctx.saved_tensors``.

Cut to 200 points and 50 steps.
"""

import math

from harness import compare_runs


def autogradqs(torch):
    x = torch.ones(5)
    y = torch.zeros(3)
    w = torch.tensor([[0.1 * (i - j) for j in range(3)] for i in range(5)], requires_grad=True)
    b = torch.tensor([0.5, -0.5, 0.25], requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    loss.backward()
    with torch.no_grad():
        z_free = torch.matmul(x, w) + b
    z_det = (torch.matmul(x, w) + b).detach()
    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    first = inp.grad.clone()
    out.backward(torch.ones_like(out), retain_graph=True)
    second = inp.grad.clone()
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    return {"loss": loss, "w.grad": w.grad, "b.grad": b.grad,
            "z.grad_fn": z.grad_fn.name(), "loss.grad_fn": loss.grad_fn.name(),
            "z.requires_grad": z.requires_grad, "no_grad requires_grad": z_free.requires_grad,
            "detach requires_grad": z_det.requires_grad,
            "first call": first, "second call": second, "after zero_": inp.grad}


def polynomial(torch, custom_function=False):
    x = torch.linspace(-math.pi, math.pi, 200)
    y = torch.sin(x)
    a = torch.full((), 0.0, requires_grad=True)
    b = torch.full((), -1.0, requires_grad=True)
    c = torch.full((), 0.0, requires_grad=True)
    d = torch.full((), 0.3, requires_grad=True)

    class LegendrePolynomial3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    learning_rate, losses = 5e-6 if custom_function else 1e-6, []
    for t in range(50):
        if custom_function:
            y_pred = a + b * LegendrePolynomial3.apply(c + d * x)
        else:
            y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    assert losses[-1] < losses[0]
    return {"losses": losses, "coefficients": torch.stack([a, b, c, d])}


def test_autograd_quickstart():
    class Program:
        run = staticmethod(autogradqs)

    compare_runs(Program)


def test_polynomial_fitted_by_hand():
    class Program:
        run = staticmethod(polynomial)

    compare_runs(Program, rtol=1e-4)


def test_polynomial_through_a_custom_function():
    class Program:
        @staticmethod
        def run(torch):
            return polynomial(torch, custom_function=True)

    compare_runs(Program, rtol=1e-4)
