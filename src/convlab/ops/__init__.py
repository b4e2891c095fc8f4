"""Differentiable ops: one ``Function`` per op, ndarrays in and out."""
