"""The embedding, margin and likelihood losses against PyTorch: values and every gradient, for
each reduction, as functions and as modules."""

import numpy as np
import pytest

import convlab

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
N, C, D = 5, 4, 6
X1, X2, X3 = (rng.standard_normal((N, D)) for _ in range(3))
SIGNS = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
SCORES = rng.standard_normal((N, C))
LABELS = np.array([0, 3, 1, 1, 2])
MULTI = (rng.random((N, C)) > 0.5).astype(float)
COUNTS = rng.poisson(2.0, (N, C)).astype(float)
VAR = rng.random((N, C)) + 0.05
CLASS_W = rng.random(C) + 0.5

# name, module kwargs, inputs (arrays that get gradients marked "grad:"), extra F kwargs
CASES = [
    ("CosineEmbeddingLoss", dict(), ["grad:X1", "grad:X2", "SIGNS"]),
    ("CosineEmbeddingLoss", dict(margin=0.2), ["grad:X1", "grad:X2", "SIGNS"]),
    ("CosineEmbeddingLoss", dict(margin=-0.1), ["grad:X1[0]", "grad:X2[0]", "SIGNS[1]"]),
    ("MarginRankingLoss", dict(margin=0.3), ["grad:SCORES", "grad:MULTI", "SIGN_GRID"]),
    ("TripletMarginLoss", dict(), ["grad:X1", "grad:X2", "grad:X3"]),
    ("TripletMarginLoss", dict(margin=2.0, p=1.0, swap=True), ["grad:X1", "grad:X2", "grad:X3"]),
    ("TripletMarginLoss", dict(p=3.0, eps=1e-3), ["grad:X1[1]", "grad:X2[1]", "grad:X3[1]"]),
    ("HingeEmbeddingLoss", dict(margin=0.5), ["grad:SCORES", "SIGN_GRID"]),
    ("SoftMarginLoss", dict(), ["grad:SCORES", "SIGN_GRID"]),
    ("MultiLabelSoftMarginLoss", dict(), ["grad:SCORES", "MULTI"]),
    ("MultiLabelSoftMarginLoss", dict(weight="CLASS_W"), ["grad:SCORES", "MULTI"]),
    ("MultiMarginLoss", dict(), ["grad:SCORES", "LABELS"]),
    ("MultiMarginLoss", dict(p=2, margin=0.7, weight="CLASS_W"), ["grad:SCORES", "LABELS"]),
    ("MultiMarginLoss", dict(), ["grad:SCORES[2]", "LABELS[2]"]),
    ("PoissonNLLLoss", dict(), ["grad:SCORES", "COUNTS"]),
    ("PoissonNLLLoss", dict(log_input=False, full=True), ["grad:VAR", "COUNTS"]),
    ("GaussianNLLLoss", dict(), ["grad:SCORES", "MULTI", "grad:VAR"]),
    ("GaussianNLLLoss", dict(full=True, eps=0.3), ["grad:SCORES", "MULTI", "grad:VAR"]),
    ("GaussianNLLLoss", dict(), ["grad:SCORES", "MULTI", "grad:VAR[:, 0]"]),
    ("GaussianNLLLoss", dict(), ["grad:SCORES", "MULTI", "grad:VAR[:, :1]"]),
]
SIGN_GRID = np.where(rng.random((N, C)) > 0.5, 1.0, -1.0)
ARRAYS = dict(X1=X1, X2=X2, X3=X3, SIGNS=SIGNS, SCORES=SCORES, LABELS=LABELS, MULTI=MULTI,
              COUNTS=COUNTS, VAR=VAR, CLASS_W=CLASS_W, SIGN_GRID=SIGN_GRID)


def _array(spec):
    name, _, index = spec.removeprefix("grad:").partition("[")
    value = ARRAYS[name]
    return eval(f"value[{index}") if index else value  # noqa: S307  (our own literal specs)


