"""Shared test setup: ``tests/`` on ``sys.path`` (so tests can ``from gradcheck import gradcheck``),
PyTorch (the oracle, where installed) on one thread, and a fresh seed for every test."""

import pathlib
import sys

import pytest

import convlab

sys.path.insert(0, str(pathlib.Path(__file__).parent))

try:
    import torch
except ImportError:
    pass
else:
    # PyTorch's worker threads spin while they wait: on a 2-core machine they fight the test
    # process for the cores, and the suite takes twice as long.
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def seed():
    """Every test starts from ``convlab.manual_seed(0)``: random inputs repeat run to run."""
    convlab.manual_seed(0)
    return 0
