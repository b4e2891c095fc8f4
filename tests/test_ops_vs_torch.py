"""Every differentiable Tensor op against PyTorch: values and gradients, in float64 and float32.

One table of cases: an op written once for both libraries (``m`` is ``convlab`` or ``torch``), the
shapes of its inputs (broadcasting of every kind, 0-d tensors, empty dims, negative dims,
``keepdim``) and the range its inputs are drawn from. Each case runs three ways:

- float64 against PyTorch: the values and every input's gradient, at tight tolerance;
- float32 against PyTorch, and the result and gradients stay float32;
- float64 central differences and the dot-product test (``gradcheck``), which need no PyTorch.
"""

from __future__ import annotations

import zlib
from typing import Callable, NamedTuple

import numpy as np
import pytest

import convlab
from gradcheck import gradcheck


class Case(NamedTuple):
    name: str
    fn: Callable  # fn(m, *inputs) with m the convlab or torch module
    shapes: tuple
    low: float = -2.0  # inputs are drawn uniformly from [low, high]
    high: float = 2.0
    finite_differences: bool = True  # False where the values are not finite (nan, -inf)


def _binary_cases() -> list[Case]:
    broadcasts = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((4,), (2, 3, 4)),
                  ((2, 1, 4), (3, 1)), ((), (3,)), ((2, 3), ()), ((), ()), ((0, 3), (3,)),
                  ((2, 0), (1,))]
    ops = {
        "add": (lambda m, x, y: x + y, -2, 2),
        "sub": (lambda m, x, y: x - y, -2, 2),
        "mul": (lambda m, x, y: x * y, -2, 2),
        "div": (lambda m, x, y: x / y, 0.5, 2),
        "pow": (lambda m, x, y: x ** y, 0.5, 2),
        "remainder": (lambda m, x, y: (x * 3) % y, 0.5, 2),
        "maximum": (lambda m, x, y: m.maximum(x, y), -2, 2),
        "minimum": (lambda m, x, y: m.minimum(x, y), -2, 2),
        "where": (lambda m, x, y: m.where(x > y, x, y * 2), -2, 2),
        "lerp": (lambda m, x, y: x.lerp(y, 0.3), -2, 2),
        "lerp_far": (lambda m, x, y: m.lerp(x, y, 0.8), -2, 2),
    }
    return [Case(f"{op}{list(sx)}{list(sy)}", fn, (sx, sy), low, high)
            for op, (fn, low, high) in ops.items() for sx, sy in broadcasts]


