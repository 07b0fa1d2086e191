"""Hidden checks for 05_stacked_filters: property tests over shapes, edge cases, every error case.

Expected values come only from PyTorch (`torch.stack`, `F.conv2d`, `nn.Conv2d`),
hand-worked cases, or properties.
"""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import mistakes
from autograder.compare import assert_same, error_cases
from autograder.inputs import conv_cases, randn


DTYPES = (torch.float32, torch.float64)
ONE_FAILURE = settings(report_multiple_bugs=False)  # a failing example is reported as one check failure


def bias_per_row(out, bias):
    """out + bias[:, None]: the bias lined up with the rows of out (None when that does not broadcast)."""
    if bias is None:
        return None
    try:
        return out + bias.to(out.dtype)[:, None]
    except RuntimeError:
        return None


def conv_mistakes(x, weight, bias=None):
    """What the known mistakes of conv2d would return."""
    weight = weight.to(x.dtype)
    bias = None if bias is None else bias.to(x.dtype)
    found = {mistakes.FLIPPED_KERNEL: F.conv2d(x, weight.flip(-1, -2), bias)}
    if bias is not None:
        found[mistakes.MISSING_BIAS] = F.conv2d(x, weight)
        per_row = bias_per_row(F.conv2d(x, weight), bias)
        if per_row is not None:
            found[mistakes.BIAS_PER_ROW] = per_row
        if x.shape[1] > 1:
            found[mistakes.BIAS_PER_INPUT_CHANNEL] = F.conv2d(x, weight, x.shape[1] * bias)
    if x.dtype == torch.float64:
        found[mistakes.INPUT_CAST_TO_FLOAT32] = F.conv2d(x.float(), weight.float(), None if bias is None else bias.float())
    return found


def torch_two_layer(x, w1, w2, b1=None, b2=None):
    """F.conv2d -> relu -> F.conv2d, every weight and bias in x's dtype."""
    w1, w2 = w1.to(x.dtype), w2.to(x.dtype)
    b1, b2 = (None if b is None else b.to(x.dtype) for b in (b1, b2))
    return F.conv2d(torch.relu(F.conv2d(x, w1, b1)), w2, b2)


def two_layer_mistakes(x, w1, w2, b1=None, b2=None):
    """What the known mistakes of two_layer would return."""
    if x.dtype == torch.float64:
        cast = [None if t is None else t.float() for t in (w1, w2, b1, b2)]
    w1, w2, b1, b2 = (None if t is None else t.to(x.dtype) for t in (w1, w2, b1, b2))
    found = {mistakes.RELU_MISSING: F.conv2d(F.conv2d(x, w1, b1), w2, b2)}
    if b1 is not None:
        found[mistakes.BIAS_AFTER_RELU] = F.conv2d(torch.relu(F.conv2d(x, w1)) + b1.reshape(1, -1, 1, 1), w2, b2)
    if b1 is not None or b2 is not None:
        found[mistakes.MISSING_BIAS] = torch_two_layer(x, w1, w2)
    found[mistakes.RELU_AFTER_OUTPUT] = torch.relu(torch_two_layer(x, w1, w2, b1, b2))
    if x.dtype == torch.float64:
        found[mistakes.INPUT_CAST_TO_FLOAT32] = torch_two_layer(x.float(), *cast)
    return found


def nn_param_count(c_in, c_out, kernel_size, bias=True):
    """The number of parameters nn.Conv2d has (on the meta device: no memory used)."""
    conv = torch.nn.Conv2d(c_in, c_out, kernel_size, bias=bias, device="meta")
    return sum(p.numel() for p in conv.parameters())


