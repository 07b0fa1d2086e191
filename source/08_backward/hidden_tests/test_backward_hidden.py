"""Hidden checks for 08_backward: property tests over shapes, strides and paddings, the limits, and the error cases.

Expected values come only from PyTorch (`F.unfold`, `F.fold`, autograd of
`F.conv2d`, `F.conv_transpose2d`), from the checks' own central differences, or
from CS231n's formula written out here.
"""

import functools

import numpy as np
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
GRADIENTS = ("grad_input", "grad_weight", "grad_bias")


def int_or_pair(low, high):
    return st.one_of(st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high)))


def overwriting_col2im(cols, shape, kernel_size, stride, padding):
    """col2im with `=` instead of `+=`, looping over the kernel positions: the last position written wins."""
    (n, c, h, w), (kh, kw), (sh, sw), (ph, pw) = shape, pair(kernel_size), pair(stride), pair(padding)
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    patches = cols.reshape(n, c, kh, kw, ho, wo)
    out = cols.new_zeros(n, c, h + 2 * ph, w + 2 * pw)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw] = patches[:, :, i, j]
    return out[:, :, ph : ph + h, pw : pw + w]


def assert_fold(got, cols, shape, kernel_size, stride=1, padding=0):
    """col2im's result equals F.fold."""
    expected = F.fold(cols, tuple(shape[2:]), kernel_size, stride=stride, padding=padding)
    assert_same(got, expected, mistakes=lambda: {mistakes.COL2IM_OVERWRITES: overwriting_col2im(cols, shape, kernel_size, stride, padding)})


@st.composite
def fold_cases(draw):
    """(cols, input_shape, kernel_size, stride, padding): ints and pairs, batches, non-square, float32 and float64."""
    kernel_size, stride, padding = draw(int_or_pair(1, 4)), draw(int_or_pair(1, 3)), draw(int_or_pair(0, 2))
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel_size), pair(stride), pair(padding)
    h, w = draw(st.integers(max(1, kh - 2 * ph), 8)), draw(st.integers(max(1, kw - 2 * pw), 8))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    length = ((h + 2 * ph - kh) // sh + 1) * ((w + 2 * pw - kw) // sw + 1)
    cols = randn(n, c * kh * kw, length, seed=draw(st.integers(0, 2**16)), dtype=draw(st.sampled_from(DTYPES)))
    return cols, (n, c, h, w), kernel_size, stride, padding


class TestIm2col:
    @pytest.mark.points(3)
    @pytest.mark.category("values")
    @settings(report_multiple_bugs=False)
    @given(case=fold_cases())
    def test_matches_F_unfold_random(self, student, case):
        """bit-equal to F.unfold on random inputs, kernel_size/stride/padding ints and pairs"""
        cols, shape, kernel_size, stride, padding = case
        x = randn(*shape, seed=int(cols.shape[2]), dtype=cols.dtype)
        got = student.im2col(x, kernel_size, stride=stride, padding=padding)
        assert_same(got, F.unfold(x, kernel_size, stride=stride, padding=padding), rtol=0, atol=0)


class TestCol2im:
    @pytest.mark.points(5)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=fold_cases())
    def test_matches_F_fold_random(self, student, case):
        """equals F.fold on random columns, kernel_size/stride/padding ints and pairs, float32 and float64"""
        cols, shape, kernel_size, stride, padding = case
        assert_fold(student.col2im(cols, shape, kernel_size, stride=stride, padding=padding), cols, shape, kernel_size, stride, padding)

    @pytest.mark.points(1)
    @pytest.mark.category("values")
    def test_kernel_as_large_as_the_padded_input(self, student):
        """one column, a kernel as large as the padded input: the column is the image, the padding cut off"""
        cols = randn(2, 2 * 5 * 4, 1, seed=1)
        assert_fold(student.col2im(cols, [2, 2, 3, 4], (5, 4), padding=(1, 0)), cols, (2, 2, 3, 4), (5, 4), 1, (1, 0))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """cols not 3-d or of the wrong size, an input_shape of 3 entries, stride 0 raise ValueError; integer cols TypeError"""
        cols = randn(1, 8, 4)
        shape = (1, 2, 3, 3)
        with error_cases(valid=lambda: student.col2im(cols, shape, 2), expected=F.fold(cols, (3, 3), 2)) as case:
            with case(ValueError, mentions="cols", case="cols with 3 rows per window where 8 fit"):
                student.col2im(randn(1, 3, 4), shape, 2)
            with case(ValueError, mentions="cols", case="2-d cols"):
                student.col2im(randn(8, 4), shape, 2)
            with case(ValueError, mentions="input_shape", case="an input_shape of 3 entries"):
                student.col2im(cols, (2, 3, 3), 2)
            with case(ValueError, mentions="stride", case="stride 0"):
                student.col2im(cols, shape, 2, stride=0)
            with case(TypeError, mentions="cols", case="integer cols"):
                student.col2im(torch.ones(1, 8, 4, dtype=torch.int64), shape, 2)


