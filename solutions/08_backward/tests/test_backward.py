"""Visible checks for 08_backward.

Run them with `pytest` in this folder, or `convgrade check 08_backward`.
Each check compares your function with PyTorch (`F.unfold`, `F.fold`,
autograd of `F.conv2d`, `F.conv_transpose2d`: here, in the checks, never in your
code), with a small case worked out by hand below, or with a property every
gradient has (im2col and col2im are adjoint; <M x, g> = <x, M.T g>).
"""

import functools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import mistakes
from autograder.compare import assert_same, error_cases
from autograder.inputs import pair, randn
from autograder.student import CheckFailure

GRADIENTS = ("grad_input", "grad_weight", "grad_bias")


def fold(cols, shape, kernel_size, stride=1, padding=0):
    """F.fold back to the (N, C, H, W) of `shape`."""
    return F.fold(cols, tuple(shape[2:]), kernel_size, stride=stride, padding=padding)


def overwriting_col2im(cols, shape, kernel_size, stride, padding, by_window):
    """col2im with `=` instead of `+=`: the last window written wins, looping over windows or over kernel positions."""
    (n, c, h, w), (kh, kw), (sh, sw), (ph, pw) = shape, pair(kernel_size), pair(stride), pair(padding)
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    patches = cols.reshape(n, c, kh, kw, ho, wo)
    out = cols.new_zeros(n, c, h + 2 * ph, w + 2 * pw)
    if by_window:
        for oy in range(ho):
            for ox in range(wo):
                out[:, :, oy * sh : oy * sh + kh, ox * sw : ox * sw + kw] = patches[..., oy, ox]
    else:
        for i in range(kh):
            for j in range(kw):
                out[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw] = patches[:, :, i, j]
    return out[:, :, ph : ph + h, pw : pw + w]


def closest(got, *candidates):
    """The candidate `got` is nearest to (one mistake, made in several ways): same shape first, then the values."""
    def distance(candidate):
        if not isinstance(got, torch.Tensor) or got.shape != candidate.shape:
            return math.inf
        return float((got.double() - candidate.double()).abs().max()) if got.numel() else 0.0
    return min(candidates, key=distance)


def col2im_mistakes(got, cols, shape, kernel_size, stride=1, padding=0):
    """What the known mistakes of col2im would return (overwriting looping over windows, or over kernel positions)."""
    (ph, pw) = pair(padding)
    overwrites = [overwriting_col2im(cols, shape, kernel_size, stride, padding, by_window) for by_window in (True, False)]
    return {
        mistakes.COL2IM_OVERWRITES: closest(got, *overwrites),
        mistakes.COL2IM_PADDING_KEPT: F.fold(cols, (shape[2] + 2 * ph, shape[3] + 2 * pw), kernel_size, stride=stride),
    }


def assert_fold(got, cols, shape, kernel_size, stride=1, padding=0):
    """col2im's result equals F.fold."""
    assert_same(got, fold(cols, shape, kernel_size, stride, padding),
                mistakes=lambda: col2im_mistakes(got, cols, shape, kernel_size, stride, padding))


def autograd_gradients(grad_output, x, w, stride, padding):
    """(grad_input, grad_weight, grad_bias) of F.conv2d by autograd, in x's dtype."""
    x = x.detach().clone().requires_grad_()
    w = w.detach().to(x.dtype).requires_grad_()
    b = torch.zeros(w.shape[0], dtype=x.dtype, requires_grad=True)
    out = F.conv2d(x, w, b, stride, padding)
    return torch.autograd.grad(out, (x, w, b), grad_output.to(x.dtype))