def count_mistakes(c_in, c_out, kernel_size, bias):
    """What the known mistakes of param_count would return."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    b = c_out if bias else 0
    found = {
        mistakes.INPUT_CHANNELS_NOT_COUNTED: c_out * kh * kw + b,
        mistakes.NO_RECEPTIVE_FIELD: c_out * c_in + b,
    }
    if bias:
        found[mistakes.BIAS_NOT_COUNTED] = c_out * c_in * kh * kw
    else:
        found[mistakes.BIAS_COUNTED_WITHOUT_BIAS] = c_out * c_in * kh * kw + c_out
    return found


@st.composite
def kernel_lists(draw):
    """1 to 5 kernels of one random shape (C_in, kh, kw)."""
    c_out, c_in = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**16))
    return [randn(c_in, kh, kw, seed=seed + i, dtype=dtype) for i in range(c_out)]


class TestStackKernels:
    @pytest.mark.points(4)
    @ONE_FAILURE
    @given(kernels=kernel_lists())
    def test_matches_torch_stack_random(self, student, kernels):
        """equals torch.stack on random kernel counts and shapes, float32 and float64"""
        got = student.stack_kernels(kernels)
        assert_same(got, torch.stack(kernels), mistakes=lambda: {mistakes.KERNELS_CONCATENATED: torch.cat(kernels)})

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError: kernels whose kh or kw differ, an empty list, 2-D kernels"""
        kernels = [randn(1, 3, 2), randn(1, 3, 2, seed=1), randn(1, 3, 2, seed=2)]
        with error_cases(valid=lambda: student.stack_kernels(kernels), expected=torch.stack(kernels)) as case:
            with case(ValueError, case="kernels whose kw differ"):
                student.stack_kernels([randn(3, 3, 3), randn(3, 3, 2, seed=1)])
            with case(ValueError, case="kernels whose kh differ"):
                student.stack_kernels([randn(1, 2, 2), randn(1, 3, 2, seed=1)])
            with case(ValueError, case="an empty list"):
                student.stack_kernels([])
            with case(ValueError, case="2-D kernels (no channel dimension)"):
                student.stack_kernels([randn(3, 3), randn(3, 3, seed=1)])


