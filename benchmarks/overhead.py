"""Per-op overhead: small ops, where the time is Python and bookkeeping, not arithmetic.

Every case is written once against a ``torch``-like namespace and run in both libraries on the
same inputs, one thread each, timed by CPU time (``timing.use_cpu_time``): the bookkeeping of
views, in-place ops and versions, of the graph and of argument checks is what it measures.
"""

from __future__ import annotations

import numpy as np

from .timing import interleaved

__all__ = ["CASES", "measure", "overhead_table"]


def _tensors(lib):
    rng = np.random.default_rng(0)
    t = {
        "a": lib.tensor(rng.normal(size=(4, 4)).astype(np.float32)),
        "b": lib.tensor(rng.normal(size=(4, 4)).astype(np.float32)),
        "w": lib.tensor(rng.normal(size=(4, 4)).astype(np.float32), requires_grad=True),
        "x": lib.tensor(rng.normal(size=(8, 8)).astype(np.float32)),
        "img": lib.tensor(rng.normal(size=(1, 1, 8, 8)).astype(np.float32)),
        "k": lib.tensor(rng.normal(size=(2, 1, 3, 3)).astype(np.float32), requires_grad=True),
        "batch": lib.tensor(rng.normal(size=(8, 64)).astype(np.float32)),
    }
    t["linear"] = lib.nn.Linear(64, 10)
    t["sgd"] = lib.optim.SGD(t["linear"].parameters(), lr=0.01, momentum=0.9)
    return t


def _small_graph(lib, t):
    (t["a"] * t["w"] + t["b"]).relu().sum().backward()


def _linear_step(lib, t):
    t["sgd"].zero_grad()
    lib.nn.functional.cross_entropy(t["linear"](t["batch"]), lib.zeros(8, dtype=lib.int64)
                                    ).backward()
    t["sgd"].step()


def _conv_fb(lib, t):
    lib.nn.functional.conv2d(t["img"], t["k"], padding=1).sum().backward()


def _in_graph_add_(lib, t):
    y = t["w"] * 1
    y += 1
    y[0] = 2


def _setitem(lib, t):
    t["x"][1] = 0.5


CASES = {
    "a + b (4x4)": lambda lib, t: t["a"] + t["b"],
    "a * w (w requires grad)": lambda lib, t: t["a"] * t["w"],
    "x[1:3] (a view)": lambda lib, t: t["x"][1:3],
    "x.view(64)": lambda lib, t: t["x"].view(64),
    "x.t() (a view)": lambda lib, t: t["x"].t(),
    "x.add_(1)": lambda lib, t: t["x"].add_(1.0),
    "x[1] = 0.5": _setitem,
    "y = w * 1; y += 1; y[0] = 2 (in a graph)": _in_graph_add_,
    "(a * w + b).relu().sum().backward()": _small_graph,
    "conv2d 1x1x8x8, 3x3: forward + backward": _conv_fb,
    "Linear(64, 10) + cross-entropy + SGD step": _linear_step,
}


def measure(repeats: int, min_time: float) -> list[tuple[str, float, float]]:
    """(case, convlab seconds, PyTorch seconds) per call for every case."""
    import torch

    import convlab

    ours, theirs = _tensors(convlab), _tensors(torch)
    rows = []
    for name, case in CASES.items():
        times = interleaved({"convlab": lambda: case(convlab, ours),
                             "torch": lambda: case(torch, theirs)}, repeats, min_time)
        rows.append((name, times["convlab"], times["torch"]))
        print(f"{name:45s} {times['convlab'] * 1e6:8.1f} / {times['torch'] * 1e6:8.1f} us = "
              f"{times['convlab'] / times['torch']:5.2f}", flush=True)
    return rows


def overhead_table(rows, settings: str) -> str:
    lines = [settings, "", "| op | convlab us | PyTorch us | convlab / PyTorch |",
             "|---|--:|--:|--:|"]
    for name, ours, theirs in rows:
        lines.append(f"| `{name}` | {ours * 1e6:.1f} | {theirs * 1e6:.1f} | "
                     f"{ours / theirs:.2f} |")
    ratios = [ours / theirs for _, ours, theirs in rows]
    lines.append(f"| geometric mean | | | **{float(np.exp(np.mean(np.log(ratios)))):.2f}** |")
    return "\n".join(lines)
