"""Dataset, TensorDataset, Subset, ConcatDataset, random_split, samplers, collate and DataLoader,
compared with torch.utils.data where it applies."""

from collections import namedtuple

import numpy as np
import pytest

import convlab
from convlab.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, RandomSampler,
                          SequentialSampler, Subset, SubsetRandomSampler, TensorDataset,
                          WeightedRandomSampler, default_collate, random_split)

@pytest.fixture
def tdata(torch):
    from torch.utils import data
    return data


def same(ours, theirs):
    """Our collated structure equals torch's: same containers, dtypes, shapes and values."""
    if type(theirs).__name__ == "Tensor":
        assert isinstance(ours, convlab.Tensor), type(ours)
        assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and ours.keys() == theirs.keys()
        for key in theirs:
            same(ours[key], theirs[key])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            same(a, b)
    else:
        assert ours == theirs


Point = namedtuple("Point", "x y")


@pytest.mark.parametrize("batch", [
    [1, 2, 3],
    [0.5, 1.5],
    [True, False],
    [np.float32(1.5), np.float32(2)],
    [np.int16(3), np.int16(4)],
    [np.arange(6, dtype=np.uint8).reshape(2, 3), np.ones((2, 3), np.uint8)],
    [np.array(3.0), np.array(4.0)],
    ["a", "b"],
    [(1, 2.0, "s"), (3, 4.0, "t")],
    [[1, 2], [3, 4]],
    [{"x": 1, "y": np.zeros(2, np.float32)}, {"x": 2, "y": np.ones(2, np.float32)}],
    [Point(1, 2.0), Point(3, 4.0)],
])
def test_default_collate_matches_torch(batch, tdata):
    same(default_collate(batch), tdata.default_collate(batch))


def test_default_collate_stacks_tensors(torch, tdata):
    a, b = convlab.tensor([[1.0, 2.0]]), convlab.tensor([[3.0, 4.0]])
    same(default_collate([a, b]), tdata.default_collate([torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0]])]))


@pytest.mark.parametrize("batch, error, message", [
    ([np.zeros(2), np.zeros(3)], ValueError,
     r"cannot stack samples of different shapes: sample 0 has shape \(2,\), sample 1 has shape \(3,\)"),
    ([(1, 2), (3,)], ValueError, r"same number of fields, but got \[2, 1\]"),
    ([object(), object()], TypeError, "batch must contain tensors, numpy arrays, numbers, dicts or lists"),
    ([np.array(["a"]), np.array(["b"])], TypeError, "found an array of dtype <U1"),
    ([], ValueError, "the batch is empty"),
])
def test_default_collate_errors(batch, error, message):
    with pytest.raises(error, match=message):
        default_collate(batch)


def test_tensor_dataset_items_and_errors():
    x = convlab.tensor(np.arange(12.0, dtype=np.float32).reshape(4, 3))
    y = np.array([0, 1, 0, 1])
    ds = TensorDataset(x, y)
    assert len(ds) == 4
    xi, yi = ds[2]
    assert xi.tolist() == [6.0, 7.0, 8.0] and yi.dtype == convlab.int64 and yi.item() == 0
    assert isinstance(ds.tensors[1], convlab.Tensor)
    with pytest.raises(ValueError, match="same size in their first dimension, but got sizes 4, 3"):
        TensorDataset(x, convlab.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="argument 1 must be a Tensor or NumPy array"):
        TensorDataset(x, [1, 2, 3, 4])
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()


