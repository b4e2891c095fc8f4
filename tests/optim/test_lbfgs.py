"""LBFGS takes PyTorch's steps: the same parameters after each step(closure), with and without
the strong-Wolfe line search, over several steps that reuse the history."""

import numpy as np
import pytest

import convlab

torch = pytest.importorskip("torch")


def _problem(lib, dtype):
    """A small least-squares fit with a non-quadratic term: the parameters and a closure."""
    rng = np.random.default_rng(0)
    X = lib.tensor(rng.standard_normal((20, 4)).astype(dtype))
    y = lib.tensor(rng.standard_normal((20, 1)).astype(dtype))
    w = lib.tensor(rng.standard_normal((4, 1)).astype(dtype), requires_grad=True)
    b = lib.tensor(np.zeros(1, dtype), requires_grad=True)

    def make_closure(optimizer):
        def closure():
            optimizer.zero_grad()
            pred = X @ w + b
            loss = ((pred - y) ** 2).mean() + 0.1 * (w ** 4).sum()
            loss.backward()
            return loss
        return closure

    return [w, b], make_closure


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("kwargs", [dict(), dict(lr=0.5, max_iter=5, history_size=3),
                                    dict(line_search_fn="strong_wolfe"),
                                    dict(line_search_fn="strong_wolfe", max_iter=4,
                                         history_size=2)])
def test_steps_match_torch(kwargs, dtype, tol):
    ours, our_closure = _problem(convlab, dtype)
    theirs, their_closure = _problem(torch, dtype)
    a = convlab.optim.LBFGS(ours, **kwargs)
    b = torch.optim.LBFGS(theirs, **kwargs)
    for _ in range(3):
        la, lb = a.step(our_closure(a)), b.step(their_closure(b))
        assert la.item() == pytest.approx(lb.item(), rel=tol)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=tol,
                                       atol=tol)
    assert a.state[ours[0]]["func_evals"] == b.state[theirs[0]]["func_evals"]
    assert a.state[ours[0]]["n_iter"] == b.state[theirs[0]]["n_iter"]


def test_bad_arguments():
    w = convlab.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        convlab.optim.LBFGS([w], lr=-1)
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        convlab.optim.LBFGS([w], line_search_fn="armijo")
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        convlab.optim.LBFGS([{"params": [w]}, {"params": [convlab.zeros(1, requires_grad=True)]}])
    with pytest.raises(RuntimeError, match="needs a closure"):
        convlab.optim.LBFGS([w]).step()
