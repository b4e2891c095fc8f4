"""The names a PyTorch script reaches for around the tensors: ``backends``, ``cuda``, ``utils``,
threads, print options, ``finfo``/``iinfo``."""

import subprocess
import sys

import numpy as np
import pytest

import convlab


def test_backend_switches_take_what_a_script_sets():
    import convlab.backends.cudnn as cudnn  # the idiom of many training scripts

    assert cudnn is convlab.backends.cudnn
    assert not cudnn.is_available() and cudnn.version() is None
    assert cudnn.enabled and not cudnn.benchmark and not cudnn.deterministic
    try:
        convlab.backends.cudnn.benchmark = True
        assert cudnn.benchmark
    finally:
        cudnn.benchmark = False
    assert not convlab.backends.mps.is_available() and not convlab.backends.mps.is_built()
    assert convlab.backends.cuda.matmul.allow_tf32 is False
    assert not convlab.cuda.is_available()


def test_utils_loads_on_first_use_and_the_core_leaves_data_alone():
    code = ("import sys, convlab as torch\n"
            "assert 'convlab.data' not in sys.modules\n"
            "assert torch.utils.data.DataLoader is __import__('convlab.data').data.DataLoader\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError, match="module 'convlab' has no attribute 'nothing'"):
        convlab.nothing  # noqa: B018


def test_set_num_threads_sets_the_engines_threads_and_the_blas_runs_one():
    from convlab.engine import parallel

    before = convlab.get_num_threads()
    try:
        convlab.set_num_threads(1)
        assert convlab.get_num_threads() == 1 == parallel.WORKERS
        threadpoolctl = pytest.importorskip("threadpoolctl")
        convlab.nn.functional.conv2d(convlab.ones(1, 1, 3, 3), convlab.ones(1, 1, 2, 2))
        blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
                and "numpy" in i["filepath"]]
        assert blas and all(i["num_threads"] == 1 for i in blas)
    finally:
        convlab.set_num_threads(before)
    with pytest.raises(RuntimeError, match="set_num_threads expects a positive integer"):
        convlab.set_num_threads(0)
    with pytest.raises(RuntimeError, match="set_num_threads expects an int, but got float"):
        convlab.set_num_threads(1.5)


def test_set_printoptions_is_the_printing_modules():
    try:
        convlab.set_printoptions(precision=2)
        assert repr(convlab.tensor([1.23456])) == "tensor([1.23])"
    finally:
        convlab.set_printoptions(profile="default")
    assert repr(convlab.tensor([1.23456])) == "tensor([1.2346])"


def test_is_floating_point():
    assert convlab.is_floating_point(convlab.ones(2, dtype=convlab.float16))
    assert not convlab.is_floating_point(convlab.ones(2, dtype=convlab.long))


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_matches_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = convlab.finfo(getattr(convlab, name)), torch.finfo(getattr(torch, name))
    for attribute in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution",
                      "dtype"):
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_matches_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = convlab.iinfo(getattr(convlab, name)), torch.iinfo(getattr(torch, name))
    for attribute in ("bits", "max", "min", "dtype"):
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    assert repr(ours) == repr(theirs)


def test_finfo_and_iinfo_without_torch():
    assert convlab.finfo() == convlab.finfo(convlab.float32)  # the default dtype
    assert convlab.finfo(convlab.float64).eps == np.finfo(np.float64).eps
    assert convlab.iinfo(convlab.int32).max == 2**31 - 1
    with pytest.raises(TypeError, match="finfo\\(\\) requires a floating point input type"):
        convlab.finfo(convlab.int64)
    with pytest.raises(TypeError, match="iinfo\\(\\) requires an integer input type"):
        convlab.iinfo(convlab.float32)
    with pytest.raises(TypeError, match="convlab.bool is not supported by convlab.iinfo"):
        convlab.iinfo(convlab.bool)


def test_backends_is_a_package_so_an_aliased_torch_imports_its_submodules():
    code = ("import sys, convlab\n"
            "sys.modules['torch'] = convlab\n"
            "import torch.backends.cudnn as cudnn\n"
            "import torch.backends.mps\n"
            "cudnn.benchmark = True\n"
            "assert convlab.backends.cudnn.benchmark and not torch.backends.mps.is_available()\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_accelerator_and_cuda_answer_no_device_as_torch_without_one():
    torch = pytest.importorskip("torch")
    for lib in (convlab, torch):
        assert lib.accelerator.is_available() is False
        assert lib.accelerator.current_accelerator() is None
        assert lib.accelerator.device_count() == 0
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is"):
            lib.accelerator.current_device_index()
        assert lib.cuda.is_initialized() is False and lib.cuda.memory_allocated() == 0
        assert lib.cuda.empty_cache() is None
        for call in (lib.cuda.current_device, lib.cuda.synchronize, lib.cuda.get_device_name):
            with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
                call()


def test_sinh_and_cosh_match_torch_with_gradients():
    torch = pytest.importorskip("torch")
    x = np.linspace(-3, 3, 7)
    for name in ("sinh", "cosh"):
        ours, theirs = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        a, b = getattr(convlab, name)(ours), getattr(torch, name)(theirs)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-14)
        (a * convlab.tensor(x)).sum().backward()
        (b * torch.tensor(x)).sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-14)


def test_normal_takes_torchs_four_forms():
    torch = pytest.importorskip("torch")
    cases = [lambda lib: lib.normal(0.0, 1.0, (2, 3)),
             lambda lib: lib.normal(lib.zeros(2, 1), lib.ones(3)),
             lambda lib: lib.normal(lib.zeros(4, dtype=lib.float64), 0.5),
             lambda lib: lib.normal(2.0, lib.ones(5))]
    for case in cases:
        ours, theirs = case(convlab), case(torch)
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
    sample = convlab.normal(3.0, 2.0, (20000,))
    assert abs(sample.mean().item() - 3.0) < 0.05 and abs(sample.std().item() - 2.0) < 0.05
    convlab.manual_seed(5)
    first = convlab.normal(0.0, 1.0, (3,))
    convlab.manual_seed(5)
    assert convlab.equal(first, convlab.normal(0.0, 1.0, (3,)))
    for lib, error in ((convlab, RuntimeError), (torch, RuntimeError)):
        with pytest.raises(error, match="normal expects std >= 0.0"):
            lib.normal(lib.zeros(2), -1.0)
    for lib in (convlab, torch):
        with pytest.raises(TypeError):
            lib.normal(0.0, 1.0)


def test_functions_take_numpys_axis_and_keepdims_as_torch_does():
    torch = pytest.importorskip("torch")
    x = np.arange(12.0).reshape(3, 4)
    for call in (lambda lib, t: lib.argmax(t, axis=1), lambda lib, t: lib.sum(t, axis=0),
                 lambda lib, t: lib.mean(t, axis=1, keepdims=True),
                 lambda lib, t: lib.amax(t, axis=0, keepdims=True)):
        ours, theirs = call(convlab, convlab.tensor(x)), call(torch, torch.tensor(x))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(TypeError, match="got both 'dim' and its alias 'axis'"):
        convlab.sum(convlab.tensor(x), dim=0, axis=0)


def test_creation_takes_the_shape_as_size_keyword_as_torch():
    torch = pytest.importorskip("torch")
    for name in ("rand", "randn", "zeros", "ones", "empty"):
        for lib in (convlab, torch):
            assert tuple(getattr(lib, name)(size=(8, 8)).shape) == (8, 8), name
            with pytest.raises(TypeError):
                getattr(lib, name)(2, size=(2,))
