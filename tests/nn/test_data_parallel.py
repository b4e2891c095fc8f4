"""nn.DataParallel as PyTorch's without GPUs: wraps, forwards, prefixes state_dict keys."""

import numpy as np
import pytest

import convlab

torch = pytest.importorskip("torch")


def test_data_parallel_wraps_and_forwards_as_torch_without_gpus():
    torch.manual_seed(0)  # the weights below are PyTorch's own initialization
    ours = convlab.nn.DataParallel(convlab.nn.Sequential(convlab.nn.Linear(3, 2),
                                                         convlab.nn.ReLU()))
    theirs = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU()))
    assert repr(ours) == repr(theirs)
    assert ours.device_ids == theirs.device_ids == []
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: convlab.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(convlab.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6,
                               atol=1e-7)  # a ReLU output near 0 has no relative precision
    assert convlab.nn.parallel.DataParallel is convlab.nn.DataParallel
    with pytest.raises(TypeError, match="DataParallel wraps a Module"):
        convlab.nn.DataParallel(lambda x: x)
