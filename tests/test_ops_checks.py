"""What the gradient table (``test_ops_vs_torch.py``) leaves out: the ops with integer or boolean
results (sets, counts, closeness), random draws, the dtype rules of the step functions, the
gradients PyTorch itself gets wrong, and the errors, each with PyTorch's wording."""

import numpy as np
import pytest

import convlab
from gradcheck import gradcheck


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


VALUES = np.array([[0.0, 1.5, -2.0, 1.5], [3.0, 0.0, 0.0, -2.0], [1.5, 1.5, 3.0, 0.0]])

WITHOUT_GRADIENT = [
    lambda m, x: x.nonzero(),
    lambda m, x: m.nonzero(x, as_tuple=True),
    lambda m, x: x[0, 1].nonzero(),
    lambda m, x: x[0, 1].nonzero(as_tuple=True),
    lambda m, x: x.count_nonzero(),
    lambda m, x: m.count_nonzero(x, dim=1),
    lambda m, x: x.count_nonzero((0, -1)),
    lambda m, x: x.unique(),
    lambda m, x: m.unique(x, return_inverse=True, return_counts=True),
    lambda m, x: x.long().unique(dim=0, return_inverse=True, return_counts=True),
    lambda m, x: (x > 0).unique(dim=1, return_counts=True),
    lambda m, x: x.isclose(x + 1e-9),
    lambda m, x: m.isclose(x, x.flip(0), rtol=0, atol=1.6),
    lambda m, x: m.isclose(m.tensor([np.nan, np.inf, 1.0]), m.tensor([np.nan, np.inf, np.nan]),
                           equal_nan=True),
    lambda m, x: x.long().round(),
    lambda m, x: x.long().floor(),
    lambda m, x: x.int().sign(),
    lambda m, x: (x > 0).sign(),
    lambda m, x: x.long().reciprocal(),
    lambda m, x: x.long().erf(),
    lambda m, x: x.int().cumsum(0),
    lambda m, x: (x > 0).cumprod(1),
    lambda m, x: x[0].long().dot(x[1].long()),
    lambda m, x: x.long().index_select(0, m.tensor([2, 2])),
    lambda m, x: m.zeros(3, 5, dtype=m.long).scatter_(1, x.long().abs() % 5, 1),
    lambda m, x: m.zeros(3, 4).scatter_add_(0, m.tensor([[0, 0, 2, 1]]), m.ones(1, 4)),
    lambda m, x: x.long().roll(1, 0),
    lambda m, x: x.long().tril(),
    lambda m, x: m.einsum("ij,ij->i", x.long(), x.long()),
    lambda m, x: m.meshgrid(m.arange(3), m.arange(2), indexing="xy"),
    lambda m, x: m.hstack([x.long(), x.float()]),
]


@pytest.mark.parametrize("fn", WITHOUT_GRADIENT, ids=range(len(WITHOUT_GRADIENT)))
def test_integer_and_boolean_results_match_torch(fn, torch):
    ours, theirs = fn(convlab, convlab.tensor(VALUES)), fn(torch, torch.tensor(VALUES))
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert tuple(a.shape) == tuple(b.shape)
        assert str(a.dtype).split(".")[1] == str(b.dtype).split(".")[1]
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert not a.requires_grad


def test_scatter_and_scatter_add_take_the_leading_block_of_a_larger_src():
    """PyTorch's backward gets the shape of src's gradient wrong here (it returns index's
    shape); finite differences decide."""
    x = convlab.randn(3, 4, dtype=convlab.float64, requires_grad=True)
    src = convlab.randn(2, 5, dtype=convlab.float64, requires_grad=True)
    index = convlab.tensor([[1, 0, 2], [2, 2, 0]])
    gradcheck(lambda x, src: x.scatter(0, index[:1], src), (x, src))
    gradcheck(lambda x, src: x.scatter_add(0, index, src), (x, src))
    out = x.scatter_add(0, index, src)
    src.grad = None
    out.sum().backward()
    np.testing.assert_array_equal(src.grad.numpy(), [[1, 1, 1, 0, 0], [1, 1, 1, 0, 0]])


