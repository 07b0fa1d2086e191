"""Visible checks for 02_conv_as_matmul.

Run them with `pytest` in this folder, or `convgrade check 02_conv_as_matmul`.
Each check compares your function with PyTorch's own (`F.conv2d`, `F.unfold`),
with a small case worked out by hand below, or with a property every
convolution has (weight sharing, always-zero entries, linearity).
"""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

from autograder import mistakes
from autograder.compare import assert_same, error_cases
from autograder.inputs import pair, randn
from autograder.student import CheckFailure

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


def matrix_mistakes(kernel, shape):
    """What the known mistakes of conv_matrix would return."""
    h, w = shape
    ho, wo = h - kernel.shape[0] + 1, w - kernel.shape[1] + 1
    m = matrix_of(kernel, shape)
    return {
        mistakes.CONV_MATRIX_TRANSPOSED: m.T.contiguous(),
        mistakes.FLIPPED_KERNEL: matrix_of(kernel.flip(0, 1), shape),
        # only (Ho - 1) x (Wo - 1) output pixels, the last row and column of windows left out
        mistakes.OFF_BY_ONE_LOW: m.reshape(ho, wo, h * w)[:-1, :-1].reshape(-1, h * w),
    }


def matrix_shape_mistakes(kernel_shape, shape):
    """The shapes those mistakes give: M.T, or one window too few each way."""
    (kh, kw), (h, w) = kernel_shape, shape
    ho, wo = h - kh + 1, w - kw + 1
    return {mistakes.CONV_MATRIX_TRANSPOSED: (h * w, ho * wo), mistakes.OFF_BY_ONE_LOW: ((ho - 1) * (wo - 1), h * w)}


def conv_single_mistakes(image, kernel):
    """What the known mistakes of conv2d_matmul would return."""
    return {
        mistakes.FLIPPED_KERNEL: torch_conv(image, kernel.flip(0, 1)),
        mistakes.OFF_BY_ONE_LOW: torch_conv(image, kernel)[:-1, :-1],  # H - kh rows, W - kw columns
    }


def assert_matmul(got, image, kernel):
    """conv2d_matmul(image, kernel) equals F.conv2d, with the kernel in image's dtype."""
    kernel = kernel.to(image.dtype)
    assert_same(got, torch_conv(image, kernel), mistakes=lambda: conv_single_mistakes(image, kernel))


