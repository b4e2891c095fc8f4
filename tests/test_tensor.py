"""The Tensor: the top-level API, dtype rules, Size, metadata and conversions, indexing, in-place
ops outside a graph, and the errors that name the operation and the shapes."""

import numpy as np
import pytest

import convlab


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


# ---- the top level ------------------------------------------------------------------------------

TOP_LEVEL = """Tensor tensor from_numpy as_tensor zeros ones full empty arange linspace eye
zeros_like ones_like full_like empty_like rand randn randint randperm rand_like randn_like
manual_seed no_grad enable_grad is_grad_enabled set_grad_enabled Size float32 float64 int64
int32 bool float double long cat stack where maximum minimum matmul exp log sum mean
softmax""".split()


def test_top_level_names_are_there():
    missing = [name for name in TOP_LEVEL if not hasattr(convlab, name)]
    assert not missing
    assert convlab.float is convlab.float32 and convlab.long is convlab.int64
    assert convlab.double is convlab.float64 and repr(convlab.bool) == "convlab.bool"


def test_submodules_are_imported_with_the_package():
    import convlab.nn.functional

    assert convlab.nn.functional is convlab.nn.functional
    assert hasattr(convlab, "optim")


def test_function_forms_check_their_input():
    np.testing.assert_allclose(convlab.exp(convlab.zeros(2)).numpy(), [1.0, 1.0])
    with pytest.raises(TypeError, match="exp\\(\\): argument 'input' must be Tensor, not list"):
        convlab.exp([1.0])


# ---- dtype rules --------------------------------------------------------------------------------

