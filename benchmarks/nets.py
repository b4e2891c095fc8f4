"""``python -m benchmarks nets``: whole networks (benchmarks/networks.py) in convlab and PyTorch.

Each network is built once by each library from the same code; PyTorch's initial weights and
buffers are copied into convlab's model, and the first training step's loss must agree. Then,
interleaved (benchmarks/timing.py):

- a training step: ``zero_grad``, forward, the loss (cross-entropy, or binary cross-entropy for
  the DCGAN nets), backward, SGD with momentum 0.9;
- inference: ``eval()`` and ``no_grad``, forward only;
- the peak memory of one training step, each library in a fresh process;
- with ``--profile``, where a step's time goes, by op kind, in both libraries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from .networks import NETWORKS, inputs
from .timing import interleaved, memory_child_env, print_peak_growth

__all__ = ["Setup", "Result", "setup", "measure", "memory_child", "step_memory", "profile",
           "nets_table", "profile_table"]

LR, MOMENTUM = 0.01, 0.9
FIRST_LOSS_RTOL = 1e-4  # float32; the two libraries sum in different orders


@dataclass
class Setup:
    """One network in one library, ready to step: ``step()`` trains once and returns the loss,
    ``infer()`` runs the forward under ``no_grad``."""
    model: object
    optimizer: object
    step: object
    infer: object
    forward_loss: object


def setup(lib: ModuleType, name: str, batch: int, state: dict[str, np.ndarray] | None = None
          ) -> Setup:
    """Build network ``name`` in ``lib`` with the given weights and buffers (NumPy arrays by
    name, PyTorch's; None keeps ``lib``'s own initialization) and a batch of ``batch`` inputs."""
    net = NETWORKS[name](lib)
    model = net.model
    if state is not None:
        model.load_state_dict({k: lib.from_numpy(v.copy()) for k, v in state.items()})
    x, y = (lib.from_numpy(a) for a in inputs(net, batch))
    F = lib.nn.functional
    optimizer = lib.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def forward_loss():
        out = model(x)
        if net.loss == "cross_entropy":
            return F.cross_entropy(out, y)
        if net.loss == "bce_logits":
            return F.binary_cross_entropy_with_logits(out, y)
        return F.binary_cross_entropy((out + 1) / 2, y)  # Tanh's [-1, 1] onto [0, 1]

    def step():
        optimizer.zero_grad()
        loss = forward_loss()
        loss.backward()
        optimizer.step()
        return loss

    def infer():
        with lib.no_grad():
            return model(x)

    return Setup(model, optimizer, step, infer, forward_loss)


def _pair(name: str, batch: int) -> tuple[Setup, Setup, float, float]:
    """convlab's and PyTorch's setups of ``name`` from PyTorch's weights (seed 0), after one
    training step each, and that step's losses; raises when the losses differ."""
    import torch

    import convlab

    torch.manual_seed(0)
    theirs = setup(torch, name, batch)
    state = {k: v.detach().numpy().copy() for k, v in theirs.model.state_dict().items()}
    ours = setup(convlab, name, batch, state)
    a, b = float(ours.step().item()), float(theirs.step().item())
    if not np.isclose(a, b, rtol=FIRST_LOSS_RTOL, atol=0):
        raise AssertionError(f"{name}, batch {batch}: first loss {a:.7g} in convlab, {b:.7g} in "
                             f"PyTorch (relative difference {abs(a - b) / abs(b):.1e} > "
                             f"{FIRST_LOSS_RTOL:g})")
    return ours, theirs, a, b


@dataclass
class Result:
    name: str
    batch: int
    train: dict[str, float]  # seconds per training step, by library
    infer: dict[str, float]  # seconds per inference forward, by library
    memory: dict[str, int | None]  # peak bytes of one training step, by library
    first_loss: tuple[float, float]  # convlab's, PyTorch's