def _unary_cases() -> list[Case]:
    ops = {
        "neg": (lambda m, x: -x, -2, 2),
        "abs": (lambda m, x: x.abs(), -2, 2),
        "exp": (lambda m, x: x.exp(), -2, 2),
        "log": (lambda m, x: x.log(), 0.2, 3),
        "log1p": (lambda m, x: x.log1p(), -0.5, 3),
        "sqrt": (lambda m, x: x.sqrt(), 0.2, 3),
        "rsqrt": (lambda m, x: x.rsqrt(), 0.2, 3),
        "sin": (lambda m, x: x.sin(), -3, 3),
        "cos": (lambda m, x: x.cos(), -3, 3),
        "tanh": (lambda m, x: x.tanh(), -3, 3),
        "sigmoid": (lambda m, x: x.sigmoid(), -5, 5),
        "relu": (lambda m, x: x.relu(), -2, 2),
        "square": (lambda m, x: x.square(), -2, 2),
        "clamp": (lambda m, x: x.clamp(-0.5, 0.5), -2, 2),
        "clamp_min": (lambda m, x: x.clamp(min=0.2), -2, 2),
        "clamp_max": (lambda m, x: x.clamp(max=-0.1), -2, 2),
        "clip": (lambda m, x: x.clip(-1, 1), -2, 2),
        "clamp_tensor": (lambda m, x: x.clamp(min=x.detach() * 0 - 0.5), -2, 2),
        "add_scalar": (lambda m, x: x + 2.5, -2, 2),
        "radd": (lambda m, x: 2.5 + x, -2, 2),
        "rsub": (lambda m, x: 1.5 - x, -2, 2),
        "mul_int": (lambda m, x: x * -3, -2, 2),
        "rmul": (lambda m, x: 2 * x, -2, 2),
        "div_scalar": (lambda m, x: x / 4, -2, 2),
        "rdiv": (lambda m, x: 1 / x, 0.5, 2),
        "pow2": (lambda m, x: x ** 2, -2, 2),
        "pow_half": (lambda m, x: x ** 0.5, 0.5, 2),
        "pow_neg": (lambda m, x: x.pow(-1.5), 0.5, 2),
        "rpow": (lambda m, x: 2 ** x, -2, 2),
        "mod_scalar": (lambda m, x: m.remainder(x, 0.7), -2, 2),
        "maximum_0d": (lambda m, x: m.maximum(x, m.tensor(0.3, dtype=x.dtype)), -2, 2),
        "where_scalar": (lambda m, x: m.where(x > 0, x, 0.0), -2, 2),
        "clone": (lambda m, x: x.clone() * 1, -2, 2),
        "exp_fn": (lambda m, x: m.exp(x), -2, 2),
        "abs_fn": (lambda m, x: m.abs(x), -2, 2),
        "clamp_fn": (lambda m, x: m.clamp(x, -0.5, 0.5), -2, 2),
        "clamp_min_method": (lambda m, x: x.clamp_min(0.2), -2, 2),
        "clamp_max_fn": (lambda m, x: m.clamp_max(x, -0.1), -2, 2),
        "clamp_min_tensor": (lambda m, x: x.clamp_min(x.detach() * 0 - 0.5), -2, 2),
        "reciprocal": (lambda m, x: x.reciprocal(), 0.5, 2),
        "erf": (lambda m, x: m.erf(x), -2, 2),
        "round": (lambda m, x: x.round() * x, -2, 2),
        "round_decimals": (lambda m, x: x.round(decimals=1) + x, -2, 2),
        "floor": (lambda m, x: m.floor(x) * x, -2, 2),
        "ceil": (lambda m, x: x.ceil() * x, -2, 2),
        "trunc": (lambda m, x: x.trunc() + x, -2, 2),
        "frac": (lambda m, x: x.frac(), -2, 2),
        "sign": (lambda m, x: x.sign() * x, -2, 2),
    }
    shapes = [(3, 4), (), (0, 2), (2, 3, 4)]
    return [Case(f"{op}{list(s)}", fn, (s,), low, high)
            for op, (fn, low, high) in ops.items() for s in shapes]


def _matmul_cases() -> list[Case]:
    shapes = [((3, 4), (4, 5)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)),
              ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
              ((4,), (2, 4, 5)), ((2, 3, 4), (4,)), ((0, 4), (4, 5)), ((3, 0), (0, 5))]
    return ([Case(f"matmul{list(a)}{list(b)}", lambda m, x, y: x @ y, (a, b)) for a, b in shapes]
            + [Case("matmul_fn", lambda m, x, y: m.matmul(x, y), ((3, 4), (4, 2))),
               Case("mm", lambda m, x, y: x.mm(y), ((3, 4), (4, 2))),
               Case("bmm", lambda m, x, y: x.bmm(y), ((2, 3, 4), (2, 4, 5))),
               Case("bmm_fn", lambda m, x, y: m.bmm(x, y), ((3, 1, 4), (3, 4, 2))),
               Case("dot", lambda m, x, y: x.dot(y), ((4,), (4,))),
               Case("dot_fn_empty", lambda m, x, y: m.dot(x, y), ((0,), (0,))),
               Case("outer", lambda m, x, y: m.outer(x, y), ((3,), (4,))),
               Case("ger", lambda m, x, y: x.ger(y), ((2,), (3,)))])


X3 = ((2, 3, 4),)
INF = float("inf")
ONE_ZERO_PER_ROW = np.array([[1, 0, 1, 1], [0, 1, 1, 1], [1, 1, 1, 0]], dtype=np.float32)
TWO_ZEROS_IN_ROW = np.array([[1, 0, 1, 0], [1, 1, 1, 1], [0, 1, 1, 1]], dtype=np.float32)

