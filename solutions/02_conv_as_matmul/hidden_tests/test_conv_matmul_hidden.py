"""Hidden checks for 02_conv_as_matmul: property tests over shapes, the limits, and the error cases.

Expected values come only from PyTorch (`F.conv2d`, `F.unfold`), from cases
worked out by hand, or from properties of a convolution (weight sharing,
always-zero entries, the bias per output channel).
"""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import mistakes
from autograder.compare import assert_same, error_cases
from autograder.inputs import conv_cases, pair, randn
from autograder.student import CheckFailure

DTYPES = (torch.float32, torch.float64)


def int_or_pair(low, high):
    return st.one_of(st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high)))


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


def distinct_kernel(kh, kw, seed, dtype):
    """A (kh, kw) kernel whose weights are distinct and none is 0: +-1, +-2, ... shuffled."""
    g = torch.Generator().manual_seed(seed)
    values = (torch.randperm(kh * kw, generator=g) + 1).to(dtype)
    signs = torch.where(torch.rand(kh * kw, generator=g) < 0.5, -1.0, 1.0).to(dtype)
    return (values * signs / 4).reshape(kh, kw)


@st.composite
def matrix_cases(draw):
    """(kernel, (H, W)): non-square kernels up to 4x4 on images up to 7x7, float32 or float64."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = draw(st.integers(kh, 7)), draw(st.integers(kw, 7))
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**16))
    return distinct_kernel(kh, kw, seed, dtype), (h, w)


def as_matrix(m, kernel, shape):
    """The student's matrix, after checking it is a tensor (else the comparison says what it is)."""
    if not isinstance(m, torch.Tensor):
        assert_same(m, matrix_of(kernel, shape))
    return m