class TestConvMatrix:
    @pytest.mark.points(3)
    @pytest.mark.category("values")
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
        assert_same(got, expected, mistakes={
            mistakes.CONV_MATRIX_TRANSPOSED: expected.T.contiguous(),  # (9, 4): a column per output pixel
            mistakes.FLIPPED_KERNEL: flipped,
            mistakes.OFF_BY_ONE_LOW: expected[:1],  # Ho = Wo = 3 - 2 = 1: only output (0, 0)
        })

    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_times_image_equals_F_conv2d(self, student):
        """M @ image.flatten() equals F.conv2d(image, kernel).flatten() (4x5 image, 2x3 kernel)"""
        image, kernel = randn(4, 5), randn(2, 3, seed=1)
        m = student.conv_matrix(kernel, (4, 5))
        assert_same(m, matrix_of(kernel, (4, 5)), mistakes=lambda: matrix_mistakes(kernel, (4, 5)))
        assert_same(m @ image.flatten(), torch_conv(image, kernel).flatten())

    @pytest.mark.points(2)
    @pytest.mark.category("shapes")
    def test_shape(self, student):
        """(Ho*Wo, H*W), a row per output pixel: a 2x3 kernel on a 4x5 image gives (9, 20)"""
        m = student.conv_matrix(randn(2, 3, seed=2), (4, 5))
        # Ho, Wo = 4 - 2 + 1, 5 - 3 + 1 = 3, 3: 9 rows; H*W = 20 columns
        assert_same(tuple(m.shape) if isinstance(m, torch.Tensor) else m, (9, 20),
                    mistakes=matrix_shape_mistakes((2, 3), (4, 5)))

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    def test_weight_sharing_and_zeros(self, student):
        """each weight appears Ho*Wo times, each row holds every weight once, the rest is exactly 0"""
        kernel = torch.tensor([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])  # distinct weights, none 0
        m = student.conv_matrix(kernel, (4, 5))  # Ho, Wo = 3, 3: 9 rows, 20 columns
        assert isinstance(m, torch.Tensor), f"returned {type(m).__name__}, expected a torch.Tensor"
        assert_same(tuple(m.shape), (9, 20), mistakes=matrix_shape_mistakes((2, 3), (4, 5)))
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

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """a float64 kernel gives a float64 matrix"""
        kernel = randn(2, 3, seed=3, dtype=torch.float64)
        assert_same(student.conv_matrix(kernel, (4, 4)), matrix_of(kernel, (4, 4)), mistakes=lambda: matrix_mistakes(kernel, (4, 4)))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_kernel_as_large_as_the_image(self, student):
        """a kernel of the image's size gives one row: the kernel flattened"""
        kernel = randn(3, 4, seed=4)
        assert_same(student.conv_matrix(kernel, (3, 4)), kernel.reshape(1, 12), mistakes=lambda: matrix_mistakes(kernel, (3, 4)))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a kernel larger than the image raises ValueError naming `kernel`"""
        kernel = randn(2, 2)
        with error_cases(valid=lambda: student.conv_matrix(kernel, (3, 4)), expected=matrix_of(kernel, (3, 4))) as case:
            with case(ValueError, mentions="kernel", case="a 4x2 kernel on a 3x4 image"):
                student.conv_matrix(randn(4, 2), (3, 4))


class TestConv2dMatmul:
    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_by_hand(self, student):
        """a 3x3 image and the kernel [[1, 2], [3, 4]] (worked by hand)"""
        # The matrix above times the image flattened, [1 2 3 4 5 6 7 8 9]:
        #   row 0: 1*1 + 2*2 + 3*4 + 4*5 = 37      row 1: 1*2 + 2*3 + 3*5 + 4*6 = 47
        #   row 2: 1*4 + 2*5 + 3*7 + 4*8 = 67      row 3: 1*5 + 2*6 + 3*8 + 4*9 = 77
        expected = torch.tensor([[37.0, 47.0], [67.0, 77.0]])
        # with the kernel rotated by 180 degrees, [[4, 3], [2, 1]]: 23, 33 / 53, 63
        flipped = torch.tensor([[23.0, 33.0], [53.0, 63.0]])
        assert_same(student.conv2d_matmul(IMAGE, KERNEL), expected,
                    mistakes={mistakes.FLIPPED_KERNEL: flipped, mistakes.OFF_BY_ONE_LOW: expected[:1, :1]})

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_matches_F_conv2d(self, student):
        """equals F.conv2d on a 6x5 image with a 3x2 kernel"""
        image, kernel = randn(6, 5), randn(3, 2, seed=1)
        assert_matmul(student.conv2d_matmul(image, kernel), image, kernel)

    @pytest.mark.points(1)
    @pytest.mark.category("shapes")
    def test_shape(self, student):
        """(H - kh + 1, W - kw + 1): a 6x4 image by a 2x3 kernel gives 5x2"""
        got = student.conv2d_matmul(randn(6, 4, seed=2), randn(2, 3, seed=3))
        assert_same(tuple(got.shape) if isinstance(got, torch.Tensor) else got, (5, 2),
                    mistakes={mistakes.OFF_BY_ONE_LOW: (4, 1)})

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_dtypes(self, student):
        """float64 in, float64 out; a kernel of the other float dtype is used in the image's dtype"""
        image64 = randn(5, 6, seed=4, dtype=torch.float64)
        for kernel in (randn(3, 2, seed=5, dtype=torch.float64), randn(3, 2, seed=6)):  # float64, then float32
            assert_matmul(student.conv2d_matmul(image64, kernel), image64, kernel)
        image32, kernel64 = randn(5, 6, seed=7), randn(2, 2, seed=8, dtype=torch.float64)
        assert_matmul(student.conv2d_matmul(image32, kernel64), image32, kernel64)  # the result is float32

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(h=st.integers(2, 6), w=st.integers(2, 6), a=st.sampled_from([-2.0, 0.5, 3.0]), seed=st.integers(0, 2**16))
    def test_linear_in_the_image(self, student, h, w, a, seed):
        """linear in the image: conv(a*x + y) = a*conv(x) + conv(y) (Hypothesis)"""
        x, y, kernel = randn(h, w, seed=seed), randn(h, w, seed=seed + 1), randn(2, 2, seed=seed + 2)
        conv_x, conv_y = student.conv2d_matmul(x, kernel), student.conv2d_matmul(y, kernel)
        for got in (conv_x, conv_y):
            if not isinstance(got, torch.Tensor):
                assert_same(got, torch_conv(x, kernel))  # says what it returned instead of a tensor
        assert_same(student.conv2d_matmul(a * x + y, kernel), a * conv_x + conv_y)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_one_by_one_kernel(self, student):
        """a 1x1 kernel [[3]] scales the image by 3"""
        image = randn(3, 5, seed=9)
        kernel = torch.tensor([[3.0]])
        assert_same(student.conv2d_matmul(image, kernel), 3.0 * image, mistakes=lambda: conv_single_mistakes(image, kernel))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """an image that is not 2-d raises ValueError naming `image`"""
        image, kernel = randn(4, 4), randn(2, 2, seed=1)
        with error_cases(valid=lambda: student.conv2d_matmul(image, kernel), expected=torch_conv(image, kernel)) as case:
            with case(ValueError, mentions="image", case="a 3-d image"):
                student.conv2d_matmul(randn(1, 4, 4), randn(2, 2, seed=1))