EINSUM = [
    Case("einsum_matmul", lambda m, x, y: m.einsum("ij,jk->ik", x, y), ((3, 4), (4, 5))),
    Case("einsum_batched", lambda m, x, y: m.einsum("bij,bjk->bik", x, y), ((2, 3, 4), (2, 4, 5))),
    Case("einsum_implicit", lambda m, x, y: m.einsum("ij,kj", x, y), ((3, 4), (2, 4))),
    Case("einsum_list", lambda m, x, y: m.einsum("i,j->ij", [x, y]), ((3,), (4,))),
    Case("einsum_spaces", lambda m, x, y: m.einsum("i j , j -> i", x, y), ((3, 4), (4,))),
    Case("einsum_transpose", lambda m, x: m.einsum("ijk->kij", x), X3),
    Case("einsum_sum_all", lambda m, x: m.einsum("ijk->", x), X3),
    Case("einsum_trace", lambda m, x: m.einsum("ii", x), ((3, 3),)),
    Case("einsum_diagonal", lambda m, x: m.einsum("bii->bi", x), ((2, 3, 3),)),
    Case("einsum_summed_alone", lambda m, x, y: m.einsum("ij,j->j", x, y), ((3, 4), (4,))),
    Case("einsum_three", lambda m, x, y, z: m.einsum("ij,jk,kl->il", x, y, z),
         ((2, 3), (3, 4), (4, 2))),
    Case("einsum_ellipsis", lambda m, x, y: m.einsum("...ij,...jk->...ik", x, y),
         ((2, 1, 2, 3), (4, 3, 3))),
    Case("einsum_ellipsis_implicit", lambda m, x: m.einsum("i...->...", x), X3),
    Case("einsum_broadcast_label", lambda m, x, y: m.einsum("ij,ij->ij", x, y), ((3, 4), (1, 4))),
    Case("einsum_0d", lambda m, x, y: m.einsum(",i->i", x, y), ((), (3,))),
    Case("einsum_empty", lambda m, x, y: m.einsum("ij,jk->ik", x, y), ((0, 3), (3, 2))),
]

