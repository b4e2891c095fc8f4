"""The tables: what ran where (BLAS kernel, threads, versions), ratios, and ``BENCHMARKS.md``.

Each command owns one section of ``BENCHMARKS.md``, between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->``, and rewrites only that; text outside the markers is kept.
"""

from __future__ import annotations

import math
import os
import platform
import re
import subprocess
from pathlib import Path

from convlab._atomic import atomic_path

from .conv import Measured

__all__ = ["environment", "load_average", "geomean", "conv_tables", "write_section"]

ROOT = Path(__file__).resolve().parent.parent


def geomean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=ROOT, text=True,
                           capture_output=True).stdout.strip()
    return head + (" + uncommitted changes in src/" if dirty else "")


def _convlab_source() -> str:
    """The commit of this checkout, or where convlab was imported from when it is another
    tree (``PYTHONPATH=/tmp/old/src`` for a before-and-after table)."""
    import convlab

    src = Path(convlab.__file__).resolve().parent.parent
    return f"commit {_commit()}" if src == ROOT / "src" else f"imported from {src}"


def _engine_threads() -> str:
    """convlab's threads and compiled kernels (the numba version, or why they are off); an
    engine from before either (the "before" tables) has neither."""
    try:
        from convlab.engine import jit, parallel
    except ImportError:
        return "convlab threads: none (an engine from before engine/parallel.py and jit.py)"
    parallel.start()  # holds the BLAS to one thread, as the engine's first call does
    return f"convlab threads: {parallel.WORKERS}; compiled kernels: {_jit_state(jit)}"


def _jit_state(jit) -> str:
    """The numba version, or why the compiled kernels are off."""
    if jit.ENABLED:
        from importlib.metadata import version

        return f"numba {version('numba')}"
    return "off (CONVLAB_JIT=0 or numba not installed): the NumPy paths"


def environment() -> list[str]:
    """One line each: machine, NumPy's BLAS (the kernel that ran), PyTorch, the BLAS variables."""
    import numpy as np
    import torch
    from threadpoolctl import threadpool_info

    engine_threads = _engine_threads()  # first: it may change the BLAS's threads
    blas = [f"{Path(i['filepath']).parent.name}: {i['internal_api']} {i.get('version', '')} "
            f"kernel {i.get('architecture', '?')}, {i['num_threads']} thread"
            f"{'s' if i['num_threads'] != 1 else ''}"
            for i in threadpool_info() if i["user_api"] == "blas" and "torch" not in i["filepath"]]
    unset = [v for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v not in os.environ]
    return [
        f"machine: {_cpu()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"convlab: {_convlab_source()}, NumPy {np.__version__}, BLAS: {'; '.join(blas)}",
        engine_threads,
        f"PyTorch {torch.__version__}: {torch.get_num_threads()} threads, oneDNN "
        f"{'on' if torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled else 'off'}, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}",
        f"unset for this run: {', '.join(unset) or 'nothing (BLAS may be throttled!)'}",
        f"load average at start (1, 5, 15 min): {load_average()}",
    ]


def load_average() -> str:
    """Other processes on the machine: with 2 cores, a load above about 2 means every 2-thread
    call waits for a descheduled thread at its barriers, in both libraries."""
    try:
        return ", ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g}"


def _mib(nbytes) -> str:
    return "n/a" if nbytes is None else f"{nbytes / 2**20:.0f}"


def conv_tables(rows: list[Measured], memory: dict, diffs: dict, settings: str) -> str:
    """The per-case table and the summary against the issues' targets, as Markdown."""
    by_case: dict[str, dict[str, Measured]] = {}
    for m in rows:
        by_case.setdefault(m.case.name, {})[m.mode] = m
    lines = [
        "| case | shapes and arguments | fwd convlab ms | fwd torch ms | **fwd ratio** | "
        "f+b convlab ms | f+b torch ms | **f+b ratio** | peak MiB convlab / torch | max rel diff |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, modes in by_case.items():
        f, fb = modes["forward"], modes["forward+backward"]
        mem = memory.get(name)
        mem_text = f"{_mib(mem['convlab'])} / {_mib(mem['torch'])}" if mem else "-"
        lines.append(f"| {name} | `{f.case.describe()}` | {_ms(f.convlab_s)} | {_ms(f.torch_s)} | "
                     f"**{f.ratio:.2f}** | {_ms(fb.convlab_s)} | {_ms(fb.torch_s)} | "
                     f"**{fb.ratio:.2f}** | {mem_text} | {diffs[name]:.1e} |")
    lines += ["", "Ratios are convlab time / PyTorch time (below 1: convlab is faster).", ""]
    lines += _summary(rows, memory)
    lines += ["", f"Settings: {settings}."]
    return "\n".join(lines)


def _summary(rows: list[Measured], memory: dict) -> list[str]:
    suite = {"conv2d": [m for m in rows if m.case.suite == "conv2d"],
             "other": [m for m in rows if m.case.suite != "conv2d"]}
    out = ["| suite | fwd geomean | f+b geomean | worst ratio |", "|---|--:|--:|--:|"]
    for name, ms in suite.items():
        if not ms:
            continue
        fwd = geomean(m.ratio for m in ms if m.mode == "forward")
        fb = geomean(m.ratio for m in ms if m.mode != "forward")
        worst = max(ms, key=lambda m: m.ratio)
        out.append(f"| {name} | {fwd:.2f} | {fb:.2f} | {worst.ratio:.2f} "
                   f"({worst.case.name} {worst.mode}) |")
    out += ["", "Targets of issue 11 (which raised issue 6's: forward geomean 1.5, "
            "forward+backward 1.0, no case above 3.0):", ""]
    conv2d = suite["conv2d"]

    def check(ok: bool | None, text: str) -> str:
        mark = "n/a" if ok is None else ("met" if ok else "**not met**")
        return f"- {text}: {mark}"

    if conv2d:
        fwd = geomean(m.ratio for m in conv2d if m.mode == "forward")
        fb = geomean(m.ratio for m in conv2d if m.mode != "forward")
        out.append(check(fwd <= 0.9, f"conv2d forward geomean {fwd:.2f} <= 0.9"))
        out.append(check(fb <= 0.7, f"conv2d forward+backward geomean {fb:.2f} <= 0.7"))
        large = [m for m in conv2d if m.case.name == "large-k" and m.mode != "forward"]
        if large:
            out.append(check(large[0].ratio <= 0.25,
                             f"large-k forward+backward {large[0].ratio:.2f} <= 0.25 (issue 6)"))
    above = sorted((m for m in rows if m.ratio > 1.3), key=lambda m: -m.ratio)
    listed = ", ".join(f"{m.case.name} {m.mode} {m.ratio:.2f}" for m in above)
    out.append(check(not above, "no case above 1.3" + (f" ({listed})" if above else "")))
    mem = memory.get("res-3x3")
    if mem and mem["convlab"] is not None and mem["torch"]:
        r = mem["convlab"] / mem["torch"]
        out.append(check(r <= 2.0, f"res-3x3 forward+backward peak memory {r:.2f}x PyTorch's <= 2 (issue 6)"))
    return out


def write_section(name: str, body: str, path: Path = ROOT / "BENCHMARKS.md") -> None:
    """Replace section ``name`` of ``BENCHMARKS.md`` with ``body`` (appended if missing)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with atomic_path(path) as tmp:  # a crash never leaves a half-written BENCHMARKS.md
        Path(tmp).write_text(text)
