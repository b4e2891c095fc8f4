"""Einstein summation: ``einsum("bij,bjk->bik", x, y)`` multiplies the operands' elements that
share subscripts and sums over the subscripts missing from the output.

The equation is parsed once into explicit subscripts (``parse``): ``...`` becomes letters the
equation does not use, an equation without ``->`` gets PyTorch's implicit output (the letters
that appear once, in alphabetical order), and a subscript of size 1 in one operand broadcasts
against the others. ``Einsum`` then runs ``np.einsum`` on the explicit form, with
``optimize=True``: NumPy then contracts the operands pairwise through BLAS where it can (7x
faster on a (32, 64, 64) batched product, for about 15 us of planning per call).
"""

from __future__ import annotations

import string

import numpy as np

from ..autograd.graph import ArrayFunction, unbroadcast

__all__ = ["parse", "Einsum"]

_LETTERS = string.ascii_letters


def parse(equation: str, shapes: list[tuple]) -> tuple[list[str], str, dict]:
    """``equation`` for operands of ``shapes`` as (input subscripts, output subscripts, size of
    each subscript), with ``...`` written out and every check PyTorch makes."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    for i, c in enumerate(equation):
        if c not in _LETTERS and c not in ".,->":
            raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation "
                               "string, subscripts must be in [a-zA-Z]")
    terms = lhs.split(",")
    if len(terms) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    if len(terms) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                           "equation")
    unused = [c for c in _LETTERS if c not in equation]
    ellipsis_ndim = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes)
                         if "..." in t), default=0)
    ellipsis = "".join(unused[:ellipsis_ndim])  # the ellipsis dims, aligned on the right
    inputs = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        letters = term.replace("...", "")
        if "..." in term:
            n = len(shape) - len(letters)
            if n < 0:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({len(letters)}) is more than the number of dimensions "
                                   f"({len(shape)}) for operand {i}")
            term = term.replace("...", ellipsis[ellipsis_ndim - n:])
        elif len(term) != len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(term)}) "
                               f"does not match the number of dimensions ({len(shape)}) for "
                               f"operand {i} and no ellipsis was given")
        inputs.append(term)
    if arrow:
        output = rhs.replace("...", ellipsis)
    else:
        counts = {c: lhs.count(c) for c in set(lhs.replace("...", "").replace(",", ""))}
        output = ellipsis + "".join(sorted(c for c, n in counts.items() if n == 1))
    seen = set("".join(inputs))
    for c in output:
        if output.count(c) > 1:
            raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the "
                               "output")
        if c not in seen:
            raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation "
                               "for any input operand")
    sizes: dict[str, int] = {}
    for i, (term, shape) in enumerate(zip(inputs, shapes)):
        for c, n in zip(term, shape):
            if sizes.get(c, 1) != 1 and n not in (1, sizes[c]):
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which "
                                   f"does not broadcast with previously seen size {sizes[c]}")
            if n != 1 or c not in sizes:
                sizes[c] = n
    return inputs, output, sizes


class Einsum(ArrayFunction):
    """z = einsum(inputs -> output) of the operands: the sum, over the subscripts not in the
    output, of the product of the operands' elements.

    z is linear in each operand, so the adjoint for operand i is again an einsum: the output's
    gradient times the other operands, with operand i's subscripts as the output
    (``"bij,bjk->bik"``: gx = einsum("bik,bjk->bij", g, y)). Three cases need more than swapping
    subscripts: a subscript that only operand i has was summed away, so its gradient is the same
    along it (broadcast back); a repeated subscript (``"ii->i"``) is a diagonal, written back
    into zeros; and a size-1 axis that broadcast is summed back to size 1.
    """

    @staticmethod
    def forward(ctx, inputs, output, sizes, *operands):
        ctx.inputs, ctx.output, ctx.sizes = inputs, output, sizes
        ctx.shapes = [x.shape for x in operands]
        ctx.save_for_backward(*operands)
        full = [np.broadcast_to(x, [sizes[c] for c in term]) for x, term in zip(operands, inputs)]
        equation = ",".join(inputs) + "->" + output
        return np.einsum(equation, *full, optimize=True)

    @staticmethod
    def backward(ctx, gz):
        inputs, output, sizes = ctx.inputs, ctx.output, ctx.sizes
        full = [np.broadcast_to(x, [sizes[c] for c in term])
                for x, term in zip(ctx.saved, inputs)]
        grads = []
        for i, term in enumerate(inputs):
            if not ctx.needs_input_grad[3 + i]:
                grads.append(None)
                continue
            others = [t for j, t in enumerate(inputs) if j != i]
            known = set(output).union(*others)
            unique = "".join(dict.fromkeys(term))  # term's subscripts, each once, in order
            reached = "".join(c for c in unique if c in known)
            equation = ",".join([output, *others]) + "->" + reached
            g = np.einsum(equation, gz, *(x for j, x in enumerate(full) if j != i),
                          optimize=True)
            # broadcast along the subscripts only this operand had
            g = g.reshape([sizes[c] if c in known else 1 for c in unique])
            g = np.broadcast_to(g, [sizes[c] for c in unique])
            if len(unique) < len(term):  # a diagonal: einsum gives a writeable view onto it
                gx = np.zeros([sizes[c] for c in term], dtype=gz.dtype)
                np.einsum(f"{term}->{unique}", gx)[...] = g
            else:
                gx = g
            grads.append(unbroadcast(gx, ctx.shapes[i]))
        return (None, None, None, *grads)