REDUCTIONS = [
    Case("sum", lambda m, x: x.sum(), X3),
    Case("sum_dim", lambda m, x: x.sum(1), X3),
    Case("sum_neg_keepdim", lambda m, x: x.sum(-1, keepdim=True), X3),
    Case("sum_tuple", lambda m, x: x.sum((0, 2)), X3),
    Case("sum_tuple_neg_keepdim", lambda m, x: x.sum(dim=(-1, 0), keepdim=True), X3),
    Case("sum_fn", lambda m, x: m.sum(x, 1), X3),
    Case("mean", lambda m, x: x.mean(), X3),
    Case("mean_dim", lambda m, x: x.mean(1), X3),
    Case("mean_tuple_keepdim", lambda m, x: x.mean((0, -1), keepdim=True), X3),
    Case("mean_fn", lambda m, x: m.mean(x, dim=-1), X3),
    Case("var", lambda m, x: x.var(), X3),
    Case("var_dim", lambda m, x: x.var(1), X3),
    Case("var_biased", lambda m, x: x.var(1, unbiased=False), X3),
    Case("var_positional_unbiased", lambda m, x: x.var(2, False, True), X3),
    Case("var_correction", lambda m, x: x.var(dim=(0, 2), keepdim=True, correction=0), X3),
    Case("var_correction2", lambda m, x: x.var(-1, correction=2), X3),
    Case("var_fn", lambda m, x: m.var(x, 1), X3),
    Case("std", lambda m, x: x.std(), X3),
    Case("std_dim", lambda m, x: x.std(0), X3),
    Case("std_keepdim_biased", lambda m, x: x.std(2, keepdim=True, unbiased=False), X3),
    Case("std_correction", lambda m, x: x.std(dim=(0, 1), correction=0), X3),
    Case("std_of_constant", lambda m, x: (x * m.tensor(ONE_ZERO_PER_ROW)).std(1), ((3, 4),)),
    Case("prod", lambda m, x: x.prod(), X3, 0.5, 1.5),
    Case("prod_dim", lambda m, x: x.prod(1), X3),
    Case("prod_neg_keepdim", lambda m, x: x.prod(-1, keepdim=True), X3),
    Case("prod_one_zero", lambda m, x: (x * m.tensor(ONE_ZERO_PER_ROW)).prod(1), ((3, 4),)),
    Case("prod_two_zeros", lambda m, x: (x * m.tensor(TWO_ZEROS_IN_ROW)).prod(-1), ((3, 4),)),
    Case("max", lambda m, x: x.max(), X3),
    Case("max_dim", lambda m, x: x.max(1).values, X3),
    Case("max_dim_keepdim", lambda m, x: x.max(-1, keepdim=True)[0], X3),
    Case("min", lambda m, x: x.min(), X3),
    Case("min_dim", lambda m, x: x.min(0).values, X3),
    Case("max_fn", lambda m, x: m.max(x), X3),
    Case("amax_tuple", lambda m, x: x.amax((0, 2)), X3),
    Case("amax_keepdim", lambda m, x: x.amax(1, keepdim=True), X3),
    Case("amin", lambda m, x: x.amin(), X3),
    Case("amin_neg", lambda m, x: x.amin(-1), X3),
    Case("logsumexp", lambda m, x: x.logsumexp(1), X3),
    Case("logsumexp_tuple", lambda m, x: x.logsumexp((0, 2)), X3),
    Case("logsumexp_keepdim", lambda m, x: x.logsumexp(-1, keepdim=True), X3),
    Case("norm", lambda m, x: x.norm(), X3),
    Case("norm_dim", lambda m, x: x.norm(dim=1), X3),
    Case("norm_p1", lambda m, x: x.norm(p=1), X3),
    Case("norm_p3_tuple", lambda m, x: x.norm(p=3, dim=(0, 2)), X3),
    Case("norm_inf", lambda m, x: x.norm(p=INF), X3),
    Case("norm_p0", lambda m, x: (x * m.tensor(ONE_ZERO_PER_ROW)).norm(p=0, dim=1), ((3, 4),)),
    Case("norm_keepdim", lambda m, x: x.norm(dim=-1, keepdim=True), X3),
    Case("softmax0", lambda m, x: x.softmax(0), X3),
    Case("softmax_neg", lambda m, x: x.softmax(-1), X3),
    Case("log_softmax", lambda m, x: x.log_softmax(1), X3),
    Case("log_softmax_neg", lambda m, x: x.log_softmax(-1), X3),
    Case("softmax_fn", lambda m, x: m.softmax(x, 1), X3),
    Case("log_softmax_fn", lambda m, x: m.log_softmax(x, -1), X3),
    # 0-d tensors
    Case("sum_0d", lambda m, x: x.sum(), ((),)),
    Case("sum_0d_dim", lambda m, x: x.sum(0), ((),)),
    Case("mean_0d_keepdim", lambda m, x: x.mean(-1, keepdim=True), ((),)),
    Case("prod_0d", lambda m, x: x.prod(), ((),)),
    Case("max_0d", lambda m, x: x.max(), ((),)),
    Case("max_0d_dim", lambda m, x: x.max(0).values, ((),)),
    Case("amax_0d", lambda m, x: x.amax(), ((),)),
    Case("norm_0d", lambda m, x: x.norm(), ((),)),
    Case("softmax_0d", lambda m, x: x.softmax(0), ((),)),
    Case("log_softmax_0d", lambda m, x: x.log_softmax(0), ((),)),
    Case("logsumexp_0d", lambda m, x: x.logsumexp(0), ((),)),
    # empty dims
    Case("sum_empty", lambda m, x: x.sum(0), ((0, 3),)),
    Case("sum_empty_all", lambda m, x: x.sum(), ((0, 3),)),
    Case("mean_empty_result", lambda m, x: x.mean(1), ((0, 3),)),
    Case("mean_over_empty", lambda m, x: x.mean(0), ((0, 3),), finite_differences=False),
    Case("prod_over_empty", lambda m, x: x.prod(0), ((0, 3),)),
    Case("amax_empty_result", lambda m, x: x.amax(1), ((0, 3),)),
    Case("logsumexp_over_empty", lambda m, x: x.logsumexp(0), ((0, 3),),
         finite_differences=False),
    Case("softmax_empty", lambda m, x: x.softmax(1), ((0, 3),)),
    Case("norm_empty", lambda m, x: x.norm(dim=0), ((0, 3),)),
    # running reductions, and the statistics that come in pairs
    Case("cumsum", lambda m, x: x.cumsum(1), X3),
    Case("cumsum_neg_fn", lambda m, x: m.cumsum(x, -1), X3),
    Case("cumsum_dtype", lambda m, x: x.double().cumsum(0, dtype=x.dtype), X3),
    Case("cumsum_0d", lambda m, x: x.cumsum(0), ((),)),
    Case("cumsum_empty", lambda m, x: x.cumsum(0), ((0, 3),)),
    Case("cumprod", lambda m, x: x.cumprod(2), X3),
    Case("cumprod_fn", lambda m, x: m.cumprod(x, 0), X3),
    Case("cumprod_one_zero", lambda m, x: (x * m.tensor(ONE_ZERO_PER_ROW)).cumprod(1), ((3, 4),)),
    Case("cumprod_two_zeros", lambda m, x: (x * m.tensor(TWO_ZEROS_IN_ROW)).cumprod(-1),
         ((3, 4),)),
    Case("cumprod_empty", lambda m, x: x.cumprod(0), ((0, 3),)),
    Case("std_mean", lambda m, x: m.std_mean(x, 1), X3),
    Case("std_mean_all", lambda m, x: m.std_mean(x), X3),
    Case("var_mean", lambda m, x: m.var_mean(x, dim=(0, 2), keepdim=True, correction=0), X3),
    Case("var_mean_unbiased", lambda m, x: m.var_mean(x, -1, False), X3),
]

