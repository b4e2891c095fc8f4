"""``DataParallel`` as PyTorch's behaves where no GPU is found: it wraps the module and calls it.

PyTorch splits each batch across its GPUs; with none, it keeps ``device_ids = []`` and forwards
to the wrapped module unchanged. Scripts written for several GPUs therefore run as they are::

    model = nn.DataParallel(Net())          # DataParallel((module): Net(...))
    loss = criterion(model(images), labels)  # Net's forward
    convlab.save(model.module.state_dict(), "net.npz")

The wrapper's ``state_dict()`` keys start with ``module.``, as in PyTorch.
"""

from __future__ import annotations

from ..modules.module import Module

__all__ = ["DataParallel"]


class DataParallel(Module):
    """Holds ``module`` and forwards every call to it (no devices to split the batch over).

    ``device_ids``, ``output_device`` and ``dim`` are accepted, as PyTorch accepts them when
    it finds no GPU, and ignored.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel wraps a Module, got {type(module).__name__}")
        self.module = module
        self.device_ids: list = []

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