class TestConv2d:
    @pytest.mark.points(11)
    @ONE_FAILURE
    @given(case=conv_cases())
    def test_matches_F_conv2d_random(self, student, case):
        """equals F.conv2d on random batches, channels, non-square kernels, with or without bias, float32 and float64"""
        got = student.conv2d(case.input, case.weight, case.bias)
        expected = F.conv2d(case.input, case.weight, case.bias)
        assert_same(got, expected, mistakes=lambda: conv_mistakes(case.input, case.weight, case.bias))

    @pytest.mark.points(4)
    def test_bias_per_output_channel(self, student):
        """bias[o] is added to every value of output channel o: zero weights give the bias everywhere"""
        x = randn(2, 2, 5, 4, seed=12)
        weight = torch.zeros(3, 2, 3, 2)  # every window sums to 0: (2, 3, 3, 3) of 0 before the bias
        bias = torch.tensor([1.0, -2.0, 5.0])
        expected = bias.reshape(1, 3, 1, 1).expand(2, 3, 3, 3)  # channel 0 all 1, channel 1 all -2, channel 2 all 5
        assert_same(student.conv2d(x, weight, bias), expected, mistakes=lambda: conv_mistakes(x, weight, bias))

    @pytest.mark.points(2)
    @pytest.mark.category("edge")
    def test_kernel_as_large_as_the_image(self, student):
        """a kernel as large as the image gives a 1x1 output per channel"""
        x, weight, bias = randn(2, 3, 4, 5), randn(6, 3, 4, 5, seed=1), randn(6, seed=2)
        got = student.conv2d(x, weight, bias)
        assert_same(got, F.conv2d(x, weight, bias), mistakes=lambda: conv_mistakes(x, weight, bias))

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_weight_used_in_the_input_dtype(self, student):
        """a weight and bias of the other float dtype are used in the input's dtype: the result keeps the input's"""
        x = randn(1, 2, 5, 5, seed=9, dtype=torch.float64)
        weight, bias = randn(3, 2, 3, 3, seed=10), randn(3, seed=11)
        got = student.conv2d(x, weight, bias)
        assert_same(got, F.conv2d(x, weight.double(), bias.double()), mistakes=lambda: conv_mistakes(x, weight, bias))
        x32 = randn(1, 2, 5, 5, seed=9)
        weight64, bias64 = randn(3, 2, 3, 3, seed=10, dtype=torch.float64), randn(3, seed=11, dtype=torch.float64)
        got = student.conv2d(x32, weight64, bias64)
        assert_same(got, F.conv2d(x32, weight64.float(), bias64.float()), mistakes=lambda: {
            mistakes.WEIGHT_DTYPE_KEPT: F.conv2d(x32.double(), weight64, bias64),
        })

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError (TypeError for an integer input), naming the argument where stated"""
        x, w = randn(2, 2, 5, 5), randn(4, 2, 3, 3, seed=1)
        with error_cases(valid=lambda: student.conv2d(x, w), expected=F.conv2d(x, w)) as case:
            with case(ValueError, case="a weight with more input channels than the input"):
                student.conv2d(randn(2, 2, 5, 5), randn(4, 3, 3, 3))
            with case(ValueError, case="a kernel larger than the image"):
                student.conv2d(randn(1, 1, 4, 4), randn(1, 1, 3, 5))
            with case(ValueError, mentions="input", case="a 3-D input"):
                student.conv2d(randn(2, 5, 5), randn(3, 2, 3, 3))
            with case(ValueError, mentions="weight", case="a 3-D weight"):
                student.conv2d(randn(1, 2, 5, 5), randn(2, 3, 3))
            with case(TypeError, mentions="input", case="an integer input"):
                student.conv2d(torch.ones(1, 1, 4, 4, dtype=torch.int64), randn(1, 1, 2, 2))


@st.composite
def two_layer_cases(draw):
    """input, w1, w2, b1, b2: random channels and kernels that fit, float32 or float64."""
    n, c_in, c1, c2 = (draw(st.integers(1, 3)) for _ in range(4))
    kh1, kw1, kh2, kw2 = (draw(st.integers(1, 3)) for _ in range(4))
    h = draw(st.integers(kh1 + kh2 - 1, 8))
    w = draw(st.integers(kw1 + kw2 - 1, 8))
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**16))
    x = randn(n, c_in, h, w, seed=seed, dtype=dtype)
    w1 = randn(c1, c_in, kh1, kw1, seed=seed + 1, dtype=dtype)
    w2 = randn(c2, c1, kh2, kw2, seed=seed + 2, dtype=dtype)
    b1 = randn(c1, seed=seed + 3, dtype=dtype) if draw(st.booleans()) else None
    b2 = randn(c2, seed=seed + 4, dtype=dtype) if draw(st.booleans()) else None
    return x, w1, w2, b1, b2


class TestTwoLayer:
    @pytest.mark.points(10)
    @ONE_FAILURE
    @given(case=two_layer_cases())
    def test_matches_conv_relu_conv_random(self, student, case):
        """equals F.conv2d -> relu -> F.conv2d on random shapes, with or without biases, float32 and float64"""
        x, w1, w2, b1, b2 = case
        got = student.two_layer(x, w1, w2, b1, b2)
        assert_same(got, torch_two_layer(x, w1, w2, b1, b2), mistakes=lambda: two_layer_mistakes(x, w1, w2, b1, b2))

    @pytest.mark.points(4)
    def test_biases_by_hand(self, student):
        """b1 goes in before the ReLU, b2 after: relu(2x - 3) + 1 with 1x1 kernels (worked by hand)"""
        x = torch.tensor([[[[-1.0, 1.0, 3.0]]]])  # (1, 1, 1, 3)
        w1, b1 = torch.tensor([[[[2.0]]]]), torch.tensor([-3.0])
        w2, b2 = torch.tensor([[[[1.0]]]]), torch.tensor([1.0])
        # 2*(-1) - 3 = -5 -> 0 -> 1;  2*1 - 3 = -1 -> 0 -> 1;  2*3 - 3 = 3 -> 3 -> 4
        expected = torch.tensor([[[[1.0, 1.0, 4.0]]]])
        got = student.two_layer(x, w1, w2, b1, b2)
        assert_same(got, expected, mistakes=lambda: two_layer_mistakes(x, w1, w2, b1, b2))

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @ONE_FAILURE
    @given(case=two_layer_cases(), scale=st.sampled_from([0.5, 2.0, 4.0]))
    def test_positive_scaling(self, student, case, scale):
        """without biases, scaling the input by s > 0 scales the output by s (ReLU is positively homogeneous)"""
        x, w1, w2, _, _ = case
        got = student.two_layer(scale * x, w1, w2)
        assert_same(got, scale * torch_two_layer(x, w1, w2), mistakes=lambda: two_layer_mistakes(scale * x, w1, w2))

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_weights_used_in_the_input_dtype(self, student):
        """float32 weights and biases on a float64 input give a float64 result, with float64 accuracy"""
        x = randn(1, 2, 7, 6, seed=7, dtype=torch.float64)
        w1, b1 = randn(3, 2, 3, 3, seed=8), randn(3, seed=9)
        w2, b2 = randn(2, 3, 2, 2, seed=10), randn(2, seed=11)
        got = student.two_layer(x, w1, w2, b1, b2)
        assert_same(got, torch_two_layer(x, w1, w2, b1, b2), mistakes=lambda: two_layer_mistakes(x, w1, w2, b1, b2))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError: w2's C_in is not w1's C_out (naming `w2`), a second kernel that does not fit"""
        x, w1, w2 = randn(1, 3, 8, 8), randn(2, 3, 3, 3, seed=1), randn(2, 2, 3, 3, seed=2)
        with error_cases(valid=lambda: student.two_layer(x, w1, w2), expected=torch_two_layer(x, w1, w2)) as case:
            with case(ValueError, mentions="w2", case="w2's C_in (3) is not w1's C_out (2)"):
                student.two_layer(randn(1, 3, 8, 8), randn(2, 3, 3, 3, seed=1), randn(2, 3, 3, 3, seed=2))
            with case(ValueError, mentions="w2", case="w2's C_in (1) is not w1's C_out (4)"):
                student.two_layer(randn(1, 3, 8, 8), randn(4, 3, 3, 3, seed=1), randn(2, 1, 3, 3, seed=2))
            with case(ValueError, case="a second kernel larger than the first layer's output"):
                student.two_layer(randn(1, 1, 5, 5), randn(2, 1, 3, 3, seed=1), randn(1, 2, 4, 2, seed=2))