SHAPE_OPS = [
    Case("reshape", lambda m, x: x.reshape(6, 4), X3),
    Case("reshape_flat", lambda m, x: x.reshape(-1), X3),
    Case("reshape_infer", lambda m, x: x.reshape(4, -1, 2), X3),
    Case("reshape_same", lambda m, x: x.reshape(2, 3, 4), X3),
    Case("reshape_fn", lambda m, x: m.reshape(x, (6, 4)), X3),
    Case("view", lambda m, x: x.view(4, 6), X3),
    Case("view_flat", lambda m, x: x.view(-1), X3),
    Case("view_0d", lambda m, x: x.view(1, 1), ((),)),
    Case("view_empty", lambda m, x: x.view(3, 0), ((0, 3),)),
    Case("flatten", lambda m, x: x.flatten(), X3),
    Case("flatten_1", lambda m, x: x.flatten(1), X3),
    Case("flatten_01", lambda m, x: x.flatten(0, -2), X3),
    Case("flatten_0d", lambda m, x: x.flatten(), ((),)),
    Case("flatten_fn", lambda m, x: m.flatten(x, 1), X3),
    Case("unflatten", lambda m, x: x.unflatten(1, (3, 1)), X3),
    Case("unflatten_infer", lambda m, x: x.unflatten(-1, (2, -1)), X3),
    Case("squeeze", lambda m, x: x.squeeze(), ((2, 1, 3, 1),)),
    Case("squeeze_dim", lambda m, x: x.squeeze(1), ((2, 1, 3, 1),)),
    Case("squeeze_noop", lambda m, x: x.squeeze(0), ((2, 1, 3, 1),)),
    Case("squeeze_tuple", lambda m, x: x.squeeze((1, -1)), ((2, 1, 3, 1),)),
    Case("unsqueeze", lambda m, x: x.unsqueeze(0), X3),
    Case("unsqueeze_neg", lambda m, x: x.unsqueeze(-1), X3),
    Case("unsqueeze_0d", lambda m, x: x.unsqueeze(0), ((),)),
    Case("transpose", lambda m, x: x.transpose(0, 2), X3),
    Case("transpose_neg", lambda m, x: x.transpose(-1, -2), X3),
    Case("transpose_fn", lambda m, x: m.transpose(x, 0, 1), X3),
    Case("t", lambda m, x: x.t(), ((3, 4),)),
    Case("t_1d", lambda m, x: x.t(), ((4,),)),
    Case("T", lambda m, x: x.T, ((3, 4),)),
    Case("mT", lambda m, x: x.mT, X3),
    Case("permute", lambda m, x: x.permute(2, 0, 1), X3),
    Case("permute_neg_tuple", lambda m, x: x.permute((-1, 0, 1)), X3),
    Case("expand", lambda m, x: x.expand(2, 3, 4), ((3, 1),)),
    Case("expand_keep", lambda m, x: x.expand(-1, 5), ((3, 1),)),
    Case("expand_0d", lambda m, x: x.expand(2, 2), ((),)),
    Case("expand_as", lambda m, x: x.expand_as(m.ones(2, 3, 4, dtype=x.dtype)), ((3, 1),)),
    Case("repeat", lambda m, x: x.repeat(2, 1, 1, 2), X3),
    Case("repeat_1d", lambda m, x: x.repeat(2, 2), ((3,),)),
    Case("flip", lambda m, x: x.flip(0), X3),
    Case("flip_tuple", lambda m, x: x.flip((0, 2)), X3),
    Case("flip_neg", lambda m, x: x.flip(-1), X3),
    Case("chunk", lambda m, x: x.chunk(2, 1), X3),
    Case("chunk_neg", lambda m, x: x.chunk(3, -1), X3),
    Case("split", lambda m, x: x.split(3, 2), X3),
    Case("split_sizes", lambda m, x: x.split([1, 2], 1), X3),
    Case("unbind", lambda m, x: x.unbind(1), X3),
    Case("cat", lambda m, x, y: m.cat([x, y], 1), ((2, 3, 4), (2, 1, 4))),
    Case("cat_neg", lambda m, x, y: m.cat([x, y, x], -1), ((2, 3), (2, 2))),
    Case("cat_empty", lambda m, x, y: m.cat([x, y]), ((0, 3), (2, 3))),
    Case("stack", lambda m, x, y: m.stack([x, y]), ((2, 3), (2, 3))),
    Case("stack_neg", lambda m, x, y: m.stack([x, y], -1), ((2, 3), (2, 3))),
    Case("stack_0d", lambda m, x, y: m.stack([x, y, x]), ((), ())),
    Case("roll", lambda m, x: x.roll(1), X3),
    Case("roll_dims", lambda m, x: x.roll((2, -1), (0, -1)), X3),
    Case("roll_fn", lambda m, x: m.roll(x, -5, 1), X3),
    Case("narrow", lambda m, x: x.narrow(1, 1, 2), X3),
    Case("narrow_neg_fn", lambda m, x: m.narrow(x, -1, -3, 2), X3),
    Case("movedim", lambda m, x: x.movedim(0, -1), X3),
    Case("movedim_tuple", lambda m, x: m.movedim(x, (0, 1), (2, 0)), X3),
    Case("moveaxis", lambda m, x: x.moveaxis(-1, 0), X3),
    Case("tril", lambda m, x: x.tril(), X3),
    Case("tril_neg", lambda m, x: m.tril(x, -1), ((4, 3),)),
    Case("triu", lambda m, x: x.triu(1), X3),
    Case("triu_fn", lambda m, x: m.triu(x, -2), ((3, 5),)),
    Case("diag_embed", lambda m, x: x.diag(), ((3,),)),
    Case("diag_embed_offset", lambda m, x: m.diag(x, -2), ((3,),)),
    Case("diag_extract", lambda m, x: x.diag(), ((3, 3),)),
    Case("diag_extract_wide", lambda m, x: m.diag(x, 1), ((3, 5),)),
    Case("diag_extract_tall", lambda m, x: x.diag(-2), ((5, 3),)),
    Case("diag_outside", lambda m, x: x.diag(4), ((2, 3),)),
    Case("meshgrid_ij", lambda m, x, y: m.meshgrid(x, y, indexing="ij"), ((3,), (4,))),
    Case("meshgrid_xy", lambda m, x, y, z: m.meshgrid([x, y, z], indexing="xy"),
         ((3,), (4,), (2,))),
    Case("meshgrid_0d", lambda m, x, y: m.meshgrid(x, y, indexing="ij"), ((), (3,))),
    Case("hstack", lambda m, x, y: m.hstack([x, y]), ((2, 3), (2, 1))),
    Case("hstack_1d", lambda m, x, y: m.hstack((x, y)), ((3,), ())),
    Case("vstack", lambda m, x, y: m.vstack([x, y]), ((3,), (2, 3))),
    Case("dstack", lambda m, x, y: m.dstack([x, y]), ((2, 3), (2, 3, 2))),
    Case("dstack_1d", lambda m, x, y: m.dstack([x, y]), ((3,), (3,))),
    Case("atleast_2d", lambda m, x, y: m.atleast_2d(x, y), ((), (3,))),
    Case("atleast_3d", lambda m, x, y: m.atleast_3d([x, y]), ((3,), (2, 3))),
]

