"""Each optimizer takes the same steps as torch.optim's from the same state."""

import numpy as np
import pytest

import convlab
from convlab.serialization import load, save

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), ()]
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.5, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, amsgrad=True)),
    ("Adam", dict(lr=0.02, amsgrad=True, maximize=True, weight_decay=0.05)),
    ("Adam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.05, betas=(0.5, 0.9), weight_decay=0.2, amsgrad=True)),
    ("AdamW", dict(lr=0.05, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-4, weight_decay=0.1, momentum=0.5,
                     centered=True, maximize=True)),
]
TOL = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=2e-5, atol=1e-6)}


def _ids(case):
    name, kwargs = case
    return name + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


class Pair:
    """The same parameters, optimizer and gradients in convlab and in torch."""

    def __init__(self, name, kwargs, dtype, groups=None, seed=0):
        rng = np.random.default_rng(seed)
        self.dtype = dtype
        inits = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        self.c = [convlab.tensor(a, requires_grad=True) for a in inits]
        self.t = [torch.tensor(a, requires_grad=True) for a in inits]
        self.rng = rng
        if groups is None:
            c_params, t_params = self.c, self.t
        else:  # groups: list of (indices, options)
            c_params = [dict(params=[self.c[i] for i in idx], **opts) for idx, opts in groups]
            t_params = [dict(params=[self.t[i] for i in idx], **opts) for idx, opts in groups]
        self.c_opt = getattr(convlab.optim, name)(c_params, **kwargs)
        self.t_opt = getattr(torch.optim, name)(t_params, **kwargs)

    def step(self, k):
        for i, (cp, tp) in enumerate(zip(self.c, self.t)):
            g = self.rng.standard_normal(SHAPES[i]).astype(self.dtype)
            if i == 2 and k % 2:  # no gradient this step: the parameter must be skipped
                continue
            cp.grad = convlab.tensor(g)
            tp.grad = torch.tensor(g)
        self.c_opt.step()
        self.t_opt.step()
        self.c_opt.zero_grad()
        self.t_opt.zero_grad()

    def check(self):
        tol = TOL[self.dtype]
        for cp, tp in zip(self.c, self.t):
            assert cp.dtype.numpy == self.dtype
            np.testing.assert_allclose(cp.detach().numpy(), tp.detach().numpy(), **tol)
        c_sd, t_sd = self.c_opt.state_dict(), self.t_opt.state_dict()
        assert c_sd["param_groups"] == t_sd["param_groups"]
        assert c_sd["state"].keys() == t_sd["state"].keys()
        for i, t_state in t_sd["state"].items():
            c_state = c_sd["state"][i]
            assert c_state.keys() == t_state.keys()
            for key, value in t_state.items():
                assert c_state[key].shape == tuple(value.shape)
                np.testing.assert_allclose(c_state[key].numpy(), value.numpy(), **tol,
                                           err_msg=f"state[{i}][{key!r}]")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_steps_match_torch(case, dtype):
    pair = Pair(*case, dtype)
    for k in range(6):
        pair.step(k)
        pair.check()


@pytest.mark.parametrize("case", CASES[::2], ids=_ids)
def test_continues_from_torch_state(case):
    """torch's state_dict, its tensors turned into convlab's, loads and steps on identically."""
    pair = Pair(*case, np.float64)
    for k in range(3):
        pair.step(k)
    t_sd = pair.t_opt.state_dict()
    converted = {
        "state": {i: {k: convlab.tensor(v.numpy()) for k, v in s.items()}
                  for i, s in t_sd["state"].items()},
        "param_groups": t_sd["param_groups"],
    }
    fresh = getattr(convlab.optim, case[0])(pair.c, lr=123.0)  # options come from the state
    fresh.load_state_dict(converted)
    pair.c_opt = fresh
    for k in range(3, 6):
        pair.step(k)
        pair.check()


