"""``python -m benchmarks.api_coverage``: which public callables of PyTorch 2.13 convlab lacks.

For each namespace a PyTorch program reaches for (``torch``, ``torch.Tensor``, ``torch.nn``,
``torch.nn.functional``, ``torch.nn.init``, ``torch.optim``, ``torch.optim.lr_scheduler``,
``torch.utils.data`` and ``torch.autograd``) it lists PyTorch's public callables (no leading
underscore: functions, classes, methods) and looks each name up in convlab's twin. A missing
name is *left out by design* when it belongs to a family convlab does not implement
(:data:`LEFT_OUT`: sparse and quantized tensors, complex numbers, GPU backends, compilers and
graph capture, distributed training, recurrent and attention layers, ...), and *missing*
otherwise: the to-do list of the API. Counts print as a Markdown table (the README's
compatibility section holds a copy); ``--list`` also prints every missing name.

Needs PyTorch installed (the oracle). The counts measure names, not behaviour: that a name exists
in convlab says nothing of its arguments, which the tests compare.
"""

from __future__ import annotations

import argparse
import importlib
import re

NAMESPACES = [
    ("torch", "convlab"),
    ("torch.Tensor", "convlab.Tensor"),
    ("torch.nn", "convlab.nn"),
    ("torch.nn.functional", "convlab.nn.functional"),
    ("torch.nn.init", "convlab.nn.init"),
    ("torch.optim", "convlab.optim"),
    ("torch.optim.lr_scheduler", "convlab.optim.lr_scheduler"),
    ("torch.utils.data", "convlab.utils.data"),
    ("torch.autograd", "convlab.autograd"),
]

# Families convlab leaves out on purpose, with the reason; a name matching the pattern (searched
# in the lower-cased name) counts as left out by design.
LEFT_OUT = {
    "sparse, quantized and nested tensors (other storage formats; convlab has dense arrays)":
        r"sparse|quantiz|qint|quint|fake_quant|per_channel|q_scale|q_zero|int_repr|nested|"
        r"coo|csr|csc|bsr|bsc|to_dense|to_mkldnn|dequantize|mkldnn|fbgemm|packed",
    "complex numbers (no complex dtypes)": r"complex|view_as_real|angle|conj|polar|^real$|^imag$|"
                                           r"resolve_neg|is_neg",
    "GPU, other devices and memory pinning (NumPy computes on the CPU)":
        r"cuda|cudnn|miopen|xpu|mps|hip|pin_memory|is_pinned|share_memory|ipu|hpu|mtia|"
        r"record_stream|untyped_storage|storage|data_ptr|nbytes|itemsize|to_sparse",
    "compilers, tracing, functorch and export (convlab runs eagerly)":
        r"compile|jit|script|trace|export|vmap|func|fx|onnx|graph|symbolic|guard|dynamo|"
        r"cond|while_loop|sym_|make_fx|is_inference|inference_mode",
    "distributed and multi-process training": r"distributed|rpc|ddp|gloo|nccl|fsdp|shard",
    "recurrent and attention layers (convlab is about convolution)":
        r"rnn|lstm|gru|transformer|attention|multihead|embedding|ctc",
    "fused and in-house kernels (_foreach, fused optimizers, native variants)":
        r"foreach|fused|native|batch_norm_|_backward|cudnn_|miopen_|fbgemm_|grouped_mm|"
        r"scaled_mm|segment_reduce|conv_tbc",
    "copies of view ops (functionalization twins: view_copy, slice_copy, ...)": r"_copy$",
    "linear algebra decompositions and signal processing (torch.linalg, torch.fft, windows)":
        r"cholesky|svd|^qr$|eig|^lu|solve|inverse|^det$|logdet|pinverse|lstsq|lobpcg|orgqr|"
        r"ormqr|geqrf|matrix_exp|matrix_rank|pca_lowrank|stft|window|^i0|gamma|digamma|"
        r"erfinv|polygamma|bessel",
    "mixed precision, determinism switches, profiling and debugging hooks":
        r"autocast|deterministic|anomaly|interop|denormal|vulkan|dlpack|profil|kineto|"
        r"warn_always|matmul_precision|from_file|frombuffer|datapipe|validation|"
        r"multithreading|view_replay|grad_layout|scaler|stream|event|symint|symfloat|symbool|"
        r"future|^fork$|^wait$|ir_module|parse_ir|parse_schema|type_comment|unify_type|"
        r"accelerator_error|acceleratorerror|outofmemory|module_load|classproperty",
    "deprecated aliases (init functions without the trailing underscore, Variable, ...)":
        r"^(constant|dirac|eye|kaiming_normal|kaiming_uniform|normal|orthogonal|uniform|"
        r"xavier_normal|xavier_uniform|variable|nllloss2d|upsample|upsample_bilinear|"
        r"upsample_nearest|symeig|container|reinforce)$",
}


def public_callables(obj) -> set:
    """The public callable attributes of a module or class that are PyTorch's own: not helpers
    it imports (``typing.Optional``, ``functools.partial``), nor the TorchScript compiler's
    classes that ``torch`` re-exports from ``torch._C`` (``Block``, ``FloatType``, ...)."""
    names = set()
    for name in dir(obj):
        if name.startswith("_"):
            continue
        try:
            value = getattr(obj, name)
        except Exception:  # some torch attributes raise on access without a GPU
            continue
        if not callable(value) or isinstance(value, type(importlib)):
            continue
        home = getattr(value, "__module__", None) or ""
        if home and not home.startswith("torch"):
            continue
        if type(value).__name__ == "pybind11_type":  # TorchScript's C++ classes
            continue
        names.add(name)
    return names


def resolve(dotted: str):
    """The module or class named ``dotted`` (``torch.Tensor``)."""
    module_name, _, attribute = dotted.rpartition(".")
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError:
        return getattr(importlib.import_module(module_name), attribute)


def reason_left_out(name: str) -> str | None:
    lowered = name.lower()
    for reason, pattern in LEFT_OUT.items():
        if re.search(pattern, lowered):
            return reason
    return None


def coverage() -> list:
    """One row per namespace: (torch name, total, present, left out, missing names)."""
    rows = []
    for theirs_name, ours_name in NAMESPACES:
        theirs, ours = resolve(theirs_name), resolve(ours_name)
        wanted = public_callables(theirs)
        present = {n for n in wanted if hasattr(ours, n)}
        absent = sorted(wanted - present)
        left_out = [n for n in absent if reason_left_out(n)]
        missing = [n for n in absent if not reason_left_out(n)]
        rows.append((theirs_name, len(wanted), len(present), len(left_out), missing))
    return rows


def table(rows: list) -> str:
    lines = ["| namespace | PyTorch's public callables | in convlab | left out by design | "
             "missing |", "|---|---:|---:|---:|---:|"]
    totals = [0, 0, 0, 0]
    for name, total, present, left_out, missing in rows:
        lines.append(f"| `{name}` | {total} | {present} | {left_out} | {len(missing)} |")
        for i, n in enumerate((total, present, left_out, len(missing))):
            totals[i] += n
    lines.append(f"| all | {totals[0]} | {totals[1]} | {totals[2]} | {totals[3]} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print every missing name too")
    args = parser.parse_args(argv)
    import torch

    rows = coverage()
    print(f"PyTorch {torch.__version__}\n")
    print(table(rows))
    if args.list:
        for name, _, _, _, missing in rows:
            print(f"\n{name} ({len(missing)} missing):")
            print("  " + ", ".join(missing))


if __name__ == "__main__":
    main()
