"""The convolution geometry: the output-size formula by invariant, 'same'/'valid'/per-side
padding, transposed sizes, output_size resolution, and every argument check's message."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convlab.engine.geometry import (
    conv_geometry,
    conv_transpose_geometry,
    fold_geometry,
    output_length,
    resolve_output_padding,
    transposed_output_length,
    unfold_geometry,
)

sizes = st.integers(1, 40)
small = st.integers(1, 6)


@settings(max_examples=300, deadline=None)
@given(i=sizes, k=small, s=small, p_lo=st.integers(0, 5), p_hi=st.integers(0, 5), d=small)
def test_output_length_counts_the_windows_that_fit(i, k, s, p_lo, p_hi, d):
    """o is the number of window starts 0, s, 2s, ... whose dilated kernel ends inside the
    padded input, counted directly."""
    k_eff = d * (k - 1) + 1
    padded = i + p_lo + p_hi
    windows = sum(1 for start in range(0, padded, s) if start + k_eff <= padded)
    o = output_length(i, k, s, p_lo, p_hi, d)
    assert o == windows or (windows == 0 and o <= 0)


@settings(max_examples=300, deadline=None)
@given(i=sizes, k=small, s=small, p=st.integers(0, 5), d=small, a=st.integers(0, 5))
def test_transposed_length_inverts_the_conv_length(i, k, s, p, d, a):
    """A conv over the transposed output gives back the transposed input, for every legal
    output_padding (a < s), which is what makes the transposed conv the conv's adjoint."""
    a = a % s
    o = transposed_output_length(i, k, s, p, p, d, a)
    if o >= 1 and o + 2 * p >= d * (k - 1) + 1:
        assert output_length(o, k, s, p, p, d) == i


@settings(max_examples=300, deadline=None)
@given(i=sizes, k=small, s=small, d=st.integers(1, 3))
def test_same_padding_gives_ceil_in_over_stride(i, k, s, d):
    G = conv_geometry("conv1d", 1, (1, 1, i), (1, 1, k), stride=s, padding="same", dilation=d)
    (lo, hi), = G.padding
    assert G.out_size == (math.ceil(i / s),)
    assert hi - lo in (0, 1)  # the odd element goes at the end, as in PyTorch and TensorFlow
    if s == 1:  # PyTorch's rule: total d*(k-1)
        assert lo + hi == d * (k - 1)


def test_same_padding_matches_tensorflow_examples():
    # REFERENCE.md section 2: k=7, s=2 pads (2, 3) for i=224 and (3, 3) for i=225;
    # k=3, s=2, i=6 pads (0, 1)
    def pads(i, k, s):
        return conv_geometry("conv1d", 1, (1, 1, i), (1, 1, k), stride=s, padding="same").padding
    assert pads(224, 7, 2) == ((2, 3),)
    assert pads(225, 7, 2) == ((3, 3),)
    assert pads(6, 3, 2) == ((0, 1),)


def test_padding_forms():
    def pad(p, nd=2):
        return conv_geometry("conv2d", nd, (1, 1, 8, 8), (1, 1, 3, 3), padding=p).padding
    assert pad(1) == ((1, 1), (1, 1))
    assert pad((1, 2)) == ((1, 1), (2, 2))
    assert pad((1,)) == ((1, 1), (1, 1))
    assert pad(((0, 1), (2, 3))) == ((0, 1), (2, 3))
    assert pad(((0, 1), 2)) == ((0, 1), (2, 2))
    assert pad("valid") == ((0, 0), (0, 0))
    assert pad("same") == ((1, 1), (1, 1))


def test_per_side_padding_sizes_the_output():
    G = conv_geometry("conv2d", 2, (1, 1, 8, 8), (1, 1, 3, 3), padding=((0, 1), (2, 3)))
    assert G.out_size == (7, 11)


def test_unbatched_input():
    G = conv_geometry("conv2d", 2, (3, 8, 8), (4, 3, 3, 3))
    assert G.in_size == (8, 8) and G.in_channels == 3 and G.out_size == (6, 6)