def backward_mistakes(got, index, grad_output, x, w, stride, padding):
    """What the known mistakes of conv2d_backward would give for gradient `index` (0: input, 1: weight, 2: bias)."""
    g, w = grad_output.to(x.dtype), w.to(x.dtype)
    n, c_out = g.shape[:2]
    if index == 0:
        ho, wo = g.shape[2:]
        scrambled = w.reshape(c_out, -1).reshape(-1, c_out) @ g.reshape(n, c_out, ho * wo)
        return {
            mistakes.KERNEL_NOT_FLIPPED: F.conv_transpose2d(g, w.flip(-1, -2), stride=stride, padding=padding,
                                                            output_padding=_output_padding(x, w, stride, padding)),
            mistakes.WEIGHT_RESHAPED_NOT_TRANSPOSED: fold(scrambled, x.shape, w.shape[2:], stride, padding),
            mistakes.COL2IM_OVERWRITES: closest(got, *(
                overwriting_col2im(w.reshape(c_out, -1).T @ g.reshape(n, c_out, -1), x.shape, tuple(w.shape[2:]), stride, padding, by_window)
                for by_window in (True, False))),
        }
    if index == 1:
        per_image = [autograd_gradients(g[i : i + 1], x[i : i + 1], w, stride, padding)[1] for i in range(n)]
        return {
            mistakes.WEIGHT_GRAD_NOT_SUMMED: closest(got, per_image[0], torch.stack(per_image)),  # one image's, or one per image
            mistakes.WEIGHT_GRAD_AVERAGED: sum(per_image) / n,
        }
    return {mistakes.BIAS_GRAD_NOT_SUMMED: g.sum(0), mistakes.WEIGHT_GRAD_AVERAGED: g.sum((0, 2, 3)) / n}


def _output_padding(x, w, stride, padding):
    """The rows and columns a strided forward pass left unread, which conv_transpose2d must add back."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    ho, wo = (x.shape[2] + 2 * ph - w.shape[2]) // sh + 1, (x.shape[3] + 2 * pw - w.shape[3]) // sw + 1
    return (x.shape[2] + 2 * ph - w.shape[2] - (ho - 1) * sh, x.shape[3] + 2 * pw - w.shape[3] - (wo - 1) * sw)


def assert_gradients(got, grad_output, x, w, stride=1, padding=0):
    """conv2d_backward's three gradients equal autograd's, each checked for its known mistakes."""
    expected = autograd_gradients(grad_output, x, w, stride, padding)
    if type(got) not in (tuple, list) or len(got) != 3:
        assert_same(got, expected)  # says what came back instead of three tensors
    for index, name in enumerate(GRADIENTS):
        try:
            assert_same(got[index], expected[index],
                        mistakes=lambda: backward_mistakes(got[index], index, grad_output, x, w, stride, padding))
        except CheckFailure as failure:
            headline, *details = str(failure).splitlines()
            raise CheckFailure("\n".join([f"item {index}: {headline}", f"  item {index} is {name}", *details])) from None


class TestIm2col:
    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_matches_F_unfold(self, student):
        """bit-equal to F.unfold on a batch with 3 channels, stride 2, padding 1"""
        x = randn(2, 3, 7, 6)
        assert_same(student.im2col(x, 3, stride=2, padding=1), F.unfold(x, 3, stride=2, padding=1), rtol=0, atol=0)

    @pytest.mark.points(1)
    @pytest.mark.category("shapes")
    def test_shape(self, student):
        """(N, C*kh*kw, Ho*Wo): (2, 3, 7, 6), kernel (2, 3), stride (2, 1), padding (1, 0) gives (2, 18, 16)"""
        got = student.im2col(randn(2, 3, 7, 6, seed=1), (2, 3), stride=(2, 1), padding=(1, 0))
        # C*kh*kw = 18; Ho = (7 + 2 - 2) // 2 + 1 = 4, Wo = (6 - 3) // 1 + 1 = 4
        assert_same(tuple(got.shape) if isinstance(got, torch.Tensor) else got, (2, 18, 16))

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 in, float64 out"""
        x = randn(1, 2, 5, 5, seed=2, dtype=torch.float64)
        assert_same(student.im2col(x, (2, 3), stride=(1, 2), padding=(2, 1)), F.unfold(x, (2, 3), stride=(1, 2), padding=(2, 1)))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """stride 0 raises ValueError naming `stride`"""
        x = randn(1, 2, 5, 5)
        with error_cases(valid=lambda: student.im2col(x, 2), expected=F.unfold(x, 2)) as case:
            with case(ValueError, mentions="stride", case="stride 0"):
                student.im2col(x, 2, stride=0)


