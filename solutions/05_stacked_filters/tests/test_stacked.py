"""Visible checks for 05_stacked_filters.

Run them with `pytest` in this folder, or `convgrade check 05_stacked_filters`.
Each check compares your function with PyTorch's own (`torch.stack`,
`F.conv2d`, `nn.Conv2d`) or with a small case worked out by hand below.
"""

import pytest
import torch
import torch.nn.functional as F

from autograder import mistakes
from autograder.compare import assert_same, error_cases
from autograder.inputs import randn


def torch_two_layer(x, w1, w2, b1=None, b2=None):
    """F.conv2d -> relu -> F.conv2d, every weight and bias in x's dtype."""
    w1, w2 = w1.to(x.dtype), w2.to(x.dtype)
    b1, b2 = (None if b is None else b.to(x.dtype) for b in (b1, b2))
    return F.conv2d(torch.relu(F.conv2d(x, w1, b1)), w2, b2)


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


def two_layer_mistakes(x, w1, w2, b1=None, b2=None):
    """What the known mistakes of two_layer would return."""
    if x.dtype == torch.float64:
        cast = [None if t is None else t.float() for t in (w1, w2, b1, b2)]
    w1, w2, b1, b2 = (None if t is None else t.to(x.dtype) for t in (w1, w2, b1, b2))
    found = {mistakes.RELU_MISSING: F.conv2d(F.conv2d(x, w1, b1), w2, b2)}
    if b1 is not None or b2 is not None:
        found[mistakes.MISSING_BIAS] = torch_two_layer(x, w1, w2)
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


