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
from autograder.compare import assert_same, expect_error
from autograder.inputs import conv_cases, randn


DTYPES = (torch.float32, torch.float64)
ONE_FAILURE = settings(report_multiple_bugs=False)  # a failing example is reported as one check failure


def conv_mistakes(x, weight, bias):
    """What the known mistakes of conv2d would return."""
    found = {mistakes.FLIPPED_KERNEL: F.conv2d(x, weight.flip(-1, -2), bias)}
    if bias is not None:
        found[mistakes.MISSING_BIAS] = F.conv2d(x, weight)
        if x.shape[1] > 1:
            found[mistakes.BIAS_PER_INPUT_CHANNEL] = F.conv2d(x, weight, x.shape[1] * bias)
    return found


def torch_two_layer(x, w1, w2, b1=None, b2=None):
    """F.conv2d -> relu -> F.conv2d."""
    return F.conv2d(torch.relu(F.conv2d(x, w1, b1)), w2, b2)


def two_layer_mistakes(x, w1, w2, b1=None, b2=None):
    """What the known mistakes of two_layer would return."""
    found = {mistakes.RELU_MISSING: F.conv2d(F.conv2d(x, w1, b1), w2, b2)}
    if b1 is not None:
        found[mistakes.BIAS_AFTER_RELU] = F.conv2d(torch.relu(F.conv2d(x, w1)) + b1.reshape(1, -1, 1, 1), w2, b2)
    found[mistakes.RELU_AFTER_OUTPUT] = torch.relu(torch_two_layer(x, w1, w2, b1, b2))
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
    @pytest.mark.points(2)
    @ONE_FAILURE
    @given(kernels=kernel_lists())
    def test_matches_torch_stack_random(self, student, kernels):
        """equals torch.stack on random kernel counts and shapes"""
        got = student.stack_kernels(kernels)
        assert_same(got, torch.stack(kernels), mistakes=lambda: {mistakes.KERNELS_CONCATENATED: torch.cat(kernels)})

    @pytest.mark.points(1)
    def test_one_kernel(self, student):
        """a single kernel gives a weight with C_out = 1"""
        kernel = randn(2, 3, 4, seed=1)
        assert_same(student.stack_kernels([kernel]), kernel[None], mistakes=lambda: {mistakes.KERNELS_CONCATENATED: kernel})

    @pytest.mark.points(1)
    def test_keeps_float64(self, student):
        """float64 kernels give a float64 weight"""
        kernels = [randn(3, 2, 2, seed=i, dtype=torch.float64) for i in range(3)]
        assert_same(student.stack_kernels(kernels), torch.stack(kernels))

    @pytest.mark.points(1)
    @pytest.mark.parametrize(
        "shapes", [[(3, 3, 3), (3, 3, 2)], [(2, 3, 3), (2, 3, 3), (3, 3, 3)], [(1, 2, 2), (1, 3, 2)]]
    )
    def test_different_shapes_is_an_error(self, student, shapes):
        """kernels whose C_in, kh or kw differ raise ValueError"""
        with expect_error(ValueError):
            student.stack_kernels([randn(*shape, seed=i) for i, shape in enumerate(shapes)])

    @pytest.mark.points(1)
    def test_empty_list_is_an_error(self, student):
        """an empty list raises ValueError"""
        with expect_error(ValueError):
            student.stack_kernels([])

    @pytest.mark.points(1)
    def test_two_dimensional_kernels_is_an_error(self, student):
        """2-D kernels (no channel dimension) raise ValueError"""
        with expect_error(ValueError):
            student.stack_kernels([randn(3, 3), randn(3, 3, seed=1)])