class TestCol2im:
    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_overlaps_add_up_by_hand(self, student):
        """columns of ones, kernel 2 on a 3x3 image: each pixel counts the windows that cover it (worked by hand)"""
        # The four 2x2 windows of a 3x3 image: the centre is in all four, the edge middles in two, the corners in one.
        cols = torch.ones(1, 4, 4)
        expected = torch.tensor([[[[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]]])
        assert_same(student.col2im(cols, (1, 1, 3, 3), 2), expected,
                    mistakes={mistakes.COL2IM_OVERWRITES: torch.ones(1, 1, 3, 3)})

    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_matches_F_fold(self, student):
        """equals F.fold on a batch with 2 channels, kernel 3, stride 2, padding 1"""
        shape = (2, 2, 7, 6)
        cols = randn(2, 18, 12, seed=1)  # Ho = (7 + 2 - 3) // 2 + 1 = 4, Wo = (6 + 2 - 3) // 2 + 1 = 3
        assert_fold(student.col2im(cols, shape, 3, stride=2, padding=1), cols, shape, 3, 2, 1)

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(k=st.integers(1, 3), s=st.integers(1, 3), p=st.integers(0, 1), seed=st.integers(0, 2**16))
    def test_adjoint_of_im2col(self, student, k, s, p, seed):
        """the adjoint of im2col: <F.unfold(x), c> = <x, col2im(c)> for every x and c (Hypothesis)"""
        x = randn(2, 2, 5, 4, seed=seed, dtype=torch.float64)
        columns = F.unfold(x, k, stride=s, padding=p)
        c = randn(*columns.shape, seed=seed + 1, dtype=torch.float64)
        got = student.col2im(c, x.shape, k, stride=s, padding=p)
        assert_fold(got, c, x.shape, k, s, p)
        assert math.isclose(float((x * got).sum()), float((columns * c).sum()), rel_tol=1e-9, abs_tol=1e-9)

    @pytest.mark.points(1)
    @pytest.mark.category("shapes")
    def test_shape(self, student):
        """the unpadded input_shape: cols (1, 12, 6) for (1, 3, 4, 5), kernel 2, padding (1, 0), stride (2, 2) gives (1, 3, 4, 5)"""
        cols = randn(1, 12, 6, seed=3)  # Ho = (4 + 2 - 2) // 2 + 1 = 3, Wo = (5 - 2) // 2 + 1 = 2
        got = student.col2im(cols, (1, 3, 4, 5), 2, stride=2, padding=(1, 0))
        assert_same(tuple(got.shape) if isinstance(got, torch.Tensor) else got, (1, 3, 4, 5),
                    mistakes={mistakes.COL2IM_PADDING_KEPT: (1, 3, 6, 5)})

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 in, float64 out"""
        cols = randn(2, 8, 9, seed=4, dtype=torch.float64)
        assert_fold(student.col2im(cols, (2, 2, 4, 4), 2), cols, (2, 2, 4, 4), 2)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """cols of the wrong shape for input_shape raise ValueError naming `cols`"""
        cols = randn(1, 4, 4)
        with error_cases(valid=lambda: student.col2im(cols, (1, 1, 3, 3), 2), expected=fold(cols, (1, 1, 3, 3), 2)) as case:
            with case(ValueError, mentions="cols", case="cols with 5 windows where 4 fit"):
                student.col2im(randn(1, 4, 5), (1, 1, 3, 3), 2)


class TestConv2dBackward:
    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_by_hand(self, student):
        """a 3x3 image, the kernel [[1, 2], [3, 4]] and grad_output of ones (worked by hand)"""
        x = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)
        w = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
        g = torch.ones(1, 1, 2, 2)
        # grad_weight[i, j] = sum of the pixels that weight (i, j) touched, the 2x2 block at (i, j):
        #   (0, 0): 1+2+4+5 = 12   (0, 1): 2+3+5+6 = 16   (1, 0): 4+5+7+8 = 24   (1, 1): 5+6+8+9 = 28
        # grad_input[y, x] = sum of the weights that touched pixel (y, x), one per window covering it:
        #   corners: one weight each (1, 2, 3, 4); edge middles: two; the centre: all four, 10
        # grad_bias = 4, one per output pixel
        expected = (
            torch.tensor([[[[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]]]),
            torch.tensor([[[[12.0, 16.0], [24.0, 28.0]]]]),
            torch.tensor([4.0]),
        )
        got = student.conv2d_backward(g, x, w)
        assert_same(got, expected, mistakes={
            mistakes.KERNEL_NOT_FLIPPED: (torch.tensor([[[[4.0, 7.0, 3.0], [6.0, 10.0, 4.0], [2.0, 3.0, 1.0]]]]), *expected[1:]),
        })

    @pytest.mark.points(4)
    @pytest.mark.category("values")
    def test_matches_autograd(self, student):
        """equals autograd of F.conv2d on a batch of 3, 2 -> 4 channels, 3x3 kernel, padding 1 (float64)"""
        x, w = randn(3, 2, 6, 5, dtype=torch.float64), randn(4, 2, 3, 3, seed=1, dtype=torch.float64)
        g = randn(3, 4, 6, 5, seed=2, dtype=torch.float64)
        assert_gradients(student.conv2d_backward(g, x, w, padding=1), g, x, w, 1, 1)

    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_stride_and_padding_pairs(self, student):
        """stride (2, 1) and padding (0, 2) as pairs, a 2x3 kernel, 3 -> 2 channels"""
        x, w = randn(2, 3, 7, 5, seed=3, dtype=torch.float64), randn(2, 3, 2, 3, seed=4, dtype=torch.float64)
        g = randn(2, 2, 3, 7, seed=5, dtype=torch.float64)  # Ho = (7 - 2) // 2 + 1 = 3, Wo = 5 + 4 - 3 + 1 = 7
        assert_gradients(student.conv2d_backward(g, x, w, stride=(2, 1), padding=(0, 2)), g, x, w, (2, 1), (0, 2))

    @pytest.mark.points(3)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(stride=st.integers(1, 3), padding=st.integers(0, 2), k=st.integers(1, 3), seed=st.integers(0, 2**16))
    def test_gradient_check(self, student, stride, padding, k, seed):
        """CS231n's gradient check: relative error below 1e-8 against autograd in float64 (Hypothesis)"""
        x, w = randn(2, 2, 5, 6, seed=seed, dtype=torch.float64), randn(3, 2, k, k, seed=seed + 1, dtype=torch.float64)
        ho, wo = (5 + 2 * padding - k) // stride + 1, (6 + 2 * padding - k) // stride + 1
        g = randn(2, 3, ho, wo, seed=seed + 2, dtype=torch.float64)
        got = student.conv2d_backward(g, x, w, stride=stride, padding=padding)
        assert_gradients(got, g, x, w, stride, padding)
        for index, expected in enumerate(autograd_gradients(g, x, w, stride, padding)):
            a, b = got[index], expected
            error = float(((a - b).abs() / (a.abs() + b.abs()).clamp(min=1e-8)).max())
            assert error < 1e-8, f"{GRADIENTS[index]}: relative error {error:.2e} against autograd, expected below 1e-8"

    @pytest.mark.points(1)
    @pytest.mark.category("shapes")
    def test_shapes(self, student):
        """input's, weight's and (C_out,) shapes: (2, 3, 6, 6) by (5, 3, 3, 3), stride 2 gives (2, 3, 6, 6), (5, 3, 3, 3), (5,)"""
        x, w, g = randn(2, 3, 6, 6, seed=6), randn(5, 3, 3, 3, seed=7), randn(2, 5, 2, 2, seed=8)
        got = student.conv2d_backward(g, x, w, stride=2)
        shapes = tuple(tuple(t.shape) if isinstance(t, torch.Tensor) else t for t in got) if isinstance(got, tuple) else got
        assert_same(shapes, ((2, 3, 6, 6), (5, 3, 3, 3), (5,)),
                    mistakes={mistakes.BIAS_GRAD_NOT_SUMMED: ((2, 3, 6, 6), (5, 3, 3, 3), (5, 2, 2)),
                              mistakes.WEIGHT_GRAD_NOT_SUMMED: ((2, 3, 6, 6), (2, 5, 3, 3, 3), (5,))})

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_dtypes(self, student):
        """all three in input's dtype: float32 stays float32, and a float64 weight on a float32 input is used in float32"""
        x, w, g = randn(2, 2, 5, 5, seed=9), randn(3, 2, 2, 2, seed=10, dtype=torch.float64), randn(2, 3, 4, 4, seed=11)
        assert_gradients(student.conv2d_backward(g, x, w), g, x, w)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_pixels_no_window_reaches(self, student):
        """stride 3 with a 2x2 kernel skips pixels: their gradient is exactly 0"""
        x, w = randn(1, 1, 8, 8, seed=12, dtype=torch.float64), randn(2, 1, 2, 2, seed=13, dtype=torch.float64)
        g = randn(1, 2, 3, 3, seed=14, dtype=torch.float64)
        assert_gradients(student.conv2d_backward(g, x, w, stride=3), g, x, w, 3)

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a grad_output of another shape than the output's raises ValueError naming `grad_output`; a weight for other channels `weight`"""
        x, w, g = randn(1, 2, 4, 4), randn(3, 2, 3, 3, seed=1), randn(1, 3, 2, 2, seed=2)
        with error_cases(valid=lambda: student.conv2d_backward(g, x, w), expected=autograd_gradients(g, x, w, 1, 0)) as case:
            with case(ValueError, mentions="grad_output", case="grad_output (1, 3, 3, 3) for a (1, 3, 2, 2) output"):
                student.conv2d_backward(randn(1, 3, 3, 3), x, w)
            with case(ValueError, mentions="weight", case="a weight for 3 input channels on 2"):
                student.conv2d_backward(g, x, randn(3, 3, 3, 3))


def transposed_conv(grad_output, kernel):
    """F.conv_transpose2d of one (Ho, Wo) grad_output with one (kh, kw) kernel."""
    return F.conv_transpose2d(grad_output[None, None], kernel[None, None])[0, 0]


def matrix_grad_mistakes(grad_output, kernel):
    """What the known mistakes of conv_matrix_grad would return: the full correlation with the kernel as it is."""
    return {mistakes.KERNEL_NOT_FLIPPED: transposed_conv(grad_output, kernel.flip(0, 1))}


class TestConvMatrixGrad:
    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_by_hand(self, student):
        """M.T @ g for the kernel [[1, 2], [3, 4]] on a 3x3 image, g = [[1, 0], [0, 0]] and [[0, 0], [0, 1]] (by hand)"""
        kernel = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
        # A 1 at output (0, 0) reaches the pixels its window read, each by the weight that read it: the
        # kernel in the top-left corner. At output (1, 1), the kernel in the bottom-right corner.
        top_left = torch.tensor([[1.0, 2.0, 0.0], [3.0, 4.0, 0.0], [0.0, 0.0, 0.0]])
        bottom_right = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 2.0], [0.0, 3.0, 4.0]])
        for g, expected in ((torch.tensor([[1.0, 0.0], [0.0, 0.0]]), top_left), (torch.tensor([[0.0, 0.0], [0.0, 1.0]]), bottom_right)):
            assert_same(student.conv_matrix_grad(kernel, (3, 3), g), expected, mistakes=lambda: matrix_grad_mistakes(g, kernel))

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_matches_conv_transpose2d(self, student):
        """equals F.conv_transpose2d of grad_output with the kernel: a 5x6 image, 3x2 kernel"""
        kernel, g = randn(3, 2, seed=1), randn(3, 5, seed=2)
        assert_same(student.conv_matrix_grad(kernel, (5, 6), g), transposed_conv(g, kernel), mistakes=lambda: matrix_grad_mistakes(g, kernel))

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(h=st.integers(2, 6), w=st.integers(2, 6), seed=st.integers(0, 2**16))
    def test_transpose_identity(self, student, h, w, seed):
        """<conv(x), g> = <x, conv_matrix_grad(g)>: the transpose moves the matrix to the other side (Hypothesis)"""
        x, kernel = randn(h, w, seed=seed, dtype=torch.float64), randn(2, 2, seed=seed + 1, dtype=torch.float64)
        g = randn(h - 1, w - 1, seed=seed + 2, dtype=torch.float64)
        got = student.conv_matrix_grad(kernel, (h, w), g)
        assert_same(got, transposed_conv(g, kernel), mistakes=lambda: matrix_grad_mistakes(g, kernel))
        forward = F.conv2d(x[None, None], kernel[None, None])[0, 0]
        assert math.isclose(float((forward * g).sum()), float((x * got).sum()), rel_tol=1e-9, abs_tol=1e-9)

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 grad_output gives float64 (H, W); a float32 kernel is used in float64"""
        kernel, g = randn(2, 3, seed=3), randn(3, 2, seed=4, dtype=torch.float64)
        assert_same(student.conv_matrix_grad(kernel, (4, 4), g), transposed_conv(g, kernel.double()))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a grad_output that is not (Ho, Wo) raises ValueError naming `grad_output`"""
        kernel, g = randn(2, 2), randn(2, 3, seed=1)
        with error_cases(valid=lambda: student.conv_matrix_grad(kernel, (3, 4), g), expected=transposed_conv(g, kernel)) as case:
            with case(ValueError, mentions="grad_output", case="grad_output (3, 3) for a (2, 3) output"):
                student.conv_matrix_grad(kernel, (3, 4), randn(3, 3))


