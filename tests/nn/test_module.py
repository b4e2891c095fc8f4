"""The Module system: registration by assignment, walking the tree, modes, state_dict (keys,
round trip, PyTorch's error messages), hooks, dtype conversion, containers, Parameter."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import convlab
import convlab.nn as nn
from twin import copy_state, torch_repr


class Block(nn.Module):
    def __init__(self, shared=None):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.fc = shared if shared is not None else nn.Linear(2, 2)
        self.scale = nn.Parameter(convlab.ones(1))
        self.register_buffer("steps", convlab.zeros(1))
        self.register_buffer("scratch", convlab.zeros(1), persistent=False)
        self.plain = 3


def torch_block(torch):
    class TorchBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 2, 3)
            self.bn = torch.nn.BatchNorm2d(2)
            self.fc = torch.nn.Linear(2, 2)
            self.scale = torch.nn.Parameter(torch.ones(1))
            self.register_buffer("steps", torch.zeros(1))
            self.register_buffer("scratch", torch.zeros(1), persistent=False)

    return TorchBlock()


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


# ---- registration -----------------------------------------------------------------------------


def test_assignment_registers_parameters_buffers_and_children():
    b = Block()
    assert list(b._parameters) == ["scale"]
    assert list(b._buffers) == ["steps", "scratch"]
    assert list(b._modules) == ["conv", "bn", "fc"]
    assert b.plain == 3 and "plain" in b.__dict__
    assert [n for n, _ in b.named_parameters()] == [
        "scale", "conv.weight", "conv.bias", "bn.weight", "bn.bias", "fc.weight", "fc.bias"]
    assert [n for n, _ in b.named_buffers()] == [
        "steps", "scratch", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert [n for n, _ in b.named_modules()] == ["", "conv", "bn", "fc"]
    assert list(b.children()) == [b.conv, b.bn, b.fc]
    assert len(list(b.modules())) == 4
    assert "scale" in dir(b) and "conv" in dir(b)


def test_reassignment_moves_between_registries_and_none_keeps_the_slot():
    m = nn.Module()
    m.x = nn.Linear(1, 1)
    m.x = nn.Parameter(convlab.zeros(1))
    assert "x" not in m._modules and "x" in m._parameters
    m.x = None
    assert m._parameters["x"] is None and m.x is None
    m.register_parameter("y", None)
    assert list(m.parameters()) == []
    del m.x
    assert "x" not in m._parameters


def test_missing_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'wieght'"):
        nn.Linear(2, 2).wieght
    assert not hasattr(nn.Linear(2, 2), "nope")


def test_registration_errors_name_the_attribute():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'convlab.FloatTensor' as parameter "
                                        "'weight'"):
        m.weight = convlab.zeros(2, 2)
    with pytest.raises(KeyError, match="attribute 'in_features' already exists"):
        m.register_buffer("in_features", convlab.zeros(1))
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(convlab.ones(1))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Early()


def test_shared_parameters_and_modules_come_once():
    shared = nn.Linear(2, 2)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(net.parameters())) == 2
    assert [n for n, _ in net.named_modules()] == ["", "0", "1"]
    assert len(list(net.named_parameters(remove_duplicate=False))) == 4
    # state_dict keeps both names, as PyTorch does
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_get_submodule():
    net = nn.Sequential(OrderedDict(features=nn.Sequential(nn.Conv2d(1, 1, 1))))
    assert net.get_submodule("features.0") is net.features[0]
    assert net.get_submodule("") is net
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        net.get_submodule("features.nope")


def test_get_parameter_and_get_buffer():
    block = Block()
    assert block.get_parameter("conv.weight") is block.conv.weight
    assert block.get_parameter("scale") is block.scale
    assert block.get_buffer("bn.running_mean") is block.bn.running_mean
    with pytest.raises(AttributeError, match="`running_mean` is not an nn.Parameter"):
        block.get_parameter("bn.running_mean")
    with pytest.raises(AttributeError, match="`weight` is not a buffer"):
        block.get_buffer("conv.weight")
    with pytest.raises(AttributeError, match="Conv2d has no attribute `nope`"):
        block.get_parameter("conv.nope")


# ---- modes, gradients, apply, dtype -----------------------------------------------------------


def test_train_eval_and_requires_grad_and_zero_grad():
    b = Block()
    assert b.eval() is b and not b.training and not b.bn.training
    b.train()
    assert all(m.training for m in b.modules())
    with pytest.raises(ValueError, match="boolean"):
        b.train("yes")
    b.requires_grad_(False)
    assert not any(p.requires_grad for p in b.parameters())
    b.requires_grad_()
    out = b.fc(convlab.ones(1, 2)).sum()
    out.backward()
    b.zero_grad(set_to_none=False)
    assert np.all(b.fc.weight.grad.numpy() == 0)
    b.zero_grad()
    assert b.fc.weight.grad is None


def test_apply_visits_children_first_and_returns_self():
    seen = []
    b = Block()
    assert b.apply(lambda m: seen.append(type(m).__name__)) is b
    assert seen == ["Conv2d", "BatchNorm2d", "Linear", "Block"]


def test_to_dtype_casts_floating_tensors_in_place_of_the_same_objects():
    b = Block()
    w = b.conv.weight
    assert b.to(convlab.float64) is b
    assert b.conv.weight is w and w.dtype == convlab.float64
    assert b.bn.running_mean.dtype == convlab.float64
    assert b.bn.num_batches_tracked.dtype == convlab.int64
    assert b.float().conv.weight.dtype == convlab.float32
    assert b.to("cpu") is b and b.to(convlab.zeros(1, dtype=convlab.float64)) is b
    assert b.double().steps.dtype == convlab.float64
    with pytest.raises(RuntimeError, match="CPU only"):
        b.to("cuda")
    with pytest.raises(TypeError, match="floating point"):
        b.to(convlab.int64)


def test_deepcopy_gives_independent_parameters():
    b = Block()
    c = copy.deepcopy(b)
    assert isinstance(c.conv.weight, nn.Parameter)
    c.conv.weight.data.fill_(5)
    assert not np.any(b.conv.weight.detach().numpy() == 5)


# ---- forward hooks ----------------------------------------------------------------------------


def test_forward_hooks_see_and_may_replace_inputs_and_outputs():
    m = nn.Linear(2, 2)
    calls = []
    pre = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    post = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out + 1)
    y = m(convlab.ones(3, 2))
    np.testing.assert_allclose(y.detach().numpy(), m.bias.detach().numpy() + 1 + np.zeros((3, 2)))
    assert calls == [convlab.Size([3, 2])]
    pre.remove()
    post.remove()
    assert not m._forward_hooks and not m._forward_pre_hooks
    order = []
    m.register_forward_hook(lambda *a: order.append("a"))
    m.register_forward_hook(lambda *a: order.append("b"), prepend=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: order.append(sorted(kwargs)),
                            with_kwargs=True)
    m(convlab.ones(1, 2))
    assert order == ["b", "a", []]
    with m.register_forward_pre_hook(lambda mod, args: None):
        assert len(m._forward_pre_hooks) == 1
    assert not m._forward_pre_hooks


def _grad_cam_net(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Conv2d(3, 4, 3), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))


def test_full_backward_hooks_give_grad_cam_and_guided_backprop_as_torch(torch):
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    theirs, ours = _grad_cam_net(torch), _grad_cam_net(convlab)
    copy_state(torch, ours, theirs)
    seen = {}
    for lib, net in ((torch, theirs), (convlab, ours)):
        got = seen[lib.__name__] = {}

        def keep(module, grad_input, grad_output):
            got["grad_output"], got["grad_input"] = grad_output[0], grad_input[0]

        def guided(module, grad_input, grad_output):  # only positive gradients pass ReLUs
            return (grad_input[0].clamp(min=0.0),)

        handles = [net[2].register_full_backward_hook(keep),
                   net[1].register_full_backward_hook(guided),
                   net[3].register_full_backward_hook(guided, prepend=True)]
        image = lib.tensor(x, requires_grad=True)
        net(image)[:, 1].sum().backward()
        got["saliency"] = image.grad
        for handle in handles:
            handle.remove()
        assert not net[1]._backward_hooks
    for name in ("grad_output", "grad_input", "saliency"):
        np.testing.assert_allclose(seen["convlab"][name].numpy(), seen["torch"][name].numpy(),
                                   rtol=1e-5, atol=1e-7, err_msg=name)


def test_full_backward_hook_edge_cases():
    m = nn.Linear(3, 2)
    calls = []
    m.register_full_backward_hook(lambda mod, gi, go: calls.append((gi, go[0].shape)))
    y = m(convlab.ones(4, 3))  # the input needs no gradient: the hook fires on grad_output
    assert y.grad_fn.name() == "BackwardHookFunctionBackward"
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        y.sum().backward()
    assert calls == [((None,), convlab.Size([4, 2]))]
    with convlab.no_grad():
        assert m(convlab.ones(4, 3)).grad_fn is None  # nothing is recorded, nothing fires
    bad = nn.ReLU()
    bad.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input, got 2, but expected 1"):
        bad(convlab.ones(3, requires_grad=True) * 1).sum().backward()


def test_module_without_forward():
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required '
                                                  r'"forward" function'):
        nn.Module()(1)


# ---- state_dict -------------------------------------------------------------------------------


def test_state_dict_keys_match_torch_and_values_are_detached_views(torch):
    b = Block()
    sd = b.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == list(torch_block(torch).state_dict())
    assert all(not v.requires_grad and type(v) is convlab.Tensor for v in sd.values())
    assert np.shares_memory(sd["conv.weight"].numpy(), b.conv.weight.detach().numpy())
    assert b.state_dict(keep_vars=True)["conv.weight"] is b.conv.weight


def test_state_dict_round_trip_with_torch(torch):
    b, t = Block(), torch_block(torch)
    copy_state(torch, b, t)  # convlab -> torch
    fresh = Block()
    result = fresh.load_state_dict({k: convlab.tensor(v.numpy())
                                    for k, v in t.state_dict().items()})
    assert repr(result) == "<All keys matched successfully>"
    for (name, a), (_, c) in zip(b.state_dict().items(), fresh.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), c.numpy(), err_msg=name)
    # ndarrays (as read from an .npz file) load too
    fresh.load_state_dict({k: v.numpy() for k, v in b.state_dict().items()})


def _torch_message(torch, fn) -> str:
    with pytest.raises(RuntimeError) as info:
        fn()
    return str(info.value).replace("torch.", "convlab.").replace("TorchBlock", "Block")


def test_load_state_dict_errors_read_as_torch_s(torch):
    b, t = Block(), torch_block(torch)
    sd, tsd = b.state_dict(), t.state_dict()
    del sd["fc.bias"], tsd["fc.bias"]
    sd["extra"] = convlab.zeros(1)
    tsd["extra"] = torch.zeros(1)
    sd["conv.weight"] = convlab.zeros(2, 1, 5, 5)
    tsd["conv.weight"] = torch.zeros(2, 1, 5, 5)
    with pytest.raises(RuntimeError) as ours:
        b.load_state_dict(sd)
    assert str(ours.value) == _torch_message(torch, lambda: t.load_state_dict(tsd))
    assert str(ours.value).startswith("Error(s) in loading state_dict for Block:\n\t"
                                      "Missing key(s) in state_dict: \"fc.bias\". ")
    # strict=False reports the keys, but a shape mismatch still raises
    del sd["conv.weight"]
    keys = b.load_state_dict(sd, strict=False)
    assert keys.missing_keys == ["conv.weight", "fc.bias"] and keys.unexpected_keys == ["extra"]
    with pytest.raises(RuntimeError, match=r"size mismatch for fc.weight: copying a param with "
                                           r"shape convlab.Size\(\[3, 2\]\) from checkpoint, the "
                                           r"shape in current model is convlab.Size\(\[2, 2\]\)"):
        b.load_state_dict({"fc.weight": convlab.zeros(3, 2)}, strict=False)
    with pytest.raises(TypeError, match="dict-like"):
        b.load_state_dict([1, 2])


def test_load_state_dict_copies_into_the_existing_parameters():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    w = b.weight
    b.load_state_dict(a.state_dict())
    assert b.weight is w
    np.testing.assert_array_equal(w.detach().numpy(), a.weight.detach().numpy())


# ---- repr -------------------------------------------------------------------------------------


def test_nested_repr_matches_torch(torch):
    ours = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Sequential(OrderedDict(inner=nn.Linear(3, 4), act=nn.LeakyReLU(0.2))),
        nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()]),
        nn.ModuleDict({"a": nn.Identity(), "b": nn.Flatten()}), nn.ModuleList())
    T = torch.nn
    theirs = T.Sequential(
        T.Conv2d(1, 6, 5), T.ReLU(), T.MaxPool2d(2),
        T.Sequential(OrderedDict(inner=T.Linear(3, 4), act=T.LeakyReLU(0.2))),
        T.ModuleList([T.Linear(2, 2), T.Linear(2, 2), T.Linear(2, 2), T.ReLU()]),
        T.ModuleDict({"a": T.Identity(), "b": T.Flatten()}), T.ModuleList())
    assert repr(ours) == torch_repr(theirs)


def test_parameter_repr_and_identity(torch):
    p = nn.Parameter(convlab.tensor([1.0, 2.0]))
    assert repr(p) == torch_repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    assert str(p) == repr(p)
    assert isinstance(p, convlab.Tensor) and p.is_leaf and p.requires_grad
    assert repr(nn.Parameter(convlab.zeros(1), requires_grad=False)) == \
        "Parameter containing:\ntensor([0.])"
    t = convlab.zeros(2)
    assert np.shares_memory(nn.Parameter(t).numpy(force=True), t.numpy())
    assert type(p * 2) is convlab.Tensor and type(p.detach()) is convlab.Tensor
    with pytest.raises(TypeError, match="must be a Tensor"):
        nn.Parameter([1.0])


# ---- containers -------------------------------------------------------------------------------


def test_sequential_indexing_and_editing():
    layers = [nn.Linear(1, 1) for _ in range(4)]
    s = nn.Sequential(*layers)
    assert s[-1] is layers[3] and len(s) == 4 and list(s) == layers
    assert isinstance(s[1:3], nn.Sequential) and list(s[1:3]) == layers[1:3]
    del s[1]
    assert list(s._modules) == ["0", "1", "2"] and list(s) == [layers[0], layers[2], layers[3]]
    s.insert(0, layers[1])
    assert list(s) == [layers[1], layers[0], layers[2], layers[3]]
    assert s.pop(0) is layers[1]
    s.append(nn.ReLU())
    assert isinstance(s[3], nn.ReLU)
    s[3] = nn.Tanh()
    assert isinstance(s[-1], nn.Tanh)
    assert len(s + nn.Sequential(nn.ReLU())) == 5
    with pytest.raises(IndexError, match="index 9 is out of range"):
        s[9]
    x = convlab.ones(2, 1)
    y = s(x)
    ref = x
    for layer in s:
        ref = layer(ref)
    np.testing.assert_array_equal(y.detach().numpy(), ref.detach().numpy())


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml += [nn.ReLU()]
    ml.extend([nn.Tanh()]).append(nn.Sigmoid())
    assert len(ml) == 4 and isinstance(ml[-1], nn.Sigmoid)
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias"]
    with pytest.raises(TypeError, match="iterable"):
        ml.extend(3)
    md = nn.ModuleDict({"fc": nn.Linear(1, 1)})
    md["act"] = nn.ReLU()
    md.update([("out", nn.Linear(1, 1))])
    assert list(md) == ["fc", "act", "out"] and "act" in md and len(md) == 3
    assert isinstance(md.pop("act"), nn.ReLU) and list(md.keys()) == ["fc", "out"]
    assert [n for n, _ in md.named_parameters()][:2] == ["fc.weight", "fc.bias"]
    with pytest.raises(ValueError, match="element #0"):
        md.update([1])


def test_parameter_list_and_dict_register_and_print_as_torch(torch):
    ours = nn.ParameterList([nn.Parameter(convlab.zeros(2, 3)), convlab.ones(4)])
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2, 3)), torch.ones(4)])
    assert repr(ours) == torch_repr(theirs)
    assert isinstance(ours[1], nn.Parameter) and ours[1].requires_grad  # a Tensor is wrapped
    ours.append(convlab.zeros(1))
    ours += [convlab.zeros(2)]
    assert len(ours) == 4 and list(ours.state_dict()) == ["0", "1", "2", "3"]
    assert repr(ours[2:]).count("Parameter containing") == 2
    ours_d = nn.ParameterDict({"a": nn.Parameter(convlab.zeros(2)),
                               "b": convlab.ones(3, dtype=convlab.float64)})
    theirs_d = torch.nn.ParameterDict({"a": torch.nn.Parameter(torch.zeros(2)),
                                       "b": torch.ones(3, dtype=torch.float64)})
    assert repr(ours_d) == torch_repr(theirs_d)
    ours_d["c"] = convlab.zeros(1)
    assert "c" in ours_d and ours_d.pop("c").shape == (1,) and list(ours_d) == ["a", "b"]

    class Scales(nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = nn.ParameterList([nn.Parameter(convlab.ones(1)) for _ in range(2)])

    assert [name for name, _ in Scales().named_parameters()] == ["scales.0", "scales.1"]
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        ours(1)
