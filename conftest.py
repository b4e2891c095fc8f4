"""Collection rules for the whole repository, read before those of ``tests/``.

ONNX support is an optional extra (``pip install -e '.[onnx]'``): without the onnx package, the
modules of ``convlab.onnx`` that need it at import and the ONNX tests are not collected, as the
PyTorch comparisons are skipped without torch. A skip inside those tests would not do:
``tests/onnx`` is itself importable as a namespace package named ``onnx`` where the real one is
missing, so ``pytest.importorskip("onnx")`` would find it.
"""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("onnx") is not None else [
    "src/convlab/onnx/backend.py", "tests/onnx/*"]
