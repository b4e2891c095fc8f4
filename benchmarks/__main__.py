"""``python -m benchmarks conv|train``: convlab beside PyTorch, ratios into ``BENCHMARKS.md``.

This machine's environment sets ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``, which make
NumPy's OpenBLAS pick a slower kernel. OpenBLAS reads them once, when NumPy is imported, so the
command restarts itself without them before anything imports NumPy (DESIGN.md, Performance).

    python -m benchmarks conv                       # all cases, writes BENCHMARKS.md
    python -m benchmarks conv --cases res-3x3 large-k --no-write
    python -m benchmarks conv --algorithm im2col    # convlab with one algorithm wherever it applies
    python -m benchmarks conv --one-core --no-write # one thread each, CPU time: for development
    python -m benchmarks conv --no-jit              # convlab's NumPy paths, no compiled kernels
    python -m benchmarks train                      # the digits CNN in both libraries
    python -m benchmarks overhead                   # small ops: the per-op bookkeeping
    python -m benchmarks dataloader                 # CIFAR-style loading, 0 and 2 workers
    python -m benchmarks nets --one-core --profile 5  # whole networks: step, inference, memory
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys

THROTTLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _restart_without_throttles() -> None:
    if any(v in os.environ for v in THROTTLES):
        env = {k: v for k, v in os.environ.items() if k not in THROTTLES}
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks", *sys.argv[1:]], env)


def _threads(args) -> None:
    """PyTorch's threads; with ``--one-core`` one thread in both libraries and CPU time."""
    import torch
    from threadpoolctl import threadpool_limits

    from .timing import use_cpu_time

    if args.no_jit:  # also for the memory-measuring child processes
        from convlab.engine import jit

        os.environ["CONVLAB_JIT"] = "0"
        jit.ENABLED = False
    if args.one_core:
        import convlab.engine

        args.threads = 1
        threadpool_limits(1)
        parallel = getattr(convlab.engine, "parallel", None)  # None in a convlab before it
        if parallel is not None:
            parallel.WORKERS = 1  # convlab's chunks one after the other, on this thread
        use_cpu_time()
    torch.set_num_threads(args.threads)


def _command() -> str:
    """The command line that made a table, as it was typed (less the interpreter's path)."""
    return "python -m benchmarks " + shlex.join(sys.argv[1:])


def _conv(args) -> None:
    from convlab.engine import select

    from .cases import CASES
    from .conv import case_memory, run_case
    from .report import conv_tables, environment, load_average, write_section

    _threads(args)
    cases = [c for c in CASES if not args.cases or c.name in args.cases]
    unknown = set(args.cases or ()) - {c.name for c in CASES}
    if unknown:
        sys.exit(f"unknown case(s) {sorted(unknown)}; known: {[c.name for c in CASES]}")
    env = environment()
    print("\n".join(env), flush=True)
    rows, memory, diffs = [], {}, {}
    if args.algorithm:
        env.append(f"convlab algorithm forced: {args.algorithm} (wherever it applies)")
    for case in cases:
        with select.using(args.algorithm) if args.algorithm else contextlib.nullcontext():
            measured, diffs[case.name] = run_case(case, args.repeats, args.min_time)
        rows += measured
        if args.memory:
            memory[case.name] = case_memory(case, args.algorithm)
        f, fb = measured
        mem = memory.get(case.name)
        mem_text = (f"  peak MiB {mem['convlab'] / 2**20:.0f} / {mem['torch'] / 2**20:.0f}"
                    if mem and mem["convlab"] is not None else "")
        print(f"{case.name:18s} fwd {f.convlab_s * 1e3:8.2f} / {f.torch_s * 1e3:8.2f} ms "
              f"= {f.ratio:5.2f}   f+b {fb.convlab_s * 1e3:8.2f} / {fb.torch_s * 1e3:8.2f} ms "
              f"= {fb.ratio:5.2f}{mem_text}  diff {diffs[case.name]:.1e}", flush=True)
    settings = (f"float32, median of {args.repeats} interleaved repeats of at least "
                f"{args.min_time:g} s each; peak memory: growth of the resident set during one "
                f"forward+backward in a fresh process; load average at the end: {load_average()}")
    title = args.title or ("Convolution and pooling, convlab / PyTorch: "
                           + ("one core (CPU time, one thread each)" if args.one_core
                              else f"{args.threads} threads"))
    body = "\n".join([f"## {title}", "", f"`{_command()}`", "", *[f"- {line}" for line in env], "",
                      conv_tables(rows, memory, diffs, settings)])
    print(body)
    if args.write:
        write_section(args.section or ("conv-one-core" if args.one_core else "conv"), body)


def _train(args) -> None:
    from .report import environment, write_section
    from .train import compare, train_table

    _threads(args)
    env = environment()
    print("\n".join(env), flush=True)
    runs = compare(args.epochs, args.repeats)
    title = args.title or "The digits CNN, trained in both libraries"
    body = "\n".join([f"## {title}", "", f"`{_command()}`", "", *[f"- {line}" for line in env], "",
                      train_table(runs, args.epochs)])
    print(body)
    if args.write:
        write_section(args.section or "train", body)