class TestConvMatrix:
    @pytest.mark.points(4)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(case=matrix_cases())
    def test_matches_F_conv2d_columns_random(self, student, case):
        """column k is F.conv2d's response to a 1 at pixel k, on random shapes and dtypes"""
        kernel, shape = case
        got = student.conv_matrix(kernel, shape)
        assert_same(got, matrix_of(kernel, shape), mistakes=lambda: matrix_mistakes(kernel, shape))

    @pytest.mark.points(3)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=matrix_cases(), seed=st.integers(0, 2**16))
    def test_times_image_equals_F_conv2d_random(self, student, case, seed):
        """M @ image.flatten() equals F.conv2d(image, kernel).flatten() on random shapes"""
        kernel, (h, w) = case
        image = randn(h, w, seed=seed, dtype=kernel.dtype)
        m = as_matrix(student.conv_matrix(kernel, (h, w)), kernel, (h, w))
        assert_same(tuple(m.shape), (torch_conv(image, kernel).numel(), h * w), mistakes=matrix_shape_mistakes(kernel.shape, (h, w)))
        assert_same(m @ image.flatten(), torch_conv(image, kernel).flatten(),
                    mistakes=lambda: {mistakes.FLIPPED_KERNEL: torch_conv(image, kernel.flip(0, 1)).flatten()})

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=matrix_cases())
    def test_weight_sharing_and_zeros_random(self, student, case):
        """each weight appears exactly Ho*Wo times, once per row; every other entry is exactly 0"""
        kernel, (h, w) = case
        kh, kw = kernel.shape
        ho, wo = h - kh + 1, w - kw + 1
        m = as_matrix(student.conv_matrix(kernel, (h, w)), kernel, (h, w))
        assert_same(tuple(m.shape), (ho * wo, h * w), mistakes=matrix_shape_mistakes((kh, kw), (h, w)))
        nonzero = int((m != 0).sum())
        assert nonzero == ho * wo * kh * kw, (
            f"kernel {tuple(kernel.shape)} on image {(h, w)}: {nonzero} entries are not exactly 0, expected "
            f"Ho*Wo*kh*kw = {ho * wo * kh * kw}: the entries no weight lands on must be exactly 0"
        )
        weights = sorted(kernel.flatten().tolist())
        for weight in weights:
            count = int((m == weight).sum())
            assert count == ho * wo, (
                f"kernel {tuple(kernel.shape)} on image {(h, w)}: the weight {weight:g} appears {count} times, "
                f"expected Ho*Wo = {ho * wo} (once per row)"
            )
        for row in range(ho * wo):
            values = sorted(m[row][m[row] != 0].tolist())
            assert values == weights, f"row {row} holds {values}, expected every kernel weight once: {weights}"

    @pytest.mark.points(1)
    @pytest.mark.category("values")
    def test_image_shape_as_list_or_size(self, student):
        """image_shape may be a tuple, a list or a torch.Size"""
        kernel = randn(2, 2, seed=2)
        for shape in ([3, 4], torch.Size([3, 4])):
            assert_same(student.conv_matrix(kernel, shape), matrix_of(kernel, (3, 4)), mistakes=lambda: matrix_mistakes(kernel, (3, 4)))

    @pytest.mark.points(1)
    @pytest.mark.category("values")
    def test_one_row_kernel_by_hand(self, student):
        """the kernel [[1, -1]] on a 2x3 image (worked by hand)"""
        # output (oy, ox) = pixel (oy, ox) - pixel (oy, ox + 1): columns 3*oy + ox and 3*oy + ox + 1
        expected = torch.tensor(
            [
                [1.0, -1.0, 0.0, 0.0, 0.0, 0.0],
                [0.0, 1.0, -1.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 1.0, -1.0, 0.0],
                [0.0, 0.0, 0.0, 0.0, 1.0, -1.0],
            ]
        )
        got = student.conv_matrix(torch.tensor([[1.0, -1.0]]), (2, 3))
        # one window too few each way: Ho, Wo = 1, 1 (row 0 only)
        assert_same(got, expected, mistakes=lambda: {
            mistakes.CONV_MATRIX_TRANSPOSED: expected.T.contiguous(), mistakes.FLIPPED_KERNEL: -expected,
            mistakes.OFF_BY_ONE_LOW: expected[:1],
        })

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_one_by_one_kernel(self, student):
        """a 1x1 kernel [[w]] gives w times the identity"""
        kernel = torch.tensor([[-1.5]])
        assert_same(student.conv_matrix(kernel, (3, 2)), -1.5 * torch.eye(6), mistakes=lambda: matrix_mistakes(kernel, (3, 2)))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_kernel_as_tall_as_the_image(self, student):
        """a kernel as tall as the image gives one output row (Ho = 1), and one as wide one column"""
        for kernel_shape, seed in (((3, 2), 5), ((2, 4), 6)):
            kernel = randn(*kernel_shape, seed=seed)
            assert_same(student.conv_matrix(kernel, (3, 4)), matrix_of(kernel, (3, 4)), mistakes=lambda: matrix_mistakes(kernel, (3, 4)))

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """kernels larger than the image or not 2-d, an image_shape of 3 entries, raise ValueError; an integer kernel or float image_shape TypeError; each naming the argument"""
        kernel = randn(2, 3)
        with error_cases(valid=lambda: student.conv_matrix(kernel, (4, 5)), expected=matrix_of(kernel, (4, 5))) as case:
            for shape, what in [((2, 5), "wider"), ((4, 3), "taller")]:
                with case(ValueError, mentions="kernel", case=f"a kernel {what} than the image"):
                    student.conv_matrix(randn(*shape), (3, 4))
            for shape in [(1, 2, 2), (3,)]:
                with case(ValueError, mentions="kernel", case=f"a {len(shape)}-d kernel"):
                    student.conv_matrix(randn(*shape), (5, 5))
            with case(ValueError, mentions="image_shape", case="an image_shape of 3 entries"):
                student.conv_matrix(randn(2, 2), (1, 4, 4))
            with case(TypeError, mentions="kernel", case="an integer kernel"):
                student.conv_matrix(torch.ones(2, 2, dtype=torch.int64), (4, 4))
            with case(TypeError, mentions="image_shape", case="an image_shape of floats"):
                student.conv_matrix(randn(2, 2), (4.0, 4.0))


@st.composite
def single_cases(draw):
    """(image, kernel): non-square images up to 7x7, any kernel that fits, float32 or float64."""
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    kh, kw = draw(st.integers(1, h)), draw(st.integers(1, w))
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**16))
    return randn(h, w, seed=seed, dtype=dtype), randn(kh, kw, seed=seed + 1, dtype=dtype)


