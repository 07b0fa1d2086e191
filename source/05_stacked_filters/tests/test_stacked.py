"""Visible checks for 05_stacked_filters.

Run them with `pytest` in this folder, or `convgrade check 05_stacked_filters`.
Each check compares your function with PyTorch's own (`torch.stack`,
`F.conv2d`, `nn.Conv2d`) or with a small case worked out by hand below.
"""

import pytest
import torch
import torch.nn.functional as F

from autograder import mistakes
from autograder.compare import assert_same, expect_error
from autograder.inputs import randn


def torch_two_layer(x, w1, w2, b1=None, b2=None):
    """F.conv2d -> relu -> F.conv2d."""
    return F.conv2d(torch.relu(F.conv2d(x, w1, b1)), w2, b2)


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
    @pytest.mark.points(1)
    def test_two_kernels_by_hand(self, student):
        """two (1, 2, 2) kernels make a (2, 1, 2, 2) weight, in list order"""
        a = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
        b = torch.tensor([[[5.0, 6.0], [7.0, 8.0]]])
        expected = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[5.0, 6.0], [7.0, 8.0]]]])
        assert_same(student.stack_kernels([a, b]), expected)

    @pytest.mark.points(2)
    def test_matches_torch_stack(self, student):
        """four RGB 3x3 kernels equal torch.stack of the list"""
        kernels = [randn(3, 3, 3, seed=i) for i in range(4)]
        assert_same(student.stack_kernels(kernels), torch.stack(kernels), mistakes={
            mistakes.KERNELS_CONCATENATED: torch.cat(kernels),
        })

    @pytest.mark.points(1)
    def test_different_shapes_is_an_error(self, student):
        """kernels of different shapes raise ValueError"""
        with expect_error(ValueError):
            student.stack_kernels([randn(3, 3, 3), randn(3, 3, 3, seed=1), randn(2, 3, 3, seed=2)])


class TestConv2d:
    @pytest.mark.points(2)
    def test_two_output_channels_by_hand(self, student):
        """two 2x2 kernels on a 3x3 image: one output channel each, plus its bias"""
        x = torch.tensor([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]])  # (1, 1, 3, 3)
        weight = torch.tensor(
            [
                [[[1.0, 0.0], [0.0, 0.0]]],  # channel 0 picks the top-left pixel of each window
                [[[0.0, 0.0], [0.0, 1.0]]],  # channel 1 picks the bottom-right one
            ]
        )
        bias = torch.tensor([0.0, 10.0])
        expected = torch.tensor([[[[1.0, 2.0], [4.0, 5.0]], [[15.0, 16.0], [18.0, 19.0]]]])
        assert_same(student.conv2d(x, weight, bias), expected, mistakes={
            mistakes.FLIPPED_KERNEL: F.conv2d(x, weight.flip(-1, -2), bias),
            mistakes.MISSING_BIAS: F.conv2d(x, weight),
        })

    @pytest.mark.points(3)
    def test_matches_F_conv2d(self, student):
        """equals F.conv2d on a batch: 3 -> 4 channels, 3x2 kernels, with bias"""
        x, weight, bias = randn(2, 3, 6, 5), randn(4, 3, 3, 2, seed=1), randn(4, seed=2)
        assert_same(student.conv2d(x, weight, bias), F.conv2d(x, weight, bias), mistakes={
            mistakes.FLIPPED_KERNEL: F.conv2d(x, weight.flip(-1, -2), bias),
            mistakes.MISSING_BIAS: F.conv2d(x, weight),
            mistakes.BIAS_PER_INPUT_CHANNEL: F.conv2d(x, weight, 3 * bias),
        })

    @pytest.mark.points(1)
    def test_channel_mismatch_is_an_error(self, student):
        """a weight whose C_in differs from the input's channels raises ValueError"""
        with expect_error(ValueError):
            student.conv2d(randn(1, 3, 5, 5), randn(2, 2, 3, 3))


class TestTwoLayer:
    @pytest.mark.points(3)
    def test_matches_conv_relu_conv(self, student):
        """equals F.conv2d -> relu -> F.conv2d, with biases"""
        x = randn(2, 3, 8, 7)
        w1, b1 = randn(4, 3, 3, 3, seed=1), randn(4, seed=2)
        w2, b2 = randn(2, 4, 2, 3, seed=3), randn(2, seed=4)
        got = student.two_layer(x, w1, w2, b1, b2)
        assert_same(got, torch_two_layer(x, w1, w2, b1, b2), mistakes={
            mistakes.RELU_MISSING: F.conv2d(F.conv2d(x, w1, b1), w2, b2),
        })

    @pytest.mark.points(2)
    def test_second_layer_filter_is_3x3x2(self, student):
        """the lesson's case: 2 channels after the first layer, so each second-layer filter is 3x3x2"""
        x = randn(1, 1, 7, 7, seed=5)
        w1 = randn(2, 1, 3, 3, seed=6)  # two 3x3 filters: C1 = 2
        w2 = randn(1, 2, 3, 3, seed=7)  # one 3x3x2 filter spanning both channels
        got = student.two_layer(x, w1, w2)
        assert_same(got, torch_two_layer(x, w1, w2), mistakes={
            mistakes.RELU_MISSING: F.conv2d(F.conv2d(x, w1), w2),
        })

    @pytest.mark.points(1)
    def test_channel_mismatch_is_an_error(self, student):
        """w2 whose C_in is not w1's C_out raises ValueError naming `w2`"""
        with expect_error(ValueError, mentions="w2"):
            student.two_layer(randn(1, 3, 8, 8), randn(4, 3, 3, 3), randn(2, 3, 3, 3))


class TestParamCount:
    @pytest.mark.points(1)
    def test_by_hand(self, student):
        """3 -> 16 channels, 3x3, with bias: 16*3*3*3 + 16 = 448"""
        assert_same(student.param_count(3, 16, 3), 448, mistakes=lambda: count_mistakes(3, 16, 3, True))

    @pytest.mark.points(2)
    @pytest.mark.parametrize("c_in, c_out, kernel_size, bias", [(1, 8, 5, True), (16, 32, (3, 1), False), (64, 64, 3, True)])
    def test_matches_nn_conv2d(self, student, c_in, c_out, kernel_size, bias):
        """equals the parameter count of nn.Conv2d(c_in, c_out, kernel_size, bias=bias)"""
        expected = nn_param_count(c_in, c_out, kernel_size, bias)
        got = student.param_count(c_in, c_out, kernel_size, bias=bias)
        assert_same(got, expected, mistakes=lambda: count_mistakes(c_in, c_out, kernel_size, bias))
