"""Functions that make tensors: from data, filled, ranges, and random draws from the one seeded
generator."""

import numpy as np
import pytest

import convlab


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


# ---- from data ----------------------------------------------------------------------------------


def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0])
    t = convlab.tensor(a)
    a[0] = 9.0
    assert t.tolist() == [1.0, 2.0] and t.dtype == convlab.float64
    u = convlab.tensor(t)
    t[1] = 5.0
    assert u.tolist() == [1.0, 2.0]


def test_tensor_arguments():
    t = convlab.tensor([1, 2], dtype=convlab.float64, requires_grad=True)
    assert t.dtype == convlab.float64 and t.requires_grad and t.is_leaf
    assert convlab.tensor([[1, 2], [3, 4]], dtype=convlab.int32).dtype == convlab.int32
    assert convlab.tensor([]).shape == (0,) and convlab.tensor([]).dtype == convlab.float32
    assert convlab.tensor([[]]).shape == (1, 0)


def test_tensor_rejects_what_it_cannot_hold():
    with pytest.raises(ValueError, match="tensor\\(\\): the nested sequences are ragged"):
        convlab.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="tensor\\(\\): could not build a tensor from list: "
                                        "its items must be numbers"):
        convlab.tensor([None])
    with pytest.raises(TypeError, match="can't convert data of NumPy dtype <U1"):
        convlab.tensor(["a"])
    with pytest.raises(TypeError, match="can't convert data of NumPy dtype complex128"):
        convlab.tensor(np.array([1j]))


def test_as_tensor_and_from_numpy_share_memory():
    a = np.zeros(3, dtype=np.float32)
    for t in (convlab.as_tensor(a), convlab.from_numpy(a)):
        t[0] = 1.0
    assert a[0] == 1.0
    assert convlab.from_numpy(a).dtype == convlab.float32
    copied = convlab.as_tensor(a, dtype=convlab.float64)
    copied[1] = 2.0
    assert a[1] == 0.0
    t = convlab.ones(2)
    assert convlab.as_tensor(t) is t
    assert convlab.as_tensor([1, 2]).dtype == convlab.int64


def test_from_numpy_needs_an_array_of_a_known_dtype():
    with pytest.raises(TypeError, match="expected np.ndarray \\(got list\\)"):
        convlab.from_numpy([1.0])
    with pytest.raises(TypeError, match="no dtype for NumPy's uint16"):
        convlab.from_numpy(np.zeros(2, dtype=np.uint16))


# ---- filled and ranges --------------------------------------------------------------------------

FILLED = [
    (lambda m: m.zeros(2, 3), None),
    (lambda m: m.zeros((2, 3)), None),
    (lambda m: m.zeros([2, 3], dtype=m.int64), None),
    (lambda m: m.zeros(()), None),
    (lambda m: m.zeros(0, 4), None),
    (lambda m: m.ones(3), None),
    (lambda m: m.ones(2, dtype=m.bool), None),
    (lambda m: m.empty(2, 2), "values"),  # PyTorch's are uninitialized
    (lambda m: m.full((2,), 3), None),
    (lambda m: m.full((2,), 3.5), None),
    (lambda m: m.full((2,), True), None),
    (lambda m: m.full([1, 2], 7, dtype=m.float64), None),
    (lambda m: m.arange(5), None),
    (lambda m: m.arange(2, 9, 3), None),
    (lambda m: m.arange(5.0), None),
    (lambda m: m.arange(0, 1, 0.1), None),
    (lambda m: m.arange(3, 0, -1), None),
    (lambda m: m.arange(4, dtype=m.float64), None),
    (lambda m: m.linspace(0, 1, 5), None),
    (lambda m: m.linspace(-1, 1, 1), None),
    (lambda m: m.eye(3), None),
    (lambda m: m.eye(2, 3, dtype=m.int64), None),
    (lambda m: m.zeros_like(m.tensor([1, 2])), None),
    (lambda m: m.ones_like(m.tensor([1, 2]), dtype=m.float32), None),
    (lambda m: m.full_like(m.tensor([1, 2]), 2.7), None),
    (lambda m: m.full_like(m.zeros(2, dtype=m.float64), 2.7), None),
    (lambda m: m.empty_like(m.zeros(2, 1)), "values"),
    (lambda m: m.tensor([1.0, 2.0]).new_zeros(2, 2), None),
    (lambda m: m.tensor([1, 2]).new_full((3,), 4), None),
    (lambda m: m.zeros(2, dtype=m.long), None),
    (lambda m: m.ones((2, 2), dtype=m.int), None),
    (lambda m: m.full((2, 3), 5, dtype=m.long), None),
    (lambda m: m.full((2,), 1.5, dtype=m.double), None),
    (lambda m: m.empty(3, dtype=m.long), "values"),
    (lambda m: m.arange(3, dtype=m.long), None),
    (lambda m: m.eye(2, dtype=m.bool), None),
    # the legacy constructors
    (lambda m: m.FloatTensor([1, 2]), None),
    (lambda m: m.FloatTensor(2, 3), "values"),
    (lambda m: m.FloatTensor(), None),
    (lambda m: m.DoubleTensor([[1.5]]), None),
    (lambda m: m.LongTensor([1.7, -2.2]), None),
    (lambda m: m.LongTensor(m.Size([3])), "values"),
    (lambda m: m.IntTensor([3, 4]), None),
    (lambda m: m.ByteTensor([0, 255]), None),
    (lambda m: m.BoolTensor([1, 0]), None),
    (lambda m: m.Tensor(), None),
]