def _overhead(args) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    from .overhead import measure, overhead_table
    from .report import environment, load_average, write_section
    from .timing import use_cpu_time

    import convlab

    threadpool_limits(1)
    torch.set_num_threads(1)
    convlab.set_num_threads(1)  # CPU time counts a second thread's spinning as the call's
    use_cpu_time()
    env = environment()
    print("\n".join(env), flush=True)
    rows = measure(args.repeats, args.min_time)
    settings = (f"one thread each, CPU time per call, median of {args.repeats} interleaved "
                f"repeats of at least {args.min_time:g} s; load average at the end: "
                f"{load_average()}")
    title = args.title or "Per-op overhead: small ops, convlab / PyTorch"
    body = "\n".join([f"## {title}", "", f"`{_command()}`", "", *[f"- {line}" for line in env],
                      "", overhead_table(rows, settings)])
    print(body)
    if args.write:
        write_section(args.section or "overhead", body)


def _dataloader(args) -> None:
    from .dataloader import dataloader_table, measure
    from .report import environment, load_average, write_section

    env = environment()
    print("\n".join(env), flush=True)
    rates = measure(args.images, args.batch_size, args.workers, args.repeats)
    title = args.title or "Data loading with worker processes, CIFAR-style augmentation"
    settings = (f"{args.images} images 32x32x3 uint8 in memory, batch {args.batch_size}, "
                "shuffled; RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize "
                f"per item; median and best of {args.repeats} interleaved epochs, worker start-up "
                f"included; load average at the end: {load_average()}")
    body = "\n".join([f"## {title}", "", f"`{_command()}`", "", *[f"- {line}" for line in env],
                      f"- {settings}", "", dataloader_table(rates, args.workers)])
    print(body)
    if args.write:
        write_section(args.section or "dataloader", body)


def _nets(args) -> None:
    from .nets import measure, nets_table, profile, profile_table
    from .networks import NETWORKS
    from .report import environment, load_average, write_section

    _threads(args)
    names = args.networks or list(NETWORKS)
    unknown = set(names) - set(NETWORKS)
    if unknown:
        sys.exit(f"unknown network(s) {sorted(unknown)}; known: {list(NETWORKS)}")
    if min(args.batch) < 1:
        sys.exit(f"--batch: batch sizes must be at least 1, got {args.batch}")
    env = environment()
    print("\n".join(env), flush=True)
    results = []
    for batch in args.batch:
        for name in names:
            r = measure(name, batch, args.repeats, args.min_time, args.memory, args.one_core)
            results.append(r)
            print(f"{name:14s} batch {batch:4d}  step {r.train['convlab'] * 1e3:8.1f} / "
                  f"{r.train['torch'] * 1e3:8.1f} ms = {r.train['convlab'] / r.train['torch']:5.2f}"
                  f"   infer {r.infer['convlab'] * 1e3:8.2f} / {r.infer['torch'] * 1e3:8.2f} ms = "
                  f"{r.infer['convlab'] / r.infer['torch']:5.2f}", flush=True)
    clock = "CPU time, one thread each" if args.one_core else f"wall time, {args.threads} threads"
    settings = (f"float32, SGD lr 0.01 momentum 0.9; {clock}; median of {args.repeats} "
                f"interleaved repeats of at least {args.min_time:g} s each; "
                + ("peak memory: growth of the resident set during one training step in a fresh "
                   "process; " if args.memory else "")
                + f"load average at the end: {load_average()}")
    title = args.title or ("Whole networks, convlab / PyTorch: "
                           + ("one core" if args.one_core else f"{args.threads} threads"))
    body = "\n".join([f"## {title}", "", f"`{_command()}`", "", *[f"- {line}" for line in env],
                      "", nets_table(results, settings)])
    if args.profile:
        tables = [profile_table(name, args.batch[0], profile(name, args.batch[0], args.profile))
                  for name in names]
        body += "\n\n" + "\n\n".join([
            f"Where a training step's time goes (batch {args.batch[0]}, mean of {args.profile} "
            "steps; convlab: self time of each op's forward and backward, timed by wrapping "
            "every ArrayFunction; PyTorch: self CPU time of its aten ops under "
            "torch.profiler; both: wall time, the optimizer timed apart, and the step's time "
            "that no op accounts for in the last row). Both timers add their own cost to that "
            f"row. Load average after the profiles: {load_average()}.",
            *tables])
    print(body)
    if args.write:
        write_section(args.section or ("nets-one-core" if args.one_core else "nets"), body)


