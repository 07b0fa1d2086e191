"""Visible checks for 02_conv_as_matmul.

Run them with `pytest` in this folder, or `convgrade check 02_conv_as_matmul`.
Each check compares your function with PyTorch's own (`F.conv2d`, `F.unfold`),
with a small case worked out by hand below, or with a property every
convolution matrix has (weight sharing, always-zero entries).
"""

import pytest
import torch
import torch.nn.functional as F

from autograder import mistakes
from autograder.compare import assert_same, expect_error
from autograder.inputs import randn

# The image and kernel worked by hand below: pixel (r, c) is column 3*r + c of the matrix.
IMAGE = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
KERNEL = torch.tensor([[1.0, 2.0], [3.0, 4.0]])


def torch_conv(image, kernel):
    """F.conv2d on one (H, W) image and one (kh, kw) kernel."""
    return F.conv2d(image[None, None], kernel[None, None])[0, 0]


def matrix_of(kernel, shape):
    """The convolution matrix, column by column: column k is the response to the image with a 1 at pixel k."""
    h, w = shape
    units = torch.eye(h * w, dtype=kernel.dtype).reshape(h * w, 1, h, w)
    return F.conv2d(units, kernel[None, None]).flatten(1).T.contiguous()


class TestConvMatrix:
    @pytest.mark.points(2)
    def test_by_hand(self, student):
        """the (4, 9) matrix of the kernel [[1, 2], [3, 4]] on a 3x3 image (worked by hand)"""
        # Output pixel (oy, ox) is row 2*oy + ox. Its window covers pixels (oy, ox), (oy, ox+1),
        # (oy+1, ox), (oy+1, ox+1): columns 3*oy + ox, +1, +3, +4, which get the weights 1, 2, 3, 4.
        #   row 0 = output (0, 0): columns 0, 1, 3, 4
        #   row 1 = output (0, 1): columns 1, 2, 4, 5
        #   row 2 = output (1, 0): columns 3, 4, 6, 7
        #   row 3 = output (1, 1): columns 4, 5, 7, 8
        expected = torch.tensor(
            [
                [1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0],
                [0.0, 1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 3.0, 4.0, 0.0],
                [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 3.0, 4.0],
            ]
        )
        # with the kernel rotated by 180 degrees the weights run 4, 3, 2, 1
        flipped = torch.tensor(
            [
                [4.0, 3.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0, 0.0],
                [0.0, 4.0, 3.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 4.0, 3.0, 0.0, 2.0, 1.0, 0.0],
                [0.0, 0.0, 0.0, 0.0, 4.0, 3.0, 0.0, 2.0, 1.0],
            ]
        )
        got = student.conv_matrix(KERNEL, (3, 3))
        assert_same(got, expected, mistakes={mistakes.FLIPPED_KERNEL: flipped})

    @pytest.mark.points(2)
    def test_times_image_equals_F_conv2d(self, student):
        """M @ image.flatten() equals F.conv2d(image, kernel).flatten() (4x5 image, 2x3 kernel)"""
        image, kernel = randn(4, 5), randn(2, 3, seed=1)
        m = student.conv_matrix(kernel, (4, 5))
        assert_same(m, matrix_of(kernel, (4, 5)), mistakes={mistakes.FLIPPED_KERNEL: matrix_of(kernel.flip(0, 1), (4, 5))})
        assert_same(m @ image.flatten(), torch_conv(image, kernel).flatten())

    @pytest.mark.points(1)
    def test_weight_sharing_and_zeros(self, student):
        """each weight appears Ho*Wo times, each row holds every weight once, the rest is exactly 0"""
        kernel = torch.tensor([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])  # distinct weights, none 0
        m = student.conv_matrix(kernel, (4, 5))  # Ho, Wo = 3, 3: 9 rows, 20 columns
        assert isinstance(m, torch.Tensor), f"returned {type(m).__name__}, expected a torch.Tensor"
        assert_same(tuple(m.shape), (9, 20))
        nonzero = int((m != 0).sum())
        assert nonzero == 9 * 6, f"{nonzero} entries are not exactly 0, expected Ho*Wo*kh*kw = 54: the others must be exactly 0"
        for weight in kernel.flatten().tolist():
            count = int((m == weight).sum())
            assert count == 9, f"the weight {weight:g} appears {count} times, expected Ho*Wo = 9 (once per row)"
        for row in range(9):
            values = sorted(m[row][m[row] != 0].tolist())
            assert values == sorted(kernel.flatten().tolist()), (
                f"row {row} holds {values}, expected every kernel weight once"
            )