def autograd_gradients(grad_output, x, w, stride, padding):
    """(grad_input, grad_weight, grad_bias) of F.conv2d by autograd, in x's dtype."""
    x = x.detach().clone().requires_grad_()
    w = w.detach().to(x.dtype).requires_grad_()
    b = torch.zeros(w.shape[0], dtype=x.dtype, requires_grad=True)
    return torch.autograd.grad(F.conv2d(x, w, b, stride, padding), (x, w, b), grad_output.to(x.dtype))


def backward_mistakes(index, grad_output, x, w, stride, padding):
    """What the known mistakes of conv2d_backward would give for gradient `index`."""
    g, w = grad_output.to(x.dtype), w.to(x.dtype)
    n = g.shape[0]
    if index == 0:
        cols = w.reshape(w.shape[0], -1).T @ g.reshape(n, w.shape[0], -1)
        return {mistakes.COL2IM_OVERWRITES: overwriting_col2im(cols, x.shape, tuple(w.shape[2:]), stride, padding)}
    if index == 1:
        first = autograd_gradients(g[:1], x[:1], w, stride, padding)[1]
        return {mistakes.WEIGHT_GRAD_NOT_SUMMED: first, mistakes.WEIGHT_GRAD_AVERAGED: autograd_gradients(g, x, w, stride, padding)[1] / n}
    return {mistakes.BIAS_GRAD_NOT_SUMMED: g.sum(0), mistakes.WEIGHT_GRAD_AVERAGED: g.sum((0, 2, 3)) / n}


def assert_gradients(got, grad_output, x, w, stride=1, padding=0):
    """conv2d_backward's three gradients equal autograd's."""
    expected = autograd_gradients(grad_output, x, w, stride, padding)
    if type(got) not in (tuple, list) or len(got) != 3:
        assert_same(got, expected)
    for index, name in enumerate(GRADIENTS):
        try:
            assert_same(got[index], expected[index], mistakes=lambda: backward_mistakes(index, grad_output, x, w, stride, padding))
        except CheckFailure as failure:
            headline, *details = str(failure).splitlines()
            raise CheckFailure("\n".join([f"item {index}: {headline}", f"  item {index} is {name}", *details])) from None


def grad_output_for(case, seed):
    """A random upstream gradient of the forward pass's output shape."""
    out = F.conv2d(case.input, case.weight, None, case.stride, case.padding)
    return randn(*out.shape, seed=seed, dtype=case.input.dtype)


