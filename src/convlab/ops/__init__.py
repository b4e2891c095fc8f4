"""Differentiable ops: one ``ArrayFunction`` per op, ndarrays in and out."""