GROUPS = {
    "SGD": ([([0], dict(lr=0.3)), ([1, 2], dict(momentum=0.5, nesterov=True))],
            dict(lr=0.1, momentum=0.9)),
    "Adam": ([([0, 2], dict(amsgrad=True, betas=(0.7, 0.9))), ([1], dict(weight_decay=0.1))],
             dict(lr=0.01)),
    "AdamW": ([([2], dict(lr=0.2)), ([0, 1], dict())], dict(weight_decay=0.3)),
    "RMSprop": ([([1], dict(centered=True)), ([0, 2], dict(momentum=0.3, lr=0.02))],
                dict(lr=0.01)),
}


@pytest.mark.parametrize("name", GROUPS)
def test_param_groups_match_torch(name):
    groups, defaults = GROUPS[name]
    pair = Pair(name, defaults, np.float64, groups=groups)
    for k in range(5):
        pair.step(k)
        pair.check()


def test_add_param_group_matches_torch():
    pair = Pair("SGD", dict(lr=0.1, momentum=0.9), np.float64, groups=[([0, 1], {})])
    pair.step(0)
    pair.c_opt.add_param_group({"params": pair.c[2], "lr": 0.5})
    pair.t_opt.add_param_group({"params": pair.t[2], "lr": 0.5})
    for k in range(1, 4):
        pair.step(k)
        pair.check()


def test_training_loop_with_autograd_and_closure_matches_torch():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    w0, b0 = rng.standard_normal((3, 1)), np.zeros(1)
    c = [convlab.tensor(w0, requires_grad=True), convlab.tensor(b0, requires_grad=True)]
    t = [torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)]
    c_opt = convlab.optim.SGD(c, lr=0.05, momentum=0.9, nesterov=True)
    t_opt = torch.optim.SGD(t, lr=0.05, momentum=0.9, nesterov=True)
    cx, cy, tx, ty = convlab.tensor(x), convlab.tensor(y), torch.tensor(x), torch.tensor(y)

    def closure(opt, params, xs, ys):
        def run():
            opt.zero_grad()
            loss = ((xs @ params[0] + params[1] - ys) ** 2).mean()
            loss.backward()
            return loss
        return run

    for _ in range(10):
        c_loss = c_opt.step(closure(c_opt, c, cx, cy))
        t_loss = t_opt.step(closure(t_opt, t, tx, ty))
        assert c_loss.item() == pytest.approx(t_loss.item(), rel=1e-12)
    for cp, tp in zip(c, t):
        np.testing.assert_allclose(cp.detach().numpy(), tp.detach().numpy(), rtol=1e-12)


# ---- the Optimizer's own behaviour -------------------------------------------------------------


def _param(*shape):
    return convlab.randn(*shape, requires_grad=True) if shape else convlab.tensor(
        1.0, requires_grad=True)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_updates_in_place_so_views_see_them(name):
    p = _param(2, 3)
    array, view, data = p._data, p[0].detach(), p.data
    before = array.copy()
    opt = getattr(convlab.optim, name)([p], lr=0.1)
    p.grad = convlab.ones(2, 3)
    opt.step()
    assert p._data is array
    assert not np.array_equal(array, before)
    np.testing.assert_array_equal(view.numpy(), array[0])
    np.testing.assert_array_equal(data.numpy(), array)
    assert p.grad_fn is None and p.is_leaf


def test_zero_grad():
    p, q = _param(3), _param(2)
    opt = convlab.optim.SGD([p, q])
    p.grad = convlab.ones(3)
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and np.array_equal(grad.numpy(), np.zeros(3)) and q.grad is None
    opt.zero_grad()
    assert p.grad is None


def test_step_skips_params_without_grad_and_keeps_no_state_for_them():
    p, q = _param(3), _param(2)
    before = q.detach().numpy().copy()
    opt = convlab.optim.Adam([p, q])
    p.grad = convlab.ones(3)
    opt.step()
    np.testing.assert_array_equal(q.detach().numpy(), before)
    assert list(opt.state_dict()["state"]) == [0]