@pytest.mark.parametrize("make, skip", FILLED)
def test_filled_and_ranges_match_torch(make, skip, torch):
    ours, theirs = make(convlab), make(torch)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
    if skip != "values":
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_filled_tensors_without_torch():
    assert convlab.zeros(2, 3).shape == (2, 3) and convlab.zeros(2, 3).dtype == convlab.float32
    assert convlab.full((2,), 3).dtype == convlab.int64
    assert convlab.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert convlab.arange(5).dtype == convlab.int64
    assert convlab.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert convlab.empty(3).tolist() == [0.0, 0.0, 0.0]  # zero-filled: programs stay repeatable
    assert convlab.Tensor(2, 3).shape == (2, 3)
    assert convlab.ones(2, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="arange: step must be nonzero"):
        convlab.arange(0, 3, 0)
    with pytest.raises(TypeError, match="sizes must be ints"):
        convlab.zeros(2.0, 3)
    assert convlab.FloatTensor([1, 2]).dtype == convlab.float32
    assert convlab.LongTensor(2).tolist() == [0, 0]  # zeros where PyTorch leaves memory as is
    with pytest.raises(TypeError, match="LongTensor\\(\\): expected a convlab.int64 tensor, got "
                                        "convlab.float32"):
        convlab.LongTensor(convlab.ones(2))


# ---- random -------------------------------------------------------------------------------------


def draws():
    return [convlab.rand(3), convlab.randn(2, 2), convlab.randint(0, 10, (4,)), convlab.randperm(5),
            convlab.rand_like(convlab.zeros(2)), convlab.randn_like(convlab.zeros(2)),
            convlab.empty(3).uniform_(), convlab.empty(2).normal_()]


def test_manual_seed_repeats_every_random_function():
    convlab.manual_seed(42)
    first = draws()
    convlab.manual_seed(42)
    again = draws()
    assert all(a.equal(b) for a, b in zip(first, again))
    convlab.manual_seed(43)
    assert not convlab.rand(3).equal(first[0])


def test_a_generator_argument_leaves_the_default_stream_alone():
    convlab.manual_seed(0)
    expected = convlab.rand(4)
    convlab.manual_seed(0)
    g = convlab.Generator(7)
    convlab.randn(3, generator=g)
    convlab.empty(3).uniform_(generator=g)
    assert convlab.rand(4).equal(expected)
    assert convlab.randn(3, generator=convlab.Generator(7)).equal(
        convlab.randn(3, generator=convlab.Generator(7)))


def test_state_round_trip():
    convlab.manual_seed(5)
    state = convlab.get_rng_state()
    a = convlab.randn(4)
    convlab.set_rng_state(state)
    assert convlab.randn(4).equal(a)
    assert convlab.initial_seed() == 5
    g = convlab.Generator(1)
    s = g.get_state()
    x = convlab.rand(2, generator=g)
    g.set_state(s)
    assert convlab.rand(2, generator=g).equal(x)
    assert convlab.manual_seed(2) is convlab.default_generator


def test_random_shapes_dtypes_and_ranges():
    u = convlab.rand(1000)
    assert u.dtype == convlab.float32 and ((u >= 0) & (u < 1)).all()
    n = convlab.randn(2000, dtype=convlab.float64)
    assert n.dtype == convlab.float64 and abs(n.mean().item()) < 0.1
    assert 0.9 < n.std().item() < 1.1
    assert convlab.randn((2, 3)).shape == (2, 3) and convlab.rand(()).shape == ()
    i = convlab.randint(3, 7, (500,))
    assert i.dtype == convlab.int64 and i.min().item() >= 3 and i.max().item() <= 6
    assert convlab.randint(5, (2, 2)).shape == (2, 2)
    p = convlab.randperm(10)
    assert p.dtype == convlab.int64 and sorted(p.tolist()) == list(range(10))
    assert convlab.randint_like(convlab.zeros(3, dtype=convlab.int32), 4).dtype == convlab.int32
    assert convlab.rand(2, requires_grad=True).requires_grad