DTYPES = [
    (lambda m: m.tensor([1.0, 2.0]), "float32"),
    (lambda m: m.tensor(np.array([1.0, 2.0])), "float64"),
    (lambda m: m.tensor(np.array([1.0], dtype=np.float32)), "float32"),
    (lambda m: m.tensor([1, 2]), "int64"),
    (lambda m: m.tensor(np.array([1, 2], dtype=np.int32)), "int32"),
    (lambda m: m.tensor([[1, 2.5]]), "float32"),
    (lambda m: m.tensor(True), "bool"),
    (lambda m: m.tensor(3), "int64"),
    (lambda m: m.tensor(3.0), "float32"),
    (lambda m: m.Tensor([1, 2]), "float32"),
    (lambda m: m.tensor([1, 2]) + 1.5, "float32"),
    (lambda m: m.tensor([1.0]) + m.tensor(2.0, dtype=m.float64), "float32"),
    (lambda m: m.tensor([1]) + m.tensor(2.0, dtype=m.float64), "float64"),
    (lambda m: m.tensor([1.0]) * m.tensor([2.0], dtype=m.float64), "float64"),
    (lambda m: m.tensor([1, 2]) / m.tensor([2, 2]), "float32"),
    (lambda m: m.tensor([1, 2]) / 2, "float32"),
    (lambda m: m.tensor([1, 2]) // 2, "int64"),
    (lambda m: m.tensor([-3, 2]) % 2, "int64"),
    (lambda m: m.tensor([-3, 2]) % 2.5, "float32"),
    (lambda m: m.tensor([True]) + m.tensor([True]), "bool"),
    (lambda m: m.tensor([True]) * 2, "int64"),
    (lambda m: m.tensor([True]) + 1.5, "float32"),
    (lambda m: m.tensor([1, 2], dtype=m.int32) + 3, "int32"),
    (lambda m: m.tensor([1, 2], dtype=m.int32) + m.tensor(3), "int32"),
    (lambda m: m.tensor([1, 2], dtype=m.int32) + m.tensor([3]), "int64"),
    (lambda m: m.tensor([1], dtype=m.uint8) + m.tensor([1], dtype=m.int8), "int16"),
    (lambda m: m.tensor([1, 2]) ** 2, "int64"),
    (lambda m: m.tensor([1, 2]) ** 0.5, "float32"),
    (lambda m: 2 ** m.tensor([1, 2]), "int64"),
    (lambda m: m.tensor([1.0], dtype=m.float64) + 2.5, "float64"),
    (lambda m: m.tensor([1, 2]) > 1.5, "bool"),
    (lambda m: m.tensor([1, 2]).sum(), "int64"),
    (lambda m: m.tensor([True, True]).sum(), "int64"),
    (lambda m: m.tensor([1, 2]).exp(), "float32"),
    (lambda m: m.tensor([1, 2]).abs(), "int64"),
    (lambda m: m.tensor([1, 2]).float(), "float32"),
    (lambda m: m.tensor([1.5]).long(), "int64"),
    (lambda m: m.tensor([1.5]).double(), "float64"),
    (lambda m: m.tensor([1.5]).to(m.float64), "float64"),
    (lambda m: m.tensor([1.5]).sum(dtype=m.float64), "float64"),
    (lambda m: m.where(m.tensor([True]), m.tensor([1]), 0.5), "float32"),
    (lambda m: m.cat([m.tensor([1]), m.tensor([2.0])]), "float32"),
    (lambda m: m.maximum(m.tensor([1]), m.tensor([2.0])), "float32"),
    (lambda m: m.tensor([1.0]).argmax(), "int64"),
]


@pytest.mark.parametrize("make, dtype", DTYPES)
def test_dtype_rules(make, dtype):
    assert make(convlab).dtype == getattr(convlab, dtype)


@pytest.mark.parametrize("make, dtype", DTYPES)
def test_dtype_rules_match_torch(make, dtype, torch):
    assert make(torch).dtype == getattr(torch, dtype)


def test_promotion_with_the_default_dtype_set_to_float64():
    convlab.set_default_dtype(convlab.float64)
    try:
        assert convlab.tensor([1.0]).dtype == convlab.float64
        assert (convlab.tensor([1]) + 0.5).dtype == convlab.float64
        assert repr(convlab.tensor([1.0])) == "tensor([1.])"
        assert repr(convlab.tensor([1.0], dtype=convlab.float32)) == \
            "tensor([1.], dtype=convlab.float32)"
    finally:
        convlab.set_default_dtype(convlab.float32)


# ---- Size ---------------------------------------------------------------------------------------


def test_size_is_a_tuple_that_prints_as_pytorch():
    s = convlab.zeros(2, 3).shape
    assert isinstance(s, tuple) and s == (2, 3)
    assert repr(s) == "convlab.Size([2, 3])"
    assert repr(convlab.Size([])) == "convlab.Size([])"
    assert s.numel() == 6


def test_size_slices_and_sums_stay_sizes():
    s = convlab.Size([2, 3, 4])
    assert isinstance(s[1:], convlab.Size) and s[1:] == (3, 4)
    assert isinstance(s[0], int) and s[-1] == 4
    assert isinstance(s + (5,), convlab.Size) and s + (5,) == (2, 3, 4, 5)
    assert isinstance((1,) + s, convlab.Size) and (1,) + s == (1, 2, 3, 4)
    assert convlab.zeros(s).shape == s


def test_size_method():
    x = convlab.zeros(2, 3, 4)
    assert x.size() == x.shape and isinstance(x.size(), convlab.Size)
    assert x.size(1) == 3 and x.size(-1) == 4 and type(x.size(0)) is int
    with pytest.raises(IndexError, match=r"size: Dimension out of range \(expected to be in "
                                         r"range of \[-3, 2\], but got 3\)"):
        x.size(3)


# ---- metadata and conversions -------------------------------------------------------------------


def test_metadata():
    x = convlab.zeros(2, 3, 4)
    assert x.dim() == x.ndim == 3 and x.numel() == 24 and len(x) == 2
    assert x.T.shape == (4, 3, 2) and x.mT.shape == (2, 4, 3)
    assert convlab.tensor(2.5).dim() == 0 and convlab.tensor(2.5).item() == 2.5
    assert convlab.tensor([[1, 2]]).tolist() == [[1, 2]]
    assert x.is_floating_point() and not convlab.tensor([1]).is_floating_point()
    assert str(x.device) == "cpu" and x.to("cpu") is x


def test_item_needs_one_element():
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted"):
        convlab.zeros(2).item()
    assert convlab.tensor([[7]]).item() == 7 and int(convlab.tensor(3.7)) == 3


def test_numpy_and_detach_share_memory_clone_copies():
    x = convlab.zeros(3)
    x.numpy()[0] = 1.0
    x.detach()[1] = 2.0
    c = x.clone()
    c[2] = 5.0
    assert x.tolist() == [1.0, 2.0, 0.0]
    with pytest.raises(RuntimeError, match="Use tensor.detach\\(\\).numpy\\(\\) instead"):
        convlab.zeros(2, requires_grad=True).numpy()


def test_conversions_return_self_when_nothing_changes():
    x = convlab.zeros(2)
    assert x.float() is x and x.to(convlab.float32) is x and x.contiguous() is x
    assert x.double().dtype == convlab.float64 and x.long().dtype == convlab.int64
    assert x.to(convlab.zeros(1, dtype=convlab.float64)).dtype == convlab.float64
    assert x.to(dtype=convlab.int32).dtype == convlab.int32


def test_data_is_a_tensor_sharing_memory_and_assignable():
    x = convlab.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert isinstance(d, convlab.Tensor) and not d.requires_grad
    d[0] = 9.0
    assert x.tolist() == [9.0, 2.0]
    x.data = convlab.tensor([5.0, 6.0])
    assert x.tolist() == [5.0, 6.0] and x.requires_grad and x.is_leaf
    x.data.mul_(2)  # the optimizer idiom
    assert x.tolist() == [10.0, 12.0]


def test_repr_suffixes():
    x = convlab.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert repr(convlab.tensor([[2.0, 4.0, 6.0]])) == "tensor([[2., 4., 6.]])"
    assert repr(convlab.tensor([1.0], dtype=convlab.float64)) == \
        "tensor([1.], dtype=convlab.float64)"
    assert repr(convlab.tensor([1, 2])) == "tensor([1, 2])"


def test_max_and_min_with_dim_return_named_values_and_indices():
    x = convlab.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    result = x.max(1)
    values, indices = result
    assert result.values is values and result.indices is indices
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert indices.dtype == convlab.int64
    assert x.min(dim=0, keepdim=True).indices.tolist() == [[0, 1, 0]]
    assert repr(result) == ("convlab.return_types.max(\nvalues=tensor([5., 7.]),\n"
                            "indices=tensor([1, 0]))")


# ---- indexing -----------------------------------------------------------------------------------


def test_indexing_forms():
    x = convlab.arange(24).reshape(2, 3, 4)
    a = np.arange(24).reshape(2, 3, 4)
    for index in [1, -1, (1, 2), slice(1, None), (Ellipsis, 0), (None, 0), (0, None, 1),
                  (slice(None), [2, 0, 2]), [[0, 1], [1, 1]]]:
        np.testing.assert_array_equal(x[index].numpy(), a[index])
    mask = a % 3 == 0
    np.testing.assert_array_equal(x[convlab.tensor(mask)].numpy(), a[mask])
    np.testing.assert_array_equal(x[convlab.tensor([1, 0])].numpy(), a[[1, 0]])
    assert x[[]].shape == (0, 3, 4)


def test_float_indices_raise():
    x = convlab.zeros(3)
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or "
                                         "bool tensors \\(got float32\\)"):
        x[convlab.tensor([0.0])]
    with pytest.raises(IndexError, match="got float64"):
        x[[0.5]]
    with pytest.raises(IndexError, match="got float 1.0"):
        x[1.0]


