"""``convlab.backends``: the switches PyTorch scripts set for GPU libraries, which convlab
(NumPy on the CPU) does not use. They hold what a script writes and change nothing, so lines
such as these run unchanged::

    import convlab.backends.cudnn as cudnn
    cudnn.benchmark = True                                       # choose fast conv algorithms
    convlab.backends.cudnn.deterministic = True                  # repeatable results
    device = "mps" if convlab.backends.mps.is_available() else "cpu"   # "cpu"

convlab is deterministic anyway, and ``engine/select.py`` chooses its convolution algorithm
itself. It is a package, as PyTorch's is, so ``import torch.backends.cudnn`` also works where
``torch`` is an alias of convlab in ``sys.modules``.
"""

from . import cuda, cudnn, mps

__all__ = ["cudnn", "mps", "cuda"]