def test_transposed_geometry_is_the_conv_it_transposes():
    G = conv_transpose_geometry("conv_transpose2d", 2, (2, 4, 5, 5), (4, 3, 3, 3), stride=2,
                                padding=1, output_padding=1)
    assert G.in_size == (10, 10) and G.out_size == (5, 5)
    assert (G.in_channels, G.out_channels) == (3, 4)
    assert G.transposed and G.output_padding == (1, 1)


def test_output_padding_below_dilation_keeps_the_input_size():
    # output_padding 1 >= stride 1 is allowed because dilation 2 > 1; the formula would count an
    # extra window over the transposed output, which the geometry leaves out.
    G = conv_transpose_geometry("conv_transpose1d", 1, (1, 2, 4), (2, 3, 3), stride=1,
                                output_padding=1, dilation=2)
    assert G.in_size == (9,) and G.out_size == (4,)


def test_resolve_output_padding():
    assert resolve_output_padding("ConvTranspose2d", 2, (1, 4, 5, 5), (9, 10), 2, 1, 3, 1) == (0, 1)
    # with the leading (N, C) dims
    assert resolve_output_padding("ConvTranspose2d", 2, (1, 4, 5, 5), (1, 4, 10, 10), 2, 1, 3,
                                  1) == (1, 1)
    # unbatched: (C, H, W)
    assert resolve_output_padding("ConvTranspose2d", 2, (4, 5, 5), (4, 9, 9), 2, 1, 3, 1) == (0, 0)


def test_resolve_output_padding_errors():
    with pytest.raises(ValueError, match=r"for 4D input, output_size must have 2 or 4 elements "
                                         r"\(got 3\)"):
        resolve_output_padding("ConvTranspose2d", 2, (1, 4, 5, 5), (1, 9, 9), 2, 1, 3, 1)
    with pytest.raises(ValueError, match=r"requested an output size of \(11, 9\), but valid sizes "
                                         r"range from \(9, 9\) to \(10, 10\)"):
        resolve_output_padding("ConvTranspose2d", 2, (1, 4, 5, 5), (11, 9), 2, 1, 3, 1)


def test_unfold_geometry_rank():
    assert unfold_geometry("unfold", (3, 5, 5), 2).out_size == (4, 4)  # unbatched 2-D
    assert unfold_geometry("unfold", (1, 3, 5, 5, 5), 2).out_size == (4, 4, 4)  # 3-D
    assert unfold_geometry("unfold", (1, 3, 5), (2,)).out_size == (4,)  # 1-D by the kernel


# -- the argument checks: each names the argument and shows the numbers ----------------------

X2, W2 = (1, 3, 10, 10), (8, 3, 3, 3)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(stride=0), ValueError, r"conv2d: non-positive stride is not supported, got stride=0"),
    (dict(stride=(1, -2)), ValueError, r"got stride=\(1, -2\)"),
    (dict(dilation=0), ValueError, r"dilation should be greater than zero, got dilation=0"),
    (dict(padding=-1), ValueError, r"negative padding is not supported, got padding=-1"),
    (dict(padding="full"), ValueError, r"Invalid padding string 'full', should be one of"),
    (dict(padding=(1, 2, 3)), ValueError, r"padding must have 2 entries .* got "
                                          r"\(1, 2, 3\)"),
    (dict(padding=1.5), TypeError, r"padding must be an int"),
    (dict(stride=1.5), TypeError, r"stride must be an int or a tuple of 2 ints, got float 1.5"),
    (dict(stride=(1, 2, 3)), ValueError, r"stride must be an int or a tuple of 2 ints"),
    (dict(groups=0), ValueError, r"expected groups to be greater than 0, but got groups=0"),
    (dict(groups=2), ValueError, r"Given groups=2, expected weight to be divisible by 2 at "
                                 r"dimension 0, but got weight of size \[7, 3, 3, 3\] "
                                 r"\(7 % 2 = 1\)"),
])
def test_conv_argument_errors(kwargs, error, message):
    weight = (7, 3, 3, 3) if kwargs.get("groups") == 2 else W2
    with pytest.raises(error, match=message):
        conv_geometry("conv2d", 2, X2, weight, **kwargs)


def test_wrong_channel_count():
    with pytest.raises(ValueError, match=r"conv2d: Given groups=1, weight of size \[6, 3, 3, 3\], "
                                         r"expected input\[1, 1, 28, 28\] to have 3 channels "
                                         r"\(weight.shape\[1\] \* groups = 3 \* 1 = 3\), but got 1 "
                                         r"channels instead"):
        conv_geometry("conv2d", 2, (1, 1, 28, 28), (6, 3, 3, 3))


