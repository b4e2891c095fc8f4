"""The transforms' data test (engine/conditioning.py): the compiled largest magnitude equals
NumPy's, NaN and inf are found wherever they lie, and both paths make the same decisions."""

import numpy as np
import pytest
from jit_paths import PATHS, engine_path

import convlab
from convlab.engine import conditioning, jit

DTYPES = [np.float32, np.float64]
# below and above jit.SERIAL_BELOW: the serial loop and the threaded one
SIZES = [1, 7, 4096, 5000, jit.SERIAL_BELOW + 3, 3 * jit.SERIAL_BELOW + 1]


def _field(size, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(size).astype(dtype)
    a[::5] = 0
    a[1::7] = -0.0
    return a


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("threads", [1, 2])
def test_the_compiled_largest_magnitude_is_numpys(dtype, size, threads):
    a = _field(size, dtype)
    a[size // 2] = -np.finfo(dtype).max  # the largest finite magnitude, negative
    tiny = np.finfo(dtype).smallest_subnormal
    b = np.full(size, -tiny, dtype)  # subnormals only
    previous = convlab.get_num_threads()
    convlab.set_num_threads(threads)
    try:
        for x in (a, b, np.zeros(size, dtype), -np.zeros(size, dtype)):
            with engine_path("compiled"):
                compiled = conditioning.largest_magnitude(x)
            with engine_path("numpy"):
                plain = conditioning.largest_magnitude(x)
            assert compiled == plain == np.abs(x).max()
    finally:
        convlab.set_num_threads(previous)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_found_wherever_they_lie(path, dtype, bad):
    size = 2 * jit.SERIAL_BELOW + 6
    for at in (0, 1, size // 2, size - 1):
        a = _field(size, dtype)
        a[at] = bad
        with engine_path(path):
            peak = conditioning.largest_magnitude(a)
            assert not conditioning.well_scaled(a.reshape(2, -1))
        assert np.isnan(peak) if np.isnan(bad) else peak == np.inf


def test_the_empty_array_has_no_magnitude():
    assert conditioning.largest_magnitude(np.zeros((0, 3), np.float32)) == 0.0
    assert conditioning.well_scaled(np.zeros((0, 3), np.float32))


def _cases():
    """Arrays on both sides of the bound, contiguous and not, with runs of zeros."""
    rng = np.random.default_rng(4)
    normal = rng.standard_normal((8, 16, 20, 20)).astype(np.float32)
    relu = np.maximum(normal, 0)
    cases = [normal, relu, normal.transpose(0, 2, 3, 1), relu[:, ::2], normal[:1, :1, :4, :4],
             np.zeros((4, 4, 40, 40), np.float32), normal.astype(np.float64)]
    for spread in (100.0, 2.0 ** 14):
        spiked = normal.copy()
        spiked[3, 5, 7, 11] = spread * np.median(np.abs(normal))
        cases.append(spiked)
    mostly_zero = np.zeros((16, 16, 20, 20), np.float32)
    mostly_zero.reshape(-1)[100] = 1.0  # between the sample's first two runs
    cases.append(mostly_zero)
    return cases


def test_both_paths_decide_alike():
    decisions = []
    for path in PATHS:
        with engine_path(path):
            decisions.append([conditioning.well_scaled(a) for a in _cases()])
    assert decisions[0] == decisions[1]
    # normal, ReLU'd, transposed, strided, small, zeros, float64, spread 100, spread 2**14, a
    # one among zeros (no typical value in the sample)
    assert decisions[0] == [True, True, True, True, True, True, True, True, False, False]


def test_the_sample_spans_the_array():
    a = np.arange(100_000, dtype=np.float32)
    sample = conditioning._sample(a)
    assert sample.size == conditioning.SAMPLE
    assert sample[0] == 0 and sample[-1] > 0.99 * a.size  # the first and the last runs
    runs = sample.reshape(conditioning.RUNS, -1)
    assert (np.diff(runs, axis=1) == 1).all()  # each run contiguous
    assert np.isin(sample, a).all()