def _onnx(args) -> None:
    import convlab

    from .onnx_bench import measure, models, onnx_table
    from .report import environment, load_average, write_section

    _threads(args)
    convlab.set_num_threads(args.threads)
    if min(args.batch) < 1:
        sys.exit(f"--batch: batch sizes must be at least 1, got {args.batch}")
    env = environment()
    print("\n".join(env), flush=True)
    results = []
    for model in models(args.models):
        for batch in args.batch:
            r = measure(model, batch, args.threads, args.repeats, args.min_time)
            results.append(r)
            print(f"{r.name:24s} batch {batch:3d}  " + "  ".join(
                f"{lib} {s * 1e3:8.1f} ms" for lib, s in r.seconds.items()), flush=True)
    clock = "CPU time, one thread each" if args.one_core else f"wall time, {args.threads} threads"
    settings = (f"float32 inference; {clock}; median of {args.repeats} interleaved repeats of at "
                f"least {args.min_time:g} s each; load average at the end: {load_average()}")
    title = args.title or ("ONNX models, convlab / onnxruntime / PyTorch: "
                           + ("one core" if args.one_core else f"{args.threads} threads"))
    body = "\n".join([f"## {title}", "", f"`{_command()}`", "", *[f"- {line}" for line in env],
                      "", onnx_table(results, settings)])
    print(body)
    if args.write:
        write_section(args.section or ("onnx-one-core" if args.one_core else "onnx"), body)


def main(argv=None) -> None:
    _restart_without_throttles()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("conv", help="convolution and pooling cases, forward and backward")
    conv.add_argument("--cases", nargs="*", help="case names (default: all)")
    conv.add_argument("--repeats", type=int, default=7)
    conv.add_argument("--min-time", type=float, default=0.2, help="seconds per timed sample")
    conv.add_argument("--no-memory", dest="memory", action="store_false")
    conv.add_argument("--algorithm", help="force one convolution algorithm of "
                      "convlab.engine.select wherever it applies (e.g. im2col, the baseline)")
    train = sub.add_parser("train", help="the digits CNN trained in both libraries")
    train.add_argument("--epochs", type=int, default=15)
    train.add_argument("--repeats", type=int, default=3)
    for p in (conv, train):
        p.add_argument("--threads", type=int, default=2, help="PyTorch threads")
    loading = sub.add_parser("dataloader", help="CIFAR-style loading with 0 and more workers")
    loading.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    loading.add_argument("--images", type=int, default=10000)
    loading.add_argument("--batch-size", type=int, default=128)
    loading.add_argument("--repeats", type=int, default=5)
    loading.add_argument("--no-write", dest="write", action="store_false")
    loading.add_argument("--title")
    loading.add_argument("--section")
    overhead = sub.add_parser("overhead", help="small ops: the per-op bookkeeping")
    overhead.add_argument("--repeats", type=int, default=9)
    overhead.add_argument("--min-time", type=float, default=0.1, help="seconds per sample")
    overhead.add_argument("--no-write", dest="write", action="store_false")
    overhead.add_argument("--title")
    overhead.add_argument("--section")
    nets = sub.add_parser("nets", help="whole networks: training step, inference, memory")
    nets.add_argument("--networks", nargs="*", help="network names (default: all)")
    nets.add_argument("--batch", type=int, nargs="+", default=[32],
                      help="batch sizes (e.g. --batch 32 128)")
    nets.add_argument("--repeats", type=int, default=5)
    nets.add_argument("--min-time", type=float, default=0.5, help="seconds per timed sample")
    nets.add_argument("--no-memory", dest="memory", action="store_false")
    nets.add_argument("--profile", type=int, default=0, metavar="STEPS",
                      help="also a per-op time table of each network over STEPS steps")
    nets.add_argument("--threads", type=int, default=2, help="PyTorch threads")
    onnx = sub.add_parser("onnx", help="ONNX files: convlab.onnx beside onnxruntime and PyTorch")
    onnx.add_argument("--models", nargs="*", default=["resnet50", "squeezenet1_1", "rapidocr"],
                      help="resnet50, squeezenet1_1, rapidocr (default: all)")
    onnx.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    onnx.add_argument("--repeats", type=int, default=5)
    onnx.add_argument("--min-time", type=float, default=0.5, help="seconds per timed sample")
    onnx.add_argument("--threads", type=int, default=2,
                      help="threads of each library (onnxruntime's intra-op threads)")
    for p in (conv, train, nets, onnx):
        p.add_argument("--no-jit", action="store_true",
                       help="convlab without its compiled (numba) kernels: the NumPy paths")
        p.add_argument("--one-core", action="store_true",
                       help="one thread in every library, timed by CPU time: insensitive to "
                            "other processes' load, it compares the algorithms")
        p.add_argument("--no-write", dest="write", action="store_false",
                       help="print only; leave BENCHMARKS.md alone")
        p.add_argument("--title", help="the section's heading")
        p.add_argument("--section", help="the section of BENCHMARKS.md to (re)write (default: "
                                         "the command's name; nets and onnx add -one-core "
                                         "with --one-core)")
    memory = sub.add_parser("_memory", help=argparse.SUPPRESS)
    memory.add_argument("case")
    memory.add_argument("library", choices=("convlab", "torch"))
    memory.add_argument("--algorithm")
    args = parser.parse_args(argv)
    if args.command == "conv":
        _conv(args)
    elif args.command == "train":
        _train(args)
    elif args.command == "dataloader":
        _dataloader(args)
    elif args.command == "overhead":
        _overhead(args)
    elif args.command == "nets":
        _nets(args)
    elif args.command == "onnx":
        _onnx(args)
    else:
        from .conv import memory_child

        memory_child(args.case, args.library, args.algorithm)


if __name__ == "__main__":
    main()
