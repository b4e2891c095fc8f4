"""Adadelta, Adagrad, Adamax, NAdam, RAdam, ASGD and Rprop take the same steps as torch.optim's,
step by step, state included (the harness is test_optimizers.Pair)."""

import numpy as np
import pytest

import convlab
from test_optimizers import Pair

torch = pytest.importorskip("torch")

CASES = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3)),
    ("Adagrad", dict(lr=0.1, eps=1e-3, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-4, weight_decay=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.5, 0.6), weight_decay=0.1)),  # rho_t > 5 from step 2 on
    ("RAdam", dict(lr=0.01, betas=(0.5, 0.6), weight_decay=0.1, decoupled_weight_decay=True,
                   maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=2, weight_decay=0.1, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(0.05, 0.2), maximize=True)),
]


def _ids(case):
    name, kwargs = case
    return name + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_steps_match_torch(case, dtype):
    pair = Pair(*case, dtype)
    pair.check()  # Adagrad's state exists before the first step
    for k in range(8):
        pair.step(k)
        pair.check()


@pytest.mark.parametrize("name", ["Adagrad", "NAdam", "ASGD", "Rprop"])
def test_param_groups_and_a_group_added_later_match_torch(name):
    pair = Pair(name, dict(lr=0.02), np.float64, groups=[([0], dict(lr=0.05)), ([1], {})])
    pair.step(0)
    pair.c_opt.add_param_group({"params": pair.c[2], "lr": 0.1})
    pair.t_opt.add_param_group({"params": pair.t[2], "lr": 0.1})
    for k in range(1, 5):
        pair.step(k)
        pair.check()


@pytest.mark.parametrize("name, kwargs", [
    ("Adadelta", dict(rho=1.5)), ("Adagrad", dict(lr_decay=-1)), ("Adamax", dict(betas=(1, 0))),
    ("NAdam", dict(momentum_decay=-1)), ("RAdam", dict(eps=-1)), ("ASGD", dict(lr=-1)),
    ("Rprop", dict(etas=(1.5, 2.0)))])
def test_bad_options_raise_value_error_like_torch(name, kwargs):
    with pytest.raises(ValueError):
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match="Invalid"):
        getattr(convlab.optim, name)([convlab.zeros(2, requires_grad=True)], **kwargs)
