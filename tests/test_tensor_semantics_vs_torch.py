"""Views, in-place ops and the version counter, against PyTorch: the same program in both
libraries gives the same values, gradients, identities and versions, and both refuse the same
things.

Each case is a function of the library (``torch`` or ``convlab``) that returns what a program
could observe (tensors, numbers, flags); ``outcome`` runs it and turns a RuntimeError into
"raises". The tables: every view PyTorch documents, written to by every kind of in-place op,
without autograd and inside a graph; then the version checks, the refusals and the
training-loop idioms that depend on them.
"""

from __future__ import annotations

import numpy as np
import pytest

import convlab

torch = pytest.importorskip("torch")

BASE = np.arange(12, dtype=np.float64).reshape(3, 4) / 4 + 0.5  # positive: sqrt_ and log_


def observable(value):
    """What a program sees of ``value``, in plain Python and NumPy."""
    if isinstance(value, (torch.Tensor, convlab.Tensor)):
        return ("tensor", value.detach().numpy().copy(), str(value.dtype).split(".")[-1])
    if isinstance(value, (list, tuple)):
        return tuple(observable(v) for v in value)
    return value


def outcome(lib, case):
    try:
        return "ok", observable(case(lib))
    except RuntimeError:
        return "raises", None


def _name(node) -> str:
    """A graph node's name, as both libraries print it (PyTorch's C++ nodes carry a prefix)."""
    return node.name().split("::")[-1]


def assert_same(ours, theirs, where="result"):
    if isinstance(theirs, tuple) and theirs and theirs[0] == "tensor":
        assert isinstance(ours, tuple) and ours[0] == "tensor", f"{where}: {ours!r} not a tensor"
        assert ours[2] == theirs[2], f"{where}: dtype {ours[2]}, torch {theirs[2]}"
        assert ours[1].shape == theirs[1].shape, f"{where}: shape {ours[1].shape}, torch " \
                                                 f"{theirs[1].shape}"
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12, atol=1e-12, err_msg=where)
    elif isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), f"{where}: {ours!r}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, float):
        assert ours == pytest.approx(theirs, rel=1e-12), f"{where}: {ours!r}, torch {theirs!r}"
    else:
        assert ours == theirs, f"{where}: {ours!r}, torch {theirs!r}"


def check(case, convlab_refuses: bool = False):
    """The case observes the same in both libraries; with ``convlab_refuses``, a case PyTorch
    runs but convlab refuses on purpose (the reason is at the call)."""
    if convlab_refuses:
        assert outcome(convlab, case)[0] == "raises"
        return
    theirs = outcome(torch, case)
    ours = outcome(convlab, case)
    assert ours[0] == theirs[0], f"convlab {ours[0]}, torch {theirs[0]}"
    assert_same(ours[1], theirs[1])


# ---- every view, written through by every kind of in-place op ------------------------------

VIEWS = {
    "slice": lambda y: y[1:],
    "select": lambda y: y[1],
    "element": lambda y: y[1, 2],
    "column": lambda y: y[:, 0],
    "step": lambda y: y[:, ::2],
    "ellipsis": lambda y: y[..., 1],
    "none": lambda y: y[None],
    "narrow": lambda y: y.narrow(1, 1, 2),
    "select_method": lambda y: y.select(1, 2),
    "view": lambda y: y.view(12),
    "view_2x6": lambda y: y.view(2, 6),
    "reshape": lambda y: y.reshape(4, 3),
    "transpose": lambda y: y.transpose(0, 1),
    "t": lambda y: y.t(),
    "T": lambda y: y.T,
    "mT": lambda y: y.mT,
    "permute": lambda y: y.permute(1, 0),
    "movedim": lambda y: y.movedim(0, 1),
    "unsqueeze": lambda y: y.unsqueeze(0),
    "squeeze": lambda y: y.unsqueeze(1).squeeze(1),
    "flatten": lambda y: y.flatten(),
    "unflatten": lambda y: y.unflatten(1, (2, 2)),
    "chunk": lambda y: y.chunk(2, 1)[1],
    "split": lambda y: y.split(1, 0)[2],
    "unbind": lambda y: y.unbind(1)[3],
    "diagonal": lambda y: y.diagonal(),
    "diagonal_offset": lambda y: y.diagonal(1),
    "view_of_view": lambda y: y[1:].T,
    "as_strided": lambda y: y.as_strided((2, 2), (4, 1), 1),
    "unfold_disjoint": lambda y: y.unfold(1, 2, 2),
    "detach": lambda y: y.detach(),
    "expand": lambda y: y[:1].expand(3, 4),
    "unfold_overlapping": lambda y: y.unfold(1, 2, 1),
}