MASK = np.array([[[1, 0, 1, 1], [0, 0, 1, 0], [1, 1, 1, 0]],
                 [[0, 1, 0, 0], [1, 0, 0, 1], [0, 0, 1, 1]]], dtype=bool)  # (2, 3, 4)

INDEXING = [
    Case("index_int", lambda m, x: x[1], X3),
    Case("index_neg", lambda m, x: x[-1, 2], X3),
    Case("index_slice", lambda m, x: x[:, 1:], X3),
    Case("index_step", lambda m, x: x[..., ::2], X3),
    Case("index_none", lambda m, x: x[None], X3),
    Case("index_mixed", lambda m, x: x[:, None, 1], X3),
    Case("index_ellipsis_none", lambda m, x: x[1, ..., None], X3),
    Case("index_full_slice", lambda m, x: x[:], X3),
    Case("index_0d_none", lambda m, x: x[None], ((),)),
    Case("index_0d_ellipsis", lambda m, x: x[...], ((),)),
    Case("index_tensor_repeated", lambda m, x: x[m.tensor([0, 0, 1])], X3),
    Case("index_list_repeated", lambda m, x: x[[1, 0, 1]], X3),
    Case("index_tensor_dim1", lambda m, x: x[:, m.tensor([2, 0, 2])], X3),
    Case("index_tensor_2d", lambda m, x: x[m.tensor([[0, 1], [1, 1]])], X3),
    Case("index_tensors_split", lambda m, x: x[m.tensor([1, 0]), :, m.tensor([3, 3])], X3),
    Case("index_int_and_tensor", lambda m, x: x[0, m.tensor([2, 2])], X3),
    Case("index_mask", lambda m, x: x[m.tensor(MASK)], X3),
    Case("index_mask_2d", lambda m, x: x[m.tensor(MASK[:, :, 0])], X3),
    Case("index_mask_and_slice", lambda m, x: x[m.tensor(MASK[0, 0]), 1:], ((4, 3),)),
    Case("masked_fill", lambda m, x: x.masked_fill(m.tensor(MASK), 0.5), X3),
    Case("masked_fill_broadcast", lambda m, x: x.masked_fill(m.tensor(MASK[0, :, :1]), -1.0),
         X3),
    Case("gather", lambda m, x: x.gather(1, m.tensor(np.arange(16).reshape(2, 2, 4) % 3)), X3),
    Case("gather_neg", lambda m, x: x.gather(-1, m.tensor([[[3, 3], [0, 1], [2, 0]]] * 2)), X3),
    Case("gather_smaller", lambda m, x: x.gather(2, m.tensor([[[1, 1], [0, 3], [2, 2]]])), X3),
    Case("where_mask", lambda m, x, y: m.where(m.tensor(MASK[0]), x, y), ((3, 4), (3, 1))),
    Case("setitem", lambda m, x, y: _setitem(x * 1, y), ((3, 4), (4,))),
    Case("index_select", lambda m, x: x.index_select(1, m.tensor([2, 0, 2])), X3),
    Case("index_select_neg_int32", lambda m, x: m.index_select(
        x, -1, m.tensor([3, 1], dtype=m.int32)), X3),
    Case("index_select_0d_index", lambda m, x: x.index_select(0, m.tensor(1)), X3),
    Case("index_select_empty", lambda m, x: x.index_select(0, m.tensor([], dtype=m.long)), X3),
    Case("scatter", lambda m, x, y: x.scatter(1, m.tensor([[2, 0], [1, 3], [0, 1]]), y),
         ((3, 4), (3, 2))),
    Case("scatter_dim0_fn", lambda m, x, y: m.scatter(x, 0, m.tensor([[1, 0, 2]]), y),
         ((3, 4), (1, 3))),
    Case("scatter_value", lambda m, x: x.scatter(-1, m.tensor([[0], [3], [1]]), 0.5), ((3, 4),)),
    Case("scatter_inplace", lambda m, x, y: (x * 1).scatter_(0, m.tensor([[2, 1, 0, 2]]), y),
         ((3, 4), (1, 4))),
    Case("scatter_add", lambda m, x, y: x.scatter_add(1, m.tensor([[0, 0], [3, 1], [2, 2]]), y),
         ((3, 4), (3, 2))),
    Case("scatter_add_fn", lambda m, x, y: m.scatter_add(
        x, 2, m.tensor([[[1, 1, 0]] * 3] * 2), y), (X3[0], (2, 3, 3))),
    Case("scatter_add_inplace", lambda m, x, y: (x * 2).scatter_add_(
        0, m.tensor([[1, 1], [0, 1]]), y), ((2, 3), (2, 2))),
]


