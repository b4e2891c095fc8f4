"""Shared test setup: ``tests/`` on ``sys.path`` (so tests can ``from gradcheck import gradcheck``)
and a fresh seed for every test."""

import pathlib
import sys

import pytest

import convlab

sys.path.insert(0, str(pathlib.Path(__file__).parent))


@pytest.fixture(autouse=True)
def seed():
    """Every test starts from ``convlab.manual_seed(0)``: random inputs repeat run to run."""
    convlab.manual_seed(0)
    return 0
