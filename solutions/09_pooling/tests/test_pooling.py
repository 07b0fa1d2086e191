"""Visible checks for 09_pooling.

Run them with `pytest` in this folder, or `convgrade check 09_pooling`.
Each check compares your function with PyTorch's own (`F.max_pool2d`,
`F.avg_pool2d`, and autograd's gradient of `F.max_pool2d`), with a small case
worked out by hand below, or, for receptive fields, with stacks worked by hand
and with the recurrence of Araujo et al., "Computing Receptive Fields of
Convolutional Neural Networks" (Distill, 2019).
"""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import mistakes
from autograder.compare import assert_same, error_cases
from autograder.inputs import pair, randn

# A 4x4 image worked by hand below: its 2x2 blocks are [[1 3] [4 2]], [[2 1] [0 -1]], [[-3 -1] [-2 -4]], [[5 6] [7 8]].
IMAGE = torch.tensor([[1.0, 3.0, 2.0, 1.0], [4.0, 2.0, 0.0, -1.0], [-3.0, -1.0, 5.0, 6.0], [-2.0, -4.0, 7.0, 8.0]])


def pool_mistakes(kind, x, kernel_size, stride=None, padding=0):
    """What the known mistakes of max_pool2d (kind "max") or avg_pool2d ("avg") would return, where defined."""
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    ph, pw = pair(padding)
    candidates = {
        mistakes.POOL_STRIDE_ONE if stride is None else mistakes.STRIDE_IGNORED: lambda: pool(x, kernel_size, 1, padding),
        mistakes.PADDING_IGNORED: lambda: pool(x, kernel_size, stride),
        mistakes.ROUNDED_UP: lambda: pool(x, kernel_size, stride, padding, ceil_mode=True),
    }
    if kind == "max":  # zeros around the image, then no padding
        candidates[mistakes.MAX_POOL_ZERO_PADDING] = lambda: F.max_pool2d(F.pad(x, (pw, pw, ph, ph)), kernel_size, stride)
    else:
        candidates[mistakes.PAD_NOT_COUNTED] = lambda: F.avg_pool2d(x, kernel_size, stride, padding, count_include_pad=False)
    found = {}
    for phrase, make in candidates.items():
        try:
            found[phrase] = make()
        except RuntimeError:
            pass  # that mistake is not defined for these arguments
    return found


def assert_pool(kind, got, x, kernel_size, stride=None, padding=0):
    """max_pool2d or avg_pool2d's result equals PyTorch's (bit for bit for max: it only picks values)."""
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    exact = {"rtol": 0, "atol": 0} if kind == "max" else {}
    assert_same(got, pool(x, kernel_size, stride, padding), **exact,
                mistakes=lambda: pool_mistakes(kind, x, kernel_size, stride, padding))


def autograd_backward(grad_output, x, kernel_size, stride=None, padding=0):
    """The gradient autograd gives for F.max_pool2d(x, ...) and the upstream grad_output, in x's dtype."""
    leaf = x.detach().clone().requires_grad_(True)
    F.max_pool2d(leaf, kernel_size, stride, padding).backward(grad_output.to(x.dtype))
    return leaf.grad


def routed(grad_output, x, kernel_size, stride=None, padding=0, *, tie="first", add=True):
    """max_pool2d_backward written with loops, with the mistakes as switches.

    tie: which of a window's tied maxima gets the gradient ("first", "last", or
    "every" one of them); add=False assigns instead of adding (the last window
    written wins).
    """
    (kh, kw), (ph, pw) = pair(kernel_size), pair(padding)
    sh, sw = pair(kernel_size if stride is None else stride)
    x4, g4 = (x, grad_output) if x.dim() == 4 else (x[None], grad_output[None])
    g4 = g4.to(x.dtype)
    grad = torch.zeros_like(x4)
    n, c, h, w = x4.shape
    for b in range(n):
        for ch in range(c):
            for i in range(g4.shape[2]):
                for j in range(g4.shape[3]):
                    cells = [(r, q) for r in range(i * sh - ph, i * sh - ph + kh) for q in range(j * sw - pw, j * sw - pw + kw)
                             if 0 <= r < h and 0 <= q < w]  # fmt: skip
                    top = max(x4[b, ch, r, q].item() for r, q in cells)
                    winners = [cell for cell in cells if x4[b, ch, cell[0], cell[1]].item() == top]
                    chosen = {"first": winners[:1], "last": winners[-1:], "every": winners}[tie]
                    for r, q in chosen:
                        grad[b, ch, r, q] = grad[b, ch, r, q] + g4[b, ch, i, j] if add else g4[b, ch, i, j]
    return grad if x.dim() == 4 else grad[0]