def test_out_of_range_index_names_the_shape():
    with pytest.raises(IndexError,
                       match=r"index 5 is out of bounds .* \(tensor of shape \[2, 3\]\)"):
        convlab.zeros(2, 3)[:, 5]


def test_setitem_without_grad_writes_in_place():
    x = convlab.zeros(3, 2)
    view = x[0]
    x[0] = 1.0
    x[1] = convlab.tensor([2, 3])  # cast to x's dtype
    x[convlab.tensor([False, False, True])] = convlab.tensor([4.0, 5.0])
    assert view.tolist() == [1.0, 1.0]
    assert x.tolist() == [[1.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert x.dtype == convlab.float32
    with pytest.raises(ValueError, match=r"setitem: .* \(tensor of shape \[3, 2\]\)"):
        x[0] = convlab.zeros(3)


def test_masked_fill_and_gather():
    x = convlab.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.masked_fill(convlab.tensor([True, False]), -1).tolist() == [[-1.0, 2.0], [-1.0, 4.0]]
    assert x.gather(1, convlab.tensor([[1], [0]])).tolist() == [[2.0], [3.0]]
    with pytest.raises(RuntimeError, match="masked_fill: expected mask of dtype bool"):
        x.masked_fill(convlab.tensor([1, 0]), 0.0)
    with pytest.raises(RuntimeError, match=r"masked_fill: the size of tensor a \(2\) must match "
                                           r"the size of tensor b \(3\)"):
        x.masked_fill(convlab.tensor([True, False, True]), 0.0)
    with pytest.raises(RuntimeError, match="gather\\(\\): index 2 is out of bounds for "
                                           "dimension 1 with size 2"):
        x.gather(1, convlab.tensor([[2], [0]]))
    with pytest.raises(RuntimeError, match="gather\\(\\): Expected dtype int64"):
        x.gather(1, convlab.tensor([[1.0], [0.0]]))


# ---- in-place ops outside a graph ---------------------------------------------------------------


def test_in_place_ops_write_into_the_same_memory():
    x = convlab.tensor([1.0, -2.0, 3.0])
    view = x[1:]
    memory = x._data
    x.add_(1).mul_(2).sub_(convlab.tensor([1.0, 1.0, 1.0]), alpha=2).div_(2)
    assert x._data is memory and x.tolist() == [1.0, -2.0, 3.0]
    x.clamp_(min=0)
    assert view.tolist() == [0.0, 3.0]
    x.copy_(convlab.tensor([7, 8, 9]))
    assert x.tolist() == [7.0, 8.0, 9.0] and x.dtype == convlab.float32
    x.copy_(convlab.tensor(5.0))  # broadcast
    assert x.tolist() == [5.0, 5.0, 5.0]
    x.zero_()
    assert x.tolist() == [0.0, 0.0, 0.0] and x._data is memory


def test_in_place_errors_name_the_op_and_shapes():
    x = convlab.tensor([1, 2])
    with pytest.raises(RuntimeError, match="add_: result type float32 can't be cast to the "
                                           "desired output type int64"):
        x.add_(1.5)
    with pytest.raises(RuntimeError, match=r"add_: output with shape \[2\] doesn't match the "
                                           r"broadcast shape \[2, 2\]"):
        convlab.zeros(2).add_(convlab.ones(2, 2))
    with pytest.raises(RuntimeError, match="copy_: the size of tensor a"):
        convlab.zeros(2).copy_(convlab.ones(3))
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor "
                                           "refers to a single memory location"):
        convlab.zeros(1).expand(3).mul_(2)


def test_random_in_place_fills_draw_from_the_seeded_generator():
    convlab.manual_seed(3)
    a = convlab.empty(4).uniform_(-1, 1)
    b = convlab.empty(4).normal_(0, 2)
    convlab.manual_seed(3)
    assert convlab.empty(4).uniform_(-1, 1).equal(a)
    assert convlab.empty(4).normal_(0, 2).equal(b)
    assert a.dtype == convlab.float32 and ((a >= -1) & (a < 1)).all()


# ---- errors that name the operation and the shapes ----------------------------------------------


def test_matmul_of_mismatched_shapes():
    with pytest.raises(RuntimeError, match=r"matmul: mat1 and mat2 shapes cannot be multiplied "
                                           r"\(2x3 and 4x5\)"):
        convlab.zeros(2, 3) @ convlab.zeros(4, 5)
    with pytest.raises(RuntimeError, match=r"matmul: batch dimensions \[2\] and \[3\]"):
        convlab.zeros(2, 1, 3) @ convlab.zeros(3, 3, 4)
    with pytest.raises(RuntimeError, match="matmul: both arguments need at least 1 dimension"):
        convlab.zeros(2) @ convlab.tensor(1.0)
    with pytest.raises(TypeError, match="matmul: expected Tensors"):
        convlab.matmul(convlab.zeros(2), [1.0, 2.0])


def test_view_of_an_impossible_shape():
    x = convlab.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"view: shape '\[4, -1\]' is invalid for input of "
                                           r"size 6 \(input shape \[2, 3\]\)"):
        x.view(4, -1)
    with pytest.raises(RuntimeError, match="view: only one dimension can be inferred"):
        x.view(-1, -1)
    with pytest.raises(RuntimeError, match="reshape: shape '\\[7\\]' is invalid"):
        x.reshape(7)
    with pytest.raises(TypeError, match="sizes must be ints, got 2.5"):
        x.view(2.5)