class TestConv2d:
    @pytest.mark.points(3)
    @ONE_FAILURE
    @given(case=conv_cases())
    def test_matches_F_conv2d_random(self, student, case):
        """equals F.conv2d on random batches, channels, non-square kernels, with or without bias"""
        got = student.conv2d(case.input, case.weight, case.bias)
        expected = F.conv2d(case.input, case.weight, case.bias)
        assert_same(got, expected, mistakes=lambda: conv_mistakes(case.input, case.weight, case.bias))

    @pytest.mark.points(1)
    def test_kernel_as_large_as_the_image(self, student):
        """a kernel as large as the image gives a 1x1 output per channel"""
        x, weight, bias = randn(2, 3, 4, 5), randn(6, 3, 4, 5, seed=1), randn(6, seed=2)
        assert_same(student.conv2d(x, weight, bias), F.conv2d(x, weight, bias), mistakes=lambda: conv_mistakes(x, weight, bias))

    @pytest.mark.points(1)
    def test_one_by_one_kernel(self, student):
        """a 1x1 kernel mixes the channels of each pixel"""
        x, weight, bias = randn(2, 4, 3, 5, seed=3), randn(3, 4, 1, 1, seed=4), randn(3, seed=5)
        assert_same(student.conv2d(x, weight, bias), F.conv2d(x, weight, bias), mistakes=lambda: conv_mistakes(x, weight, bias))

    @pytest.mark.points(1)
    def test_keeps_float64(self, student):
        """float64 in, float64 out, with float64 accuracy"""
        x = randn(1, 2, 6, 7, seed=6, dtype=torch.float64)
        weight, bias = randn(3, 2, 3, 2, seed=7, dtype=torch.float64), randn(3, seed=8, dtype=torch.float64)
        assert_same(student.conv2d(x, weight, bias), F.conv2d(x, weight, bias), mistakes=lambda: conv_mistakes(x, weight, bias))

    @pytest.mark.points(1)
    def test_weight_used_in_the_input_dtype(self, student):
        """a float32 weight and bias on a float64 input give a float64 result"""
        x = randn(1, 2, 5, 5, seed=9, dtype=torch.float64)
        weight, bias = randn(3, 2, 3, 3, seed=10), randn(3, seed=11)
        assert_same(student.conv2d(x, weight, bias), F.conv2d(x, weight.double(), bias.double()))

    @pytest.mark.points(1)
    def test_channel_mismatch_is_an_error(self, student):
        """a weight with more input channels than the input raises ValueError"""
        with expect_error(ValueError):
            student.conv2d(randn(2, 2, 5, 5), randn(4, 3, 3, 3))

    @pytest.mark.points(1)
    def test_kernel_larger_than_the_image_is_an_error(self, student):
        """a kernel larger than the image raises ValueError"""
        with expect_error(ValueError):
            student.conv2d(randn(1, 1, 4, 4), randn(1, 1, 3, 5))

    @pytest.mark.points(1)
    def test_bias_of_wrong_shape_is_an_error(self, student):
        """a bias not of shape (C_out,) raises ValueError naming `bias`"""
        with expect_error(ValueError, mentions="bias"):
            student.conv2d(randn(1, 2, 5, 5), randn(3, 2, 3, 3), randn(2))

    @pytest.mark.points(1)
    def test_three_dimensional_input_is_an_error(self, student):
        """an input that is not 4-D raises ValueError naming `input`"""
        with expect_error(ValueError, mentions="input"):
            student.conv2d(randn(2, 5, 5), randn(3, 2, 3, 3))

    @pytest.mark.points(1)
    def test_three_dimensional_weight_is_an_error(self, student):
        """a weight that is not 4-D raises ValueError naming `weight`"""
        with expect_error(ValueError, mentions="weight"):
            student.conv2d(randn(1, 2, 5, 5), randn(2, 3, 3))

    @pytest.mark.points(1)
    def test_integer_input_is_an_error(self, student):
        """an integer input raises TypeError naming `input`"""
        with expect_error(TypeError, mentions="input"):
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
    @pytest.mark.points(3)
    @ONE_FAILURE
    @given(case=two_layer_cases())
    def test_matches_conv_relu_conv_random(self, student, case):
        """equals F.conv2d -> relu -> F.conv2d on random shapes, with or without biases"""
        x, w1, w2, b1, b2 = case
        got = student.two_layer(x, w1, w2, b1, b2)
        assert_same(got, torch_two_layer(x, w1, w2, b1, b2), mistakes=lambda: two_layer_mistakes(x, w1, w2, b1, b2))

    @pytest.mark.points(2)
    def test_relu_matters(self, student):
        """the ReLU between the layers clips the first layer's negative values"""
        x = randn(1, 1, 6, 6, seed=1, dtype=torch.float64)
        w1 = torch.tensor([[[[1.0]]], [[[-1.0]]]], dtype=torch.float64)  # x and -x: one of them is negative
        w2 = torch.ones(1, 2, 1, 1, dtype=torch.float64)  # relu(x) + relu(-x) = |x|
        got = student.two_layer(x, w1, w2)
        assert_same(got, x.abs(), mistakes=lambda: two_layer_mistakes(x, w1, w2))

    @pytest.mark.points(1)
    def test_biases_by_hand(self, student):
        """b1 goes in before the ReLU, b2 after: relu(2x - 3) + 1 with 1x1 kernels (worked by hand)"""
        x = torch.tensor([[[[-1.0, 1.0, 3.0]]]])  # (1, 1, 1, 3)
        w1, b1 = torch.tensor([[[[2.0]]]]), torch.tensor([-3.0])
        w2, b2 = torch.tensor([[[[1.0]]]]), torch.tensor([1.0])
        # 2*(-1) - 3 = -5 -> 0 -> 1;  2*1 - 3 = -1 -> 0 -> 1;  2*3 - 3 = 3 -> 3 -> 4
        expected = torch.tensor([[[[1.0, 1.0, 4.0]]]])
        got = student.two_layer(x, w1, w2, b1, b2)
        assert_same(got, expected, mistakes=lambda: two_layer_mistakes(x, w1, w2, b1, b2))

    @pytest.mark.points(1)
    def test_keeps_float64(self, student):
        """float64 in, float64 out, with float64 accuracy"""
        x = randn(2, 3, 7, 6, seed=2, dtype=torch.float64)
        w1, b1 = randn(2, 3, 3, 3, seed=3, dtype=torch.float64), randn(2, seed=4, dtype=torch.float64)
        w2, b2 = randn(4, 2, 3, 2, seed=5, dtype=torch.float64), randn(4, seed=6, dtype=torch.float64)
        got = student.two_layer(x, w1, w2, b1, b2)
        assert_same(got, torch_two_layer(x, w1, w2, b1, b2), mistakes=lambda: two_layer_mistakes(x, w1, w2, b1, b2))

    @pytest.mark.points(1)
    @pytest.mark.parametrize("c1, c2_in", [(2, 3), (4, 1)])
    def test_channel_mismatch_is_an_error(self, student, c1, c2_in):
        """w2 whose C_in is not w1's C_out raises ValueError naming `w2`"""
        with expect_error(ValueError, mentions="w2"):
            student.two_layer(randn(1, 3, 8, 8), randn(c1, 3, 3, 3, seed=1), randn(2, c2_in, 3, 3, seed=2))

    @pytest.mark.points(1)
    def test_second_kernel_too_large_is_an_error(self, student):
        """a second kernel larger than the first layer's output raises ValueError"""
        with expect_error(ValueError):
            student.two_layer(randn(1, 1, 5, 5), randn(2, 1, 3, 3, seed=1), randn(1, 2, 4, 2, seed=2))


