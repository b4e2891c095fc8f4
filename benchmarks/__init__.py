"""Benchmarks of convlab against PyTorch; run ``python -m benchmarks --help``."""
