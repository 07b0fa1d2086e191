"""Visible checks for 06_stride.

Run them with `pytest` in this folder, or `convgrade check 06_stride`. Each
check compares your function with PyTorch's own (`F.conv2d` and the shapes it
returns) or with a small case worked out by hand below.
"""

import pytest
import torch
import torch.nn.functional as F

from autograder import mistakes
from autograder.compare import assert_same, expect_error
from autograder.inputs import randn


def conv_mistakes(got, x, w, b=None, stride=1, padding=0, dilation=1):
    """What the known mistakes would return for this call of conv2d.

    A student who ignores stride (or dilation) either returns the stride-1
    (dilation-1) result in full, or, when the output size is right, its first
    Ho x Wo values: the windows then start one pixel apart instead of `stride`.
    """
    expected = F.conv2d(x, w, b, stride, padding, dilation)
    same_size = isinstance(got, torch.Tensor) and got.shape == expected.shape

    def as_returned(full):
        return full[..., : expected.shape[-2], : expected.shape[-1]] if same_size else full

    found = {
        mistakes.FLIPPED_KERNEL: F.conv2d(x, w.flip(-1, -2), b, stride, padding, dilation),
        mistakes.STRIDE_IGNORED: as_returned(F.conv2d(x, w, b, 1, padding, dilation)),
        mistakes.DILATION_IGNORED: as_returned(F.conv2d(x, w, b, stride, padding, 1)),
    }
    if b is not None:
        found[mistakes.MISSING_BIAS] = F.conv2d(x, w, None, stride, padding, dilation)
    try:
        found[mistakes.PADDING_IGNORED] = F.conv2d(x, w, b, stride, 0, dilation)
    except RuntimeError:  # the kernel does not fit the unpadded input
        pass
    return found


class TestConv2d:
    @pytest.mark.points(2)
    def test_stride_2_by_hand(self, student):
        """a 4x4 image, a 2x2 kernel, stride 2 (worked by hand)"""
        x = torch.arange(1.0, 17.0).reshape(1, 1, 4, 4)
        # [[ 1  2  3  4]
        #  [ 5  6  7  8]      kernel [[1 2]
        #  [ 9 10 11 12]              [3 4]]
        #  [13 14 15 16]]
        w = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
        # stride 2 uses the 4 windows that do not overlap:
        #   [[1 2] [5 6]]     -> 1*1 + 2*2 + 5*3 + 6*4     = 44
        #   [[3 4] [7 8]]     -> 3*1 + 4*2 + 7*3 + 8*4     = 64
        #   [[9 10] [13 14]]  -> 9*1 + 10*2 + 13*3 + 14*4  = 124
        #   [[11 12] [15 16]] -> 11*1 + 12*2 + 15*3 + 16*4 = 144
        expected = torch.tensor([[[[44.0, 64.0], [124.0, 144.0]]]])
        # with stride 1 every window is used: 3x3 values
        stride_1 = torch.tensor([[[[44.0, 54.0, 64.0], [84.0, 94.0, 104.0], [124.0, 134.0, 144.0]]]])
        # the kernel rotated by 180 degrees, [[4 3] [2 1]]
        flipped = torch.tensor([[[[26.0, 46.0], [106.0, 126.0]]]])
        got = student.conv2d(x, w, stride=2)
        stride_ignored = stride_1[..., :2, :2] if isinstance(got, torch.Tensor) and got.shape == expected.shape else stride_1
        assert_same(got, expected, mistakes={mistakes.STRIDE_IGNORED: stride_ignored, mistakes.FLIPPED_KERNEL: flipped})

    @pytest.mark.points(3)
    def test_stride_2_padding_1_matches_F_conv2d(self, student):
        """equals F.conv2d with stride 2, padding 1 and a bias"""
        x, w, b = randn(2, 3, 7, 6), randn(4, 3, 3, 3, seed=1), randn(4, seed=2)
        got = student.conv2d(x, w, b, stride=2, padding=1)
        assert_same(got, F.conv2d(x, w, b, stride=2, padding=1), mistakes=lambda: conv_mistakes(got, x, w, b, 2, 1))

    @pytest.mark.points(3)
    def test_dilation_2_matches_F_conv2d(self, student):
        """equals F.conv2d with dilation 2 (the 3x3 kernel spans 5x5 pixels)"""
        x, w = randn(1, 2, 9, 8, seed=3), randn(3, 2, 3, 3, seed=4)
        got = student.conv2d(x, w, dilation=2)
        assert_same(got, F.conv2d(x, w, dilation=2), mistakes=lambda: conv_mistakes(got, x, w, dilation=2))