def backward_mistakes(grad_output, x, kernel_size, stride=None, padding=0):
    """What the known mistakes of max_pool2d_backward would return."""
    args = (grad_output, x, kernel_size, stride, padding)
    return {
        mistakes.LAST_MAX_ON_TIES: routed(*args, tie="last"),
        mistakes.EVERY_MAX_ON_TIES: routed(*args, tie="every"),
        mistakes.GRAD_OVERWRITTEN: routed(*args, add=False),
    }


def assert_backward(got, grad_output, x, kernel_size, stride=None, padding=0):
    """max_pool2d_backward's result equals autograd's gradient of F.max_pool2d."""
    assert_same(got, autograd_backward(grad_output, x, kernel_size, stride, padding),
                mistakes=lambda: backward_mistakes(grad_output, x, kernel_size, stride, padding))


def pooled_shape(x, kernel_size, stride=None, padding=0):
    """The shape F.max_pool2d returns."""
    return F.max_pool2d(x, kernel_size, stride, padding).shape


def receptive_field_by_recurrence(layers):
    """Araujo et al.'s recurrence, from the output back: r_{i-1} = s_i * r_i + (k_i - s_i), starting from 1 pixel."""
    r = 1
    for k, s in reversed(layers):
        r = s * r + (k - s)
    return r


def field_mistakes(layers):
    """What the known mistakes of receptive_field would return."""
    def strides_before(i, own=False):
        return math.prod(s for _, s in layers[: i + 1 if own else i])

    return {
        mistakes.RF_OWN_STRIDE: 1 + sum((k - 1) * strides_before(i, own=True) for i, (k, _) in enumerate(layers)),
        mistakes.RF_STRIDES_IGNORED: 1 + sum(k - 1 for k, _ in layers),
        mistakes.RF_KERNELS_ADDED: sum(k * strides_before(i) for i, (k, _) in enumerate(layers)),
    }


def assert_receptive_field(got, layers, expected):
    """receptive_field(layers) returned `got`, which must be `expected`; a failure names the mistake that gives `got`."""
    assert_same(got, expected, mistakes={phrase: value for phrase, value in field_mistakes(layers).items() if value != expected})


def assert_field(got, layers, expected):
    """receptive_field(layers) is `expected` (worked by hand), which the recurrence confirms."""
    assert expected == receptive_field_by_recurrence(layers), "the hand-worked value disagrees with the recurrence"
    assert_receptive_field(got, layers, expected)