def test_broadcasting_errors_show_both_shapes():
    with pytest.raises(RuntimeError, match=r"add: the size of tensor a \(3\) must match the size "
                                           r"of tensor b \(2\) at non-singleton dimension 1 "
                                           r"\(shapes \[2, 3\] and \[3, 2\]\)"):
        convlab.zeros(2, 3) + convlab.zeros(3, 2)
    with pytest.raises(RuntimeError, match="where: condition \\[2\\], input \\[3\\]"):
        convlab.where(convlab.tensor([True, False]), convlab.zeros(3), 0.0)


def test_dim_errors_name_the_op():
    x = convlab.zeros(2, 3)
    with pytest.raises(IndexError, match=r"sum: Dimension out of range \(expected to be in range "
                                         r"of \[-2, 1\], but got 2\)"):
        x.sum(2)
    with pytest.raises(IndexError, match="softmax: Dimension out of range"):
        x.softmax(-3)
    with pytest.raises(RuntimeError, match="sum: dim \\[1, -1\\] appears multiple times"):
        x.sum((1, -1))
    with pytest.raises(RuntimeError, match="permute\\(\\): duplicate dims"):
        x.permute(0, 0)
    with pytest.raises(RuntimeError, match=r"expand: the expanded size of the tensor \(3\) must "
                                           r"match the existing size \(2\)"):
        x.expand(3, 3)
    with pytest.raises(RuntimeError, match=r"cat\(\): Sizes of tensors must match except in "
                                           r"dimension 0"):
        convlab.cat([x, convlab.zeros(2, 2)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        convlab.stack([x, convlab.zeros(3, 2)])


def test_chunk_and_split_of_an_empty_dim():
    x = convlab.zeros(0, 3)
    assert [t.shape for t in x.chunk(2)] == [(0, 3), (0, 3)]
    assert [t.shape for t in x.split(2)] == [(0, 3)]
    assert [t.shape for t in convlab.zeros(5, 2).chunk(3)] == [(2, 2), (2, 2), (1, 2)]


def test_cat_of_a_0d_tensor_raises():
    with pytest.raises(RuntimeError, match=r"cat\(\): zero-dimensional tensor \(at position 1\)"):
        convlab.cat([convlab.zeros(2), convlab.tensor(1.0)])


def test_infinities_give_nan_without_numpy_warnings():
    import warnings

    x = convlab.tensor([1.0, float("inf"), -float("inf")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(x.softmax(0).numpy()).all()
        assert np.isnan(x.log_softmax(0).numpy()).all()
        assert np.isnan((convlab.tensor([-1.0]) ** 0.5).item())
        assert convlab.tensor([0.0]).pow(-1).item() == float("inf")


def test_reductions_over_empty_dims():
    with pytest.raises(IndexError, match=r"max\(\): Expected reduction dim 0 to have non-zero "
                                         r"size \(input shape \[0, 3\]\)"):
        convlab.zeros(0, 3).max(0)
    with pytest.raises(RuntimeError, match="Expected reduction dim to be specified"):
        convlab.zeros(0, 3).max()
    with pytest.raises(IndexError, match="argmax"):
        convlab.zeros(0, 3).argmax(0)
    with pytest.raises(IndexError, match="amin"):
        convlab.zeros(2, 0).amin(1)
    assert convlab.zeros(0, 3).sum(0).tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(convlab.zeros(0, 3).mean(0).numpy()).all()


def test_type_errors():
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype"):
        convlab.tensor([1, 2]).mean()
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor"):
        -convlab.tensor([True])
    with pytest.raises(TypeError, match="can't combine a Tensor with str"):
        convlab.zeros(2) + "a"


# ---- storage, views and in-place ops (the answers PyTorch 2.13 gives; the differential table
# in test_tensor_semantics_vs_torch.py checks many more against torch itself) ----------------

def test_minus_equals_on_parameters_trains():
    w = convlab.ones(3, requires_grad=True)
    (w * w).sum().backward()
    with convlab.no_grad():
        for p in [w]:
            p -= 0.1 * p.grad
    assert w.tolist() == pytest.approx([0.8, 0.8, 0.8])
    assert w.requires_grad and w.is_leaf


def test_a_row_changed_in_place_changes_the_matrix():
    x = convlab.zeros(2, 3)
    row = x[0]
    row += 1
    x[1, 2] = 7
    assert x.tolist() == [[1, 1, 1], [0, 0, 7]]
    assert row._base is x and x._version == 2 and row._version == 2


def test_in_place_op_on_a_view_reaches_the_base_gradient():
    x = convlab.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 2
    y[:, 0].zero_()
    y.sum().backward()
    assert y.tolist() == [[0, 4], [0, 8]]
    assert x.grad.tolist() == [[0, 2], [0, 2]]
    assert y.grad_fn.name() == "CopySlices"


def test_a_view_taken_before_an_in_place_op_sees_the_new_values():
    y = convlab.tensor([1.0, 2.0, 3.0], requires_grad=True) * 2
    v = y[:2]
    y.mul_(3)
    v.sum().backward()
    assert v.tolist() == [6, 12]
    assert v.grad_fn.name() == "AsStridedBackward0"


def test_backward_refuses_a_saved_tensor_changed_in_place():
    w = convlab.ones(3, requires_grad=True)
    loss = (w * w).sum()
    with convlab.no_grad():
        w.mul_(3)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: "
                                           r"\[convlab.FloatTensor \[3\]\] is at version 1; "
                                           r"expected version 0 instead"):
        loss.backward()


def test_changes_through_data_are_not_tracked():
    w = convlab.ones(3, requires_grad=True)
    loss = (w * w).sum()
    w.data.mul_(3)
    loss.backward()
    assert w.grad.tolist() == [6, 6, 6] and w._version == 0


def test_pytorchs_refusals():
    leaf = convlab.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        leaf.add_(1)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        leaf[0].mul_(2)
    with pytest.raises(RuntimeError, match=r"view size is not compatible .* Use \.reshape"):
        convlab.ones(2, 3).t().view(6)
    with pytest.raises(RuntimeError, match="some elements of the input tensor and the "
                                           "written-to tensor refer to a single memory"):
        x = convlab.arange(6.0)
        x[:4].add_(x[2:])


def test_views_share_memory_and_copies_do_not():
    x = convlab.zeros(2, 3)
    assert x.t()._base is x and x.view(6)._base is x and x[1]._base is x
    assert x.t().contiguous()._base is None and x.contiguous() is x
    assert x[1].storage_offset() == 3 and x.t().stride() == (1, 3)
    assert x[1].untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    assert x.detach()._base is None and x.detach()._version_counter is x._version_counter


def test_autograd_grad_returns_without_accumulating():
    x = convlab.tensor([1.0, 2.0], requires_grad=True)
    (g,) = convlab.autograd.grad((x * x).sum(), x)
    assert g.tolist() == [2, 4] and x.grad is None
    with pytest.raises(NotImplementedError, match="first derivatives"):
        convlab.autograd.grad((x * x).sum(), x, create_graph=True)


def test_integer_division_by_zero_raises_and_cuda_is_refused():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        convlab.tensor([3, 4]) // 0
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        convlab.tensor([3, 4]) % convlab.tensor([1, 0])
    assert (convlab.tensor([3.0, -4.0]) // 0).tolist() == [float("inf"), float("-inf")]
    with pytest.raises(AssertionError, match="CPU only"):
        convlab.ones(2).cuda()
    assert not convlab.ones(2).is_xpu and not convlab.ones(2).is_mps


def test_plus_equals_on_a_slice_writes_the_slice_back_onto_itself():
    """``Y[a:b] += t`` is ``Y[a:b] = Y[a:b].__iadd__(t)``: the value written is the region
    itself (d2l's hand-written transposed convolution)."""
    y = convlab.zeros(3, 3)
    for i in range(2):
        y[i:i + 2, i:i + 2] += convlab.ones(2, 2)
    assert y.tolist() == [[1, 1, 0], [1, 2, 1], [0, 1, 1]]


def test_methods_take_numpys_axis_and_keepdims():
    x = convlab.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    assert x.argmax(axis=1).tolist() == [1, 0]
    assert x.sum(axis=0, keepdims=True).shape == (1, 3)
    with pytest.raises(TypeError, match="both 'dim' and its NumPy spelling 'axis'"):
        x.sum(axis=0, dim=0)


def test_type_takes_legacy_types_and_names():
    x = convlab.tensor([1, 2])
    assert x.type() == "convlab.LongTensor"
    assert x.type(convlab.FloatTensor).dtype == convlab.float32
    assert x.type("torch.DoubleTensor").dtype == convlab.float64
    with pytest.raises(ValueError, match="invalid type 'torch.Nope'"):
        x.type("torch.Nope")
    assert convlab.tensor([1.0]).sinh().item() == pytest.approx(1.1752012)
    assert convlab.tensor([1.0]).cosh().item() == pytest.approx(1.5430806)


def test_tensors_of_one_allocation_keep_their_own_versions(tmp_path):
    """Tensors loaded from one file are windows on one buffer: each keeps its own version, and
    what an op saved of one is guarded by that one's."""
    convlab.save({"a": convlab.ones(3), "b": convlab.full((3,), 2.0)}, tmp_path / "ab.npz")
    loaded = convlab.load(tmp_path / "ab.npz")
    a, b = loaded["a"].requires_grad_(), loaded["b"].requires_grad_()
    loss = (a * b).sum()  # saves both
    b.detach().add_(0)  # b changed in place: backward must notice, though a comes first
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    assert a._version == 0 and b._version == 1