def unfold_mistakes(x, kernel_size, stride, padding):
    """What the known mistakes of im2col would return (those defined for these arguments)."""
    expected = F.unfold(x, kernel_size, stride=stride, padding=padding)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel_size), pair(stride), pair(padding)
    ho, wo = (x.shape[2] + 2 * ph - kh) // sh + 1, (x.shape[3] + 2 * pw - kw) // sw + 1
    candidates = {
        mistakes.ROWS_NOT_CHANNEL_FIRST: lambda: expected.reshape(n, c, kh * kw, -1).transpose(1, 2).reshape(n, c * kh * kw, -1),
        mistakes.WINDOWS_COLUMN_MAJOR: lambda: expected.reshape(n, -1, ho, wo).transpose(2, 3).reshape(n, -1, ho * wo),
        mistakes.STRIDE_IGNORED: lambda: F.unfold(x, kernel_size, padding=padding),
        mistakes.PADDING_IGNORED: lambda: F.unfold(x, kernel_size, stride=stride),
    }
    found = {}
    for phrase, make in candidates.items():
        try:
            found[phrase] = make()
        except RuntimeError:
            pass  # that mistake is not defined for these arguments
    return found


def assert_unfold(got, x, kernel_size, stride=1, padding=0):
    """Bit-equal to F.unfold (the same values, copied, in the same order)."""
    expected = F.unfold(x, kernel_size, stride=stride, padding=padding)
    assert_same(got, expected, rtol=0, atol=0, mistakes=lambda: unfold_mistakes(x, kernel_size, stride, padding))


@st.composite
def channel_cases(draw):
    """(input, kernel_size, stride, padding): 2 or 3 channels, ints and pairs, float32."""
    kernel_size, stride, padding = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(0, 1))
    h, w = draw(st.integers(max(1, kernel_size - 2 * padding), 6)), draw(st.integers(max(1, kernel_size - 2 * padding), 6))
    x = randn(draw(st.integers(1, 2)), draw(st.integers(2, 3)), h, w, seed=draw(st.integers(0, 2**16)))
    return x, kernel_size, stride, padding