@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                                       (2, 5, False), (2, 5, True)])
def test_loader_batches_match_torch(n, batch_size, drop_last, torch, tdata):
    x = np.random.default_rng(0).standard_normal((n, 2, 3)).astype(np.float32)
    y = np.arange(n)
    ours = DataLoader(TensorDataset(convlab.from_numpy(x), convlab.from_numpy(y)), batch_size=batch_size,
                      drop_last=drop_last)
    theirs = tdata.DataLoader(tdata.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                              batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    got, want = list(ours), list(theirs)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        same(a, b)


class Squares(Dataset):
    """A map-style dataset without whole-batch access: item i is (i*i as float32 array, i)."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.full((2,), i * i, dtype=np.float32), i


def test_loader_over_plain_dataset_and_custom_collate(tdata):
    ours = list(DataLoader(Squares(), batch_size=3))
    theirs = list(tdata.DataLoader(Squares(), batch_size=3))
    for a, b in zip(ours, theirs):
        same(a, b)
    sizes = [len(batch) for batch in DataLoader(Squares(), batch_size=3, collate_fn=list)]
    assert sizes == [3, 3, 1]


def test_whole_array_batches_equal_item_by_item_batches():
    convlab.manual_seed(3)
    ds = Subset(TensorDataset(convlab.randn(50, 1, 4, 4), convlab.arange(50)), list(range(5, 45)))
    fast = list(DataLoader(ds, batch_size=16))
    slow = list(DataLoader(ds, batch_size=16, collate_fn=lambda b: default_collate(b)))
    for a, b in zip(fast, slow):
        for ta, tb in zip(a, b):
            assert ta.dtype == tb.dtype
            np.testing.assert_array_equal(ta.numpy(), tb.numpy())


def test_unbatched_loader_and_batch_sampler(torch, tdata):
    x = np.arange(6.0).reshape(3, 2)
    ours = list(DataLoader(TensorDataset(x), batch_size=None))
    theirs = list(tdata.DataLoader(tdata.TensorDataset(torch.from_numpy(x)), batch_size=None))
    for a, b in zip(ours, theirs):
        same(a, b)
    loader = DataLoader(Squares(), batch_sampler=[[0, 6], [2]])
    assert len(loader) == 2 and [b[1].tolist() for b in loader] == [[0, 6], [2]]


def test_loader_argument_errors():
    ds = Squares()
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, shuffle=True, sampler=SequentialSampler(ds))
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_size=4, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got batch_size=0"):
        DataLoader(ds, batch_size=0)


def test_shuffle_is_a_permutation_each_epoch_and_repeatable_under_manual_seed():
    ds = TensorDataset(convlab.arange(100))
    loader = DataLoader(ds, batch_size=32, shuffle=True)

    def epoch():
        return np.concatenate([b[0].numpy() for b in loader]).tolist()

    convlab.manual_seed(0)
    first, second = epoch(), epoch()
    assert sorted(first) == list(range(100)) and first != second and first != list(range(100))
    convlab.manual_seed(0)
    assert epoch() == first and epoch() == second
    convlab.manual_seed(1)
    assert epoch() != first


def test_loader_generator_is_independent_of_the_global_one():
    ds = TensorDataset(convlab.arange(20))

    def epoch(seed):
        g = convlab.Generator().manual_seed(5)
        convlab.manual_seed(seed)
        return [b[0].tolist() for b in DataLoader(ds, batch_size=20, shuffle=True, generator=g)]

    assert epoch(0) == epoch(1)


def test_generator_state_resumes_the_shuffle():
    ds = TensorDataset(convlab.arange(30))
    g = convlab.Generator().manual_seed(7)
    loader = DataLoader(ds, batch_size=30, shuffle=True, generator=g)
    next(iter(loader))
    state = g.get_state()
    after = next(iter(loader))[0].tolist()
    g.set_state(state)
    assert next(iter(loader))[0].tolist() == after


@pytest.mark.parametrize("n, lengths", [(10, [0.33, 0.33, 0.34]), (7, [0.33, 0.33, 0.34]),
                                        (7, [0.5, 0.5]), (10, [0.7, 0.3]), (7, [0.7, 0.3]),
                                        (10, [3, 3, 4]), (7, [1.0]), (5, [0.1, 0.3, 0.6])])
def test_random_split_lengths_match_torch(n, lengths, tdata):
    ours = random_split(range(n), lengths)
    theirs = tdata.random_split(range(n), lengths)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s) == list(range(n))


def test_random_split_is_repeatable_and_checked():
    g = convlab.Generator().manual_seed(0)
    a = [list(s) for s in random_split(range(10), [4, 6], generator=g)]
    g.manual_seed(0)
    assert [list(s) for s in random_split(range(10), [4, 6], generator=g)] == a
    convlab.manual_seed(2)
    b = [s.indices for s in random_split(range(10), [0.5, 0.5])]
    convlab.manual_seed(2)
    assert [s.indices for s in random_split(range(10), [0.5, 0.5])] == b
    with pytest.raises(ValueError, match=r"sum of input lengths \(3 \+ 3 = 6\) does not equal the length "
                                         r"of the input dataset \(10\)"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match=r"lengths\[0\] = 0.5"):
        random_split(range(10), [0.5, 0.4])
    with pytest.warns(UserWarning, match="length of split at index 1 is 0"):
        random_split(range(1), [0.5, 0.5])


def test_subset_and_concat(tdata):
    base = TensorDataset(convlab.arange(10))
    sub = Subset(base, [7, 2, 5])
    assert len(sub) == 3 and sub[0][0].item() == 7
    both = base + sub
    assert isinstance(both, ConcatDataset) and len(both) == 13
    assert both[10][0].item() == 7 and both[-1][0].item() == 5 and both[9][0].item() == 9
    assert both.cumulative_sizes == tdata.ConcatDataset([range(10), range(3)]).cumulative_sizes
    with pytest.raises(IndexError, match="index 13 is out of range for length 13"):
        both[13]
    batches = [b[0].tolist() for b in DataLoader(both, batch_size=5)]
    assert batches == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [7, 2, 5]]


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    convlab.manual_seed(0)
    order = list(RandomSampler(range(6)))
    assert sorted(order) == list(range(6))
    draws = list(RandomSampler(range(3), replacement=True, num_samples=10))
    assert len(draws) == 10 and set(draws) <= {0, 1, 2}
    counts = np.bincount(list(RandomSampler(range(3), num_samples=7)))  # 2 passes + 1 draw
    assert sorted(counts.tolist()) == [2, 2, 3]
    assert sorted(SubsetRandomSampler([4, 8, 9])) == [4, 8, 9]
    assert len(BatchSampler(range(10), 4, drop_last=True)) == 2
    assert len(BatchSampler(range(10), 4, drop_last=False)) == 3
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler(range(3), num_samples=0)


def test_weighted_random_sampler_balances_classes():
    labels = np.array([0] * 90 + [1] * 10)
    sampler = WeightedRandomSampler(1.0 / np.bincount(labels)[labels], num_samples=4000)
    drawn = labels[list(sampler)]
    assert len(sampler) == len(drawn) == 4000
    assert abs(drawn.mean() - 0.5) < 0.05  # the 10% class now comes up half the time
    once = list(WeightedRandomSampler([0.0, 1.0, 2.0, 3.0], 3, replacement=False))
    assert sorted(once) == [1, 2, 3]  # each sample of non-zero weight, once
    g = convlab.Generator(5)
    first = list(WeightedRandomSampler([1, 2, 3], 8, generator=g))
    assert first == list(WeightedRandomSampler([1, 2, 3], 8, generator=convlab.Generator(5)))
    loader = DataLoader(TensorDataset(convlab.from_numpy(labels)), batch_size=10,
                        sampler=WeightedRandomSampler(np.ones(100), 30))
    assert [len(b[0]) for b in loader] == [10, 10, 10]


@pytest.mark.parametrize("args,message", [
    (([1.0, 2.0], 0), "num_samples should be a positive integer"),
    (([[1.0, 2.0]], 2), "weights should be a 1d sequence"),
    (([1.0, -2.0], 2), "non-negative"),
    (([0.0, 1.0], 2, False), "cannot draw 2 samples without replacement from 1"),
])
def test_weighted_random_sampler_errors(args, message):
    with pytest.raises(ValueError, match=message):
        WeightedRandomSampler(*args)
