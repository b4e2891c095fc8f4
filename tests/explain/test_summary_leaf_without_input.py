"""summary on a model whose forward calls a leaf module with no argument: a clear error naming the
layer (it was an IndexError from inside the forward hook)."""

import pytest

import convlab
from convlab import nn
from convlab.explain.summary import summary


class _Bias(nn.Module):
    """A leaf that makes a value from nothing: forward takes no tensor."""

    def forward(self):
        return convlab.ones(1)


class _Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bias = _Bias()

    def forward(self, x):
        return self.conv(x) + self.bias()


def test_a_leaf_called_with_no_argument_is_named():
    with pytest.raises(ValueError, match=r"layer 'bias' \(_Bias\) was called with no argument"):
        summary(_Model(), (1, 1, 5, 5))