def measure(name: str, batch: int, repeats: int, min_time: float, memory: bool,
            one_core: bool) -> Result:
    """Time one network's training step and inference in both libraries (and their memory)."""
    ours, theirs, a, b = _pair(name, batch)
    train = interleaved({"convlab": ours.step, "torch": theirs.step}, repeats, min_time)
    ours.model.eval()
    theirs.model.eval()
    infer = interleaved({"convlab": ours.infer, "torch": theirs.infer}, repeats, min_time)
    peak = ({lib: step_memory(name, batch, lib, one_core) for lib in ("convlab", "torch")}
            if memory else {"convlab": None, "torch": None})
    return Result(name, batch, train, infer, peak, (a, b))


def step_memory(name: str, batch: int, library: str, one_core: bool) -> int | None:
    """Bytes one training step adds at its peak to a fresh process's resident set (None off
    Linux); the child runs :func:`memory_child`, with glibc's mmap threshold fixed
    (:func:`.timing.memory_child_env`)."""
    env = memory_child_env()
    code = (f"from benchmarks.nets import memory_child; "
            f"memory_child({name!r}, {batch}, {library!r}, {one_core!r})")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if done.returncode != 0:
        raise RuntimeError(f"memory of {name} in {library} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_bytes"]


def memory_child(name: str, batch: int, library: str, one_core: bool) -> None:
    """In a fresh process: build the network, step once (warm-up), reset the kernel's peak-RSS
    mark, step again and print the growth of the resident set as JSON."""
    if library == "torch":
        import torch as lib

        lib.set_num_threads(1 if one_core else 2)
    else:
        import convlab as lib

        if one_core:
            from threadpoolctl import threadpool_limits

            from convlab.engine import parallel

            threadpool_limits(1)
            parallel.WORKERS = 1
    lib.manual_seed(0)
    s = setup(lib, name, batch)
    s.step()
    print_peak_growth(s.step)


def _geomean(values) -> float:
    return float(np.exp(np.mean(np.log(list(values)))))


def _mib(nbytes) -> str:
    return "n/a" if nbytes is None else f"{nbytes / 2**20:.1f}"


