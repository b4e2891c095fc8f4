"""Numeric edges as PyTorch's (issue 15, item 5): infinities and NaNs through backward formulas
and losses, empty and 0-d reductions, and NaN/inf locality and float32 accuracy of every
convolution algorithm.

The table runs each case with both libraries (``m`` is ``convlab`` or ``torch``) on the same
float64 inputs: the values, and every input's gradient after a backward pass from a gradient of
1 (or inf) at every output, must agree, NaN for NaN and inf for inf. The tests of each
convolution algorithm need no PyTorch: their oracle is ``engine/reference.py``, whose plain
loops touch only each output's own window.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
import pytest

import convlab
import convlab.nn.functional as F
from convlab import engine
from convlab.engine import conditioning, reference, select
from convlab.engine.geometry import conv_geometry

INF, NAN = math.inf, math.nan


class Case(NamedTuple):
    name: str
    fn: Callable  # fn(m, *leaves) -> Tensor, m the convlab or torch module
    inputs: tuple  # one nested list per leaf (float64, requires_grad)
    upstream: float = 1.0  # the gradient that backward starts from, at every output


X = [-4.0, -3.0, -1.0, 0.0, 0.5, 1.0, 3.0, 6.0, 7.0, NAN]  # every kink, and a NaN


def _unary_cases() -> list[Case]:
    ops = {
        "relu": lambda m, x: m.relu(x),
        "relu6": lambda m, x: m.nn.functional.relu6(x),
        "hardtanh": lambda m, x: m.nn.functional.hardtanh(x),
        "hardtanh_0_6": lambda m, x: m.nn.functional.hardtanh(x, 0.0, 6.0),
        "leaky_relu": lambda m, x: m.nn.functional.leaky_relu(x, 0.1),
        "elu": lambda m, x: m.nn.functional.elu(x),
        "hardsigmoid": lambda m, x: m.nn.functional.hardsigmoid(x),
        "hardswish": lambda m, x: m.nn.functional.hardswish(x),
        "softplus": lambda m, x: m.nn.functional.softplus(x),
        "silu": lambda m, x: m.nn.functional.silu(x),
        "gelu": lambda m, x: m.nn.functional.gelu(x),
        "mish": lambda m, x: m.nn.functional.mish(x),
        "prelu": lambda m, x: m.nn.functional.prelu(x, m.tensor([0.25], dtype=m.float64)),
        "clamp": lambda m, x: x.clamp(-1.0, 3.0),
        "clamp_min": lambda m, x: x.clamp_min(0.0),
        "clamp_max": lambda m, x: x.clamp_max(1.0),
        "clamp_min_gt_max": lambda m, x: x.clamp(3.0, 1.0),
        "clip": lambda m, x: m.clip(x, min=0.0),
        "where": lambda m, x: m.where(x > 0, x, m.zeros(())),
        "maximum_0": lambda m, x: m.maximum(x, m.zeros((), dtype=m.float64)),
        "minimum_1": lambda m, x: m.minimum(x, m.ones((), dtype=m.float64)),
    }
    cases = [Case(name, fn, (X,)) for name, fn in ops.items()]
    # An infinite or NaN gradient from further down: sqrt's derivative at 0 (the issue's case
    # x.clamp(min=0).sqrt() at x = -1) or below, and a gradient of inf everywhere.
    cases += [Case(f"{name}.sqrt", lambda m, x, f=fn: f(m, x).sqrt(), (X,))
              for name, fn in ops.items()]
    cases += [Case(f"{name}<-inf", fn, (X,), upstream=INF) for name, fn in ops.items()]
    return cases


def _binary_cases() -> list[Case]:
    a = [1.0, 2.0, 3.0, NAN, 1.0, 0.0, -2.0]
    b = [1.0, 1.0, 4.0, 1.0, NAN, 0.0, -1.0]
    cases = []
    for name in ("maximum", "minimum"):
        cases += [
            Case(name, lambda m, x, y, n=name: getattr(m, n)(x, y), (a, b)),
            Case(f"{name}.sqrt", lambda m, x, y, n=name: (getattr(m, n)(x, y) - 1).sqrt(),
                 (a, b)),
            Case(f"{name}_broadcast", lambda m, x, y, n=name: getattr(m, n)(x, y),
                 ([[1.0], [2.0]], [1.0, 2.0, 3.0])),
            Case(f"{name}<-inf", lambda m, x, y, n=name: getattr(m, n)(x, y), (a, b),
                 upstream=INF),
        ]
    return cases


def _logits(m, x):
    return x.reshape(2, 3)


def _loss_cases() -> list[Case]:
    """Cross-entropy and NLL where a logit is -inf, where every target is ignored, with class
    weights (some zero), label smoothing and probability targets; each reduction."""
    neg_inf = [1.0, -INF, 0.0, 0.0, 2.0, -INF]  # -inf on classes 1 and 2, targets 0 and 1
    plain = [1.0, 2.0, 0.0, 0.0, 2.0, 1.0]
    target_inf = [-INF, 1.0, 0.0, 0.0, 2.0, 1.0]  # -inf on the target class 0
    nan_row = [1.0, 2.0, 0.0, NAN, 2.0, 1.0]
    w = [1.0, 0.0, 3.0]
    def ce(m, x, t, r, **kw):
        if "weight" in kw:
            kw["weight"] = m.tensor(kw["weight"], dtype=m.float64)
        return m.nn.functional.cross_entropy(_logits(m, x), m.tensor(t), reduction=r, **kw)

    def nll(m, x, t, r, **kw):
        if "weight" in kw:
            kw["weight"] = m.tensor(kw["weight"], dtype=m.float64)
        return m.nn.functional.nll_loss(_logits(m, x), m.tensor(t), reduction=r, **kw)

    def ce_prob(m, x, p, r, **kw):
        t = m.tensor(p, dtype=m.float64).reshape(2, 3)
        return m.nn.functional.cross_entropy(_logits(m, x), t, reduction=r, **kw)

    table = {  # name: (fn(m, x, reduction), logits)
        "ce_-inf_other": (lambda m, x, r: ce(m, x, [0, 1], r), neg_inf),
        "ce_-inf_target": (lambda m, x, r: ce(m, x, [0, 1], r), target_inf),
        "ce_-inf_smoothing": (lambda m, x, r: ce(m, x, [0, 1], r, label_smoothing=0.1),
                              neg_inf),
        "ce_-inf_weight": (lambda m, x, r: ce(m, x, [0, 2], r, weight=[1.0, 2.0, 3.0]),
                           neg_inf),
        "ce_-inf_zero_weight_target": (lambda m, x, r: ce(m, x, [1, 2], r, weight=w),
                                       [1.0, -INF, 0.0, 0.0, 2.0, 1.0]),
        "ce_-inf_zero_weight_smoothing": (
            lambda m, x, r: ce(m, x, [0, 2], r, weight=w, label_smoothing=0.1),
            [1.0, -INF, 0.0, 0.0, 2.0, 1.0]),
        "ce_all_ignored": (lambda m, x, r: ce(m, x, [-100, -100], r), plain),
        "ce_all_ignored_-inf": (lambda m, x, r: ce(m, x, [-100, -100], r), neg_inf),
        "ce_all_ignored_weight": (lambda m, x, r: ce(m, x, [-100, -100], r, weight=w), plain),
        "ce_all_ignored_smoothing": (
            lambda m, x, r: ce(m, x, [-100, -100], r, label_smoothing=0.2, weight=w), plain),
        "ce_all_ignore_index_1": (lambda m, x, r: ce(m, x, [1, 1], r, ignore_index=1),
                                  neg_inf),
        "ce_one_ignored": (lambda m, x, r: ce(m, x, [2, -100], r), plain),
        "ce_nan_in_ignored_row": (lambda m, x, r: ce(m, x, [0, -100], r), nan_row),
        "ce_-inf_in_ignored_row": (lambda m, x, r: ce(m, x, [0, -100], r),
                                   [1.0, 2.0, 0.0, -INF, 2.0, 1.0]),
        "ce_zero_weight_targets": (
            lambda m, x, r: ce(m, x, [0, 1], r, weight=[0.0, 0.0, 3.0]), plain),
        "ce_prob_-inf": (lambda m, x, r: ce_prob(m, x, [1.0, 0, 0, 0, 1.0, 0], r), neg_inf),
        "ce_prob_-inf_smoothing": (
            lambda m, x, r: ce_prob(m, x, [1.0, 0, 0, 0, 1.0, 0], r, label_smoothing=0.1),
            neg_inf),
        "nll_-inf_other": (lambda m, x, r: nll(m, x, [0, 1], r), neg_inf),
        "nll_-inf_target": (lambda m, x, r: nll(m, x, [0, 1], r), target_inf),
        "nll_all_ignored": (lambda m, x, r: nll(m, x, [-100, -100], r), plain),
        "nll_all_ignored_weight": (lambda m, x, r: nll(m, x, [-100, -100], r, weight=w),
                                   plain),
        "nll_nan_in_ignored_row": (lambda m, x, r: nll(m, x, [0, -100], r), nan_row),
        "nll_zero_weight_targets": (
            lambda m, x, r: nll(m, x, [0, 1], r, weight=[0.0, 0.0, 3.0]), plain),
        "nll_-inf_zero_weight_target": (lambda m, x, r: nll(m, x, [1, 2], r, weight=w),
                                        [1.0, -INF, 0.0, 0.0, 2.0, 1.0]),
    }
    cases = [Case(f"{name}[{r}]", lambda m, x, f=fn, r=r: f(m, x, r), (x,))
             for name, (fn, x) in table.items() for r in ("mean", "sum", "none")]
    cases.append(Case("ce_all_ignored_3d", lambda m, x: m.nn.functional.cross_entropy(
        x.reshape(1, 3, 2), m.tensor([[-100, -100]])), ([1.0, 2.0, 0.0, 0.0, 2.0, 1.0],)))
    cases.append(Case("ce_unbatched_ignored", lambda m, x: m.nn.functional.cross_entropy(
        x, m.tensor(-100)), ([1.0, 2.0, 0.0],)))
    cases.append(Case("ce_ignored<-inf", lambda m, x: m.nn.functional.cross_entropy(
        _logits(m, x), m.tensor([0, -100]), reduction="none"), ([1.0, 2.0, 0.0, 0.0, 2.0, 1.0],),
        upstream=INF))
    return cases


def _reduction_cases() -> list[Case]:
    return [
        Case("prod_dim_other_empty", lambda m, x: x.reshape(3, 0).prod(0), ([],)),
        Case("prod_dim_empty_kept", lambda m, x: x.reshape(2, 3, 0).prod(1, keepdim=True), ([],)),
        Case("prod_dim_over_empty", lambda m, x: x.reshape(0, 3).prod(1), ([],)),
        Case("prod_over_empty_dim", lambda m, x: x.reshape(3, 0).prod(1), ([],)),
        Case("prod_all_empty", lambda m, x: x.reshape(0, 3).prod(), ([],)),
        Case("prod_zeros", lambda m, x: x.reshape(2, 3).prod(1), ([0.0, 2.0, 0.0, 0.0, 3.0, 4.0],)),
        Case("std_constant<-inf", lambda m, x: x.std(), ([2.0, 2.0, 2.0],), upstream=INF),
        Case("std_dim_constant<-inf", lambda m, x: x.reshape(2, 2).std(1),
             ([2.0, 2.0, 1.0, 3.0],), upstream=INF),
        Case("norm_inf<-inf", lambda m, x: x.norm(p=INF), ([1.0, -3.0, 3.0, 0.0],), upstream=INF),
        Case("amax_tie<-inf", lambda m, x: x.amax(0), ([1.0, 3.0, 3.0],), upstream=INF),
        Case("logsumexp_-inf", lambda m, x: x.logsumexp(0), ([-INF, 1.0],)),
        Case("log_softmax_-inf", lambda m, x: x.log_softmax(0), ([-INF, 1.0, 2.0],)),
        Case("softmax_-inf", lambda m, x: x.softmax(0), ([-INF, 1.0, 2.0],)),
        Case("abs_nan", lambda m, x: x.abs(), ([1.0, NAN, 0.0, -2.0],)),
        Case("clamp_tensor_bounds", lambda m, x, lo, hi: m.clamp(x, lo, hi),
             ([0.0, 1.0, 2.0, 3.0, 4.0, NAN, 2.0], [1.0] * 6 + [3.0], [3.0] * 6 + [1.0])),
        Case("clamp_tensor_min", lambda m, x, lo: x.clamp(min=lo),
             ([0.0, 1.0, 2.0, NAN, 2.0], [1.0, 1.0, 1.0, 1.0, 3.0])),
        Case("clamp_0d_tensor_max", lambda m, x, hi: x.clamp(max=hi.reshape(())),
             ([0.0, 1.0, 2.0, NAN], [1.0])),
        Case("max_nan", lambda m, x: x.max(), ([1.0, NAN, 3.0],)),
        Case("max_tie<-inf", lambda m, x: x.max(), ([3.0, 1.0, 3.0],), upstream=INF),
        Case("min_nan", lambda m, x: x.min(), ([1.0, NAN, 3.0],)),
        Case("sort_0d", lambda m, x: x.reshape(()).sort().values, ([3.0],)),
        Case("sort_0d_descending", lambda m, x: x.reshape(()).sort(descending=True).values,
             ([3.0],)),
        Case("topk_0d", lambda m, x: x.reshape(()).topk(1).values, ([3.0],)),
        Case("topk_0d_k0", lambda m, x: x.reshape(()).topk(0).values, ([3.0],)),
    ]


CASES = _unary_cases() + _binary_cases() + _loss_cases() + _reduction_cases()


def _run(m, case: Case):
    leaves = [m.tensor(v, dtype=m.float64, requires_grad=True) for v in case.inputs]
    out = case.fn(m, *leaves)
    out.backward(m.full_like(out, case.upstream))
    return out.detach().numpy(), [leaf.grad.numpy() for leaf in leaves]


def _same(got, want, what: str) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape}, PyTorch {want.shape}"
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_values_and_gradients_as_pytorch(case):
    torch = pytest.importorskip("torch")
    want, want_grads = _run(torch, case)
    got, got_grads = _run(convlab, case)
    _same(got, want, "value")
    for i, (g, w) in enumerate(zip(got_grads, want_grads)):
        _same(g, w, f"gradient of input {i}")


def _image(shape, bad=None, at=None):
    """A float64 field of normal draws as a nested list, with ``bad`` written at ``at``."""
    a = np.random.default_rng(0).standard_normal(shape)
    if bad is not None:
        a[at] = bad
    return a.tolist()


def _conv_cases() -> list[Case]:
    """Convolutions the selector gives to the FFT (7x7) and to Winograd (3x3, 16 channels),
    with a NaN or an inf in the input: PyTorch's NaN and inf stay in the windows that hold it
    (one NaN pixel with a 7x7 kernel and 4 output channels: 196 NaN outputs)."""
    cases = []
    for bad in (NAN, INF, -INF, 1e8):
        fft_x = _image((1, 1, 38, 38), bad, (0, 0, 19, 19))
        wino_x = _image((1, 16, 12, 12), bad, (0, 3, 5, 6))
        cases += [
            Case(f"conv2d_7x7[{bad}]", lambda m, x, w: m.nn.functional.conv2d(x, w, padding=3),
                 (fft_x, _image((4, 1, 7, 7)))),
            Case(f"conv2d_3x3_16ch[{bad}]",
                 lambda m, x, w: m.nn.functional.conv2d(x, w, padding=1),
                 (wino_x, _image((16, 16, 3, 3)))),
        ]
    return cases


CONV_CASES = _conv_cases()


@pytest.mark.parametrize("case", CONV_CASES, ids=[c.name for c in CONV_CASES])
def test_convolution_with_a_non_finite_or_huge_input_as_pytorch(case):
    torch = pytest.importorskip("torch")
    want, want_grads = _run(torch, case)
    got, got_grads = _run(convlab, case)
    _same(got, want, "value")
    for i, (g, w) in enumerate(zip(got_grads, want_grads)):
        _same(g, w, f"gradient of input {i}")


# Every algorithm on a geometry it computes: (x shape, w shape, conv2d options).
ALGORITHM_CASES = {
    "fft": ((1, 2, 14, 14), (2, 2, 7, 7), dict(padding=3)),
    "winograd": ((2, 16, 12, 12), (16, 16, 3, 3), dict(padding=1)),
    "winograd_dilated": ((1, 16, 12, 12), (16, 16, 3, 3), dict(padding=2, dilation=2)),
    "im2col": ((2, 3, 20, 20), (4, 3, 3, 3), dict(padding=1, stride=2)),
    "depthwise": ((2, 4, 20, 20), (4, 1, 3, 3), dict(padding=1, groups=4)),
    "pointwise": ((2, 4, 20, 20), (5, 4, 1, 1), dict()),
    "reference": ((1, 2, 9, 9), (3, 2, 3, 3), dict(padding=1)),
}
PASSES = {  # pass: (engine function, reference function, which operand gets the bad value)
    "forward": (engine.conv_forward, reference.conv_forward, "x"),
    "input_grad": (engine.conv_input_grad, reference.conv_input_grad, "gy"),
    "weight_grad_x": (engine.conv_weight_grad, reference.conv_weight_grad, "x"),
    "weight_grad_gy": (engine.conv_weight_grad, reference.conv_weight_grad, "gy"),
}


def _operands(name: str):
    xs, ws, options = ALGORITHM_CASES[name]
    G = conv_geometry("conv2d", 2, xs, ws, **options)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws)
    gy = rng.standard_normal((xs[0], ws[0], *G.out_size))
    return G, x, w, gy


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
@pytest.mark.parametrize("which", list(PASSES))
@pytest.mark.parametrize("name", list(ALGORITHM_CASES))
def test_every_algorithm_keeps_a_nan_or_inf_in_the_windows_that_hold_it(name, which, bad):
    """The outputs that are NaN or inf are exactly those of the plain loops, and the others
    keep their float32 values."""
    G, x, w, gy = _operands(name)
    fn, ref, operand = PASSES[which]
    if operand == "x":
        x[0, 1, 5, 6] = bad
    else:
        gy[0, 1, 3, 4] = bad
    args = (x, w) if fn is engine.conv_forward else (gy, w) if fn is engine.conv_input_grad \
        else (x, gy)
    with np.errstate(invalid="ignore", over="ignore"):
        want = ref(*args, G)
        with select.using(name.split("_")[0]):
            got = fn(*(a.astype(np.float32) for a in args), G)
    assert np.isnan(want).any() or np.isinf(want).any()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name", ["fft", "winograd", "im2col", "depthwise", "reference"])
def test_a_huge_value_moves_no_output_whose_window_does_not_hold_it(name):
    """The issue's case: ones, with 1e8 at one corner. Every window that misses the corner
    still sums to its count of ones, to float32 rounding (the FFT gave 47.74 for 49, 20 pixels
    away)."""
    xs, ws, options = ALGORITHM_CASES[name]
    G = conv_geometry("conv2d", 2, xs, ws, **options)
    x = np.ones(xs, np.float32)
    x[..., 0, 0] = 1e8
    w = np.ones(ws, np.float32)
    with select.using(name):
        y = engine.conv_forward(x, w, G)
    ones = reference.conv_forward(np.ones(xs), w.astype(np.float64), G)
    touched = reference.conv_forward(x.astype(np.float64), w.astype(np.float64), G) != ones
    np.testing.assert_allclose(y[~touched], ones[~touched], rtol=1e-6)


def test_the_issue_case_through_the_selector():
    """``conv2d`` of 64x64 ones with a 7x7 kernel of ones (the selector's pick: the FFT) and
    1e8 at one corner: 49 wherever the window misses the corner."""
    x = convlab.ones(1, 1, 64, 64)
    x[0, 0, 0, 0] = 1e8
    y = F.conv2d(x, convlab.ones(1, 1, 7, 7)).numpy()
    assert select.choose(conv_geometry("conv2d", 2, (1, 1, 64, 64), (1, 1, 7, 7)),
                         (1, 1, 64, 64)).__name__.endswith("fft")
    assert y[0, 0, 0, 0] == pytest.approx(1e8 + 48)
    np.testing.assert_array_equal(y[0, 0, 1:, :], 49)
    np.testing.assert_array_equal(y[0, 0, :, 1:], 49)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_transforms_take_data_up_to_the_bound_and_no_further(dtype):
    a = np.random.default_rng(2).standard_normal((4, 8, 16, 16)).astype(dtype)
    typical = np.median(np.abs(a))
    limit = conditioning.MAX_SPREAD * typical
    a[0, 0, 0, 0] = 0.9 * limit
    assert conditioning.well_scaled(a)
    a[0, 0, 0, 0] = -1.1 * limit
    assert not conditioning.well_scaled(a)
    for bad in (NAN, INF, -INF):
        a[0, 0, 0, 0] = bad
        assert not conditioning.well_scaled(a)
        assert not conditioning.finite(a)


def test_ordinary_data_keeps_the_fast_algorithms():
    """Images, activations (ReLU'd: half zeros) and gradients are far inside the bound, so
    the selector's speed choices stand; all zeros and empty arrays pass too."""
    rng = np.random.default_rng(3)
    normal = rng.standard_normal((16, 64, 28, 28)).astype(np.float32)
    for data in (normal, np.maximum(normal, 0), rng.random((8, 3, 64, 64), np.float32),
                 normal * 1e-30, np.zeros((2, 3, 4, 4), np.float32), np.zeros((0, 3, 4, 4))):
        assert conditioning.well_scaled(data)