def _setitem(z, y):
    z[1] = y
    z[0, 1:3] = y[:2] * 2
    return z


COMPOSITES = [
    Case("linear_relu", lambda m, x, w, b: (x @ w.t() + b).relu().sum(1).mean(),
         ((5, 4), (3, 4), (3,))),
    Case("cross_entropy", lambda m, x: -(x.log_softmax(1).gather(1, m.tensor([[2], [0]]))).mean(),
         ((2, 3),)),
    Case("standardize", lambda m, x: (x - x.mean(0)) / (x.var(0, unbiased=False) + 1e-5).sqrt(),
         ((4, 3),)),
    Case("reuse", lambda m, x: x * x.exp() + x.sin() * x, ((3,),)),
    Case("inplace_on_nonleaf", lambda m, x, y: (x * 2).add_(y).mul_(y).relu_(),
         ((2, 3), (3,))),
    Case("inplace_div_sub_clamp", lambda m, x: (x * 1).div_(3).sub_(x, alpha=0.5).clamp_(-0.4, 0.4),
         ((5,),)),
    Case("inplace_lerp_clamp_min", lambda m, x, y: (x * 1).lerp_(y, 0.25).clamp_min_(-0.3),
         ((2, 3), (3,))),
    Case("lerp_tensor_weight", lambda m, x, y, w: m.lerp(x, y, w), ((2, 1), (3,), (2, 3)), 0, 1),
    Case("lerp_0d_weight", lambda m, x, y, w: x.lerp(y, w), ((3,), (3,), ()), 0, 1),
]