def _iadd(v):
    v += 1


def _isub(v):
    v -= 0.25


def _imul(v):
    v *= 3


def _idiv(v):
    v /= 2


def _ipow(v):
    v **= 2


def _setitem(v):
    v[...] = 5


def _setitem_first(v):
    if v.dim():
        v[0] = 9
    else:
        v.fill_(9)


OPS = {
    "mul_": lambda v: v.mul_(2),
    "add_": lambda v: v.add_(1),
    "sub_alpha": lambda v: v.sub_(v.detach() * 0 + 1, alpha=2),
    "div_": lambda v: v.div_(4),
    "zero_": lambda v: v.zero_(),
    "fill_": lambda v: v.fill_(3),
    "copy_": lambda v: v.copy_(v.detach() * 0 + 7),
    "clamp_": lambda v: v.clamp_(min=1.5),
    "exp_": lambda v: v.exp_(),
    "sqrt_": lambda v: v.sqrt_(),
    "neg_": lambda v: v.neg_(),
    "pow_": lambda v: v.pow_(2),
    "+=": _iadd,
    "-=": _isub,
    "*=": _imul,
    "/=": _idiv,
    "**=": _ipow,
    "setitem": _setitem,
    "setitem_first": _setitem_first,
}


def _write_through(lib, view_name, op_name):
    y = lib.tensor(BASE.copy())
    v = VIEWS[view_name](y)
    before = v._version
    OPS[op_name](v)
    return y, v, before, v._version, y._version, v._base is y, v.is_contiguous()


FILLS = ("zero_", "fill_", "setitem", "setitem_first")


@pytest.mark.parametrize("op_name", list(OPS))
@pytest.mark.parametrize("view_name", list(VIEWS))
def test_in_place_op_on_a_view_reaches_the_base(view_name, op_name):
    # Windows that overlap without repeating one element everywhere (unfold with step < size):
    # PyTorch changes a shared element once per window, in an unpromised order; convlab
    # refuses what is not a fill.
    refuses = view_name == "unfold_overlapping" and op_name not in FILLS
    check(lambda lib: _write_through(lib, view_name, op_name), convlab_refuses=refuses)


def _through_the_graph(lib, view_name, op_name):
    x = lib.tensor(BASE.copy(), requires_grad=True)
    y = x * 1.5
    v = VIEWS[view_name](y)
    OPS[op_name](v)
    weights = lib.tensor(np.linspace(-1, 1, 12).reshape(3, 4))
    loss = (y * weights).sum() + (v * v).sum()
    loss.backward()
    return y, v, x.grad, loss, _name(y.grad_fn), v.requires_grad


GRAPH_OPS = ["mul_", "add_", "zero_", "copy_", "clamp_", "exp_", "pow_", "+=", "*=", "setitem",
             "setitem_first"]


@pytest.mark.parametrize("op_name", GRAPH_OPS)
@pytest.mark.parametrize("view_name", [v for v in VIEWS if v != "detach"])
def test_in_place_op_on_a_view_inside_a_graph_rewrites_the_base_history(view_name, op_name):
    refuses = view_name == "unfold_overlapping" and op_name not in FILLS  # as above
    check(lambda lib: _through_the_graph(lib, view_name, op_name), convlab_refuses=refuses)