def mse(target):
    """f(x) = sum((x - target)**2), whose gradient is 2 (x - target): a function the sandbox can carry."""
    return functools.partial(F.mse_loss, target=target, reduction="sum")


def central_differences(f, x, eps):
    """The check's own central differences, vectorised: every perturbed copy at once, f on each."""
    steps = eps * torch.eye(x.numel(), dtype=x.dtype).reshape(-1, *x.shape)
    return torch.stack([(f(x + step) - f(x - step)) / (2 * eps) for step in steps]).reshape(x.shape)


def numerical_mistakes(f, x, eps):
    """What the known mistakes of numerical_gradient would return."""
    steps = eps * torch.eye(x.numel(), dtype=x.dtype).reshape(-1, *x.shape)
    forward = torch.stack([(f(x + step) - f(x)) / eps for step in steps]).reshape(x.shape)
    central = central_differences(f, x, eps)
    every = (f(x + eps) - f(x - eps)) / (2 * eps)
    return {
        mistakes.FORWARD_DIFFERENCE: forward,
        mistakes.EPS_NOT_DOUBLED: 2 * central,
        mistakes.PERTURBED_ALL_AT_ONCE: torch.full_like(x, float(every)),
        mistakes.EPS_IGNORED: central_differences(f, x, 1e-6),
    }