class TestConv2dMatmul:
    @pytest.mark.points(2)
    def test_by_hand(self, student):
        """a 3x3 image and the kernel [[1, 2], [3, 4]] (worked by hand)"""
        # The matrix above times the image flattened, [1 2 3 4 5 6 7 8 9]:
        #   row 0: 1*1 + 2*2 + 3*4 + 4*5 = 37      row 1: 1*2 + 2*3 + 3*5 + 4*6 = 47
        #   row 2: 1*4 + 2*5 + 3*7 + 4*8 = 67      row 3: 1*5 + 2*6 + 3*8 + 4*9 = 77
        expected = torch.tensor([[37.0, 47.0], [67.0, 77.0]])
        # with the kernel rotated by 180 degrees, [[4, 3], [2, 1]]: 23, 33 / 53, 63
        flipped = torch.tensor([[23.0, 33.0], [53.0, 63.0]])
        assert_same(student.conv2d_matmul(IMAGE, KERNEL), expected, mistakes={mistakes.FLIPPED_KERNEL: flipped})

    @pytest.mark.points(2)
    def test_matches_F_conv2d(self, student):
        """equals F.conv2d on a 6x5 image with a 3x2 kernel"""
        image, kernel = randn(6, 5), randn(3, 2, seed=1)
        got = student.conv2d_matmul(image, kernel)
        assert_same(got, torch_conv(image, kernel), mistakes={mistakes.FLIPPED_KERNEL: torch_conv(image, kernel.flip(0, 1))})


class TestIm2col:
    @pytest.mark.points(2)
    def test_by_hand(self, student):
        """a 1x1x3x3 input with kernel_size 2: the (1, 4, 4) columns (worked by hand)"""
        x = IMAGE.reshape(1, 1, 3, 3)
        # Column l holds window l (row by row: top-left, top-right, bottom-left, bottom-right);
        # row k holds kernel position k of every window: (0, 0), (0, 1), (1, 0), (1, 1).
        #   windows: [[1 2] [4 5]], [[2 3] [5 6]], [[4 5] [7 8]], [[5 6] [8 9]]
        expected = torch.tensor(
            [
                [
                    [1.0, 2.0, 4.0, 5.0],  # (0, 0) of each window
                    [2.0, 3.0, 5.0, 6.0],  # (0, 1)
                    [4.0, 5.0, 7.0, 8.0],  # (1, 0)
                    [5.0, 6.0, 8.0, 9.0],  # (1, 1)
                ]
            ]
        )
        assert_same(student.im2col(x, 2), expected, rtol=0, atol=0)

    @pytest.mark.points(2)
    def test_matches_F_unfold(self, student):
        """bit-equal to F.unfold on a batch with 3 channels, stride 2, padding 1"""
        x = randn(2, 3, 7, 6)
        got = student.im2col(x, 3, stride=2, padding=1)
        assert_same(got, F.unfold(x, 3, stride=2, padding=1), rtol=0, atol=0, mistakes={
            mistakes.STRIDE_IGNORED: F.unfold(x, 3, padding=1),
            mistakes.PADDING_IGNORED: F.unfold(x, 3, stride=2),
        })

    @pytest.mark.points(1)
    def test_kernel_larger_than_the_padded_input_is_an_error(self, student):
        """a kernel larger than the padded input raises ValueError"""
        with expect_error(ValueError):
            student.im2col(randn(1, 2, 3, 3), 6, padding=1)


def conv_mistakes(x, w, b=None, stride=1, padding=0):
    """What the known mistakes of conv2d_im2col would return."""
    found = {mistakes.FLIPPED_KERNEL: F.conv2d(x, w.flip(-1, -2), b, stride, padding)}
    if b is not None:
        found[mistakes.MISSING_BIAS] = F.conv2d(x, w, None, stride, padding)
    if stride != 1:
        found[mistakes.STRIDE_IGNORED] = F.conv2d(x, w, b, 1, padding)
    return found


class TestConv2dIm2col:
    @pytest.mark.points(3)
    def test_matches_F_conv2d(self, student):
        """equals F.conv2d on a batch, with a bias and padding 1"""
        x, w, b = randn(2, 3, 6, 5), randn(4, 3, 3, 3, seed=1), randn(4, seed=2)
        got = student.conv2d_im2col(x, w, b, padding=1)
        assert_same(got, F.conv2d(x, w, b, padding=1), mistakes=lambda: conv_mistakes(x, w, b, padding=1))

    @pytest.mark.points(2)
    def test_stride_2_non_square_kernel(self, student):
        """equals F.conv2d with stride 2, padding 2, a 2x3 kernel and no bias"""
        x, w = randn(1, 2, 7, 5, seed=3), randn(3, 2, 2, 3, seed=4)
        got = student.conv2d_im2col(x, w, stride=2, padding=2)
        assert_same(got, F.conv2d(x, w, stride=2, padding=2), mistakes=lambda: conv_mistakes(x, w, None, 2, 2))

    @pytest.mark.points(1)
    def test_channel_mismatch_is_an_error(self, student):
        """a weight for 2 input channels on a 3-channel input raises ValueError naming `weight` or the channels"""
        with expect_error(ValueError):
            try:
                student.conv2d_im2col(randn(1, 3, 5, 5), randn(4, 2, 3, 3, seed=1))
            except ValueError as exc:
                if not any(word in str(exc).lower() for word in ("weight", "channel")):
                    raise AssertionError(f"raised ValueError but the message names neither `weight` nor the channels\n  message: {exc}") from None
                raise