def test_groups_not_dividing_input_channels():
    # 4 input channels, groups 3, weight (6, 1, ...): 1 * 3 = 3 channels expected
    with pytest.raises(ValueError, match=r"Given groups=3, weight of size \[6, 1, 3, 3\], "
                                         r"expected input\[1, 4, 5, 5\] to have 3 channels"):
        conv_geometry("conv2d", 2, (1, 4, 5, 5), (6, 1, 3, 3), groups=3)


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"conv2d: kernel 7 dilated to 13 does not fit the padded "
                                         r"input 10 along dim 2: floor\(\(10 \+ 2\*0 - 2\*\(7-1\) "
                                         r"- 1\) / 1\) \+ 1 = -2"):
        conv_geometry("conv2d", 2, (1, 1, 10, 10), (1, 1, 7, 7), dilation=2)
    with pytest.raises(ValueError, match=r"kernel 5 does not fit the padded input 4 along dim 1: "
                                         r"floor\(\(2 \+ 2\*1 - 1\*\(5-1\) - 1\) / 1\) \+ 1 = 0"):
        conv_geometry("conv1d", 1, (1, 2), (1, 1, 5), padding=1)  # unbatched: dim 1


@pytest.mark.parametrize("input_shape, weight_shape, message", [
    ((28, 28), (6, 1, 3, 3), r"Expected 3D \(unbatched\) or 4D \(batched\) input, but got "
                             r"input of size: \[28, 28\]"),
    ((1, 1, 1, 28, 28), (6, 1, 3, 3), r"but got input of size: \[1, 1, 1, 28, 28\]"),
    ((1, 1, 28, 28), (6, 1, 3), r"weight must be 4-D \(C_out, C_in/groups, \*kernel\), got "
                                r"weight of size \[6, 1, 3\]"),
])
def test_wrong_rank(input_shape, weight_shape, message):
    with pytest.raises(ValueError, match=message):
        conv_geometry("conv2d", 2, input_shape, weight_shape)


def test_bias_shape():
    with pytest.raises(ValueError, match=r"expected bias to be 1-dimensional with 8 elements, but "
                                         r"got bias of size \[7\] instead"):
        conv_geometry("conv2d", 2, X2, W2, bias_shape=(7,))


@pytest.mark.parametrize("kwargs, message", [
    (dict(stride=2, output_padding=2), r"output padding must be smaller than either stride or "
                                       r"dilation, but got output_padding=2 with stride=2 and "
                                       r"dilation=1 along dim 2"),
    (dict(output_padding=-1), r"negative output_padding is not supported"),
    (dict(padding=3), r"the output size along dim 2 is not positive: \(2 - 1\)\*1 - 2\*3 \+ "
                      r"1\*\(3-1\) \+ 0 \+ 1 = -2"),
    (dict(padding="same"), r"padding must be an int .* got the string 'same'"),
])
def test_conv_transpose_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv_transpose_geometry("conv_transpose2d", 2, (1, 4, 2, 2), (4, 3, 3, 3), **kwargs)


def test_conv_transpose_channels():
    with pytest.raises(ValueError, match=r"expected input\[1, 5, 2, 2\] to have 4 channels "
                                         r"\(weight.shape\[0\] = 4\), "
                                         r"but got 5"):
        conv_transpose_geometry("conv_transpose2d", 2, (1, 5, 2, 2), (4, 3, 3, 3))


def test_fold_errors():
    with pytest.raises(ValueError, match=r"fold: expected the size of input's dimension 1 \(7\) "
                                         r"to be divisible by the product of kernel_size "
                                         r"2 \* 2 = 4"):
        fold_geometry("fold", (1, 7, 16), (5, 5), 2)
    with pytest.raises(ValueError, match=r"sliding blocks 4 \* 4 = 16"):
        fold_geometry("fold", (1, 8, 9), (5, 5), 2)
    with pytest.raises(ValueError, match=r"Expected 2D \(unbatched\) or 3D \(batched\) input"):
        fold_geometry("fold", (1, 1, 8, 9), (5, 5), 2)