def test_cumprod_of_a_long_row_with_zeros_has_exact_gradients(torch):
    values = np.linspace(-2, 2, 40)
    values[[3, 17, 18]] = 0.0
    x, t = convlab.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    x.cumprod(0).sum().backward()
    t.cumprod(0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


# ---- random draws -------------------------------------------------------------------------------


def test_bernoulli_draws_ones_with_the_given_probabilities():
    p = convlab.tensor([0.0, 0.25, 1.0], dtype=convlab.float64).expand(20000, 3)
    draws = convlab.bernoulli(p)
    assert draws.dtype == convlab.float64 and set(np.unique(draws.numpy())) <= {0.0, 1.0}
    np.testing.assert_allclose(draws.mean(0).numpy(), [0.0, 0.25, 1.0], atol=0.01)
    assert convlab.ones(4).bernoulli(0.0).tolist() == [0.0] * 4
    convlab.manual_seed(3)
    first = convlab.rand(50).bernoulli()
    convlab.manual_seed(3)
    assert first.equal(convlab.rand(50).bernoulli())
    with pytest.raises(RuntimeError, match="expected every probability to be in \\[0, 1\\]"):
        convlab.tensor([0.5, 1.5]).bernoulli()
    with pytest.raises(RuntimeError, match="bernoulli_ expects p to be in \\[0, 1\\], but got "
                                           "p=1.5"):
        convlab.ones(2).bernoulli_(1.5)


def test_multinomial_draws_in_proportion_to_the_weights():
    weights = convlab.tensor([[0.0, 1.0, 3.0], [2.0, 0.0, 2.0]])
    draws = convlab.multinomial(weights, 8000, replacement=True)
    assert draws.shape == (2, 8000) and draws.dtype == convlab.int64
    counts = [np.bincount(row, minlength=3) / 8000 for row in draws.numpy()]
    np.testing.assert_allclose(counts, [[0.0, 0.25, 0.75], [0.5, 0.0, 0.5]], atol=0.03)
    without = weights[0].multinomial(2)  # each category at most once; never one of weight 0
    assert sorted(without.tolist()) == [1, 2]
    firsts = [convlab.tensor([1.0, 3.0]).multinomial(2)[0].item() for _ in range(2000)]
    assert abs(np.mean(firsts) - 0.75) < 0.04  # the first draw follows the weights
    generator = convlab.Generator(5)
    again = convlab.Generator(5)
    assert weights.multinomial(3, generator=generator).equal(
        weights.multinomial(3, generator=again))


MULTINOMIAL_ERRORS = [
    (lambda: convlab.ones(2, 2, 2).multinomial(1), "prob_dist must be 1 or 2 dim"),
    (lambda: convlab.tensor([1, 2]).multinomial(1), "only supports floating-point dtypes"),
    (lambda: convlab.ones(3).multinomial(0), "cannot sample n_sample <= 0 samples"),
    (lambda: convlab.ones(3).multinomial(4), "cannot sample n_sample > prob_dist.size\\(-1\\)"),
    (lambda: convlab.tensor([1.0, -1.0]).multinomial(1), "contains either `inf`, `nan` or "
                                                        "element < 0"),
    (lambda: convlab.tensor([1.0, np.nan]).multinomial(1), "contains either `inf`, `nan`"),
    (lambda: convlab.zeros(2).multinomial(1), "sum of probabilities <= 0"),
]


@pytest.mark.parametrize("call, message", MULTINOMIAL_ERRORS)
def test_multinomial_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


# ---- errors -------------------------------------------------------------------------------------

M = convlab.ones(2, 3)
V = convlab.ones(3)

ERRORS = [
    (lambda: M.bmm(M), RuntimeError, "batch1 must be a 3D tensor, got 2D"),
    (lambda: convlab.ones(2, 3, 4).bmm(convlab.ones(3, 4, 5)), RuntimeError,
     "expected size for first two dimensions of batch2 tensor to be: \\[2, 4\\] but got: "
     "\\[3, 4\\]"),
    (lambda: convlab.ones(1, 2, 2).bmm(convlab.ones(1, 2, 2, dtype=convlab.float64)),
     RuntimeError, "expected scalar type float32 but found float64"),
    (lambda: M.dot(M), RuntimeError, "1D tensors expected, but got 2D and 2D tensors"),
    (lambda: V.dot(convlab.ones(4)), RuntimeError, "inconsistent tensor size, expected tensor "
                                                   "\\[3\\] and src \\[4\\]"),
    (lambda: V.dot(V.double()), RuntimeError, "expected both vectors to have same dtype, but "
                                              "found float32 and float64"),
    (lambda: M.outer(V), RuntimeError, "outer\\(\\): expected 1-D argument self, but got 2-D"),
    (lambda: V.lerp(V.double(), 0.5), RuntimeError, "expected dtype float32 for `end` but got "
                                                    "dtype float64"),
    (lambda: V.lerp(V, V.double()), RuntimeError, "expected dtype float32 for `weight`"),
    (lambda: V.lerp(convlab.ones(2), 0.5), RuntimeError, "lerp: the size of tensor a \\(3\\) "
                                                        "must match the size of tensor b \\(2\\)"),
    (lambda: V.long().lerp(V.long(), 0.5), NotImplementedError, "lerp\\(\\): not implemented "
                                                                "for convlab.int64"),
    (lambda: V.long().frac(), NotImplementedError, "frac\\(\\): not implemented"),
    (lambda: (V > 0).floor(), NotImplementedError, "floor\\(\\): not implemented for bool"),
    (lambda: V.long().round(decimals=1), NotImplementedError, "decimals needs a floating"),
    (lambda: V.isclose(V.double()), RuntimeError, "expected other to have dtype float32"),
    (lambda: V.isclose(1.0), TypeError, "argument 'other' must be Tensor, not float"),
    (lambda: M.index_select(0, convlab.tensor([[0]])), IndexError,
     "Index is supposed to be a vector"),
    (lambda: M.index_select(0, convlab.tensor([2])), IndexError, "index 2 out of range in self"),
    (lambda: M.index_select(0, convlab.tensor([-1])), IndexError, "index -1 out of range"),
    (lambda: M.index_select(0, convlab.tensor([0.0])), RuntimeError,
     "Expected dtype int32 or int64 for index"),
    (lambda: M.index_select(0, [0]), TypeError, "argument 'index' must be Tensor, not list"),
    (lambda: M.scatter(1, convlab.tensor([[3]]), 1.0), RuntimeError,
     "scatter\\(\\): index 3 is out of bounds for dimension 1 with size 3"),
    (lambda: M.scatter(1, convlab.tensor([[0]], dtype=convlab.int32), 1.0), RuntimeError,
     "scatter\\(\\): Expected dtype int64 for index"),
    (lambda: M.scatter(1, convlab.tensor([0]), 1.0), RuntimeError,
     "Index tensor must have the same number of dimensions"),
    (lambda: M.scatter(1, convlab.tensor([[0, 1]]), convlab.ones(1, 1)), RuntimeError,
     "Expected index \\[1, 2\\] to be smaller size than src \\[1, 1\\]"),
    (lambda: M.scatter(1, convlab.tensor([[0]]), convlab.ones(1, 1).double()), RuntimeError,
     "Expected self.dtype to be equal to src.dtype"),
    (lambda: M.scatter(1, convlab.tensor([[0]])), TypeError,
     "give exactly one of 'src' and 'value'"),
    (lambda: M.scatter_add(1, convlab.tensor([[0]]), 1.0), TypeError,
     "argument 'src' must be Tensor, not float"),
    (lambda: M.narrow(1, 2, 2), RuntimeError, "start \\(2\\) \\+ length \\(2\\) exceeds "
                                              "dimension size \\(3\\)"),
    (lambda: M.narrow(1, 4, 0), IndexError, "start out of range \\(expected to be in range of "
                                            "\\[-3, 3\\], but got 4\\)"),
    (lambda: M.narrow(1, 0, -1), RuntimeError, "length must be non-negative"),
    (lambda: M.roll((1, 1), 0), RuntimeError, "shifts and dimensions must align. shifts: 2, "
                                              "dims:1"),
    (lambda: M.roll(()), RuntimeError, "`shifts` required"),
    (lambda: M.movedim((0, 0), (1, 0)), RuntimeError, "repeated dim in `source` \\(\\[0, 0\\]\\)"),
    (lambda: M.movedim((0, 1), 1), RuntimeError, "should contain the same number of dims"),
    (lambda: V.tril(), RuntimeError, "tril: input tensor must have at least 2 dimensions"),
    (lambda: convlab.ones(2, 2, 2).diag(), RuntimeError, "diag\\(\\): Supports 1D or 2D tensors. "
                                                         "Got 3D"),
    (lambda: V.cumsum(1), IndexError, "cumsum: Dimension out of range"),
    (lambda: convlab.meshgrid(M, V, indexing="ij"), RuntimeError,
     "Expected 0D or 1D tensor in the tensor list but got: a 2D tensor"),
    (lambda: convlab.meshgrid(V, V.long(), indexing="ij"), RuntimeError,
     "meshgrid expects all tensors to have the same dtype"),
    (lambda: convlab.meshgrid(V, V, indexing="ab"), RuntimeError,
     'indexing must be one of "xy" or "ij", but received: ab'),
    (lambda: convlab.einsum("ijk,jk", M, M), RuntimeError,
     "the number of subscripts in the equation \\(3\\) does not match the number of dimensions "
     "\\(2\\) for operand 0 and no ellipsis was given"),
    (lambda: convlab.einsum("ij", M, M), RuntimeError, "more operands were provided than "
                                                      "specified"),
    (lambda: convlab.einsum("ij,jk", M), RuntimeError, "fewer operands were provided"),
    (lambda: convlab.einsum("ij,jk", M, M), RuntimeError,
     "subscript j has size 2 for operand 1 which does not broadcast with previously seen size 3"),
    (lambda: convlab.einsum("ij->ii", M), RuntimeError, "output subscript i appears more than "
                                                        "once in the output"),
    (lambda: convlab.einsum("ij->k", M), RuntimeError, "output subscript k does not appear in "
                                                       "the equation"),
    (lambda: convlab.einsum("i1->i", M), RuntimeError, "invalid subscript given at index 1"),
    (lambda: convlab.einsum("...ijk", M), RuntimeError, "the number of subscripts in the "
                                                        "equation \\(3\\) is more than"),
    (lambda: convlab.einsum("ij", np.ones((2, 2))), TypeError, "einsum\\(\\): expected Tensors, "
                                                               "got ndarray at position 0"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=range(len(ERRORS)))
def test_errors_say_what_is_wrong(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_meshgrid_without_indexing_warns_and_uses_ij():
    with pytest.warns(UserWarning, match="it will be required to pass the indexing argument"):
        grid = convlab.meshgrid(convlab.arange(2), convlab.arange(3))
    assert grid[0].shape == (2, 3)