def test_state_dict_layout_and_repr_match_torch():
    c = [_param(2), _param(3)]
    t = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    c_opt = convlab.optim.AdamW([{"params": c[:1]}, {"params": c[1:], "lr": 0.1}])
    t_opt = torch.optim.AdamW([{"params": t[:1]}, {"params": t[1:], "lr": 0.1}])
    assert c_opt.state_dict() == {"state": {}, "param_groups": t_opt.state_dict()["param_groups"]}
    assert repr(c_opt) == repr(t_opt)


def test_named_parameters_are_kept_in_param_names():
    w, b = _param(2), _param(1)
    opt = convlab.optim.SGD([("weight", w), ("bias", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.param_groups[0]["params"][0] is w
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.02, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.02)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
])
def test_state_dict_round_trip_through_a_checkpoint_continues_identically(name, kwargs, tmp_path):
    rng = np.random.default_rng(2)
    params = [convlab.tensor(rng.standard_normal(s), requires_grad=True) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(6)]
    opt = getattr(convlab.optim, name)(
        [{"params": params[:1], "lr": 0.1}, {"params": params[1:]}], **kwargs)

    def step(o, ps, k):
        for p, g in zip(ps, grads[k]):
            p.grad = convlab.tensor(g)
        o.step()

    for k in range(3):
        step(opt, params, k)
    save(opt.state_dict(), tmp_path / "opt.npz")
    copies = [convlab.tensor(p.detach().numpy(), requires_grad=True) for p in params]
    resumed = getattr(convlab.optim, name)(
        [{"params": copies[:1]}, {"params": copies[1:]}], lr=99.0)
    loaded = load(tmp_path / "opt.npz")
    resumed.load_state_dict(loaded)
    assert resumed.param_groups[0]["lr"] == 0.1
    for s in loaded["state"].values():  # the optimizer copied the loaded tensors
        for v in s.values():
            v.numpy()[...] = 0
    for k in range(3, 6):
        step(opt, params, k)
        step(resumed, copies, k)
    for p, q in zip(params, copies):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_load_state_dict_casts_to_the_parameter_dtype():
    p64 = convlab.tensor(np.ones(3), requires_grad=True)
    opt = convlab.optim.Adam([p64])
    p64.grad = convlab.tensor(np.ones(3))
    opt.step()
    p32 = convlab.ones(3, requires_grad=True)
    opt32 = convlab.optim.Adam([p32])
    opt32.load_state_dict(opt.state_dict())
    assert opt32.state[p32]["exp_avg"].dtype == convlab.float32
    assert opt32.state[p32]["step"].item() == 1.0