def _into_a_plain_tensor_from_the_graph(lib, view_name):
    """A view of a tensor outside the graph filled with values that are in it."""
    w = lib.tensor(np.linspace(0.5, 2, 12).reshape(3, 4), requires_grad=True)
    y = lib.zeros(3, 4, dtype=lib.float64)
    v = VIEWS[view_name](y)
    v.copy_((w * 2)[:v.shape[0]] if v.dim() == 2 and v.shape[1] == 4 else w.sum() * 0 + 1)
    y.sum().backward() if y.requires_grad else None
    return y, y.requires_grad, w.grad, v.requires_grad


@pytest.mark.parametrize("view_name", ["slice", "select", "element", "column", "narrow", "T",
                                       "diagonal", "view", "split"])
def test_writing_graph_values_into_a_view_of_a_plain_tensor(view_name):
    check(lambda lib: _into_a_plain_tensor_from_the_graph(lib, view_name))


# ---- in-place ops on plain tensors inside a graph ---------------------------------------------

def _unary_chain(lib, op):
    x = lib.tensor(BASE.copy(), requires_grad=True)
    y = x * 2
    getattr(y, op)()
    out = (y * y).sum()
    out.backward()
    return y, x.grad, _name(y.grad_fn)


@pytest.mark.parametrize("op", ["exp_", "sqrt_", "neg_", "relu_", "sigmoid_", "tanh_", "abs_",
                                "log_", "zero_", "reciprocal_", "square_", "floor_", "sin_",
                                "sinh_", "cosh_", "t_", "fix_", "clip_"])
def test_unary_in_place_op_is_recorded(op):
    check(lambda lib: _unary_chain(lib, op))


# ---- the version counter ----------------------------------------------------------------------

VERSION_CASES = {}


def version_case(fn):
    VERSION_CASES[fn.__name__] = fn
    return fn


@version_case
def changed_under_no_grad(lib):
    w = lib.ones(3, requires_grad=True)
    loss = (w * w).sum()
    with lib.no_grad():
        w.mul_(3)
    loss.backward()
    return w.grad


@version_case
def changed_through_detach(lib):
    w = lib.ones(3, requires_grad=True)
    loss = (w * w).sum()
    w.detach().mul_(3)
    loss.backward()
    return w.grad


@version_case
def changed_through_data_is_not_tracked(lib):
    w = lib.ones(3, requires_grad=True)
    loss = (w * w).sum()
    w.data.mul_(3)
    loss.backward()
    return w.grad, w._version


@version_case
def output_saved_then_changed(lib):
    x = lib.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.add_(1)
    y.sum().backward()
    return x.grad


@version_case
def output_of_in_place_saved_then_changed(lib):
    x = lib.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = x * 1
    y.exp_()
    y.mul_(2)
    y.sum().backward()
    return x.grad


@version_case
def input_saved_then_changed(lib):
    x = lib.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = x * 2
    z = (y * y).sum()
    y.add_(1)
    z.backward()
    return x.grad


@version_case
def input_saved_then_changed_through_a_view(lib):
    x = lib.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = x * 2
    z = (y * y).sum()
    y[1:].zero_()
    z.backward()
    return x.grad


@version_case
def unchanged_add_does_not_save(lib):
    x = lib.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = x * 2
    z = (y + 1).sum()
    y.mul_(5)
    z.backward()
    return x.grad


@version_case
def retained_graph_after_optimizer_step(lib):
    """The GAN sequence: D's loss backward with retain_graph, D steps, then G's loss backward
    through the same (now changed) weights."""
    w = lib.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    z = lib.tensor([[1.0, 2.0]], requires_grad=True)
    out = (z @ w).sum()
    opt = lib.optim.SGD([w], lr=0.1)
    out.backward(retain_graph=True)
    opt.step()
    out.backward()
    return z.grad


@version_case
def conv_weight_changed_under_no_grad(lib):
    conv = lib.nn.Conv2d(1, 2, 3)
    with lib.no_grad():
        conv.weight.copy_(lib.tensor(np.arange(18.).reshape(2, 1, 3, 3) / 10))
        conv.bias.zero_()
    x = lib.tensor(np.linspace(-1, 1, 25, dtype=np.float32).reshape(1, 1, 5, 5),
                   requires_grad=True)
    loss = conv(x).sum()
    with lib.no_grad():
        conv.weight.mul_(2)
    loss.backward()
    return x.grad