def nets_table(results: list[Result], settings: str) -> str:
    """One Markdown table: time per training step and per inference, peak memory, ratios."""
    lines = [settings, "",
             "| network | batch | step convlab ms | step torch ms | **step ratio** | "
             "infer convlab ms | infer torch ms | **infer ratio** | peak MiB convlab / torch | "
             "first loss convlab / torch |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in results:
        lines.append(
            f"| {r.name} | {r.batch} | {r.train['convlab'] * 1e3:.1f} | "
            f"{r.train['torch'] * 1e3:.1f} | **{r.train['convlab'] / r.train['torch']:.2f}** | "
            f"{r.infer['convlab'] * 1e3:.2f} | {r.infer['torch'] * 1e3:.2f} | "
            f"**{r.infer['convlab'] / r.infer['torch']:.2f}** | {_mib(r.memory['convlab'])} / "
            f"{_mib(r.memory['torch'])} | {r.first_loss[0]:.5f} / {r.first_loss[1]:.5f} |")
    step = _geomean(r.train["convlab"] / r.train["torch"] for r in results)
    infer = _geomean(r.infer["convlab"] / r.infer["torch"] for r in results)
    worst = max(results, key=lambda r: r.train["convlab"] / r.train["torch"])
    lines.append(f"| geometric mean | | | | **{step:.2f}** | | | **{infer:.2f}** | | |")
    mem = [r for r in results if r.memory["convlab"] is not None and r.memory["torch"]]
    lines += ["", "Ratios are convlab time / PyTorch time (below 1: convlab is faster). Issue 11's "
              "targets: step geometric mean <= 1.0 "
              f"({'met' if step <= 1.0 else '**not met**'}: {step:.2f}); no network above 1.3 "
              f"({'met' if worst.train['convlab'] / worst.train['torch'] <= 1.3 else '**not met**'}"
              f": {worst.name} {worst.train['convlab'] / worst.train['torch']:.2f}); inference "
              f"geometric mean <= 1.0 ({'met' if infer <= 1.0 else '**not met**'}: {infer:.2f})"
              + (f"; peak memory at most PyTorch's ("
                 f"{sum(r.memory['convlab'] <= r.memory['torch'] for r in mem)} of {len(mem)} "
                 "networks)." if mem else ".")]
    return "\n".join(lines)


# ---- where a step's time goes ---------------------------------------------------------------

# convlab's op classes by the module that defines them (convlab/ops/<module>.py)
_CONVLAB_KIND = {"conv": "conv", "normalization": "batchnorm", "pooling": "pooling",
                 "loss": "loss", "linear": "linear", "elementwise": "elementwise",
                 "activation": "elementwise", "reduction": "reductions",
                 "shape": "shape, views, copies"}
# PyTorch's aten ops by a piece of their name, first match wins
_TORCH_KIND = [("batch_norm", "batchnorm"), ("conv", "conv"), ("pool", "pooling"),
               ("nll", "loss"), ("log_softmax", "loss"), ("cross_entropy", "loss"),
               ("binary_cross_entropy", "loss"), ("addmm", "linear"), ("aten::mm", "linear"),
               ("aten::linear", "linear"), ("aten::sum", "reductions"),
               ("aten::mean", "reductions")]
_TORCH_SHAPE = {"empty", "empty_strided", "zeros", "zeros_like", "empty_like", "view", "reshape",
                "_reshape_alias", "t", "transpose", "as_strided", "expand", "permute", "flatten",
                "copy_", "fill_", "zero_", "resize_", "contiguous", "detach", "select", "slice",
                "unsqueeze", "squeeze", "clone", "to", "_to_copy", "alias", "ones_like",
                "new_empty", "new_empty_strided", "new_zeros", "expand_as", "_unsafe_view",
                "unsqueeze_", "squeeze_", "transpose_", "lift_fresh"}
OVERHEAD = "Python, autograd, modules (the rest)"
OPTIMIZER = "optimizer (zero_grad + SGD step)"


def _torch_kind(op: str) -> str:
    for piece, kind in _TORCH_KIND:
        if piece in op:
            return kind
    if op.startswith("aten::"):
        return "shape, views, copies" if op[6:] in _TORCH_SHAPE else "elementwise"
    return OVERHEAD  # the profiler's and autograd engine's own ranges


class _OpTimer:
    """Self time of every convlab op class's forward and backward while installed: each
    ``ArrayFunction`` subclass's ``forward`` and ``backward`` is wrapped by a timer; a nested
    call's time is taken off its caller's, so no time is counted twice."""

    def __init__(self, clock):
        self.clock = clock
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[float] = []  # time spent in nested calls, per open call
        self._saved: list[tuple[type, str, object]] = []

    def _wrap(self, cls: type, method: str) -> None:
        inner = cls.__dict__[method].__func__
        kind = _CONVLAB_KIND.get(cls.__module__.rsplit(".", 1)[-1], "elementwise")
        key = f"{kind}|{cls.__name__}.{method}"

        def timed(*args, **kwargs):
            self._stack.append(0.0)
            start = self.clock()
            try:
                return inner(*args, **kwargs)
            finally:
                total = self.clock() - start
                nested = self._stack.pop()
                self.seconds[key] += total - nested
                if self._stack:
                    self._stack[-1] += total

        self._saved.append((cls, method, cls.__dict__[method]))
        setattr(cls, method, staticmethod(timed))

    def __enter__(self):
        from convlab.autograd.graph import ArrayFunction

        todo, seen = [ArrayFunction], set()
        while todo:
            for sub in todo.pop().__subclasses__():
                if sub not in seen:
                    seen.add(sub)
                    todo.append(sub)
                    for method in ("forward", "backward"):
                        if isinstance(sub.__dict__.get(method), staticmethod):
                            self._wrap(sub, method)
        return self

    def __exit__(self, *exc):
        for cls, method, original in reversed(self._saved):
            setattr(cls, method, original)


def profile(name: str, batch: int, steps: int) -> dict[str, dict[str, float]]:
    """Seconds per training step by op kind, ``{"convlab": {kind: s}, "torch": {kind: s}}``,
    averaged over ``steps`` steps of network ``name``; forward, loss and backward are split by
    op, the optimizer is timed apart, and what no op accounts for is the overhead row.

    Wall time in both libraries, also with ``--one-core``: PyTorch's profiler times its ops by
    the wall clock, and the overhead row subtracts them from the step's time, so the step must
    be timed by the same clock. Other processes' load therefore counts here."""
    clock = time.perf_counter
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    ours, theirs, _, _ = _pair(name, batch)
    kinds: dict[str, dict[str, float]] = {}
    for lib, s in (("convlab", ours), ("torch", theirs)):
        fb = opt = 0.0
        if lib == "convlab":
            timer = _OpTimer(clock)
            with timer:
                for _ in range(steps):
                    fb_s, opt_s = _timed_step(s, clock)
                    fb, opt = fb + fb_s, opt + opt_s
            by_kind: dict[str, float] = defaultdict(float)
            for key, seconds in timer.seconds.items():
                by_kind[key.split("|")[0]] += seconds
        else:
            with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(steps):
                    fb_s, opt_s = _timed_step(s, clock, torch.profiler.record_function)
                    fb, opt = fb + fb_s, opt + opt_s
            by_kind = defaultdict(float)
            for event in prof.key_averages():
                kind = _torch_kind(event.key)
                if kind != OVERHEAD:
                    by_kind[kind] += event.self_cpu_time_total * 1e-6
        row = {kind: seconds / steps for kind, seconds in by_kind.items()}
        row[OVERHEAD] = max(0.0, (fb - sum(by_kind.values())) / steps)
        row[OPTIMIZER] = opt / steps
        kinds[lib] = row
    return kinds


def _timed_step(s: Setup, clock, mark=None) -> tuple[float, float]:
    """One training step: (seconds of forward + loss + backward, seconds of the optimizer).
    ``mark`` (PyTorch's ``record_function``) keeps the optimizer's ops out of the profile."""
    start = clock()
    s.forward_loss().backward()
    middle = clock()
    if mark is None:
        s.optimizer.step()
        s.optimizer.zero_grad()
    else:
        with mark("optimizer"):
            s.optimizer.step()
            s.optimizer.zero_grad()
    return middle - start, clock() - middle


_KIND_ORDER = ["conv", "batchnorm", "linear", "pooling", "elementwise", "reductions",
               "shape, views, copies", "loss", OPTIMIZER, OVERHEAD]


def profile_table(name: str, batch: int, kinds: dict[str, dict[str, float]]) -> str:
    """Per op kind: ms per step in each library, share of the step, and the ratio."""
    ours, theirs = kinds["convlab"], kinds["torch"]
    total_ours, total_theirs = sum(ours.values()), sum(theirs.values())
    lines = [f"### {name}, batch {batch}", "",
             "| op kind | convlab ms | share | PyTorch ms | share | convlab / PyTorch |",
             "|---|--:|--:|--:|--:|--:|"]
    for kind in _KIND_ORDER:
        a, b = ours.get(kind, 0.0), theirs.get(kind, 0.0)
        if a == 0.0 and b == 0.0:
            continue
        ratio = f"{a / b:.2f}" if min(a, b) >= 1e-5 else "-"  # under 0.01 ms: noise
        lines.append(f"| {kind} | {a * 1e3:.2f} | {a / total_ours:.0%} | {b * 1e3:.2f} | "
                     f"{b / total_theirs:.0%} | {ratio} |")
    lines.append(f"| **step** | **{total_ours * 1e3:.1f}** | | **{total_theirs * 1e3:.1f}** | | "
                 f"**{total_ours / total_theirs:.2f}** |")
    return "\n".join(lines)
