"""``python -m benchmarks onnx``: inference of ONNX files in convlab, onnxruntime and PyTorch.

ResNet-50 and SqueezeNet 1.1 (benchmarks/onnx_models.py) are built by PyTorch (seed 0) and
written by ``torch.onnx.export`` with a free batch axis; then, per batch size, the same file runs
in onnxruntime (intra-op threads = the thread count) and, through ``convlab.onnx.load``, in
convlab, beside the PyTorch module it came from (``eval()``, ``no_grad``). The rapidocr
text-direction classifier (a trained MobileNetV3 inside the rapidocr-onnxruntime package) runs in
convlab and onnxruntime only: there is no PyTorch model of it.

Before any timing, every library's output must equal onnxruntime's (relative tolerance 1e-3, and
an absolute one of 1e-3 of the largest output, for the logits near zero). Then the libraries are
timed interleaved (benchmarks/timing.py).
"""

from __future__ import annotations

import importlib.util
import io
import pathlib
from dataclasses import dataclass

import numpy as np

from .onnx_models import INPUT_SHAPE, ONNX_NETWORKS
from .timing import interleaved

__all__ = ["Model", "Result", "models", "measure", "onnx_table"]

RTOL = 1e-3


@dataclass
class Model:
    """An ONNX file's bytes, the shape of one input item, and the PyTorch module it was exported
    from (None for a file that came as ONNX)."""
    name: str
    onnx: bytes
    input_shape: tuple[int, ...]
    torch_model: object | None


@dataclass
class Result:
    name: str
    batch: int
    seconds: dict[str, float]  # per inference, by library
    max_diff: float  # the largest |convlab - onnxruntime| / the largest |onnxruntime output|


def _exported(name: str) -> Model:
    """Network ``name`` built by PyTorch (seed 0, running statistics drawn) and exported with
    its batch axis free."""
    import torch

    torch.manual_seed(0)
    model = ONNX_NETWORKS[name](torch).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    buffer = io.BytesIO()
    torch.onnx.export(model, (torch.zeros(1, *INPUT_SHAPE),), buffer, dynamo=False,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return Model(name, buffer.getvalue(), INPUT_SHAPE, model)


def _rapidocr_classifier() -> Model | None:
    """The text-direction classifier inside rapidocr-onnxruntime (None where it is missing)."""
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None:
        return None
    path = pathlib.Path(spec.origin).parent / "models" / "ch_ppocr_mobile_v2.0_cls_infer.onnx"
    return Model("rapidocr text direction", path.read_bytes(), (3, 48, 192), None)


def models(names: list[str]) -> list[Model]:
    """The networks ``names`` (keys of ONNX_NETWORKS, or ``rapidocr``), exported or read."""
    out = []
    for name in names:
        if name == "rapidocr":
            model = _rapidocr_classifier()
            if model is None:
                print("rapidocr-onnxruntime is not installed: its classifier is left out")
                continue
            out.append(model)
        else:
            out.append(_exported(name))
    return out


def _runners(model: Model, x: np.ndarray, threads: int) -> dict[str, object]:
    """A callable per library that runs one inference on ``x`` and returns NumPy."""
    import onnxruntime

    import convlab
    import convlab.onnx

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.onnx, options,
                                           providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x}
    ours = convlab.onnx.load(model.onnx)
    ours.eval()
    x_convlab = convlab.from_numpy(x.copy())

    def run_convlab():
        with convlab.no_grad():
            return ours(x_convlab).numpy()

    runners = {"convlab": run_convlab, "onnxruntime": lambda: session.run(None, feed)[0]}
    if model.torch_model is not None:
        import torch

        x_torch = torch.from_numpy(x.copy())

        def run_torch():
            with torch.no_grad():
                return model.torch_model(x_torch).numpy()

        runners["torch"] = run_torch
    return runners


def _checked(model: Model, batch: int, runners: dict[str, object]) -> float:
    """Every library's output against onnxruntime's; returns convlab's largest difference, as a
    fraction of the largest output."""
    reference = runners["onnxruntime"]()
    scale = float(np.abs(reference).max())
    for library, run in runners.items():
        np.testing.assert_allclose(
            run(), reference, rtol=RTOL, atol=RTOL * scale,
            err_msg=f"{model.name}, batch {batch}: {library}'s output differs from onnxruntime's")
    return float(np.abs(runners["convlab"]() - reference).max()) / scale


def measure(model: Model, batch: int, threads: int, repeats: int, min_time: float) -> Result:
    """Check the outputs, then time one inference in each library, interleaved."""
    x = np.random.default_rng(0).standard_normal((batch, *model.input_shape)).astype(np.float32)
    runners = _runners(model, x, threads)
    diff = _checked(model, batch, runners)
    return Result(model.name, batch, interleaved(runners, repeats, min_time), diff)


TARGET = 1.5  # issue 13: convlab within 1.5x of onnxruntime


def _geomean(values) -> float:
    return float(np.exp(np.mean(np.log(list(values)))))


def onnx_table(results: list[Result], settings: str) -> str:
    """One Markdown table: ms per inference in each library, the two ratios, the difference."""
    lines = [settings, "",
             "| model | batch | convlab ms | onnxruntime ms | PyTorch ms | "
             "**convlab / onnxruntime** | convlab / PyTorch | max diff / max output |",
             "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for r in results:
        t = r.seconds
        torch_ms = f"{t['torch'] * 1e3:.1f}" if "torch" in t else "-"
        vs_torch = f"{t['convlab'] / t['torch']:.2f}" if "torch" in t else "-"
        lines.append(f"| {r.name} | {r.batch} | {t['convlab'] * 1e3:.1f} | "
                     f"{t['onnxruntime'] * 1e3:.1f} | {torch_ms} | "
                     f"**{t['convlab'] / t['onnxruntime']:.2f}** | {vs_torch} | "
                     f"{r.max_diff:.1e} |")
    ratios = [r.seconds["convlab"] / r.seconds["onnxruntime"] for r in results]
    geomean = _geomean(ratios)
    within = sum(ratio <= TARGET for ratio in ratios)
    lines.append(f"| geometric mean | | | | | **{geomean:.2f}** | | |")
    lines += ["", f"Ratios are convlab time / the other's (below 1: convlab is faster). Issue 13's "
              f"target, convlab within {TARGET}x of onnxruntime: "
              f"{'met' if within == len(ratios) else '**not met**'} ({within} of {len(ratios)} "
              f"rows; geometric mean {geomean:.2f})."]
    return "\n".join(lines)
