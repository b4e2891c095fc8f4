"""Learning-rate schedules give PyTorch's numbers, to the last bit, step after step."""

import math
import warnings

import pytest

import convlab
from convlab.optim import lr_scheduler
from convlab.serialization import load, save

torch = pytest.importorskip("torch")


def _optimizers(name, **kwargs):
    """The same two-group optimizer in convlab and torch (no gradients: steps change nothing)."""
    def groups(lib):
        return [{"params": [lib.zeros(2, requires_grad=True)]},
                {"params": [lib.zeros(3, requires_grad=True)], "lr": 0.01}]
    return (getattr(convlab.optim, name)(groups(convlab), lr=0.1, **kwargs),
            getattr(torch.optim, name)(groups(torch), lr=0.1, **kwargs))


SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5), "SGD"),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3), "SGD"),
    ("ExponentialLR", dict(gamma=0.9), "Adam"),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001), "SGD"),  # 25 steps: past T_max, twice
    ("LambdaLR", dict(lr_lambda=lambda epoch: 0.95 ** epoch), "SGD"),
    ("LambdaLR", dict(lr_lambda=[lambda e: 1 / (e + 1), lambda e: math.cos(e)]), "RMSprop"),
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=25), "SGD"),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=25, anneal_strategy="linear", pct_start=0.4,
                        base_momentum=0.8, max_momentum=[0.9, 0.99]), "Adam"),
    ("OneCycleLR", dict(max_lr=0.3, epochs=5, steps_per_epoch=5, three_phase=True), "RMSprop"),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=25, cycle_momentum=False, div_factor=10.0,
                        final_div_factor=100.0), "AdamW"),
]


def _momenta(opt):
    return [(g.get("momentum"), g.get("betas")) for g in opt.param_groups]


@pytest.mark.parametrize("name, kwargs, optimizer", SCHEDULES,
                         ids=[f"{s[0]}-{s[2]}-{i}" for i, s in enumerate(SCHEDULES)])
def test_schedule_matches_torch(name, kwargs, optimizer):
    c_opt, t_opt = _optimizers(optimizer, **({"momentum": 0.9} if optimizer == "SGD" else {}))
    c = getattr(lr_scheduler, name)(c_opt, **kwargs)
    t = getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs)
    assert c.get_last_lr() == t.get_last_lr()
    for _ in range(25):
        c_opt.step()
        t_opt.step()
        c.step()
        t.step()
        assert c.get_last_lr() == t.get_last_lr()
        assert [g["lr"] for g in c_opt.param_groups] == [g["lr"] for g in t_opt.param_groups]
        assert _momenta(c_opt) == _momenta(t_opt)


@pytest.mark.parametrize("name, kwargs, optimizer", SCHEDULES[:4] + SCHEDULES[6:8])
def test_state_dict_round_trip_resumes_the_schedule(name, kwargs, optimizer, tmp_path):
    extra = {"momentum": 0.9} if optimizer == "SGD" else {}
    opt, _ = _optimizers(optimizer, **extra)
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    for _ in range(10):
        opt.step()
        sched.step()
    save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "c.npz")

    opt2, _ = _optimizers(optimizer, **extra)
    sched2 = getattr(lr_scheduler, name)(opt2, **kwargs)
    checkpoint = load(tmp_path / "c.npz")
    opt2.load_state_dict(checkpoint["optimizer"])
    sched2.load_state_dict(checkpoint["scheduler"])
    for _ in range(10):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert _momenta(opt2) == _momenta(opt)


def test_lambda_lr_state_dict_keeps_callable_objects_but_not_functions():
    class Warmup:
        def __init__(self, steps):
            self.steps = steps

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.steps)

    opt, _ = _optimizers("SGD")
    sched = lr_scheduler.LambdaLR(opt, [Warmup(4), lambda e: 1.0])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"steps": 4}, None]
    other = Warmup(100)
    resumed = lr_scheduler.LambdaLR(_optimizers("SGD")[0], [other, lambda e: 1.0])
    resumed.load_state_dict(state)
    assert other.steps == 4


def test_stepping_the_scheduler_first_warns():
    opt, _ = _optimizers("SGD")
    sched = lr_scheduler.StepLR(opt, step_size=1)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()


def test_resuming_needs_initial_lr():
    opt, _ = _optimizers("SGD")
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=4)


@pytest.mark.parametrize("make, error, message", [
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0), ValueError, "total_steps OR"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=0), ValueError,
     "positive integer total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=[1.0], total_steps=5), ValueError,
     "max_lr must have the same length"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=5, pct_start=2.0), ValueError,
     "pct_start"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=5, anneal_strategy="step"),
     ValueError, "'cos' or 'linear'"),
    (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1.0]), ValueError, "Expected 2 lr_lambdas"),
    (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
    (lambda o: lr_scheduler.StepLR("sgd", step_size=1), TypeError, "str is not an Optimizer"),
])
def test_bad_arguments_raise(make, error, message):
    opt, _ = _optimizers("SGD")
    with pytest.raises(error, match=message):
        make(opt)


def test_one_cycle_refuses_to_step_past_its_end():
    opt, _ = _optimizers("SGD", momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()


def test_step_with_an_epoch_is_refused():
    opt, _ = _optimizers("SGD")
    with pytest.raises(TypeError, match="scheduler.step\\(\\) once per epoch"):
        lr_scheduler.StepLR(opt, step_size=1).step(3)


PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.9, 0.92, 0.899, 0.85, 0.86, 0.87, 0.88, 0.8, 0.8, 0.8,
                   0.81, 0.7, 0.9, 0.9, 0.9, 0.9, 0.9]


@pytest.mark.parametrize("kwargs", [
    dict(patience=1),
    dict(mode="max", patience=2, factor=0.3, cooldown=2),
    dict(threshold_mode="abs", threshold=0.05, patience=0, min_lr=[0.05, 0.002]),
    dict(patience=0, factor=0.5, eps=0.02),  # the second group's reductions are too small
])
def test_reduce_on_plateau_matches_torch(kwargs):
    c_opt, t_opt = _optimizers("SGD")
    c = lr_scheduler.ReduceLROnPlateau(c_opt, **kwargs)
    t = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    metrics = PLATEAU_METRICS if kwargs.get("mode") != "max" else [-m for m in PLATEAU_METRICS]
    for value in metrics:
        c.step(convlab.tensor(value))
        t.step(torch.tensor(value))
        assert c.get_last_lr() == t.get_last_lr()
        assert (c.best, c.num_bad_epochs, c.cooldown_counter, c.last_epoch) == (
            t.best, t.num_bad_epochs, t.cooldown_counter, t.last_epoch)


def test_reduce_on_plateau_state_dict_resumes_and_bad_arguments_raise():
    opt, _ = _optimizers("SGD")
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1)
    for value in PLATEAU_METRICS[:6]:
        sched.step(value)
    opt2, _ = _optimizers("SGD")
    resumed = lr_scheduler.ReduceLROnPlateau(opt2, patience=1)
    opt2.load_state_dict(opt.state_dict())  # the lr lives in the optimizer's state
    resumed.load_state_dict(sched.state_dict())
    for value in PLATEAU_METRICS[6:]:
        sched.step(value)
        resumed.step(value)
        assert resumed.get_last_lr() == sched.get_last_lr()
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode 'best' is unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="best")
    with pytest.raises(ValueError, match="min_lr must have the same length"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1])
