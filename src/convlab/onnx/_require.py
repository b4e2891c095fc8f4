"""Import the optional ``onnx`` package, or say which extra installs it."""

from __future__ import annotations

import importlib


def require(name: str = "onnx"):
    """Return the imported module ``name`` (``onnx`` or ``onnxruntime``).

    convlab itself never imports onnx: only the functions of ``convlab.onnx`` need it, and they ask
    for it here, so that ``import convlab`` works without it.
    """
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ImportError(
            f"convlab.onnx needs the '{name}' package, which is not installed: "
            "install the extra with  pip install 'convlab[onnx]'") from error