@version_case
def versions_count_every_change(lib):
    x = lib.zeros(4)
    v = x[1:3]
    x.add_(1)
    v.mul_(2)
    x[0] = 5
    x += 1
    return x._version, v._version, x


@version_case
def leaf_in_place(lib):
    x = lib.ones(3, requires_grad=True)
    x.mul_(2)
    return x


@version_case
def view_of_leaf_in_place(lib):
    x = lib.ones(3, requires_grad=True)
    x[0].mul_(2)
    return x


@version_case
def leaf_setitem(lib):
    x = lib.ones(3, requires_grad=True)
    x[1] = 4
    return x


@version_case
def leaf_in_place_under_no_grad(lib):
    x = lib.ones(3, requires_grad=True)
    with lib.no_grad():
        x[0] = 4
        x.mul_(2)
    return x, x.requires_grad, x.is_leaf, x._version


@version_case
def view_made_in_no_grad_changed_in_grad_mode(lib):
    x = lib.ones(3, requires_grad=True)
    y = x * 2
    with lib.no_grad():
        v = y[:2]
    v.mul_(2)
    return y


@version_case
def view_of_transpose_refused(lib):
    return lib.ones(2, 3).t().view(6)


@version_case
def reshape_of_transpose_copies(lib):
    a = lib.ones(2, 3)
    r = a.t().reshape(6)
    r[0] = 7
    return a, r, r._base is None


@version_case
def contiguous_copies_only_when_needed(lib):
    a = lib.ones(2, 3)
    return a.contiguous() is a, a.t().contiguous()._base is None, a.t().clone().is_contiguous()


@version_case
def expanded_write_refused(lib):
    return lib.ones(1, 3).expand(2, 3).add_(1)


@version_case
def partial_overlap_refused(lib):
    x = lib.arange(6.0)
    return x[:4].add_(x[2:])


@version_case
def same_window_operand_is_fine(lib):
    x = lib.arange(6.0)
    return x.add_(x)


@version_case
def float_into_int_refused(lib):
    return lib.tensor([1, 2]).add_(1.5)


@version_case
def identity_and_flags_survive_in_place(lib):
    w = lib.ones(3, requires_grad=True)
    (w * w).sum().backward()
    g = w.grad
    with lib.no_grad():
        same = w.sub_(0.1 * w.grad) is w
    return same, w.requires_grad, w.is_leaf, w.grad is g, w


@version_case
def iadd_keeps_identity(lib):
    x = lib.zeros(3)
    y = x
    x += 1
    return x is y, y


@version_case
def metadata_in_place(lib):
    x = lib.tensor(BASE.copy(), requires_grad=True)
    y = x * 2
    y.t_()
    z = y.unsqueeze_(0)
    (z * z).sum().backward()
    return y.shape, z is y, x.grad, _name(y.grad_fn), y.is_contiguous()


@version_case
def comparison_and_scan_in_place(lib):
    x = lib.tensor([1.0, 2.0, 3.0])
    x.gt_(1.5)
    y = lib.tensor([1.0, 2.0, 3.0])
    y.cumsum_(0)
    return x, y


@version_case
def matmul_equals_rebinds(lib):
    a = lib.ones(2, 2)
    b = a
    a @= lib.ones(2, 2) * 2
    return a is b, a, b


@version_case
def row_plus_equals_reaches_the_matrix(lib):
    x = lib.zeros(2, 3)
    row = x[0]
    row += 1
    return x


@version_case
def numpy_shares_memory(lib):
    a = np.zeros(3)
    t = lib.from_numpy(a)
    t.add_(1)
    t.numpy()[2] = 5
    return t, float(a[0]), float(a[2])


@version_case
def as_tensor_shares_memory(lib):
    a = np.zeros(3)
    t = lib.as_tensor(a)
    t[1] = 4
    return float(a[1])


@version_case
def storage_identity(lib):
    x = lib.zeros(2, 3)
    v = x[1]
    c = x.clone()
    same = v.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    other = c.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()
    return (same, other, v.storage_offset(), v.stride(), x.t().stride(),
            v.data_ptr() - x.data_ptr(), x._is_view(), v._is_view())