class TestConv2dMatmul:
    @pytest.mark.points(4)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=single_cases())
    def test_matches_F_conv2d_random(self, student, case):
        """equals F.conv2d on random shapes: non-square images and kernels, float32 and float64"""
        image, kernel = case
        assert_matmul(student.conv2d_matmul(image, kernel), image, kernel)

    @pytest.mark.points(2)
    @pytest.mark.category("shapes")
    def test_non_square_shapes(self, student):
        """non-square images and kernels: 4x7 by 3x2 gives 2x6, 1x5 by 1x2 gives 1x4, 6x1 by 3x1 gives 4x1"""
        for seed, (image_shape, kernel_shape) in enumerate([((4, 7), (3, 2)), ((1, 5), (1, 2)), ((6, 1), (3, 1))]):
            image, kernel = randn(*image_shape, seed=20 + seed), randn(*kernel_shape, seed=30 + seed)
            assert_matmul(student.conv2d_matmul(image, kernel), image, kernel)

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_kernel_of_the_other_dtype(self, student):
        """a float64 kernel on a float32 image gives float32, with a 3x3 kernel on a 7x6 image"""
        image, kernel = randn(7, 6, seed=4), randn(3, 3, seed=5, dtype=torch.float64)
        assert_matmul(student.conv2d_matmul(image, kernel), image, kernel)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_kernel_as_large_as_the_image(self, student):
        """a kernel of the image's size gives a 1x1 output"""
        image, kernel = randn(4, 3, seed=6), randn(4, 3, seed=7)
        assert_matmul(student.conv2d_matmul(image, kernel), image, kernel)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """kernels larger than the image, images or kernels not 2-d raise ValueError, an integer image TypeError, each naming the argument"""
        image, kernel = randn(5, 4), randn(2, 2, seed=1)
        with error_cases(valid=lambda: student.conv2d_matmul(image, kernel), expected=torch_conv(image, kernel)) as case:
            with case(ValueError, mentions="kernel", case="a kernel taller than the image"):
                student.conv2d_matmul(randn(3, 4), randn(4, 2, seed=1))
            for shape in [(1, 4, 4), (6,)]:
                with case(ValueError, mentions="image", case=f"a {len(shape)}-d image"):
                    student.conv2d_matmul(randn(*shape), randn(2, 2, seed=1))
            with case(ValueError, mentions="kernel", case="a 3-d kernel"):
                student.conv2d_matmul(randn(5, 5), randn(1, 2, 2, seed=1))
            with case(TypeError, mentions="image", case="an integer image"):
                student.conv2d_matmul(torch.arange(16).reshape(4, 4), randn(2, 2))


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
def unfold_cases(draw):
    """(input, kernel_size, stride, padding): ints and pairs, batches, non-square, float32 and float64."""
    kernel_size, stride, padding = draw(int_or_pair(1, 4)), draw(int_or_pair(1, 3)), draw(int_or_pair(0, 2))
    (kh, kw), (ph, pw) = pair(kernel_size), pair(padding)
    h = draw(st.integers(max(1, kh - 2 * ph), 8))
    w = draw(st.integers(max(1, kw - 2 * pw), 8))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from(DTYPES))
    x = randn(n, c, h, w, seed=draw(st.integers(0, 2**16)), dtype=dtype)
    return x, kernel_size, stride, padding


