"""MultiplicativeLR, ConstantLR, LinearLR, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR, SequentialLR and
ChainedScheduler give PyTorch's numbers, to the last bit, step after step."""

import pytest

from convlab.optim import lr_scheduler
from convlab.serialization import load, save
from test_lr_scheduler import _momenta, _optimizers

torch = pytest.importorskip("torch")

SCHEDULES = [
    ("MultiplicativeLR", dict(lr_lambda=lambda epoch: 0.95), "SGD"),
    ("MultiplicativeLR", dict(lr_lambda=[lambda e: 0.9, lambda e: 1 / (e + 1)]), "Adam"),
    ("ConstantLR", dict(), "SGD"),
    ("ConstantLR", dict(factor=0.5, total_iters=4), "Adam"),
    ("LinearLR", dict(), "SGD"),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.05, total_iters=12), "SGD"),
    ("PolynomialLR", dict(total_iters=10, power=2.0), "SGD"),
    ("CosineAnnealingWarmRestarts", dict(T_0=4), "SGD"),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.001), "Adam"),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4), "SGD"),
    ("CyclicLR", dict(base_lr=[0.01, 0.001], max_lr=0.1, step_size_up=3, step_size_down=5,
                      mode="triangular2"), "SGD"),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.9),
     "Adam"),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=2, cycle_momentum=False,
                      scale_fn=lambda x: 1 / (x + 1), scale_mode="iterations"), "RMSprop"),
]


def _run(c_opt, t_opt, c, t, steps=25):
    assert c.get_last_lr() == t.get_last_lr()
    for _ in range(steps):
        c_opt.step()
        t_opt.step()
        c.step()
        t.step()
        assert c.get_last_lr() == t.get_last_lr()
        assert [g["lr"] for g in c_opt.param_groups] == [g["lr"] for g in t_opt.param_groups]
        assert _momenta(c_opt) == _momenta(t_opt)


@pytest.mark.parametrize("name, kwargs, optimizer", SCHEDULES,
                         ids=[f"{s[0]}-{s[2]}-{i}" for i, s in enumerate(SCHEDULES)])
def test_schedule_matches_torch(name, kwargs, optimizer):
    c_opt, t_opt = _optimizers(optimizer, **({"momentum": 0.9} if optimizer == "SGD" else {}))
    _run(c_opt, t_opt, getattr(lr_scheduler, name)(c_opt, **kwargs),
         getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs))


def _warmup_then(lib, opt, second):
    schedulers = lib.optim.lr_scheduler
    warmup = schedulers.LinearLR(opt, start_factor=0.1, total_iters=3)
    after = {"cosine": lambda: schedulers.CosineAnnealingLR(opt, T_max=6),
             "step": lambda: schedulers.StepLR(opt, step_size=2, gamma=0.5),
             "multistep": lambda: schedulers.MultiStepLR(opt, milestones=[2, 4]),
             "exponential": lambda: schedulers.ExponentialLR(opt, gamma=0.8)}[second]()
    return schedulers.SequentialLR(opt, [warmup, after, schedulers.ConstantLR(opt, factor=0.5)],
                                   milestones=[3, 12])


@pytest.mark.parametrize("second", ["cosine", "step", "multistep", "exponential"])
def test_sequential_lr_matches_torch(second):
    import convlab

    c_opt, t_opt = _optimizers("SGD", momentum=0.9)
    _run(c_opt, t_opt, _warmup_then(convlab, c_opt, second), _warmup_then(torch, t_opt, second))


def _chained(lib, opt):
    schedulers = lib.optim.lr_scheduler
    return schedulers.ChainedScheduler([schedulers.ConstantLR(opt, factor=0.1, total_iters=2),
                                        schedulers.ExponentialLR(opt, gamma=0.9)])


def test_chained_scheduler_matches_torch():
    import convlab

    c_opt, t_opt = _optimizers("Adam")
    _run(c_opt, t_opt, _chained(convlab, c_opt), _chained(torch, t_opt), steps=10)


def test_warm_restarts_take_a_fractional_epoch_as_torch():
    c_opt, t_opt = _optimizers("SGD")
    c = lr_scheduler.CosineAnnealingWarmRestarts(c_opt, T_0=2, T_mult=2)
    t = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(t_opt, T_0=2, T_mult=2)
    for epoch in [0.5, 1.25, 2.0, 3.5, 6.75, 7.0]:
        c.step(epoch)
        t.step(epoch)
        assert c.get_last_lr() == t.get_last_lr()


def test_sequential_state_dict_round_trip_resumes(tmp_path):
    import convlab

    opt, _ = _optimizers("SGD", momentum=0.9)
    sched = _warmup_then(convlab, opt, "cosine")
    for _ in range(5):
        opt.step()
        sched.step()
    save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "c.npz")
    opt2, _ = _optimizers("SGD", momentum=0.9)
    sched2 = _warmup_then(convlab, opt2, "cosine")
    checkpoint = load(tmp_path / "c.npz")
    opt2.load_state_dict(checkpoint["optimizer"])
    sched2.load_state_dict(checkpoint["scheduler"])
    for _ in range(10):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
        assert sched2.get_last_lr() == sched.get_last_lr()


@pytest.mark.parametrize("make, message", [
    (lambda o: lr_scheduler.ConstantLR(o, factor=2.0), "between 0 and 1"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0), "greater than 0"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=0), "positive integer T_0"),
    (lambda o: lr_scheduler.CyclicLR(o, 0.1, 1.0, mode="sine"), "mode 'sine' is invalid"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 2)], milestones=[3]),
     "one more than the number of milestone"),
    (lambda o: lr_scheduler.ChainedScheduler([]), "at least one scheduler"),
])
def test_bad_arguments_raise_value_error(make, message):
    opt, _ = _optimizers("SGD", momentum=0.9)
    with pytest.raises(ValueError, match=message):
        make(opt)