@version_case
def view_sees_later_changes(lib):
    y = lib.tensor([1.0, 2.0, 3.0], requires_grad=True) * 2
    v = y[:2]
    y.mul_(3)
    v.sum().backward()
    return v, _name(v.grad_fn), v._version


@version_case
def base_sees_view_change_of_non_leaf(lib):
    x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 2
    y[:, 0].zero_()
    y.sum().backward()
    return y, x.grad, _name(y.grad_fn)


@version_case
def view_narrow_copy(lib):
    x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    z = lib.tensor([[5.0, 6.0]], requires_grad=True)
    y = x * 1
    y.narrow(0, 0, 1).copy_(z)
    (y * y).sum().backward()
    return y, x.grad, z.grad


@version_case
def transpose_mul_(lib):
    x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1
    y.T.mul_(2)
    (y * lib.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    return y, x.grad


@version_case
def view_then_setitem(lib):
    x = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    y = x * 2
    y.view(6)[0] = 0
    y.sum().backward()
    return y, x.grad


@version_case
def index_put_with_tensor_index(lib):
    x = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    v = lib.tensor([10.0, 20.0], requires_grad=True)
    y = x * 1
    y[lib.tensor([0, 2])] = v
    (y * y).sum().backward()
    return y, x.grad, v.grad, _name(y.grad_fn)


@version_case
def mask_setitem(lib):
    x = lib.tensor([1.0, -2.0, 3.0, -4.0], requires_grad=True)
    y = x * 1
    y[y < 0] = 0
    (y * y).sum().backward()
    return y, x.grad


@version_case
def autograd_grad_leaves_grad_alone(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = lib.tensor([3.0, 4.0], requires_grad=True)
    (gx, gy) = lib.autograd.grad((x * y).sum(), [x, y])
    return gx, gy, x.grad is None


@version_case
def autograd_grad_of_non_leaf(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    out = (h * h).sum()
    return lib.autograd.grad(out, h, retain_graph=True) + lib.autograd.grad(out, x)


@version_case
def autograd_grad_unused(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = lib.tensor([3.0, 4.0], requires_grad=True)
    return lib.autograd.grad((x * 2).sum(), [x, y])


@version_case
def autograd_grad_allow_unused(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = lib.tensor([3.0, 4.0], requires_grad=True)
    gx, gy = lib.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    return gx, gy is None


@version_case
def autograd_grad_with_grad_outputs(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    return lib.autograd.grad(x * x, x, grad_outputs=lib.tensor([1.0, -1.0]))


@pytest.mark.parametrize("name", list(VERSION_CASES))
def test_versions_refusals_and_identity(name):
    check(VERSION_CASES[name])


# ---- training-loop idioms ---------------------------------------------------------------------

def _data(lib):
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.normal(size=(16, 5)))
    y = lib.tensor(rng.integers(0, 3, 16))
    w = lib.tensor(rng.normal(size=(5, 3)) / 3, requires_grad=True)
    b = lib.zeros(3, dtype=lib.float64, requires_grad=True)
    return x, y, w, b


def manual_sgd_over_parameters(lib):
    """'What is torch.nn really?': p -= p.grad * lr over model.parameters() under no_grad."""
    x, y, w, b = _data(lib)
    losses = []
    for _ in range(5):
        loss = lib.nn.functional.cross_entropy(x @ w + b, y)
        loss.backward()
        with lib.no_grad():
            for p in (w, b):
                p -= p.grad * 0.5
                p.grad.zero_()
        losses.append(loss.item())
    return losses, w, b


def blitz_loop(lib):
    """The blitz tutorial: w -= lr * w.grad on the names themselves, grads set to None."""
    x, y, w, b = _data(lib)
    losses = []
    for _ in range(5):
        loss = lib.nn.functional.cross_entropy(x @ w + b, y)
        loss.backward()
        with lib.no_grad():
            w -= 0.5 * w.grad
            b -= 0.5 * b.grad
            w.grad = None
            b.grad = None
        losses.append(loss.item())
    return losses, w.requires_grad, w.is_leaf


def data_sub_(lib):
    x, y, w, b = _data(lib)
    losses = []
    for _ in range(5):
        loss = lib.nn.functional.cross_entropy(x @ w + b, y)
        w.grad = b.grad = None
        loss.backward()
        for p in (w, b):
            p.data.sub_(0.5 * p.grad.data)
        losses.append(loss.item())
    return losses


def optimizer_steps_a_viewed_parameter(lib):
    x, y, w, b = _data(lib)
    column = w[:, 0]
    opt = lib.optim.SGD([w, b], lr=0.5, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        lib.nn.functional.cross_entropy(x @ w + b, y).backward()
        opt.step()
    return column, w._version, column._version


def _gan(lib):
    """A generator's and a discriminator's weights (linear maps), a batch of noise, and the
    discriminator's optimizer."""
    rng = np.random.default_rng(1)
    g_w = lib.tensor(rng.normal(size=(4, 4)), requires_grad=True)
    d_w = lib.tensor(rng.normal(size=(4, 1)), requires_grad=True)
    z = lib.tensor(rng.normal(size=(8, 4)))
    return g_w, d_w, z, lib.optim.SGD([d_w], lr=0.1)


def gan_sequence(lib):
    """Discriminator step before the generator's backward through the discriminator."""
    g_w, d_w, z, opt_d = _gan(lib)
    d_out = (z @ g_w) @ d_w
    loss_d, loss_g = d_out.mean(), -d_out.mean()
    loss_d.backward(retain_graph=True)
    opt_d.step()
    loss_g.backward()
    return g_w.grad


def gan_sequence_done_right(lib):
    """The fix PyTorch's message asks for: the generator's loss from a fresh forward pass."""
    g_w, d_w, z, opt_d = _gan(lib)
    fake = z @ g_w
    (fake.detach() @ d_w).mean().backward()
    opt_d.step()
    (-(fake @ d_w).mean()).backward()
    return g_w.grad, d_w


def batchnorm_running_stats_by_reference(lib):
    bn = lib.nn.BatchNorm1d(3).double()
    mean, var = bn.running_mean, bn.running_var
    x = lib.tensor(np.random.default_rng(2).normal(size=(8, 3)))
    bn(x)
    bn(x * 2)
    return mean, var, mean is bn.running_mean, mean._version


def inplace_activations_in_sequential(lib):
    rng = np.random.default_rng(3)
    lin1, lin2 = lib.nn.Linear(4, 6).double(), lib.nn.Linear(6, 2).double()
    with lib.no_grad():
        for layer in (lin1, lin2):
            layer.weight.copy_(lib.tensor(rng.normal(size=tuple(layer.weight.shape))))
            layer.bias.copy_(lib.tensor(rng.normal(size=tuple(layer.bias.shape))))
    model = lib.nn.Sequential(lin1, lib.nn.ReLU(inplace=True), lib.nn.Dropout(0.0, inplace=True),
                              lin2, lib.nn.LeakyReLU(0.1, inplace=True))
    x = lib.tensor(rng.normal(size=(5, 4)))
    out = model(x)
    (out * out).sum().backward()
    return out, lin1.weight.grad, lin2.bias.grad


def residual_add_in_place(lib):
    """ResNet's ``out += identity`` after batch norm, then an in-place ReLU."""
    rng = np.random.default_rng(4)
    x = lib.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    bn = lib.nn.BatchNorm1d(3).double()
    out = bn(x * 2)
    out += x
    out = lib.nn.functional.relu(out, inplace=True)
    out.sum().backward()
    return out, x.grad


IDIOMS = [manual_sgd_over_parameters, blitz_loop, data_sub_, optimizer_steps_a_viewed_parameter,
          gan_sequence, gan_sequence_done_right, batchnorm_running_stats_by_reference,
          inplace_activations_in_sequential, residual_add_in_place]


@pytest.mark.parametrize("program", IDIOMS, ids=lambda f: f.__name__)
def test_training_idioms(program):
    check(program)