class TestIm2col:
    @pytest.mark.points(5)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=unfold_cases())
    def test_matches_F_unfold_random(self, student, case):
        """bit-equal to F.unfold on random inputs, kernel_size/stride/padding ints and pairs"""
        x, kernel_size, stride, padding = case
        got = student.im2col(x, kernel_size, stride=stride, padding=padding)
        assert_unfold(got, x, kernel_size, stride, padding)

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_channels_first_by_hand(self, student):
        """2 channels, 1x2 kernel: rows (channel 0: left, right), (channel 1: left, right) (by hand)"""
        x = torch.tensor([[[[1.0, 2.0, 3.0]], [[10.0, 20.0, 30.0]]]])  # (1, 2, 1, 3)
        # two windows: columns 0, 1 = pixels (0, 1) and (1, 2)
        expected = torch.tensor([[[1.0, 2.0], [2.0, 3.0], [10.0, 20.0], [20.0, 30.0]]])
        got = student.im2col(x, (1, 2))
        assert_same(got, expected, rtol=0, atol=0, mistakes=lambda: unfold_mistakes(x, (1, 2), 1, 0))

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_padding_by_hand(self, student):
        """a 1x1x2x2 input, kernel 2, padding 1, stride 2: the four corner windows (by hand)"""
        x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
        # padded:  0 0 0 0     windows at (0, 0), (0, 2), (2, 0), (2, 2):
        #          0 1 2 0       [[0 0] [0 1]], [[0 0] [2 0]], [[0 3] [0 0]], [[4 0] [0 0]]
        #          0 3 4 0
        #          0 0 0 0
        expected = torch.tensor(
            [[[0.0, 0.0, 0.0, 4.0], [0.0, 0.0, 3.0, 0.0], [0.0, 2.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]]
        )
        got = student.im2col(x, 2, stride=2, padding=1)
        assert_same(got, expected, rtol=0, atol=0, mistakes=lambda: unfold_mistakes(x, 2, 2, 1))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_kernel_as_large_as_the_padded_input(self, student):
        """a kernel as large as the padded input gives one column"""
        x = randn(2, 2, 3, 4, seed=9)
        assert_unfold(student.im2col(x, (5, 4), padding=(1, 0)), x, (5, 4), 1, (1, 0))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_stride_larger_than_the_kernel(self, student):
        """stride 3 with a 2x2 kernel skips pixels"""
        x = randn(1, 2, 8, 7, seed=10)
        assert_unfold(student.im2col(x, 2, stride=3), x, 2, 3)

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """an input not 4-d, arguments out of range, a kernel larger than the padded input raise ValueError, a float kernel_size TypeError, each naming the argument"""
        x = randn(1, 2, 4, 5)
        with error_cases(valid=lambda: student.im2col(x, 2, stride=2, padding=1), expected=F.unfold(x, 2, stride=2, padding=1)) as case:
            for shape in [(3, 5, 5), (5, 5), (1, 1, 1, 5, 5)]:
                with case(ValueError, mentions="input", case=f"a {len(shape)}-d input"):
                    student.im2col(randn(*shape), 2)
            for name, kwargs in [
                ("kernel_size", {"kernel_size": 0}),
                ("kernel_size", {"kernel_size": (2, 0)}),
                ("stride", {"kernel_size": 2, "stride": 0}),
                ("padding", {"kernel_size": 2, "padding": (0, -1)}),
            ]:
                with case(ValueError, mentions=name, case=f"{name} {kwargs[name]}"):
                    student.im2col(randn(1, 1, 5, 5), **kwargs)
            for kernel_size, padding in [(4, 0), ((2, 6), 1), ((6, 2), (1, 3))]:
                with case(ValueError, case=f"kernel_size {kernel_size} on a 3x3 input padded by {padding}"):
                    student.im2col(randn(1, 1, 3, 3), kernel_size, padding=padding)
            with case(TypeError, mentions="kernel_size", case="kernel_size 2.0"):
                student.im2col(randn(1, 1, 5, 5), 2.0)


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
    @pytest.mark.points(5)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=conv_cases(stride=True, padding=True))
    def test_matches_F_conv2d_random(self, student, case):
        """equals F.conv2d on random batches, channels, kernels, stride and padding (ints and pairs)"""
        x, w, b = case.input, case.weight, case.bias
        got = student.conv2d_im2col(x, w, b, stride=case.stride, padding=case.padding)
        assert_conv(got, x, w, b, case.stride, case.padding)

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=conv_cases(stride=True, padding=True, bias=False))
    def test_bias_per_output_channel(self, student, case):
        """the bias adds bias[c] to every value of output channel c, and bias=None adds nothing (Hypothesis)"""
        x, w = case.input, case.weight
        b = randn(w.shape[0], seed=7, dtype=x.dtype)
        without = student.conv2d_im2col(x, w, None, stride=case.stride, padding=case.padding)
        assert_conv(without, x, w, None, case.stride, case.padding)
        with_bias = student.conv2d_im2col(x, w, b, stride=case.stride, padding=case.padding)
        if not isinstance(with_bias, torch.Tensor) or with_bias.shape != without.shape:
            assert_conv(with_bias, x, w, b, case.stride, case.padding)  # says what is wrong with the whole result
        expected = b.view(1, -1, 1, 1).expand_as(without).contiguous()
        assert_same(with_bias - without, expected, mistakes={mistakes.MISSING_BIAS: torch.zeros_like(expected)})

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 in, float64 out, with float64 accuracy; a float32 bias on a float64 input is used in float64"""
        x, w, b = (randn(2, 2, 6, 7, seed=13, dtype=torch.float64), randn(3, 2, 3, 2, seed=14, dtype=torch.float64),
                   randn(3, seed=15, dtype=torch.float64))
        assert_conv(student.conv2d_im2col(x, w, b, stride=2, padding=1), x, w, b, 2, 1)
        assert_conv(student.conv2d_im2col(x, w, b.float(), stride=(1, 2)), x, w, b.float(), (1, 2), 0)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_kernel_as_large_as_the_padded_input(self, student):
        """a kernel as large as the padded input gives a 1x1 output"""
        x, w, b = randn(2, 3, 3, 4, seed=16), randn(2, 3, 5, 4, seed=17), randn(2, seed=18)
        assert_conv(student.conv2d_im2col(x, w, b, padding=(1, 0)), x, w, b, 1, (1, 0))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_stride_larger_than_the_kernel(self, student):
        """stride 3 with a 2x2 kernel, and (3, 4) with padding (1, 2)"""
        x, w, b = randn(1, 2, 9, 8, seed=22), randn(3, 2, 2, 2, seed=23), randn(3, seed=24)
        assert_conv(student.conv2d_im2col(x, w, b, stride=3), x, w, b, 3)
        assert_conv(student.conv2d_im2col(x, w, b, stride=(3, 4), padding=(1, 2)), x, w, b, (3, 4), (1, 2))

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_stride_and_padding_pairs(self, student):
        """stride (2, 1) and padding (0, 2) as (h, w) pairs, a 2x3 kernel"""
        x, w, b = randn(1, 2, 7, 5, seed=30), randn(3, 2, 2, 3, seed=31), randn(3, seed=32)
        assert_conv(student.conv2d_im2col(x, w, b, stride=(2, 1), padding=(0, 2)), x, w, b, (2, 1), (0, 2))

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_without_bias(self, student):
        """bias=None adds nothing"""
        x, w = randn(2, 3, 5, 5, seed=25), randn(4, 3, 2, 2, seed=26)
        assert_conv(student.conv2d_im2col(x, w), x, w)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError (TypeError for an integer input) naming them: channels, bias, dimensions, sizes, stride, padding"""
        x, w = randn(1, 2, 5, 5), randn(4, 2, 3, 3, seed=1)
        with error_cases(valid=lambda: student.conv2d_im2col(x, w, padding=1), expected=F.conv2d(x, w, padding=1)) as case:
            for x_shape in [(1, 3, 5, 5), (2, 1, 5, 5)]:
                with case(ValueError, case=f"a weight for 2 input channels on a {x_shape[1]}-channel input"):
                    raises_naming_one_of(lambda: student.conv2d_im2col(randn(*x_shape), randn(4, 2, 3, 3, seed=1)), "weight", "channel")
            for shape in [(3,), (1, 4)]:
                with case(ValueError, mentions="bias", case=f"a bias of shape {shape} for 4 output channels"):
                    student.conv2d_im2col(x, w, randn(*shape, seed=2))
            with case(ValueError, mentions="input", case="a 3-d input"):
                student.conv2d_im2col(randn(2, 5, 5), w)
            with case(ValueError, mentions="weight", case="a 3-d weight"):
                student.conv2d_im2col(x, randn(2, 3, 3, seed=1))
            with case(ValueError, case="a 6x2 kernel on a 3x3 input padded by 1"):
                student.conv2d_im2col(randn(1, 2, 3, 3), randn(4, 2, 6, 2, seed=1), padding=1)
            for kwargs, name in [({"stride": 0}, "stride"), ({"stride": (1, 0)}, "stride"), ({"padding": -1}, "padding")]:
                with case(ValueError, mentions=name, case=f"{name} {kwargs[name]}"):
                    student.conv2d_im2col(x, w, **kwargs)
            with case(TypeError, mentions="input", case="an integer input"):
                student.conv2d_im2col(torch.ones(1, 2, 5, 5, dtype=torch.int64), w)