class TestIm2col:
    @pytest.mark.points(2)
    @pytest.mark.category("values")
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
        assert_same(student.im2col(x, 2), expected, rtol=0, atol=0, mistakes=lambda: unfold_mistakes(x, 2, 1, 0))

    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_matches_F_unfold(self, student):
        """bit-equal to F.unfold on a batch with 3 channels, stride 2, padding 1"""
        x = randn(2, 3, 7, 6)
        assert_unfold(student.im2col(x, 3, stride=2, padding=1), x, 3, 2, 1)

    @pytest.mark.points(1)
    @pytest.mark.category("shapes")
    def test_shape(self, student):
        """(N, C*kh*kw, Ho*Wo): a (2, 3, 7, 6) input, kernel (2, 3), stride (2, 1), padding (1, 0) gives (2, 18, 16)"""
        got = student.im2col(randn(2, 3, 7, 6, seed=1), (2, 3), stride=(2, 1), padding=(1, 0))
        # C*kh*kw = 3*2*3 = 18; Ho = (7 + 2 - 2) // 2 + 1 = 4, Wo = (6 + 0 - 3) // 1 + 1 = 4: L = 16
        assert_same(tuple(got.shape) if isinstance(got, torch.Tensor) else got, (2, 18, 16))

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 in, float64 out"""
        x = randn(1, 2, 5, 5, seed=2, dtype=torch.float64)
        assert_unfold(student.im2col(x, (2, 3), stride=(1, 2), padding=(2, 1)), x, (2, 3), (1, 2), (2, 1))

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=channel_cases())
    def test_channels_first(self, student, case):
        """the channels come first: rows c*kh*kw to (c+1)*kh*kw - 1 are the im2col of channel c alone (Hypothesis)"""
        x, kernel_size, stride, padding = case
        got = student.im2col(x, kernel_size, stride=stride, padding=padding)
        if not isinstance(got, torch.Tensor) or got.dim() != 3 or got.shape[1] != x.shape[1] * kernel_size**2:
            assert_unfold(got, x, kernel_size, stride, padding)  # says what is wrong with the whole result
        rows = kernel_size**2
        wrong = unfold_mistakes(x, kernel_size, stride, padding)
        for c in range(x.shape[1]):
            alone = student.im2col(x[:, c : c + 1], kernel_size, stride=stride, padding=padding)
            known = {phrase: result[:, c * rows : (c + 1) * rows] for phrase, result in wrong.items()}
            assert_same(got[:, c * rows : (c + 1) * rows], alone, rtol=0, atol=0, mistakes=known)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_one_by_one_kernel(self, student):
        """a 1x1 kernel: every pixel is a column"""
        x = randn(2, 3, 4, 5, seed=3)
        assert_unfold(student.im2col(x, 1), x, 1)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a kernel larger than the padded input, and stride 0 (naming `stride`), raise ValueError"""
        x = randn(1, 2, 5, 5)
        with error_cases(valid=lambda: student.im2col(x, 2), expected=F.unfold(x, 2)) as case:
            with case(ValueError, case="a 6x6 kernel on a 3x3 input padded by 1"):
                student.im2col(randn(1, 2, 3, 3), 6, padding=1)
            with case(ValueError, mentions="stride", case="stride 0"):
                student.im2col(randn(1, 1, 5, 5), 2, stride=0)


def conv_mistakes(got, x, w, b=None, stride=1, padding=0):
    """What the known mistakes of conv2d_im2col would return.

    A student who ignores stride either returns the stride-1 result in full or,
    when the output size is right, its first Ho x Wo values.
    """
    expected = F.conv2d(x, w, b, stride, padding)
    same_size = isinstance(got, torch.Tensor) and got.shape == expected.shape
    stride_1 = F.conv2d(x, w, b, 1, padding)
    c_out, c_in, kh, kw = w.shape
    found = {
        mistakes.FLIPPED_KERNEL: F.conv2d(x, w.flip(-1, -2), b, stride, padding),
        mistakes.STRIDE_IGNORED: stride_1[..., : expected.shape[-2], : expected.shape[-1]] if same_size else stride_1,
        # columns ordered (row, column, channel) times the weight flattened (channel, row, column)
        mistakes.ROWS_NOT_CHANNEL_FIRST: F.conv2d(x, w.reshape(c_out, kh, kw, c_in).permute(0, 3, 1, 2), b, stride, padding),
        mistakes.WEIGHT_ORDER: F.conv2d(x, w.permute(0, 2, 3, 1).reshape(w.shape), b, stride, padding),
    }
    if b is not None:
        found[mistakes.MISSING_BIAS] = F.conv2d(x, w, None, stride, padding)
    try:
        found[mistakes.PADDING_IGNORED] = F.conv2d(x, w, b, stride, 0)
    except RuntimeError:  # the kernel does not fit the unpadded input
        pass
    return found


def assert_conv(got, x, w, b=None, stride=1, padding=0):
    """conv2d_im2col's result equals F.conv2d, with the weight and bias in the input's dtype."""
    w = w.to(x.dtype)
    b = None if b is None else b.to(x.dtype)
    assert_same(got, F.conv2d(x, w, b, stride, padding), mistakes=lambda: conv_mistakes(got, x, w, b, stride, padding))


class CountOperators(TorchDispatchMode):
    """Counts the PyTorch operators that run (outside the grader's own monitor, unchanged)."""

    def __init__(self):
        super().__init__()
        self.count = 0

    @classmethod
    def _should_skip_dynamo(cls):
        return False  # do not import torch._dynamo on the first operator

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def raises_naming_one_of(call, *words):
    """Run the call; a ValueError whose message names none of `words` fails the case."""
    try:
        call()
    except ValueError as exc:
        if not any(word in str(exc).lower() for word in words):
            named = " or ".join(f"`{word}`" for word in words)
            raise CheckFailure(f"raised ValueError but the message names neither {named}\n  message: {exc}") from None
        raise