@st.composite
def pool_cases(draw, dtypes=(torch.float32,)):
    """(input, kernel_size, stride, padding): ints, stride None or an int, padding within half the kernel."""
    k = draw(st.integers(1, 4))
    stride = draw(st.one_of(st.none(), st.integers(1, 3)))
    padding = draw(st.integers(0, k // 2))
    h, w = draw(st.integers(max(1, k - 2 * padding), 8)), draw(st.integers(max(1, k - 2 * padding), 8))
    x = randn(draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w, seed=draw(st.integers(0, 2**16)), dtype=draw(st.sampled_from(dtypes)))
    return x, k, stride, padding


class TestMaxPool2d:
    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_by_hand(self, student):
        """a 4x4 image, kernel_size 2, stride left to its default (worked by hand)"""
        # stride defaults to kernel_size: four 2x2 blocks, each gives its largest value
        #   [[1 3] [4 2]] -> 4    [[2 1] [0 -1]] -> 2    [[-3 -1] [-2 -4]] -> -1    [[5 6] [7 8]] -> 8
        expected = torch.tensor([[[4.0, 2.0], [-1.0, 8.0]]])
        # with stride 1 there would be 3x3 windows: [[4 3 2] [4 5 6] [-1 7 8]]
        stride_one = torch.tensor([[[4.0, 3.0, 2.0], [4.0, 5.0, 6.0], [-1.0, 7.0, 8.0]]])
        got = student.max_pool2d(IMAGE[None], 2)
        assert_same(got, expected, rtol=0, atol=0, mistakes={mistakes.POOL_STRIDE_ONE: stride_one})

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_padding_is_minus_infinity_by_hand(self, student):
        """padding counts as -inf: [[-1 -2] [-3 -4]] with kernel 2, stride 1, padding 1 (worked by hand)"""
        x = torch.tensor([[[-1.0, -2.0], [-3.0, -4.0]]])
        # padded with -inf to 4x4; nine 2x2 windows, each keeps its largest real value:
        #   corner windows hold one pixel, edge windows two, the middle one all four
        expected = torch.tensor([[[-1.0, -1.0, -2.0], [-1.0, -1.0, -2.0], [-3.0, -3.0, -4.0]]])
        # zero padding: every window but the middle one holds a 0, which wins
        zeros = torch.tensor([[[0.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 0.0]]])
        got = student.max_pool2d(x, 2, stride=1, padding=1)
        assert_same(got, expected, rtol=0, atol=0, mistakes={mistakes.MAX_POOL_ZERO_PADDING: zeros})

    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_matches_F_max_pool2d(self, student):
        """equals F.max_pool2d on a batch of mostly negative values, kernel 3, stride 2, padding 1"""
        x = randn(2, 3, 7, 6) - 1.0  # negative windows at the border tell -inf padding from zeros
        assert_pool("max", student.max_pool2d(x, 3, stride=2, padding=1), x, 3, 2, 1)

    @pytest.mark.points(2)
    @pytest.mark.category("shapes")
    def test_single_image_and_pairs(self, student):
        """a single image (C, H, W) gives (C, Ho, Wo): (3, 7, 6), kernel (3, 2), stride (2, 1), padding (1, 0) gives (3, 4, 5)"""
        # Ho = (7 + 2 - 3) // 2 + 1 = 4, Wo = (6 + 0 - 2) // 1 + 1 = 5
        x = randn(3, 7, 6, seed=1)
        assert_pool("max", student.max_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 0)), x, (3, 2), (2, 1), (1, 0))

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 in, float64 out"""
        x = randn(1, 2, 5, 6, seed=2, dtype=torch.float64)
        assert_pool("max", student.max_pool2d(x, 2, padding=1), x, 2, None, 1)

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(case=pool_cases())
    def test_matches_F_max_pool2d_random(self, student, case):
        """equals F.max_pool2d on random inputs, kernels, strides (or the default) and padding (Hypothesis)"""
        x, k, stride, padding = case
        assert_pool("max", student.max_pool2d(x, k, stride, padding), x, k, stride, padding)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_kernel_as_large_as_the_padded_input(self, student):
        """a kernel as large as the padded input gives one value per channel: the channel's largest"""
        x = randn(2, 3, 4, 5, seed=3)
        assert_pool("max", student.max_pool2d(x, (6, 5), padding=(1, 0)), x, (6, 5), None, (1, 0))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """padding more than half the kernel raises ValueError naming `padding`; stride 0 naming `stride`"""
        x = randn(1, 2, 6, 6)
        with error_cases(valid=lambda: student.max_pool2d(x, 3, padding=1), expected=F.max_pool2d(x, 3, padding=1)) as case:
            with case(ValueError, mentions="padding", case="padding 2 with kernel_size 3"):
                student.max_pool2d(x, 3, padding=2)
            with case(ValueError, mentions="stride", case="stride 0"):
                student.max_pool2d(x, 2, stride=0)