CASES = (_binary_cases() + _unary_cases() + _matmul_cases() + EINSUM + REDUCTIONS + SHAPE_OPS
         + INDEXING + COMPOSITES)
PARAMS = [pytest.param(case, id=case.name) for case in CASES]


def _arrays(case: Case, dtype) -> list[np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    return [rng.uniform(case.low, case.high, size=s).astype(dtype) for s in case.shapes]


def _outputs(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _run(m, case: Case, arrays: list[np.ndarray]):
    """Forward and backward of ``case`` in library ``m``: (outputs, input gradients) as arrays."""
    inputs = [m.tensor(a, requires_grad=True) for a in arrays]
    outputs = _outputs(case.fn(m, *inputs))
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(tuple(o.shape)).astype(arrays[0].dtype) for o in outputs]
    differentiable = [(o, u) for o, u in zip(outputs, weights) if o.requires_grad]
    for k, (o, u) in enumerate(differentiable):
        o.backward(m.tensor(u), retain_graph=k < len(differentiable) - 1)
    grads = [None if t.grad is None else t.grad.detach() for t in inputs]
    return [o.detach() for o in outputs], grads


def _compare(case, arrays, torch, rtol, atol):
    cl_out, cl_grads = _run(convlab, case, arrays)
    th_out, th_grads = _run(torch, case, arrays)
    assert len(cl_out) == len(th_out)
    for ours, theirs in zip(cl_out, th_out):
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=rtol, atol=atol)
    for i, (ours, theirs) in enumerate(zip(cl_grads, th_grads)):
        expected = np.zeros(case.shapes[i]) if theirs is None else theirs.numpy()
        actual = np.zeros(case.shapes[i]) if ours is None else ours.numpy()
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("case", PARAMS)
def test_float64_values_and_gradients_match_torch(case, torch):
    _compare(case, _arrays(case, np.float64), torch, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", PARAMS)
def test_float32_values_and_gradients_match_torch(case, torch):
    _compare(case, _arrays(case, np.float32), torch, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", PARAMS)
def test_float32_stays_float32(case):
    outputs, grads = _run(convlab, case, _arrays(case, np.float32))
    assert all(o.dtype == convlab.float32 for o in outputs if o.is_floating_point())
    assert all(g.dtype == convlab.float32 for g in grads if g is not None)


@pytest.mark.parametrize("case", [p for p, c in zip(PARAMS, CASES) if c.finite_differences])
def test_gradients_match_finite_differences(case):
    inputs = [convlab.tensor(a, requires_grad=True) for a in _arrays(case, np.float64)]
    gradcheck(lambda *xs: case.fn(convlab, *xs), inputs)