class TestConv2dBackward:
    @pytest.mark.points(9)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=conv_cases(stride=True, padding=True, bias=False), seed=st.integers(0, 2**16))
    def test_matches_autograd_random(self, student, case, seed):
        """equals autograd on random batches, channels, kernels, stride and padding (ints and pairs), float32 and float64"""
        g = grad_output_for(case, seed)
        got = student.conv2d_backward(g, case.input, case.weight, stride=case.stride, padding=case.padding)
        assert_gradients(got, g, case.input, case.weight, case.stride, case.padding)

    @pytest.mark.points(1)
    @pytest.mark.category("values")
    def test_one_by_one_kernel(self, student):
        """a 1x1 kernel: grad_input at every pixel is weight.T @ grad_output there"""
        x, w = randn(2, 3, 4, 5, seed=1, dtype=torch.float64), randn(4, 3, 1, 1, seed=2, dtype=torch.float64)
        g = randn(2, 4, 4, 5, seed=3, dtype=torch.float64)
        assert_gradients(student.conv2d_backward(g, x, w), g, x, w)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_kernel_as_large_as_the_padded_input(self, student):
        """a kernel as large as the padded input: a 1x1 output"""
        x, w = randn(2, 2, 3, 4, seed=4, dtype=torch.float64), randn(3, 2, 5, 4, seed=5, dtype=torch.float64)
        g = randn(2, 3, 1, 1, seed=6, dtype=torch.float64)
        assert_gradients(student.conv2d_backward(g, x, w, padding=(1, 0)), g, x, w, 1, (1, 0))

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_float64_input_float32_rest(self, student):
        """a float64 input with a float32 weight and grad_output: all three gradients float64"""
        x, w, g = randn(1, 2, 5, 5, seed=7, dtype=torch.float64), randn(2, 2, 3, 3, seed=8), randn(1, 2, 2, 2, seed=9)
        assert_gradients(student.conv2d_backward(g, x, w, stride=2), g, x, w, 2)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError naming them (grad_output, input, weight, stride, padding); an integer input TypeError"""
        x, w, g = randn(1, 2, 5, 5), randn(3, 2, 3, 3, seed=1), randn(1, 3, 3, 3, seed=2)
        with error_cases(valid=lambda: student.conv2d_backward(g, x, w), expected=autograd_gradients(g, x, w, 1, 0)) as case:
            for shape in [(1, 4, 3, 3), (2, 3, 3, 3), (1, 3, 5, 5), (3, 3, 3)]:
                with case(ValueError, mentions="grad_output", case=f"grad_output {shape} for a (1, 3, 3, 3) output"):
                    student.conv2d_backward(randn(*shape), x, w)
            with case(ValueError, mentions="input", case="a 3-d input"):
                student.conv2d_backward(g, randn(2, 5, 5), w)
            with case(ValueError, mentions="weight", case="a 3-d weight"):
                student.conv2d_backward(g, x, randn(3, 3, 3))
            with case(ValueError, mentions="stride", case="stride 0"):
                student.conv2d_backward(g, x, w, stride=0)
            with case(ValueError, mentions="padding", case="padding -1"):
                student.conv2d_backward(g, x, w, padding=-1)
            with case(TypeError, mentions="input", case="an integer input"):
                student.conv2d_backward(g, torch.ones(1, 2, 5, 5, dtype=torch.int64), w)


def transposed_conv(grad_output, kernel):
    return F.conv_transpose2d(grad_output[None, None], kernel[None, None])[0, 0]


@st.composite
def matrix_grad_cases(draw):
    """(kernel, (H, W), grad_output): non-square kernels up to 4x4 on images up to 7x7, float32 or float64."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = draw(st.integers(kh, 7)), draw(st.integers(kw, 7))
    dtype, seed = draw(st.sampled_from(DTYPES)), draw(st.integers(0, 2**16))
    return randn(kh, kw, seed=seed, dtype=dtype), (h, w), randn(h - kh + 1, w - kw + 1, seed=seed + 1, dtype=dtype)


class TestConvMatrixGrad:
    @pytest.mark.points(4)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=matrix_grad_cases())
    def test_matches_conv_transpose2d_random(self, student, case):
        """equals F.conv_transpose2d on random shapes and dtypes"""
        kernel, shape, g = case
        assert_same(student.conv_matrix_grad(kernel, shape, g), transposed_conv(g, kernel),
                    mistakes=lambda: {mistakes.KERNEL_NOT_FLIPPED: transposed_conv(g, kernel.flip(0, 1))})

    @pytest.mark.points(1)
    @pytest.mark.category("values")
    def test_one_by_one_kernel(self, student):
        """a 1x1 kernel [[w]]: M is w times the identity, so the gradient is w * grad_output"""
        g = randn(3, 4, seed=3)
        assert_same(student.conv_matrix_grad(torch.tensor([[-2.5]]), [3, 4], g), -2.5 * g)


FUNCTIONS = {
    "mse": lambda t: functools.partial(F.mse_loss, target=t, reduction="sum"),
    "logsumexp": lambda t: functools.partial(torch.logsumexp, dim=tuple(range(t.dim()))),
    "tensordot": lambda t: functools.partial(torch.tensordot, b=t, dims=t.dim()),
    "norm": lambda t: torch.linalg.vector_norm,
}


def autograd_of(f, x):
    x = x.detach().clone().requires_grad_()
    return torch.autograd.grad(f(x), x)[0]