class TestParamCount:
    @pytest.mark.points(6)
    @ONE_FAILURE
    @given(
        c_in=st.integers(1, 64),
        c_out=st.integers(1, 64),
        kernel_size=st.one_of(st.integers(1, 7), st.tuples(st.integers(1, 7), st.integers(1, 7))),
        bias=st.booleans(),
    )
    def test_matches_nn_conv2d_random(self, student, c_in, c_out, kernel_size, bias):
        """equals sum(p.numel() for p in nn.Conv2d(...).parameters()), ints and pairs, bias or not"""
        got = student.param_count(c_in, c_out, kernel_size, bias=bias)
        assert_same(got, nn_param_count(c_in, c_out, kernel_size, bias), mistakes=lambda: count_mistakes(c_in, c_out, kernel_size, bias))

    @pytest.mark.points(2)
    def test_without_bias_by_hand(self, student):
        """3 -> 16 channels, 3x3, no bias: 16*3*3*3 = 432"""
        assert_same(student.param_count(3, 16, 3, bias=False), 432, mistakes=lambda: count_mistakes(3, 16, 3, False))

    @pytest.mark.points(2)
    def test_pair_kernel_by_hand(self, student):
        """2 -> 1 channel, a (3, 2) kernel, bias: 1*2*3*2 + 1 = 13 (the 3x3x2 filter's cousin)"""
        assert_same(student.param_count(2, 1, (3, 2)), 13, mistakes=lambda: count_mistakes(2, 1, (3, 2), True))

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError (TypeError for a float) naming the argument"""
        with error_cases(valid=lambda: student.param_count(3, 4, (3, 2), bias=False), expected=nn_param_count(3, 4, (3, 2), bias=False)) as case:
            with case(ValueError, mentions="c_out", case="c_out = 0"):
                student.param_count(3, 0, 3)
            with case(ValueError, mentions="kernel_size", case="kernel_size = (3, 0)"):
                student.param_count(3, 4, (3, 0))
            with case(ValueError, mentions="kernel_size", case="a kernel_size of 3 values"):
                student.param_count(3, 4, (3, 3, 3))
            with case(TypeError, mentions="c_in", case="a float c_in"):
                student.param_count(3.0, 4, 3)
            with case(TypeError, mentions="kernel_size", case="a float kernel_size"):
                student.param_count(3, 4, 2.5)