class TestConv2dIm2col:
    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_matches_F_conv2d(self, student):
        """equals F.conv2d on a batch, with a bias and padding 1"""
        x, w, b = randn(2, 3, 6, 5), randn(4, 3, 3, 3, seed=1), randn(4, seed=2)
        assert_conv(student.conv2d_im2col(x, w, b, padding=1), x, w, b, 1, 1)

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_stride_2_non_square_kernel(self, student):
        """equals F.conv2d with stride 2, padding 2, a 2x3 kernel and no bias"""
        x, w = randn(1, 2, 7, 5, seed=3), randn(3, 2, 2, 3, seed=4)
        assert_conv(student.conv2d_im2col(x, w, stride=2, padding=2), x, w, None, 2, 2)

    @pytest.mark.points(1)
    @pytest.mark.category("shapes")
    def test_shape(self, student):
        """(N, C_out, Ho, Wo): (2, 3, 7, 5) by (4, 3, 2, 3) with stride (2, 1), padding (0, 2) gives (2, 4, 3, 7)"""
        got = student.conv2d_im2col(randn(2, 3, 7, 5, seed=5), randn(4, 3, 2, 3, seed=6), stride=(2, 1), padding=(0, 2))
        # Ho = (7 + 0 - 2) // 2 + 1 = 3, Wo = (5 + 4 - 3) // 1 + 1 = 7
        assert_same(tuple(got.shape) if isinstance(got, torch.Tensor) else got, (2, 4, 3, 7))

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_dtypes(self, student):
        """float64 in, float64 out; a weight and bias of the other float dtype are used in the input's dtype"""
        x64, x32 = randn(2, 2, 6, 5, seed=7, dtype=torch.float64), randn(2, 2, 6, 5, seed=8)
        w64, b64 = randn(3, 2, 3, 2, seed=9, dtype=torch.float64), randn(3, seed=10, dtype=torch.float64)
        w32, b32 = randn(3, 2, 3, 2, seed=11), randn(3, seed=12)
        assert_conv(student.conv2d_im2col(x64, w64, b64, stride=2, padding=1), x64, w64, b64, 2, 1)
        assert_conv(student.conv2d_im2col(x64, w32, b32, padding=1), x64, w32, b32, 1, 1)  # float64 result
        assert_conv(student.conv2d_im2col(x32, w64, b64, padding=1), x32, w64, b64, 1, 1)  # float32 result

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    def test_vectorised(self, student):
        """no Python loop over pixels: a 32x32 output takes far fewer PyTorch operations than its 1024 pixels"""
        # Counts operators, not seconds: a loop over the output pixels runs at least one
        # operation per pixel; im2col and one matmul take a few dozen whatever the size.
        x, w, b = randn(2, 3, 32, 32, seed=27), randn(16, 3, 3, 3, seed=28), randn(16, seed=29)
        with CountOperators() as counter:
            got = student.conv2d_im2col(x, w, b, padding=1)
        assert_conv(got, x, w, b, 1, 1)
        pixels = 32 * 32
        assert counter.count < pixels, (
            f"conv2d_im2col ran {counter.count} PyTorch operations for a 32x32 output ({pixels} pixels): "
            f"it loops over the pixels in Python; build the columns with im2col and use one matrix multiplication"
        )

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_one_by_one_kernel(self, student):
        """a 1x1 kernel mixes the channels at every pixel"""
        x, w, b = randn(2, 4, 5, 3, seed=19), randn(6, 4, 1, 1, seed=20), randn(6, seed=21)
        assert_conv(student.conv2d_im2col(x, w, b), x, w, b)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a weight whose C_in differs from the input's channels raises ValueError naming `weight` or the channels"""
        x, w = randn(1, 3, 5, 5), randn(4, 3, 3, 3, seed=1)
        with error_cases(valid=lambda: student.conv2d_im2col(x, w), expected=F.conv2d(x, w)) as case:
            with case(ValueError, case="a weight for 2 input channels on a 3-channel input"):
                raises_naming_one_of(lambda: student.conv2d_im2col(randn(1, 3, 5, 5), randn(4, 2, 3, 3, seed=1)), "weight", "channel")
