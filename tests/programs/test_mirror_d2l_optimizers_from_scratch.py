"""Mirrors four sections of d2l-ai/d2l-en's chapter_optimization: adagrad.md (commit
9ef48ae972d4361de6257529ac177899582cc177), rmsprop.md (commit
97ef68922e6f7e1a13213c716c8dc2b0d7bfe337), adadelta.md (commit
754fdecbbd26ac0330b744dab3a69f5a8fd06f8e) and adam.md (commit
b2d83e0f733bd3f37e7e28e4a19483fdb5f1e0c4). Each optimizer written from scratch as d2l writes it
(state tensors updated with ``s[:] = ...``, parameters with ``p[:] -= ...`` under ``no_grad``,
``p.grad.data.zero_()``), run on d2l's linear-regression training loop, and its "concise"
counterpart from ``torch.optim`` on the same data.

Cut to 64 synthetic samples of 5 features (d2l uses the airfoil data), batches of 8.
"""

import math

import numpy as np
import pytest

from harness import compare_runs


def init_states(torch, name, feature_dim):
    def zeros(*shape):
        return torch.zeros(*shape)

    if name in ("adagrad", "rmsprop"):
        return (zeros((feature_dim, 1)), zeros(1))
    return ((zeros((feature_dim, 1)), zeros((feature_dim, 1))), (zeros(1), zeros(1)))


def adagrad(torch, params, states, hyperparams):
    eps = 1e-6
    for p, s in zip(params, states):
        with torch.no_grad():
            s[:] += torch.square(p.grad)
            p[:] -= hyperparams["lr"] * p.grad / torch.sqrt(s + eps)
        p.grad.data.zero_()


def rmsprop(torch, params, states, hyperparams):
    gamma, eps = hyperparams["gamma"], 1e-6
    for p, s in zip(params, states):
        with torch.no_grad():
            s[:] = gamma * s + (1 - gamma) * torch.square(p.grad)
            p[:] -= hyperparams["lr"] * p.grad / torch.sqrt(s + eps)
        p.grad.data.zero_()


def adadelta(torch, params, states, hyperparams):
    rho, eps = hyperparams["rho"], 1e-5
    for p, (s, delta) in zip(params, states):
        with torch.no_grad():
            s[:] = rho * s + (1 - rho) * torch.square(p.grad)
            g = (torch.sqrt(delta + eps) / torch.sqrt(s + eps)) * p.grad
            p[:] -= g
            delta[:] = rho * delta + (1 - rho) * g * g
        p.grad.data.zero_()


def adam(torch, params, states, hyperparams):
    beta1, beta2, eps = 0.9, 0.999, 1e-6
    for p, (v, s) in zip(params, states):
        with torch.no_grad():
            v[:] = beta1 * v + (1 - beta1) * p.grad
            s[:] = beta2 * s + (1 - beta2) * torch.square(p.grad)
            v_bias_corr = v / (1 - beta1 ** hyperparams["t"])
            s_bias_corr = s / (1 - beta2 ** hyperparams["t"])
            p[:] -= hyperparams["lr"] * v_bias_corr / (torch.sqrt(s_bias_corr) + eps)
        p.grad.data.zero_()
    hyperparams["t"] += 1


SCRATCH = {"adagrad": (adagrad, {"lr": 0.1}), "rmsprop": (rmsprop, {"lr": 0.01, "gamma": 0.9}),
           "adadelta": (adadelta, {"rho": 0.9}), "adam": (adam, {"lr": 0.01, "t": 1})}
CONCISE = {"adagrad": ("Adagrad", {"lr": 0.1}), "rmsprop": ("RMSprop", {"lr": 0.01, "alpha": 0.9}),
           "adadelta": ("Adadelta", {"rho": 0.9}), "adam": ("Adam", {"lr": 0.01})}


def data(torch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 5)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0], dtype=np.float32) + 0.1).astype(np.float32)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    return torch.utils.data.DataLoader(dataset, batch_size=8)


def train_ch11(torch, name):
    trainer_fn, hyperparams = SCRATCH[name]
    hyperparams = dict(hyperparams)
    w = torch.normal(mean=0.0, std=0.01, size=(5, 1), requires_grad=True)
    with torch.no_grad():
        w.zero_()  # d2l draws w; zeroed here so that both libraries start alike
    b = torch.zeros((1), requires_grad=True)
    states = init_states(torch, name, 5)
    losses = []
    for epoch in range(2):
        for X, y in data(torch):
            l = ((torch.matmul(X, w) + b - y.reshape(-1, 1)) ** 2 / 2).mean()
            l.backward()
            trainer_fn(torch, [w, b], states, hyperparams)
            losses.append(l.item())
    return losses


def train_concise_ch11(torch, name):
    optimizer, hyperparams = CONCISE[name]
    net = torch.nn.Sequential(torch.nn.Linear(5, 1))

    def init_weights(module):
        if type(module) == torch.nn.Linear:  # noqa: E721 (d2l's test)
            torch.nn.init.normal_(module.weight, std=0.01)
            with torch.no_grad():
                module.weight.zero_()
                module.bias.zero_()

    net.apply(init_weights)
    trainer = getattr(torch.optim, optimizer)(net.parameters(), **hyperparams)
    loss = torch.nn.MSELoss(reduction="none")
    losses = []
    for epoch in range(2):
        for X, y in data(torch):
            trainer.zero_grad()
            out = net(X)
            y = y.reshape(out.shape)
            l = loss(out, y)
            l.mean().backward()
            trainer.step()
            losses.append(l.mean().item())
    return losses


@pytest.mark.parametrize("name", list(SCRATCH))
def test_from_scratch_and_concise(name):
    class Program:
        @staticmethod
        def run(torch):
            return {"from scratch": train_ch11(torch, name),
                    "concise": train_concise_ch11(torch, name)}

    ours = compare_runs(Program, rtol=1e-4, atol=1e-6)
    for curve in ours.values():  # the second epoch's mean loss below the first's
        assert np.mean(curve[8:]) < np.mean(curve[:8]) and not any(map(math.isnan, curve))