class TestAvgPool2d:
    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_by_hand(self, student):
        """the 4x4 image, kernel_size 2, stride left to its default (worked by hand)"""
        # the means of the four 2x2 blocks: 10/4, 2/4, -10/4, 26/4
        expected = torch.tensor([[[2.5, 0.5], [-2.5, 6.5]]])
        stride_one = F.avg_pool2d(IMAGE[None], 2, 1)
        assert_same(student.avg_pool2d(IMAGE[None], 2), expected, mistakes={mistakes.POOL_STRIDE_ONE: stride_one})

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_padding_counts_by_hand(self, student):
        """padding counts: [[4 8] [12 16]] with kernel 2, stride 1, padding 1 divides every window by 4 (worked by hand)"""
        x = torch.tensor([[[4.0, 8.0], [12.0, 16.0]]])
        # padded with zeros to 4x4; each window's sum over 4 (count_include_pad=True):
        #   corners 4/4, 8/4, 12/4, 16/4; edges (4+8)/4, (4+12)/4, (8+16)/4, (12+16)/4; middle 40/4
        expected = torch.tensor([[[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]])
        # dividing by the real pixels instead: corners 4, 8, 12, 16; edges 6, 8, 12, 14; middle 10
        real_only = torch.tensor([[[4.0, 6.0, 8.0], [8.0, 10.0, 12.0], [12.0, 14.0, 16.0]]])
        got = student.avg_pool2d(x, 2, stride=1, padding=1)
        assert_same(got, expected, mistakes={mistakes.PAD_NOT_COUNTED: real_only})

    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_matches_F_avg_pool2d(self, student):
        """equals F.avg_pool2d on a batch, kernel 3, stride 2, padding 1"""
        x = randn(2, 3, 7, 6, seed=4)
        assert_pool("avg", student.avg_pool2d(x, 3, stride=2, padding=1), x, 3, 2, 1)

    @pytest.mark.points(2)
    @pytest.mark.category("shapes")
    def test_single_image_and_pairs(self, student):
        """a single image (C, H, W) gives (C, Ho, Wo): (2, 5, 8), kernel (2, 4), stride left to its default, padding (1, 2)"""
        # stride = kernel_size = (2, 4): Ho = (5 + 2 - 2) // 2 + 1 = 3, Wo = (8 + 4 - 4) // 4 + 1 = 3
        x = randn(2, 5, 8, seed=5)
        assert_pool("avg", student.avg_pool2d(x, (2, 4), padding=(1, 2)), x, (2, 4), None, (1, 2))

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 in, float64 out, with float64 accuracy"""
        x = randn(2, 1, 6, 5, seed=6, dtype=torch.float64)
        assert_pool("avg", student.avg_pool2d(x, 3, stride=1, padding=1), x, 3, 1, 1)

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=pool_cases(), a=st.sampled_from([-2.0, 0.5, 3.0]))
    def test_linear_random(self, student, case, a):
        """linear in the input, pool(a*x + y) = a*pool(x) + pool(y), and equal to F.avg_pool2d (Hypothesis)"""
        x, k, stride, padding = case
        y = randn(*x.shape, seed=7)
        pool_x, pool_y = student.avg_pool2d(x, k, stride, padding), student.avg_pool2d(y, k, stride, padding)
        assert_pool("avg", pool_x, x, k, stride, padding)
        assert_pool("avg", pool_y, y, k, stride, padding)
        assert_same(student.avg_pool2d(a * x + y, k, stride, padding), a * pool_x + pool_y)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_one_by_one_window(self, student):
        """kernel_size 1 with stride 1 returns the input's values"""
        x = randn(2, 3, 4, 5, seed=8)
        assert_pool("avg", student.avg_pool2d(x, 1, stride=1), x, 1, 1)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """padding more than half the kernel raises ValueError naming `padding`; a 2-d input naming `input`"""
        x = randn(1, 2, 6, 6)
        with error_cases(valid=lambda: student.avg_pool2d(x, 2, padding=1), expected=F.avg_pool2d(x, 2, padding=1)) as case:
            with case(ValueError, mentions="padding", case="padding 2 with kernel_size 2"):
                student.avg_pool2d(x, 2, padding=2)
            with case(ValueError, mentions="input", case="a 2-d input"):
                student.avg_pool2d(randn(6, 6), 2)


class TestMaxPool2dBackward:
    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_ties_by_hand(self, student):
        """ties: a 2x2 window of equal values sends its whole gradient to its top-left pixel (worked by hand)"""
        x = torch.tensor([[[[1.0, 1.0, 0.0, 2.0], [1.0, 1.0, 2.0, 2.0]]]])  # two 2x2 windows, both all ties
        grad_output = torch.tensor([[[[10.0, 20.0]]]])
        # window 0: four 1s, the first (row 0, column 0) takes 10; window 1: three 2s, the first (row 0, column 3) takes 20
        expected = torch.tensor([[[[10.0, 0.0, 0.0, 20.0], [0.0, 0.0, 0.0, 0.0]]]])
        last = torch.tensor([[[[0.0, 0.0, 0.0, 0.0], [0.0, 10.0, 0.0, 20.0]]]])
        every = torch.tensor([[[[10.0, 10.0, 0.0, 20.0], [10.0, 10.0, 20.0, 20.0]]]])
        got = student.max_pool2d_backward(grad_output, x, 2)
        assert_same(got, expected, mistakes={mistakes.LAST_MAX_ON_TIES: last, mistakes.EVERY_MAX_ON_TIES: every})

    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_overlapping_windows_by_hand(self, student):
        """overlapping windows add up: the row [1 5 2 0], kernel (1, 2), stride 1 (worked by hand)"""
        x = torch.tensor([[[1.0, 5.0, 2.0, 0.0]]])
        grad_output = torch.tensor([[[1.0, 10.0, 100.0]]])
        # windows [1 5] -> 5, [5 2] -> 5, [2 0] -> 2: the 5 wins twice and gets 1 + 10, the 2 gets 100
        expected = torch.tensor([[[0.0, 11.0, 100.0, 0.0]]])
        overwritten = torch.tensor([[[0.0, 10.0, 100.0, 0.0]]])  # the second window's 10 replaced the first's 1
        got = student.max_pool2d_backward(grad_output, x, (1, 2), stride=1)
        assert_same(got, expected, mistakes={mistakes.GRAD_OVERWRITTEN: overwritten})

    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_matches_autograd(self, student):
        """equals autograd's gradient of F.max_pool2d: integer values (ties), kernel 3, stride 2, padding 1"""
        x = torch.randint(-2, 3, (2, 3, 7, 6), generator=torch.Generator().manual_seed(9)).float()
        grad_output = randn(*pooled_shape(x, 3, 2, 1), seed=10)
        assert_backward(student.max_pool2d_backward(grad_output, x, 3, stride=2, padding=1), grad_output, x, 3, 2, 1)

    @pytest.mark.points(2)
    @pytest.mark.category("shapes")
    def test_single_image(self, student):
        """a single image (C, H, W) gives a gradient (C, H, W): (2, 5, 6), kernel (2, 3), stride left to its default"""
        x = randn(2, 5, 6, seed=11)
        grad_output = randn(*pooled_shape(x, (2, 3)), seed=12)
        assert_backward(student.max_pool2d_backward(grad_output, x, (2, 3)), grad_output, x, (2, 3))

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_dtypes(self, student):
        """float64 in, float64 out; a float32 grad_output on a float64 input is used in float64"""
        x = randn(1, 2, 6, 5, seed=13, dtype=torch.float64)
        grad_output = randn(*pooled_shape(x, 2, 1), seed=14)  # float32
        assert_backward(student.max_pool2d_backward(grad_output, x, 2, stride=1), grad_output, x, 2, 1)

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=pool_cases())
    def test_routes_every_gradient_once_random(self, student, case):
        """each output's gradient goes to exactly one input pixel: equal to autograd, and the totals agree (Hypothesis)"""
        x, k, stride, padding = case
        grad_output = randn(*pooled_shape(x, k, stride, padding), seed=15)
        got = student.max_pool2d_backward(grad_output, x, k, stride, padding)
        assert_backward(got, grad_output, x, k, stride, padding)
        assert_same(got.sum((-1, -2)), grad_output.sum((-1, -2)))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_stride_larger_than_the_kernel(self, student):
        """stride 3 with a 2x2 kernel: the pixels no window covers get 0"""
        x = randn(1, 2, 8, 7, seed=16)
        grad_output = randn(*pooled_shape(x, 2, 3), seed=17)
        assert_backward(student.max_pool2d_backward(grad_output, x, 2, stride=3), grad_output, x, 2, 3)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a grad_output of another shape than the pooled output raises ValueError naming `grad_output`"""
        x = randn(1, 2, 6, 6)
        grad_output = randn(1, 2, 3, 3, seed=1)
        with error_cases(valid=lambda: student.max_pool2d_backward(grad_output, x, 2),
                         expected=autograd_backward(grad_output, x, 2)) as case:
            with case(ValueError, mentions="grad_output", case="a grad_output (1, 2, 6, 6) for a (1, 2, 3, 3) output"):
                student.max_pool2d_backward(randn(1, 2, 6, 6, seed=2), x, 2)


class TestReceptiveField:
    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_two_and_three_3x3_convolutions(self, student):
        """two 3x3 convolutions see 5x5, three see 7x7 (VGG's argument for 3x3 kernels)"""
        # each 3x3 layer of stride 1 widens the field by 3 - 1 = 2: 1 + 2 + 2 = 5, 1 + 2 + 2 + 2 = 7
        assert_field(student.receptive_field([(3, 1), (3, 1)]), [(3, 1), (3, 1)], 5)
        assert_field(student.receptive_field([(3, 1)] * 3), [(3, 1)] * 3, 7)

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_a_pool_between(self, student):
        """conv 3x3, a 2x2 pool of stride 2, conv 3x3: 1 + 2 + 1 + 2*2 = 8 (worked by hand)"""
        # the pool's taps are 1 pixel apart (no stride before it), the last conv's 2 apart: (3 - 1) * 2
        layers = [(3, 1), (2, 2), (3, 1)]
        assert_field(student.receptive_field(layers), layers, 8)

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_vgg_blocks(self, student):
        """VGG's first two blocks, (conv 3x3, conv 3x3, pool 2x2 stride 2) twice, see 16 pixels"""
        # spacing 1: 1 + 2 + 2 + 1 = 6; then spacing 2: 6 + 2*2 + 2*2 + 1*2 = 16
        layers = [(3, 1), (3, 1), (2, 2)] * 2
        assert_field(student.receptive_field(layers), layers, 16)

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @given(layers=st.lists(st.tuples(st.integers(1, 7), st.integers(1, 4)), max_size=8))
    def test_matches_the_recurrence_random(self, student, layers):
        """equals Araujo et al.'s recurrence r = s * r + (k - s), from the output back, on random stacks (Hypothesis)"""
        assert_receptive_field(student.receptive_field(layers), layers, receptive_field_by_recurrence(layers))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_empty_stack_and_1x1_kernels(self, student):
        """no layers see 1 pixel; 1x1 layers add nothing, whatever their stride"""
        assert_field(student.receptive_field([]), [], 1)
        assert_field(student.receptive_field([(1, 2), (1, 1)]), [(1, 2), (1, 1)], 1)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a kernel_size of 0 and an entry of 3 values raise ValueError naming `layers`"""
        with error_cases(valid=lambda: student.receptive_field([(3, 1), (2, 2)]), expected=4) as case:
            with case(ValueError, mentions="layers", case="a kernel_size of 0"):
                student.receptive_field([(3, 1), (0, 1)])
            with case(ValueError, mentions="layers", case="an entry (3, 1, 1)"):
                student.receptive_field([(3, 1, 1)])