class TestStackKernels:
    @pytest.mark.points(2)
    def test_two_kernels_by_hand(self, student):
        """two (1, 2, 2) kernels make a (2, 1, 2, 2) weight, in list order"""
        a = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
        b = torch.tensor([[[5.0, 6.0], [7.0, 8.0]]])
        expected = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[5.0, 6.0], [7.0, 8.0]]]])
        assert_same(student.stack_kernels([a, b]), expected, mistakes={
            mistakes.KERNELS_CONCATENATED: torch.cat([a, b]),
        })

    @pytest.mark.points(3)
    def test_matches_torch_stack(self, student):
        """four RGB 3x3 kernels equal torch.stack of the list"""
        kernels = [randn(3, 3, 3, seed=i) for i in range(4)]
        assert_same(student.stack_kernels(kernels), torch.stack(kernels), mistakes={
            mistakes.KERNELS_CONCATENATED: torch.cat(kernels),
        })

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_one_kernel(self, student):
        """a single kernel gives a weight with C_out = 1"""
        kernel = randn(2, 3, 4, seed=1)
        assert_same(student.stack_kernels([kernel]), kernel[None], mistakes={mistakes.KERNELS_CONCATENATED: kernel})

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 kernels give a float64 weight"""
        kernels = [randn(3, 2, 2, seed=i, dtype=torch.float64) for i in range(3)]
        assert_same(student.stack_kernels(kernels), torch.stack(kernels))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """kernels of different shapes raise ValueError"""
        kernels = [randn(3, 3, 3), randn(3, 3, 3, seed=1)]
        with error_cases(valid=lambda: student.stack_kernels(kernels), expected=torch.stack(kernels)) as case:
            with case(ValueError, case="kernels whose C_in differ"):
                student.stack_kernels([randn(3, 3, 3), randn(3, 3, 3, seed=1), randn(2, 3, 3, seed=2)])


class TestConv2d:
    @pytest.mark.points(5)
    def test_two_output_channels_by_hand(self, student):
        """two 2x2 kernels on a 3x3 image: one output channel each, plus its bias"""
        x = torch.tensor([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]])  # (1, 1, 3, 3)
        weight = torch.tensor(
            [
                [[[1.0, 0.0], [0.0, 0.0]]],  # channel 0 picks the top-left pixel of each window
                [[[0.0, 0.0], [0.0, 1.0]]],  # channel 1 picks the bottom-right one
            ]
        )
        bias = torch.tensor([0.0, 10.0])  # channel 1: 10 more everywhere
        expected = torch.tensor([[[[1.0, 2.0], [4.0, 5.0]], [[15.0, 16.0], [18.0, 19.0]]]])
        assert_same(student.conv2d(x, weight, bias), expected, mistakes=lambda: conv_mistakes(x, weight, bias))

    @pytest.mark.points(5)
    def test_matches_F_conv2d(self, student):
        """equals F.conv2d on a batch: 3 -> 4 channels, 3x2 kernels, with bias"""
        x, weight, bias = randn(2, 3, 6, 5), randn(4, 3, 3, 2, seed=1), randn(4, seed=2)
        got = student.conv2d(x, weight, bias)
        assert_same(got, F.conv2d(x, weight, bias), mistakes=lambda: conv_mistakes(x, weight, bias))

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 in, float64 out, with float64 accuracy"""
        x = randn(2, 2, 6, 5, seed=6, dtype=torch.float64)
        weight, bias = randn(3, 2, 3, 2, seed=7, dtype=torch.float64), randn(3, seed=8, dtype=torch.float64)
        got = student.conv2d(x, weight, bias)
        assert_same(got, F.conv2d(x, weight, bias), mistakes=lambda: conv_mistakes(x, weight, bias))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_one_by_one_kernel(self, student):
        """a 1x1 kernel mixes the channels of each pixel"""
        x, weight, bias = randn(2, 4, 3, 5, seed=3), randn(3, 4, 1, 1, seed=4), randn(3, seed=5)
        got = student.conv2d(x, weight, bias)
        assert_same(got, F.conv2d(x, weight, bias), mistakes=lambda: conv_mistakes(x, weight, bias))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError: a channel mismatch, a bias not of shape (C_out,) (naming `bias`)"""
        x, w = randn(1, 2, 5, 5), randn(3, 2, 3, 3, seed=1)
        with error_cases(valid=lambda: student.conv2d(x, w), expected=F.conv2d(x, w)) as case:
            with case(ValueError, case="a weight whose C_in differs from the input's channels"):
                student.conv2d(randn(1, 3, 5, 5), randn(2, 2, 3, 3))
            with case(ValueError, mentions="bias", case="a bias of the wrong shape"):
                student.conv2d(randn(1, 2, 5, 5), randn(3, 2, 3, 3), randn(2))


class TestTwoLayer:
    @pytest.mark.points(5)
    def test_matches_conv_relu_conv(self, student):
        """equals F.conv2d -> relu -> F.conv2d, with biases"""
        x = randn(2, 3, 8, 7)
        w1, b1 = randn(4, 3, 3, 3, seed=1), randn(4, seed=2)
        w2, b2 = randn(2, 4, 2, 3, seed=3), randn(2, seed=4)
        got = student.two_layer(x, w1, w2, b1, b2)
        assert_same(got, torch_two_layer(x, w1, w2, b1, b2), mistakes=lambda: two_layer_mistakes(x, w1, w2, b1, b2))

    @pytest.mark.points(4)
    def test_second_layer_filter_is_3x3x2(self, student):
        """the lesson's case: 2 channels after the first layer, so each second-layer filter is 3x3x2"""
        x = randn(1, 1, 7, 7, seed=5)
        w1 = randn(2, 1, 3, 3, seed=6)  # two 3x3 filters: C1 = 2
        w2 = randn(1, 2, 3, 3, seed=7)  # one 3x3x2 filter spanning both channels
        got = student.two_layer(x, w1, w2)
        assert_same(got, torch_two_layer(x, w1, w2), mistakes=lambda: two_layer_mistakes(x, w1, w2))

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    def test_relu_matters(self, student):
        """the ReLU between the layers clips the first layer's negative values: relu(x) + relu(-x) = |x|"""
        x = randn(1, 1, 6, 6, seed=1)
        w1 = torch.tensor([[[[1.0]]], [[[-1.0]]]])  # x and -x: one of them is negative
        w2 = torch.ones(1, 2, 1, 1)  # relu(x) + relu(-x) = |x|
        got = student.two_layer(x, w1, w2)
        assert_same(got, x.abs(), mistakes=lambda: two_layer_mistakes(x, w1, w2))

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 in, float64 out, with float64 accuracy"""
        x = randn(2, 3, 7, 6, seed=2, dtype=torch.float64)
        w1, b1 = randn(2, 3, 3, 3, seed=3, dtype=torch.float64), randn(2, seed=4, dtype=torch.float64)
        w2, b2 = randn(4, 2, 3, 2, seed=5, dtype=torch.float64), randn(4, seed=6, dtype=torch.float64)
        got = student.two_layer(x, w1, w2, b1, b2)
        assert_same(got, torch_two_layer(x, w1, w2, b1, b2), mistakes=lambda: two_layer_mistakes(x, w1, w2, b1, b2))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """w2 whose C_in is not w1's C_out raises ValueError naming `w2`"""
        x, w1, w2 = randn(1, 3, 8, 8), randn(4, 3, 3, 3, seed=1), randn(2, 4, 3, 3, seed=2)
        with error_cases(valid=lambda: student.two_layer(x, w1, w2), expected=torch_two_layer(x, w1, w2)) as case:
            with case(ValueError, mentions="w2", case="w2's C_in (3) is not w1's C_out (4)"):
                student.two_layer(randn(1, 3, 8, 8), randn(4, 3, 3, 3), randn(2, 3, 3, 3))


class TestParamCount:
    @pytest.mark.points(3)
    def test_by_hand(self, student):
        """3 -> 16 channels, 3x3, with bias: 16*3*3*3 + 16 = 448"""
        assert_same(student.param_count(3, 16, 3), 448, mistakes=lambda: count_mistakes(3, 16, 3, True))

    @pytest.mark.points(1)
    @pytest.mark.parametrize("c_in, c_out, kernel_size, bias", [(1, 8, 5, True), (16, 32, (3, 1), False), (64, 64, 3, True)])
    def test_matches_nn_conv2d(self, student, c_in, c_out, kernel_size, bias):
        """equals the parameter count of nn.Conv2d(c_in, c_out, kernel_size, bias=bias)"""
        expected = nn_param_count(c_in, c_out, kernel_size, bias)
        got = student.param_count(c_in, c_out, kernel_size, bias=bias)
        assert_same(got, expected, mistakes=lambda: count_mistakes(c_in, c_out, kernel_size, bias))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a channel count or kernel size below 1 raises ValueError naming it"""
        with error_cases(valid=lambda: student.param_count(3, 4, 3), expected=nn_param_count(3, 4, 3)) as case:
            with case(ValueError, mentions="c_in", case="c_in = 0"):
                student.param_count(0, 4, 3)
            with case(ValueError, mentions="kernel_size", case="kernel_size = 0"):
                student.param_count(3, 4, 0)