@pytest.mark.parametrize("make, message", [
    (lambda p: convlab.optim.SGD([p], lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda p: convlab.optim.SGD([p], momentum=-1), "Invalid momentum value: -1"),
    (lambda p: convlab.optim.SGD([p], weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: convlab.optim.SGD([p], nesterov=True), "Nesterov momentum requires a momentum"),
    (lambda p: convlab.optim.SGD([p], momentum=0.9, dampening=0.1, nesterov=True),
     "zero dampening"),
    (lambda p: convlab.optim.Adam([p], lr=-1), "Invalid learning rate"),
    (lambda p: convlab.optim.Adam([p], eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda p: convlab.optim.Adam([p], betas=(1.0, 0.999)), "Invalid beta parameter at index 0"),
    (lambda p: convlab.optim.AdamW([p], betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    (lambda p: convlab.optim.Adam([p], betas=0.9), "betas must be a pair"),
    (lambda p: convlab.optim.RMSprop([p], alpha=-0.5), "Invalid alpha value: -0.5"),
    (lambda p: convlab.optim.RMSprop([p], lr=float("nan")), "Invalid learning rate: nan"),
    (lambda p: convlab.optim.SGD([{"params": [p], "lr": -3}]), "Invalid learning rate: -3"),
    (lambda p: convlab.optim.SGD([]), "empty parameter list"),
    (lambda p: convlab.optim.SGD([p, p * 2]), "can't optimize a non-leaf Tensor"),
    (lambda p: convlab.optim.SGD([{"params": [p]}, {"params": [p]}]),
     "more than one parameter group"),
    (lambda p: convlab.optim.SGD([{"lr": 0.1}]), "'params' entry"),
])
def test_bad_options_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make(_param(2))


@pytest.mark.parametrize("make, message", [
    (lambda p: convlab.optim.SGD(p), "wrap it in a list"),
    (lambda p: convlab.optim.SGD({p}), "ordered collections"),
    (lambda p: convlab.optim.SGD([p, 1.0]), "parameter 1 of the group is a float"),
    (lambda p: convlab.optim.SGD([p], lr="fast"), "lr must be a number"),
])
def test_bad_params_raise_type_error(make, message):
    with pytest.raises(TypeError, match=message):
        make(_param(2))


def test_load_state_dict_mismatches_raise():
    a, b = _param(2), _param(3)
    opt = convlab.optim.Adam([a, b])
    a.grad, b.grad = convlab.ones(2), convlab.ones(3)
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="2 parameter groups, but this optimizer has 1"):
        convlab.optim.Adam([a, b]).load_state_dict(
            {"state": {}, "param_groups": [dict(saved["param_groups"][0], params=[0]),
                                           dict(saved["param_groups"][0], params=[1])]})
    with pytest.raises(ValueError, match="group 0 has 2 parameters saved and 1"):
        convlab.optim.Adam([a]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"shape \[2\], but the parameter has shape \[3\]"):
        convlab.optim.Adam([b, a]).load_state_dict(saved)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        convlab.optim.Adam([a, b]).load_state_dict({"lr": 0.1})


def test_a_convlab_model_trains_as_the_torch_model_does_and_resumes_from_a_checkpoint(tmp_path):
    nn = convlab.nn
    if not all(hasattr(nn, name) for name in ("Linear", "MSELoss")):
        pytest.skip("convlab.nn does not have Linear and MSELoss yet")
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((16, 4)).astype(np.float32), rng.standard_normal((16, 2))
    t_model = torch.nn.Linear(4, 2)
    c_model = nn.Linear(4, 2)
    c_model.load_state_dict({k: convlab.tensor(v.detach().numpy())
                             for k, v in t_model.state_dict().items()})

    def make(lib, model):
        opt = lib.optim.AdamW(model.named_parameters(), lr=0.05, weight_decay=0.1)
        return opt, lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)

    def train(lib, model, opt, sched, steps):
        inputs, targets = lib.tensor(x), lib.tensor(y.astype(np.float32))
        for _ in range(steps):
            opt.zero_grad()
            loss = ((model(inputs) - targets) ** 2).mean()
            loss.backward()
            opt.step()
            sched.step()

    c_opt, c_sched = make(convlab, c_model)
    t_opt, t_sched = make(torch, t_model)
    train(convlab, c_model, c_opt, c_sched, 5)
    train(torch, t_model, t_opt, t_sched, 5)
    save({"model": c_model.state_dict(), "optimizer": c_opt.state_dict(),
          "scheduler": c_sched.state_dict()}, tmp_path / "last.npz")

    resumed = nn.Linear(4, 2)
    r_opt, r_sched = make(convlab, resumed)
    checkpoint = load(tmp_path / "last.npz")
    resumed.load_state_dict(checkpoint["model"])
    r_opt.load_state_dict(checkpoint["optimizer"])
    r_sched.load_state_dict(checkpoint["scheduler"])
    train(convlab, resumed, r_opt, r_sched, 5)
    train(torch, t_model, t_opt, t_sched, 5)
    for name, value in t_model.state_dict().items():
        np.testing.assert_allclose(resumed.state_dict()[name].numpy(), value.numpy(), rtol=1e-5,
                                   atol=1e-6)
    assert r_sched.get_last_lr() == t_sched.get_last_lr()