def numerical_mistakes(f, x, eps=1e-6):
    """What the known mistakes of numerical_gradient would return: a forward difference, eps not doubled, all at once."""
    steps = eps * torch.eye(x.numel(), dtype=x.dtype).reshape(-1, *x.shape)
    forward = torch.stack([(f(x + step) - f(x)) / eps for step in steps]).reshape(x.shape)
    central = torch.stack([(f(x + step) - f(x - step)) / (2 * eps) for step in steps]).reshape(x.shape)
    every = float((f(x + eps) - f(x - eps)) / (2 * eps))
    return {mistakes.FORWARD_DIFFERENCE: forward, mistakes.EPS_NOT_DOUBLED: 2 * central, mistakes.PERTURBED_ALL_AT_ONCE: torch.full_like(x, every)}


class TestNumericalGradient:
    @pytest.mark.points(6)
    @pytest.mark.category("values")
    @settings(report_multiple_bugs=False)
    @given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), name=st.sampled_from(sorted(FUNCTIONS)), seed=st.integers(0, 2**16))
    def test_matches_autograd_random(self, student, shape, name, seed):
        """equals autograd to 1e-7 for random shapes and smooth functions (sum of squares, logsumexp, a dot product, the norm)"""
        x, t = randn(*shape, seed=seed, dtype=torch.float64), randn(*shape, seed=seed + 1, dtype=torch.float64)
        f = FUNCTIONS[name](t)
        got = student.numerical_gradient(f, x)
        assert_same(got, autograd_of(f, x), rtol=1e-7, atol=1e-7, mistakes=lambda: numerical_mistakes(f, x))

    @pytest.mark.points(1)
    @pytest.mark.category("values")
    def test_a_0d_x(self, student):
        """a 0-d x (a single number) gives a 0-d gradient: sum((x - 1.5)**2) at 4 is 5"""
        x = torch.tensor(4.0, dtype=torch.float64)
        f = functools.partial(F.mse_loss, target=torch.tensor(1.5, dtype=torch.float64), reduction="sum")
        assert_same(student.numerical_gradient(f, x), torch.tensor(5.0, dtype=torch.float64), rtol=1e-7, atol=1e-7,
                    mistakes=lambda: numerical_mistakes(f, x))


    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """an f that is not callable and an integer x raise TypeError, a negative eps ValueError, each naming the argument"""
        x = torch.tensor([2.0, 3.0], dtype=torch.float64)
        with error_cases(valid=lambda: student.numerical_gradient(torch.prod, x, eps=1e-4), expected=torch.tensor([3.0, 2.0], dtype=torch.float64),
                         rtol=1e-7, atol=1e-7) as case:  # fmt: skip
            with case(TypeError, mentions="f", case="f a tensor, not a function"):
                student.numerical_gradient(x, x)
            with case(TypeError, mentions="x", case="an integer x"):
                student.numerical_gradient(torch.prod, torch.tensor([2, 3]))
            with case(ValueError, mentions="eps", case="eps -1e-6"):
                student.numerical_gradient(torch.prod, x, eps=-1e-6)


def cs231n(a, b):
    """CS231n's relative error, written out in numpy's words."""
    a, b = a.double().numpy(), b.double().numpy()
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


class TestRelativeError:
    @pytest.mark.points(3)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), scale=st.sampled_from([1e-9, 1e-3, 1.0, 1e4]),
           seed=st.integers(0, 2**16))  # fmt: skip
    def test_matches_the_formula_random(self, student, shape, scale, seed):
        """equals max(|a - b| / max(1e-8, |a| + |b|)) on random tensors of every scale (the floor matters below 1e-8)"""
        a = scale * randn(*shape, seed=seed, dtype=torch.float64)
        b = a + scale * 1e-3 * randn(*shape, seed=seed + 1, dtype=torch.float64)
        assert_same(student.relative_error(a, b), cs231n(a, b), rtol=1e-9)

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    def test_scale_invariant(self, student):
        """relative: the same gradients times 1000 or times 0.001 have the same relative error"""
        a, b = randn(4, 5, seed=5, dtype=torch.float64), randn(4, 5, seed=6, dtype=torch.float64)
        for factor in (1e3, 1e-3):
            assert_same(student.relative_error(factor * a, factor * b), cs231n(a, b), rtol=1e-9)

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_mixed_dtypes(self, student):
        """a float32 a against a float64 b: computed in float64, a Python float"""
        a, b = randn(3, 3, seed=7), randn(3, 3, seed=8, dtype=torch.float64)
        assert_same(student.relative_error(a, b), cs231n(a, b), rtol=1e-9)