class TestOutputShape:
    @pytest.mark.points(1)
    @pytest.mark.parametrize(
        "input_shape, weight_shape, settings, expected",
        [
            # (32 + 2*1 - 1*(3-1) - 1) // 2 + 1 = 31 // 2 + 1 = 16
            ((1, 3, 32, 32), (16, 3, 3, 3), {"stride": 2, "padding": 1}, (1, 16, 16, 16)),
            # (5 + 2 - 2 - 1) // 2 + 1 = 3
            ((1, 1, 5, 5), (1, 1, 3, 3), {"stride": 2, "padding": 1}, (1, 1, 3, 3)),
            # dilation 2: the 3x3 kernel spans 5 pixels, (7 - 4 - 1) // 1 + 1 = 3
            ((4, 1, 7, 7), (2, 1, 3, 3), {"dilation": 2}, (4, 2, 3, 3)),
            # H: (10 + 0 - 1*(3-1) - 1) // 2 + 1 = 4;  W: (7 + 2 - 2*(2-1) - 1) // 1 + 1 = 7
            ((2, 3, 10, 7), (5, 3, 3, 2), {"stride": (2, 1), "padding": (0, 1), "dilation": (1, 2)}, (2, 5, 4, 7)),
        ],
    )
    def test_by_hand(self, student, input_shape, weight_shape, settings, expected):
        """(N, C_out, Ho, Wo) worked out by hand with the formula"""
        got = student.output_shape(input_shape, weight_shape, **settings)
        assert_same(got, expected)

    @pytest.mark.points(2)
    def test_matches_F_conv2d_shape(self, student):
        """equals the shape F.conv2d returns, with (h, w) pairs"""
        x, w = randn(2, 3, 9, 8), randn(4, 3, 3, 3, seed=1)
        settings = {"stride": (2, 3), "padding": (2, 1), "dilation": (2, 1)}
        expected = tuple(F.conv2d(x, w, **settings).shape)
        # H: (9 + 2*2 - 2*(3-1) - 1) // 2 + 1 = 5;  W: (8 + 2*1 - 1*(3-1) - 1) // 3 + 1 = 3
        assert_same(student.output_shape(tuple(x.shape), tuple(w.shape), **settings), expected, mistakes={
            mistakes.STRIDE_IGNORED: (2, 4, 9, 8),  # (9 + 4 - 5) // 1 + 1, (8 + 2 - 3) // 1 + 1
            mistakes.DILATION_IGNORED: (2, 4, 6, 3),  # (9 + 4 - 3) // 2 + 1, (8 + 2 - 3) // 3 + 1
            mistakes.PADDING_IGNORED: (2, 4, 3, 2),  # (9 - 5) // 2 + 1, (8 - 3) // 3 + 1
            mistakes.PADDING_ONE_SIDE: (2, 4, 4, 3),  # (9 + 2 - 5) // 2 + 1, (8 + 1 - 3) // 3 + 1
            mistakes.OFF_BY_ONE_LOW: (2, 4, 4, 2),  # no + 1
            mistakes.NO_FLOOR: (2, 4, 5, 4),  # rounded up: ceil(8 / 2) + 1, ceil(7 / 3) + 1
        })

    @pytest.mark.points(1)
    def test_channel_mismatch_is_an_error(self, student):
        """input channels that differ from weight_shape[1] raise ValueError naming the channels"""
        with expect_error(ValueError, mentions="channel"):
            student.output_shape((1, 3, 8, 8), (4, 2, 3, 3))

    @pytest.mark.points(1)
    def test_output_below_1_is_an_error(self, student):
        """a kernel larger than the padded input raises ValueError"""
        with expect_error(ValueError):
            student.output_shape((1, 1, 4, 4), (1, 1, 5, 5), padding=0)


class TestActivationMemory:
    @pytest.mark.points(2)
    def test_one_layer_by_hand(self, student):
        """one 1x1 layer on a (1, 3, 8, 8) input: (3*64 + 4*64) * 4 bytes"""
        # input: 1*3*8*8 = 192 elements; a 1x1 kernel, stride 1 keeps 8x8: 1*4*8*8 = 256
        # (192 + 256) * 4 bytes (float32) = 1792
        assert_same(
            student.activation_memory((1, 3, 8, 8), [(4, 1, 1, 0)]),
            1792,
            mistakes={mistakes.INPUT_NOT_COUNTED: 256 * 4, mistakes.ELEMENTS_NOT_BYTES: 192 + 256},
        )

    @pytest.mark.points(2)
    def test_stride_2_keeps_memory_under_control(self, student):
        """two 3x3 layers on a 32x32 image: stride 2 needs far less memory than stride 1"""
        # input (1, 3, 32, 32): 3072 elements
        # stride 1, padding 1: (1, 16, 32, 32) = 16384, then (1, 32, 32, 32) = 32768
        #   (3072 + 16384 + 32768) * 4 = 208896 bytes
        # stride 2, padding 1: (32 + 2 - 2 - 1) // 2 + 1 = 16: (1, 16, 16, 16) = 4096,
        #   then (16 + 2 - 2 - 1) // 2 + 1 = 8: (1, 32, 8, 8) = 2048
        #   (3072 + 4096 + 2048) * 4 = 36864 bytes
        stride_1 = student.activation_memory((1, 3, 32, 32), [(16, 3, 1, 1), (32, 3, 1, 1)])
        stride_2 = student.activation_memory((1, 3, 32, 32), [(16, 3, 2, 1), (32, 3, 2, 1)])
        assert_same(stride_1, 208896)
        assert_same(stride_2, 36864, mistakes={mistakes.STRIDE_IGNORED: 208896})

    @pytest.mark.points(2)
    def test_matches_real_activations(self, student):
        """equals the bytes of the input and of each F.conv2d output of a real stack"""
        layers = [(8, 3, 1, 1), (16, 3, 2, 1), (16, (1, 3), (1, 2), (0, 1)), (4, 5, 2, 2)]
        h = randn(2, 3, 15, 12)
        total = h.numel() * h.element_size()
        for i, (c_out, k, s, p) in enumerate(layers):
            kh, kw = (k, k) if isinstance(k, int) else k
            h = F.conv2d(h, randn(c_out, h.shape[1], kh, kw, seed=i + 1), stride=s, padding=p)
            total += h.numel() * h.element_size()
        assert_same(student.activation_memory((2, 3, 15, 12), layers), total)

    @pytest.mark.points(1)
    def test_layer_output_below_1_is_an_error(self, student):
        """a layer whose output would be below 1x1 raises ValueError naming the layer"""
        # layer 0: (4 - 3) // 2 + 1 = 1, a 1x1 output; layer 1's 3x3 kernel does not fit it
        with expect_error(ValueError, mentions="layer"):
            student.activation_memory((1, 1, 4, 4), [(2, 3, 2, 0), (2, 3, 1, 0)])
