"""Run one corpus program with PyTorch and with convlab standing in for it, and compare.

Each ``test_mirror_*.py`` here is a program written in this repository that does what one public
PyTorch program about CNNs does (its docstring names the repository, path and commit it
mirrors), cut to run offline in a second on small synthetic data. Its code takes the library as
an argument named ``torch``, so the text is what a PyTorch user writes. A program defines:

``make_data(rng)``
    the synthetic data, as NumPy arrays (a dict);
``build(torch)``
    the model (a Module; a GAN builds a ModuleDict of its two nets);
``loss_of(torch, model, data)``
    ``(output, loss)`` of the program's first forward pass;
``train(torch, model, data)``
    the program's training loop (optimizer, scheduler, ...); returns the loss of each step;
``materialize(torch, model, data)``, optional
    a first call that gives lazy layers their shapes before the weights are copied;
``RANDOM = True``, optional
    the training draws random numbers (dropout, noise): the two curves are then not compared,
    the first loss is taken in eval mode, and the loss must fall below its start at some point
    (not necessarily at the last step).

A program that trains no model (a textbook section that computes with functions: a hand-written
cross-correlation, an optimizer written from scratch) defines ``run(torch)`` instead, returning
a dict of what it computes and prints (tensors, numbers, shapes, reprs); :func:`compare_runs`
checks that both libraries give the same.

:func:`check` builds both models (torch's initial weights copied into convlab's), and compares
module reprs, the output's shape, the first loss and every parameter's gradient norm; then it
trains each and checks that the loss falls, and (deterministic programs) that the two curves
agree.
"""

from __future__ import annotations

import numpy as np
import pytest

import convlab
from parity.same_numbers import assert_same, copy_weights, numbers

LOSS_RTOL, LOSS_ATOL = 1e-4, 1e-5  # float32, one forward pass
GRAD_RTOL, GRAD_ATOL = 1e-3, 1e-5  # norms of float32 gradients
CURVE_RTOL, CURVE_ATOL = 2e-3, 1e-4  # float32 rounding grows a little with every step


def check(program) -> None:
    """Run ``program`` (a module) with both libraries and compare what it prints and computes."""
    torch = pytest.importorskip("torch")
    data = program.make_data(np.random.default_rng(0))
    torch.manual_seed(0)
    theirs, ours = program.build(torch), program.build(convlab)
    if hasattr(program, "materialize"):
        program.materialize(torch, theirs, data)
        program.materialize(convlab, ours, data)
    copy_weights(theirs, ours)
    assert repr(ours) == repr(theirs)

    random = getattr(program, "RANDOM", False)
    results = []
    for lib, model in ((torch, theirs), (convlab, ours)):
        if random:
            model.eval()
        output, loss = program.loss_of(lib, model, data)
        loss.backward()
        model.train()
        results.append((output, loss))
    (output_t, loss_t), (output_c, loss_c) = results
    assert tuple(output_c.shape) == tuple(output_t.shape)
    assert_same(loss_c, loss_t, "first loss", LOSS_RTOL, LOSS_ATOL)
    assert_same_grad_norms(ours, theirs)
    for model in (theirs, ours):
        model.zero_grad()

    curve_t = program.train(torch, theirs, data)
    curve_c = program.train(convlab, ours, data)
    for name, curve in (("torch", curve_t), ("convlab", curve_c)):
        # with dropout the curve is noisy: its best point must beat the start
        after = min(curve[1:]) if random else curve[-1]
        assert after < curve[0], f"{name}'s loss did not fall: {curve}"
    if not random:
        rtol = getattr(program, "curve_rtol", CURVE_RTOL)  # a program may be more sensitive
        assert_same(curve_c, curve_t, "loss per step", rtol, CURVE_ATOL)


def compare_runs(program, rtol: float = 1e-5, atol: float = 1e-6) -> dict:
    """``program.run(torch)`` and ``program.run(convlab)`` give the same values, item by item
    (strings and shapes exactly); returns convlab's results for further checks."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = program.run(torch)
    ours = program.run(convlab)
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        if isinstance(value, (str, bool, tuple)) or key.endswith("shape"):
            assert _plain(ours[key]) == _plain(value), key
        else:
            assert_same(ours[key], value, key, rtol, atol)
    return ours


def _plain(value):
    """Shapes and strings in a form both libraries share (``torch.Size`` prints otherwise)."""
    if isinstance(value, str):
        return value.replace("convlab.", "torch.")
    return tuple(value) if hasattr(value, "__len__") and not isinstance(value, str) else value


def assert_same_grad_norms(ours, theirs) -> None:
    """Every parameter has a gradient in both models or in neither, of the same norm."""
    theirs_params = dict(theirs.named_parameters())
    ours_params = dict(ours.named_parameters())
    assert list(ours_params) == list(theirs_params)
    # A gradient that is zero in exact arithmetic (a convolution's bias before a BatchNorm) is
    # rounding noise in both libraries: norms are compared to the model's largest one.
    largest = max((np.linalg.norm(numbers(q.grad)) for q in theirs_params.values()
                   if q.grad is not None), default=0.0)
    atol = max(GRAD_ATOL, GRAD_RTOL * largest)
    for name, p in ours_params.items():
        q = theirs_params[name]
        assert (p.grad is None) == (q.grad is None), f"grad of {name}: None on one side only"
        if p.grad is not None:
            assert_same(np.linalg.norm(numbers(p.grad)), np.linalg.norm(numbers(q.grad)),
                        f"gradient norm of {name}", GRAD_RTOL, atol)


def labelled_images(rng, n: int, channels: int, size: int, classes: int = 10) -> tuple:
    """``n`` synthetic images ``(n, channels, size, size)`` (float32) whose class shows: each
    class lights its own patch of the image, over noise, so a small CNN can learn it in a few
    steps. Labels ``(n,)`` int64."""
    labels = rng.integers(0, classes, n)
    images = rng.normal(0.0, 0.3, (n, channels, size, size))
    side = max(size // 4, 1)
    for i, label in enumerate(labels):
        row, col = divmod(int(label) * 7 % 16, 4)
        r, c = row * size // 4, col * size // 4
        images[i, :, r:r + side, c:c + side] += 1.5
    return images.astype(np.float32), labels.astype(np.int64)
