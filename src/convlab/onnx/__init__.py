"""ONNX in and out: ``load`` an ONNX file as a convlab Module, ``export`` a convlab Module to ONNX.

Needs the optional ``onnx`` package (``pip install 'convlab[onnx]'``); ``import convlab`` does not.
"""

from .exporter import export
from .importer import OnnxModel, OnnxNode, load

__all__ = ["OnnxModel", "OnnxNode", "export", "load"]
