"""The measured cases: one convolution or pooling call each, with its shapes and arguments.

The ``conv2d`` suite is issue 6's: the layers of LeNet, a CIFAR stem, ResNet blocks (3x3, deep
3x3, strided), a 1x1, a depthwise and a grouped layer, a 15x15 kernel and a dilated one. The
``other`` suite covers the remaining entry points with shapes from common models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Case", "CONV2D", "OTHER", "CASES", "conv2d_case"]


@dataclass(frozen=True)
class Case:
    """``op(x, w, b, **kwargs)`` for a convolution, ``op(x, **kwargs)`` for pooling.

    ``weight`` is None for pooling; ``suite`` is ``"conv2d"`` or ``"other"``.
    """

    name: str
    op: str
    input: tuple[int, ...]
    weight: tuple[int, ...] | None
    kwargs: dict = field(default_factory=dict)
    suite: str = "other"

    @property
    def is_conv(self) -> bool:
        return self.weight is not None

    def describe(self) -> str:
        """The shapes and the non-default arguments, for the tables."""
        shapes = "x" + "x".join(map(str, self.input))
        if self.weight is not None:
            shapes += " w" + "x".join(map(str, self.weight))
        args = " ".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{shapes} {args}".strip()


def conv2d_case(name: str, N: int, C_in: int, HW: int, C_out: int, k: int, stride: int,
                padding: int, groups: int, dilation: int) -> Case:
    """A square conv2d case from the issue's columns ``N, C_in, H=W, C_out, k, stride, padding,
    groups, dilation``; arguments left at their defaults are not passed."""
    kwargs = {"stride": stride, "padding": padding, "groups": groups, "dilation": dilation}
    defaults = {"stride": 1, "padding": 0, "groups": 1, "dilation": 1}
    kwargs = {k_: v for k_, v in kwargs.items() if v != defaults[k_]}
    return Case(name, "conv2d", (N, C_in, HW, HW), (C_out, C_in // groups, k, k), kwargs,
                suite="conv2d")


CONV2D = [
    conv2d_case("lenet-c1", 64, 1, 28, 6, 5, 1, 0, 1, 1),
    conv2d_case("cifar-c1", 64, 3, 32, 32, 3, 1, 1, 1, 1),
    conv2d_case("res-3x3", 16, 64, 56, 64, 3, 1, 1, 1, 1),
    conv2d_case("res-3x3-deep", 16, 256, 14, 256, 3, 1, 1, 1, 1),
    conv2d_case("res-stride2", 16, 64, 56, 128, 3, 2, 1, 1, 1),
    conv2d_case("pointwise", 16, 128, 28, 256, 1, 1, 0, 1, 1),
    conv2d_case("depthwise", 16, 128, 28, 128, 3, 1, 1, 128, 1),
    conv2d_case("grouped", 16, 128, 28, 128, 3, 1, 1, 8, 1),
    conv2d_case("large-k", 4, 16, 128, 16, 15, 1, 7, 1, 1),
    conv2d_case("dilated", 16, 64, 32, 64, 3, 1, 2, 1, 2),
]

OTHER = [
    # a 1-D audio / sequence layer
    Case("conv1d", "conv1d", (16, 64, 1024), (64, 64, 5), {"padding": 2}),
    # a 3-D video / volume layer
    Case("conv3d", "conv3d", (4, 32, 16, 32, 32), (32, 32, 3, 3, 3), {"padding": 1}),
    # DCGAN-style 2x upsampling
    Case("conv_transpose2d", "conv_transpose2d", (16, 128, 16, 16), (128, 64, 4, 4),
         {"stride": 2, "padding": 1}),
    # ResNet's stem pooling and a plain 2x2 pooling
    Case("max_pool2d", "max_pool2d", (16, 64, 112, 112), None,
         {"kernel_size": 3, "stride": 2, "padding": 1}),
    Case("avg_pool2d", "avg_pool2d", (16, 64, 56, 56), None, {"kernel_size": 2}),
]

CASES = CONV2D + OTHER