class TestParamCount:
    @pytest.mark.points(2)
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

    @pytest.mark.points(1)
    def test_without_bias_by_hand(self, student):
        """3 -> 16 channels, 3x3, no bias: 16*3*3*3 = 432"""
        assert_same(student.param_count(3, 16, 3, bias=False), 432, mistakes=lambda: count_mistakes(3, 16, 3, False))

    @pytest.mark.points(1)
    def test_pair_kernel_by_hand(self, student):
        """2 -> 1 channel, a (3, 2) kernel, bias: 1*2*3*2 + 1 = 13 (the 3x3x2 filter's cousin)"""
        assert_same(student.param_count(2, 1, (3, 2)), 13, mistakes=lambda: count_mistakes(2, 1, (3, 2), True))

    @pytest.mark.points(1)
    @pytest.mark.parametrize("name, args", [("c_in", (0, 4, 3)), ("c_out", (3, 0, 3)), ("kernel_size", (3, 4, 0)), ("kernel_size", (3, 4, (3, 0)))])
    def test_below_one_is_an_error(self, student, name, args):
        """a channel count or kernel size below 1 raises ValueError naming it"""
        with expect_error(ValueError, mentions=name):
            student.param_count(*args)

    @pytest.mark.points(1)
    def test_wrong_pair_length_is_an_error(self, student):
        """a kernel_size of 3 values raises ValueError naming `kernel_size`"""
        with expect_error(ValueError, mentions="kernel_size"):
            student.param_count(3, 4, (3, 3, 3))

    @pytest.mark.points(1)
    @pytest.mark.parametrize("name, args", [("c_in", (3.0, 4, 3)), ("kernel_size", (3, 4, 2.5))])
    def test_float_is_an_error(self, student, name, args):
        """a float count or size raises TypeError naming it"""
        with expect_error(TypeError, mentions=name):
            student.param_count(*args)