def autograd_of(f, x):
    """The exact gradient of f at x, by autograd (here, in the check)."""
    x = x.detach().clone().requires_grad_()
    return torch.autograd.grad(f(x), x)[0]


NUMERICAL = {"rtol": 1e-7, "atol": 1e-7}  # central differences with eps 1e-6: about 1e-9; a forward difference: 1e-6


class TestNumericalGradient:
    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_by_hand(self, student):
        """f = torch.prod at x = [2, 3, 4]: the gradient is [3*4, 2*4, 2*3] = [12, 8, 6] (worked by hand)"""
        x = torch.tensor([2.0, 3.0, 4.0], dtype=torch.float64)
        # prod is linear in each element, so the central difference is exact: (24 + 12 eps - 24 + 12 eps) / (2 eps) = 12
        expected = torch.tensor([12.0, 8.0, 6.0], dtype=torch.float64)
        assert_same(student.numerical_gradient(torch.prod, x), expected, **NUMERICAL,
                    mistakes={mistakes.EPS_NOT_DOUBLED: 2 * expected, mistakes.PERTURBED_ALL_AT_ONCE: torch.full((3,), 26.0, dtype=torch.float64)})

    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_matches_autograd(self, student):
        """sum((x - t)**2) on a 3x4 x: equals autograd's 2 (x - t) to 1e-7 (a forward difference is off by 1e-6)"""
        x, target = randn(3, 4, dtype=torch.float64), randn(3, 4, seed=1, dtype=torch.float64)
        f = mse(target)
        assert_same(student.numerical_gradient(f, x), autograd_of(f, x), **NUMERICAL, mistakes=lambda: numerical_mistakes(f, x, 1e-6))

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_uses_eps(self, student):
        """with eps=1e-2, logsumexp's central difference differs from autograd by about 1e-5: exactly eps's, not 1e-6's"""
        x = randn(2, 3, seed=2, dtype=torch.float64)
        f = functools.partial(torch.logsumexp, dim=(0, 1))
        assert_same(student.numerical_gradient(f, x, eps=1e-2), central_differences(f, x, 1e-2),
                    rtol=1e-9, atol=1e-10, mistakes=lambda: numerical_mistakes(f, x, 1e-2))

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_float64_and_x_unchanged(self, student):
        """a float64 tensor of x's shape, (2, 1, 3), and x left as it was (the check's copy is compared after the call)"""
        x, target = randn(2, 1, 3, seed=3, dtype=torch.float64), randn(2, 1, 3, seed=4, dtype=torch.float64)
        before = x.clone()
        got = student.numerical_gradient(mse(target), x)
        assert_same(got, 2 * (x - target), **NUMERICAL, mistakes=lambda: numerical_mistakes(mse(target), x, 1e-6))
        assert torch.equal(x, before)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a float32 x raises TypeError naming `x`; eps 0 ValueError naming `eps`"""
        x = torch.tensor([2.0, 3.0], dtype=torch.float64)
        with error_cases(valid=lambda: student.numerical_gradient(torch.prod, x), expected=torch.tensor([3.0, 2.0], dtype=torch.float64), **NUMERICAL) as case:
            with case(TypeError, mentions="x", case="a float32 x"):
                student.numerical_gradient(torch.prod, x.float())
            with case(ValueError, mentions="eps", case="eps 0"):
                student.numerical_gradient(torch.prod, x, eps=0.0)


def relative_mistakes(a, b):
    """What the known mistakes of relative_error would return."""
    a, b = a.double(), b.double()
    difference, total = (a - b).abs(), (a.abs() + b.abs())
    return {
        mistakes.REL_ERROR_MEAN: float((difference / total.clamp(min=1e-8)).mean()),
        mistakes.REL_ERROR_ABSOLUTE: float(difference.max()),
        mistakes.REL_ERROR_MAX_DENOMINATOR: float((difference / torch.maximum(a.abs(), b.abs()).clamp(min=1e-8)).max()),
    }


class TestRelativeError:
    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_by_hand(self, student):
        """a = [1, 2, 100], b = [1, 2.5, 101]: the worst element is 0.5 / 4.5 = 0.1111 (worked by hand)"""
        a, b = torch.tensor([1.0, 2.0, 100.0]), torch.tensor([1.0, 2.5, 101.0])
        # element by element: 0 / 2 = 0, 0.5 / 4.5 = 0.1111, 1 / 201 = 0.004975; the max is 1/9
        assert_same(student.relative_error(a, b), 1 / 9, rtol=1e-6, mistakes=relative_mistakes(a, b))

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    def test_max_not_mean(self, student):
        """one wrong element among 1000 shows: 999 equal values and one off by 1% gives 0.01 / 2.01"""
        a = randn(1000, dtype=torch.float64).abs() + 1
        b = a.clone()
        b[500] = a[500] * 1.01
        expected = float((0.01 * a[500]) / (2.01 * a[500]))
        assert_same(student.relative_error(a, b), expected, rtol=1e-6, mistakes=relative_mistakes(a, b))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_two_zeros(self, student):
        """two zero gradients have relative error 0 (the floor 1e-8 in the denominator), not nan"""
        zeros = torch.zeros(2, 3, dtype=torch.float64)
        assert_same(student.relative_error(zeros, zeros.clone()), 0.0, atol=1e-300)

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_a_python_float(self, student):
        """a Python float, also for float32 tensors: [1, 3] against [1, 1] gives 2 / 4 = 0.5"""
        assert_same(student.relative_error(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 1.0])), 0.5, rtol=1e-6)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """tensors of different shapes raise ValueError"""
        a = torch.tensor([1.0, 3.0])
        with error_cases(valid=lambda: student.relative_error(a, torch.ones(2)), expected=0.5, rtol=1e-6) as case:
            with case(ValueError, case="shapes (2,) and (3,)"):
                student.relative_error(a, torch.ones(3))