def _build(lib, name, kwargs, specs, reduction):
    kwargs = {k: lib.tensor(ARRAYS[v]) if isinstance(v, str) else v for k, v in kwargs.items()}
    inputs = [lib.tensor(_array(s), requires_grad=s.startswith("grad:")) for s in specs]
    return getattr(lib.nn, name)(reduction=reduction, **kwargs), inputs


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name, kwargs, specs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_loss_values_and_gradients_match_torch(name, kwargs, specs, reduction):
    ours, our_inputs = _build(convlab, name, kwargs, specs, reduction)
    theirs, their_inputs = _build(torch, name, kwargs, specs, reduction)
    assert repr(ours) == repr(theirs)
    a, b = ours(*our_inputs), theirs(*their_inputs)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = rng.standard_normal(tuple(b.shape))
    a.backward(convlab.tensor(upstream))
    b.backward(torch.tensor(upstream))
    for x, y in zip(our_inputs, their_inputs):
        if y.requires_grad:
            np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_functional_forms_are_the_modules():
    F, TF = convlab.nn.functional, torch.nn.functional
    a = F.triplet_margin_loss(convlab.tensor(X1), convlab.tensor(X2), convlab.tensor(X3),
                              margin=0.5)
    b = TF.triplet_margin_loss(torch.tensor(X1), torch.tensor(X2), torch.tensor(X3), margin=0.5)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    a = F.pairwise_distance(convlab.tensor(X1), convlab.tensor(X2), keepdim=True)
    b = TF.pairwise_distance(torch.tensor(X1), torch.tensor(X2), keepdim=True)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


@pytest.mark.parametrize("call, error, message", [
    (lambda lib: lib.nn.functional.gaussian_nll_loss(lib.zeros(3, 2), lib.zeros(3, 2),
                                                     -lib.ones(3, 2)),
     ValueError, "var has negative entry"),
    (lambda lib: lib.nn.functional.gaussian_nll_loss(lib.zeros(3, 2), lib.zeros(3, 2),
                                                     lib.ones(2, 2)),
     ValueError, "var is of incorrect size"),
    (lambda lib: lib.nn.MultiMarginLoss(p=3), ValueError, "only p == 1 and p == 2 supported"),
    (lambda lib: lib.nn.TripletMarginLoss(margin=0), ValueError, "greater than 0"),
    (lambda lib: lib.nn.functional.margin_ranking_loss(lib.zeros(3, 1), lib.zeros(3), lib.zeros(3)),
     RuntimeError, "should have same dimension"),
])
def test_bad_input_raises_as_torch(call, error, message):
    for lib in (convlab, torch):
        with pytest.raises(error, match=message):
            call(lib)


@pytest.mark.parametrize("x1, x2, kwargs", [
    (X1, X2, dict()), (X1, X2[:1], dict(eps=0.5)), (X1.T, X3.T, dict(dim=0)),
    (np.zeros((2, 3)), np.ones((2, 3)), dict()),  # a zero vector: the eps floor
])
def test_cosine_similarity_matches_torch_with_gradients(x1, x2, kwargs):
    ours = [convlab.tensor(a, requires_grad=True) for a in (x1, x2)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x1, x2)]
    a = convlab.nn.CosineSimilarity(**kwargs)(*ours)
    b = torch.nn.CosineSimilarity(**kwargs)(*theirs)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)
    upstream = rng.standard_normal(tuple(b.shape))
    a.backward(convlab.tensor(upstream))
    b.backward(torch.tensor(upstream))
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_pairwise_distance_module_matches_torch():
    a = convlab.nn.PairwiseDistance(p=1.0, keepdim=True)(convlab.tensor(X1), convlab.tensor(X2))
    b = torch.nn.PairwiseDistance(p=1.0, keepdim=True)(torch.tensor(X1), torch.tensor(X2))
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    assert repr(convlab.nn.PairwiseDistance()) == repr(torch.nn.PairwiseDistance())


@pytest.mark.parametrize("kwargs", [dict(), dict(p=1.0, dim=0), dict(dim=-1, eps=0.5)])
def test_normalize_matches_torch_with_gradients(kwargs):
    x = np.vstack([X1, np.zeros((1, D))])  # a zero row: divided by eps, stays zero
    ours, theirs = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a = convlab.nn.functional.normalize(ours, **kwargs)
    b = torch.nn.functional.normalize(theirs, **kwargs)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)
    upstream = rng.standard_normal(x.shape)
    a.backward(convlab.tensor(upstream))
    b.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
