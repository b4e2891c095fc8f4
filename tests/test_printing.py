"""tensor_repr against PyTorch's own repr: hand-picked cases for each rule, then a hypothesis sweep.

PyTorch is the oracle: `repr(torch.from_numpy(a))`, with `torch.` spelled `convlab.`. One thing
differs by design: `dtype=convlab.float64` is 2 characters longer than `dtype=torch.float64`, and
convlab applies PyTorch's line-fitting rule to its own text, so near the end of a line the dtype
suffix can go to a new line where PyTorch's stays (`test_dtype_suffix_fits_convlab_spelling`).
The oracle comparisons therefore read a new line before `dtype=` as a space.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from convlab._printing import get_printoptions, set_printoptions, tensor_repr, tensor_str

inf, nan = math.inf, math.nan


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def default_printoptions():
    yield
    set_printoptions(profile="default")
    try:
        import torch
    except ImportError:
        return
    torch.set_printoptions(profile="default")


def set_both(torch, **options):
    torch.set_printoptions(**options)
    set_printoptions(**options)


def torch_repr(torch, a: np.ndarray, requires_grad=False) -> str:
    t = torch.from_numpy(a)
    if requires_grad:
        t.requires_grad_()
    return repr(t).replace("torch.", "convlab.")


def unwrap_dtype(text: str) -> str:
    return text.replace(",\n       dtype=", ", dtype=")


def assert_prints_as_torch(torch, a: np.ndarray):
    assert unwrap_dtype(tensor_repr(a, [])) == unwrap_dtype(torch_repr(torch, a))


def f32(values):
    return np.array(values, np.float32)


HAND_PICKED = {
    # notation: whole numbers, fixed point, scientific
    "whole floats share one width": f32([[2., 4., 6.], [-1., 0., 10.]]),
    "fixed point": f32([0.5, 1.25, -3.]),
    "ratio 1000 stays fixed": f32([1., 1000.]),
    "ratio above 1000 goes scientific": f32([1., 1001.]),
    "1e8 whole stays fixed": np.array([1e8, 1.]),
    "above 1e8 goes scientific": np.array([1e10, 1.]),
    "small goes scientific": f32([1e-5, 1.5]),
    "small whole-mode zero": f32([0., 1e-5]),
    "precision rounds": np.array([0.123456, 2.00005]),
    # non-finite values and zeros take no part in the width
    "inf and nan": f32([inf, -inf, nan, 1.5]),
    "nan wider than whole": f32([nan, 1.]),
    "inf beside scientific": f32([inf, 1e10]),
    "only zeros": f32([0., 0.]),
    "only nan": f32([nan, nan]),
    "only infinities": f32([inf, -inf]),
    "negative zero whole": f32([-0., 1.]),
    "negative zero fixed": f32([-0., 0.5]),
    "negative zero scientific": f32([-0., 1e-5]),
    # 0-d tensors
    "0-d float": np.array(3., np.float32),
    "0-d float64": np.array(2.5),
    "0-d small": np.array(1e-5, np.float32),
    "0-d nan": np.array(nan, np.float32),
    "0-d negative zero": np.array(-0., np.float32),
    "0-d bool": np.array(True),
    "0-d int64": np.array(3),
    "0-d int8": np.array(-3, np.int8),
    # other dtypes
    "bool": np.array([[True, False], [False, False]]),
    "int64 negative": np.array([-5, 100]),
    "int64 huge": np.array([2 ** 62, -3]),
    "int32": np.array([[1, -20], [300, 4]], np.int32),
    "int16": np.array([7], np.int16),
    "uint8": np.array([0, 255], np.uint8),
    "float16": np.array([1.5, 2.25, 65504.], np.float16),
    "float16 whole": np.array([1., -2.], np.float16),
    # empty tensors
    "empty float32": np.zeros(0, np.float32),
    "empty float64": np.zeros(0),
    "empty int64": np.zeros(0, np.int64),
    "empty bool": np.zeros(0, bool),
    "empty 2-D float32": np.zeros((0, 3), np.float32),
    "empty 2-D float64": np.zeros((0, 3)),
    "empty 3-D int32": np.zeros((2, 0, 3), np.int32),
    # line wrapping and nesting
    "long row wraps": np.arange(30.),
    "long fixed row wraps": np.arange(25.) * 1.5,
    "long int row wraps": np.arange(100) * 1000,
    "2-D rows wrap": np.arange(60, dtype=np.float32).reshape(2, 30) / 7,
    "3-D blank lines": np.arange(24, dtype=np.float32).reshape(2, 3, 4),
    "4-D two blank lines": np.arange(24).reshape(2, 3, 2, 2),
    "3-D rows wrap": np.arange(120, dtype=np.float32).reshape(2, 2, 30) * 100,
    # summarization above 1000 elements
    "1-D summarized": np.arange(2000, dtype=np.float32),
    "1-D summarized just over": np.arange(1001),
    "1-D at threshold": np.arange(1000, dtype=np.float32),
    "2-D summarized": np.arange(2000, dtype=np.float32).reshape(20, 100),
    "2-D summarized short dim 0": np.arange(1200, dtype=np.float32).reshape(3, 400),
    "2-D summarized short rows": np.arange(1200, dtype=np.float32).reshape(400, 3),
    "3-D summarized": np.arange(2000, dtype=np.float32).reshape(2, 10, 100),
    "4-D summarized": np.arange(1200.).reshape(4, 5, 6, 10),
    "summarized width from shown values only": np.concatenate([[1.], np.full(1000, 1e12), [2.]]),
    "bool summarized": np.arange(1500) % 3 == 0,
}


@pytest.mark.parametrize("a", HAND_PICKED.values(), ids=HAND_PICKED.keys())
def test_hand_picked(torch, a):
    assert_prints_as_torch(torch, a)


OPTIONS = {
    "precision 2": dict(precision=2),
    "precision 7": dict(precision=7),
    "precision 0": dict(precision=0),
    "sci_mode on": dict(sci_mode=True),
    "sci_mode off": dict(sci_mode=False),
    "threshold 5": dict(threshold=5),
    "edgeitems 1": dict(edgeitems=1),
    "edgeitems 0": dict(edgeitems=0),
    "edgeitems 0 small": dict(edgeitems=0, threshold=10000),
    "linewidth 40": dict(linewidth=40),
    "linewidth 10": dict(linewidth=10),
    "profile short": dict(profile="short"),
    "profile full": dict(profile="full"),
    "profile full, precision 6": dict(profile="full", precision=6),
}
OPTION_ARRAYS = [np.arange(2000, dtype=np.float32).reshape(20, 100) / 3, np.arange(30.) * 1.5,
                 f32([1e-5, 1.5, 0.]), f32([1e10, 1., 0.]), f32([0., 0.]), np.arange(12).reshape(3, 4),
                 np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.array(1e-5)]


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
@pytest.mark.parametrize("a", OPTION_ARRAYS, ids=range(len(OPTION_ARRAYS)))
def test_printoptions(torch, options, a):
    set_both(torch, **options)
    assert_prints_as_torch(torch, a)


def test_printoptions_defaults_and_profiles():
    defaults = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
    assert get_printoptions() == defaults
    set_printoptions(sci_mode=True)
    set_printoptions(precision=2)  # every call sets sci_mode, as in PyTorch
    assert get_printoptions() == {**defaults, "precision": 2}
    set_printoptions(profile="short")
    assert get_printoptions() == {**defaults, "precision": 2, "edgeitems": 2}
    set_printoptions(profile="full", linewidth=100)
    assert get_printoptions() == {**defaults, "threshold": math.inf, "linewidth": 100}
    get_printoptions()["precision"] = 9
    assert get_printoptions()["precision"] == 4


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="profile.*'long'"):
        set_printoptions(profile="long")


# suffixes: the caller's after size= and dtype=, each on a new line when it does not fit

def test_requires_grad_suffix():
    assert tensor_repr(f32([1., 2.]), ["requires_grad=True"]) == "tensor([1., 2.], requires_grad=True)"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3,), (13,), (10, 10), (2, 3, 4), (2000,)])
def test_requires_grad_like_torch(torch, dtype, shape):
    a = np.arange(math.prod(shape), dtype=dtype).reshape(shape)
    expected = torch_repr(torch, a, requires_grad=True)
    assert unwrap_dtype(tensor_repr(a, ["requires_grad=True"])) == unwrap_dtype(expected)


@pytest.mark.parametrize("n", [1, 5, 12, 13, 14, 15, 16, 18, 19, 20])
def test_grad_fn_like_torch(torch, n):
    a = np.arange(n, dtype=np.float32)
    t = torch.from_numpy(a).requires_grad_() * 1
    assert tensor_repr(a, ["grad_fn=<MulBackward0>"]) == repr(t)


@pytest.mark.parametrize("linewidth", range(20, 95))
def test_suffix_lines_like_torch(torch, linewidth):
    # edgeitems=0 adds `size=`, so two suffixes of the same spelling in both libraries
    set_both(torch, linewidth=linewidth, edgeitems=0, threshold=10000)
    a = np.arange(1., 14., dtype=np.float32)
    assert tensor_repr(a, ["requires_grad=True"]) == torch_repr(torch, a, requires_grad=True)


def test_dtype_suffix_fits_convlab_spelling(torch):
    # the values end at column 55, 56 and 57: `dtype=torch.float64` fits on the line each time,
    # `dtype=convlab.float64` only the first time
    fits = np.full(12, 1.)
    assert tensor_repr(fits, []) == torch_repr(torch, fits)
    assert tensor_repr(fits, []).endswith("1., 1.], dtype=convlab.float64)")
    for a in np.full(7, 1111.), np.full(10, 11.):
        assert ", dtype=convlab.float64)" in torch_repr(torch, a)
        assert tensor_repr(a, []).endswith(".],\n       dtype=convlab.float64)")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64])
@pytest.mark.parametrize("shape", [(2,), (0,), (0, 2)])
def test_default_float64(torch, dtype, shape):
    a = np.ones(shape, dtype)
    torch.set_default_dtype(torch.float64)
    try:
        expected = torch_repr(torch, a)
    finally:
        torch.set_default_dtype(torch.float32)
    assert tensor_repr(a, [], default_float=np.float64) == expected


def test_tensor_str_is_the_values():
    a = np.arange(6.).reshape(2, 3)
    assert tensor_str(a) == "[[0., 1., 2.],\n [3., 4., 5.]]"
    assert tensor_repr(a, []) == "tensor(" + tensor_str(a, indent=7) + ", dtype=convlab.float64)"


# the sweep: any shape up to 4-D, every dtype, values of every kind, and print options that make
# small tensors cross the threshold

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]
MAX_SIDE = {0: 1, 1: 40, 2: 12, 3: 8, 4: 6}  # 6**4 = 1296 crosses the default threshold
SPECIAL = st.sampled_from([0., -0., inf, -inf, nan])
FLOAT_KINDS = {
    "whole": st.integers(-1000, 1000).map(float),
    "unit": st.floats(-1, 1),
    "large": st.floats(1e6, 1e12) | st.floats(-1e12, -1e6),
    "small": st.floats(1e-9, 1e-3) | st.floats(-1e-3, -1e-9),
    "mixed": st.floats(allow_nan=False, allow_infinity=False),
    "with specials": st.floats(-10, 10) | SPECIAL,
    "whole with specials": st.integers(-50, 50).map(float) | SPECIAL,
}


@st.composite
def tensors(draw) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    ndim = draw(st.integers(0, 4))
    shape = draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=0, max_side=MAX_SIDE[ndim]))
    if dtype.kind == "b":
        return draw(hnp.arrays(dtype, shape, elements=st.booleans()))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return draw(hnp.arrays(dtype, shape, elements=st.integers(int(info.min), int(info.max))))
    values = draw(hnp.arrays(np.float64, shape, elements=FLOAT_KINDS[draw(st.sampled_from(list(FLOAT_KINDS)))]))
    with np.errstate(over="ignore"):  # float16 overflows to inf, as a conversion does in PyTorch
        return values.astype(dtype)


OPTION_DRAWS = st.fixed_dictionaries({}, optional={
    "precision": st.integers(0, 8),
    "threshold": st.integers(1, 60),
    "edgeitems": st.integers(0, 4),
    "linewidth": st.integers(20, 120),
    "sci_mode": st.booleans(),
})


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(a=tensors(), options=OPTION_DRAWS)
def test_sweep(torch, a, options):
    set_both(torch, profile="default", **options)
    assert_prints_as_torch(torch, a)
