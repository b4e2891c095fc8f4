"""``python -m benchmarks conv``: every case forward and forward+backward, convlab beside PyTorch.

Both libraries get the same float32 arrays and run the same call, spelled once: the code below
takes the library module (``convlab`` or ``torch``) as an argument, since their APIs match.
Forward runs under ``no_grad`` (inference); forward+backward makes input, weight and bias
require grad, runs the call and ``y.backward(gy)`` with a fixed output gradient, and clears the
gradients before each step as ``zero_grad(set_to_none=True)`` does. Before timing, the outputs
and every gradient of the two libraries are compared, so a fast wrong answer cannot pass.
"""

from __future__ import annotations

import contextlib
import gc
import math
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from .cases import CASES, Case
from .timing import interleaved, peak_memory, print_peak_growth

__all__ = ["Measured", "Steps", "inputs", "steps", "run_case", "case_memory", "max_difference",
           "memory_child"]

MODES = ("forward", "forward+backward")


def inputs(case: Case, seed: int = 0) -> dict[str, np.ndarray]:
    """The case's float32 arrays: ``x``, and ``w`` and ``b`` for a convolution, scaled as a
    freshly initialized layer (no denormals, no overflow)."""
    rng = np.random.default_rng(seed)
    arrays = {"x": rng.standard_normal(case.input, dtype=np.float32)}
    if case.is_conv:
        fan_in = math.prod(case.weight[1:])
        arrays["w"] = rng.standard_normal(case.weight, dtype=np.float32) / np.float32(fan_in) ** 0.5
        out_channels = case.weight[1] * case.kwargs.get("groups", 1) if "transpose" in case.op \
            else case.weight[0]
        arrays["b"] = rng.standard_normal(out_channels, dtype=np.float32) * np.float32(0.1)
    return arrays


@dataclass
class Steps:
    """The two timed callables of one case in one library, and the tensors they use."""

    forward: object
    train: object
    tensors: dict


def steps(case: Case, lib: ModuleType, arrays: dict[str, np.ndarray]) -> Steps:
    """``forward()`` and ``train()`` (forward+backward) of ``case`` written against ``lib``."""
    op = getattr(lib.nn.functional, case.op)
    tensors = {name: lib.tensor(a, requires_grad=True) for name, a in arrays.items()}
    args = [tensors["x"]] + ([tensors["w"], tensors["b"]] if case.is_conv else [])

    def call():
        return op(*args, **case.kwargs)

    with lib.no_grad():
        shape = tuple(call().shape)
    gy = lib.tensor(np.random.default_rng(1).standard_normal(shape, dtype=np.float32))

    def forward():
        with lib.no_grad():
            return call()

    def train():
        for t in tensors.values():
            t.grad = None
        y = call()
        y.backward(gy)
        return y

    return Steps(forward, train, tensors)


def _numpy(t) -> np.ndarray:
    return np.asarray(t.detach().numpy(), dtype=np.float64)


def max_difference(case: Case, ours: Steps, theirs: Steps) -> float:
    """The largest difference between the libraries' output and gradients, relative to the
    largest magnitude of PyTorch's: float32 rounding gives about 1e-6."""
    y_ours, y_theirs = ours.train(), theirs.train()
    pairs = [(_numpy(y_ours), _numpy(y_theirs))]
    pairs += [(_numpy(ours.tensors[k].grad), _numpy(theirs.tensors[k].grad)) for k in ours.tensors]
    return max(float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)) for a, b in pairs)


@dataclass
class Measured:
    case: Case
    mode: str
    convlab_s: float
    torch_s: float

    @property
    def ratio(self) -> float:
        return self.convlab_s / self.torch_s


def run_case(case: Case, repeats: int, min_time: float) -> tuple[list[Measured], float]:
    """Both modes of ``case``, interleaved; and the largest difference between the libraries."""
    import torch

    import convlab

    arrays = inputs(case)
    ours, theirs = steps(case, convlab, arrays), steps(case, torch, arrays)
    diff = max_difference(case, ours, theirs)
    rows = []
    for mode in MODES:
        pick = "forward" if mode == "forward" else "train"
        t = interleaved({"convlab": getattr(ours, pick), "torch": getattr(theirs, pick)},
                        repeats, min_time)
        rows.append(Measured(case, mode, t["convlab"], t["torch"]))
    del ours, theirs
    gc.collect()
    return rows, diff


def case_memory(case: Case, algorithm: str | None = None) -> dict[str, int | None]:
    """Peak memory of one forward+backward of ``case`` per library, each in a fresh process."""
    return {lib: peak_memory(case.name, lib, algorithm) for lib in ("convlab", "torch")}


def memory_child(case_name: str, library: str, algorithm: str | None = None) -> None:
    """Run in a fresh process by :func:`~benchmarks.timing.peak_memory`: set up the case, warm
    up once, reset the kernel's peak-RSS mark, run one forward+backward, print the growth."""
    case = next(c for c in CASES if c.name == case_name)
    forced = contextlib.nullcontext()
    if library == "torch":
        import torch as lib

        lib.set_num_threads(2)
    else:
        import convlab as lib
        from convlab.engine import select

        if algorithm:
            forced = select.using(algorithm)
    with forced:
        s = steps(case, lib, inputs(case))
        s.train()
        for t in s.tensors.values():
            t.grad = None
        print_peak_growth(s.train)
