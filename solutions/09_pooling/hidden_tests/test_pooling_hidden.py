"""Hidden checks for 09_pooling: property tests over shapes and settings, more hand-worked cases, published receptive fields, the error cases.

Expected values come only from PyTorch (`F.max_pool2d`, `F.avg_pool2d`,
autograd), from cases worked out by hand, or from published receptive fields
(AlexNet's 195 and VGG-16's 212 pixels, as Araujo et al., Distill 2019, list
them). The known mistakes and the reference helpers are the visible checks' own
(`tests/test_pooling.py`), loaded from there so that both say the same.
"""

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import mistakes
from autograder.compare import assert_same, error_cases
from autograder.inputs import pair, randn


def _visible_checks():
    """tests/test_pooling.py beside this folder, as a module of its own (its helpers only: its checks are not collected here)."""
    path = Path(__file__).resolve().parents[1] / "tests" / "test_pooling.py"
    spec = importlib.util.spec_from_file_location("pooling_visible_checks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_VISIBLE = _visible_checks()
assert_pool, assert_backward, assert_field = _VISIBLE.assert_pool, _VISIBLE.assert_backward, _VISIBLE.assert_field
autograd_backward, pooled_shape, field_mistakes = _VISIBLE.autograd_backward, _VISIBLE.pooled_shape, _VISIBLE.field_mistakes
receptive_field_by_recurrence, assert_receptive_field = _VISIBLE.receptive_field_by_recurrence, _VISIBLE.assert_receptive_field

DTYPES = (torch.float32, torch.float64)


def int_or_pair(low, high):
    return st.one_of(st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high)))


@st.composite
def pool_cases(draw):
    """(input, kernel_size, stride, padding): ints and pairs, stride None too, batched or single images, both dtypes."""
    kernel_size = draw(int_or_pair(1, 4))
    (kh, kw) = pair(kernel_size)
    stride = draw(st.one_of(st.none(), int_or_pair(1, 3)))
    padding = draw(st.one_of(st.integers(0, min(kh, kw) // 2), st.tuples(st.integers(0, kh // 2), st.integers(0, kw // 2))))
    ph, pw = pair(padding)
    h, w = draw(st.integers(max(1, kh - 2 * ph), 9)), draw(st.integers(max(1, kw - 2 * pw), 9))
    shape = (draw(st.integers(1, 3)), h, w) if draw(st.booleans()) else (draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w)
    dtype, seed = draw(st.sampled_from(DTYPES)), draw(st.integers(0, 2**16))
    return randn(*shape, seed=seed, dtype=dtype), kernel_size, stride, padding


class TestMaxPool2d:
    @pytest.mark.points(5)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(case=pool_cases())
    def test_matches_F_max_pool2d_random(self, student, case):
        """equals F.max_pool2d on random inputs: (C, H, W) and (N, C, H, W), ints and pairs, stride None too, both dtypes"""
        x, k, stride, padding = case
        assert_pool("max", student.max_pool2d(x, k, stride, padding), x, k, stride, padding)

    @pytest.mark.points(1)
    @pytest.mark.category("values")
    def test_negative_row_by_hand(self, student):
        """the row [-5 -1 -3], kernel (1, 3), stride 1, padding (0, 1): every window's maximum is -1 (worked by hand)"""
        x = torch.tensor([[[-5.0, -1.0, -3.0]]])
        # padded: [-inf -5 -1 -3 -inf]; windows [-inf -5 -1], [-5 -1 -3], [-1 -3 -inf]
        got = student.max_pool2d(x, (1, 3), stride=1, padding=(0, 1))
        assert_same(got, torch.tensor([[[-1.0, -1.0, -1.0]]]), rtol=0, atol=0,
                    mistakes={mistakes.MAX_POOL_ZERO_PADDING: torch.tensor([[[0.0, -1.0, 0.0]]])})

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_default_stride_is_the_kernel_pair(self, student):
        """with stride None a (2, 3) kernel steps (2, 3): a (2, 3, 8, 9) batch gives (2, 3, 4, 3)"""
        x = randn(2, 3, 8, 9, seed=1)
        assert_pool("max", student.max_pool2d(x, (2, 3)), x, (2, 3))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_window_that_does_not_fit_is_left_out(self, student):
        """a 7x7 image with 2x2 pooling gives 3x3: the last row and column fit no window"""
        x = randn(1, 2, 7, 7, seed=2)
        assert_pool("max", student.max_pool2d(x, 2), x, 2)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_one_by_one_window(self, student):
        """kernel_size 1 with stride 1 returns the input's values; with its default stride too"""
        x = randn(3, 4, 5, seed=3, dtype=torch.float64)
        assert_pool("max", student.max_pool2d(x, 1), x, 1)

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError (TypeError for an integer input or a float kernel_size) naming them"""
        x = randn(1, 2, 6, 5)
        with error_cases(valid=lambda: student.max_pool2d(x, (3, 2), padding=(1, 1)), expected=F.max_pool2d(x, (3, 2), padding=(1, 1))) as case:
            for kernel_size, padding in [(2, 2), ((3, 2), (0, 2)), (1, 1)]:
                with case(ValueError, mentions="padding", case=f"padding {padding} with kernel_size {kernel_size}"):
                    student.max_pool2d(x, kernel_size, padding=padding)
            for name, kwargs in [("kernel_size", {"kernel_size": 0}), ("stride", {"kernel_size": 2, "stride": (1, 0)})]:
                with case(ValueError, mentions=name, case=f"{name} {kwargs[name]}"):
                    student.max_pool2d(x, **kwargs)
            for shape in [(6, 5), (1, 1, 2, 6, 5)]:
                with case(ValueError, mentions="input", case=f"a {len(shape)}-d input"):
                    student.max_pool2d(randn(*shape), 2)
            with case(ValueError, case="kernel_size 4 on a 3x3 input padded by 0"):
                student.max_pool2d(randn(1, 3, 3), 4)
            with case(TypeError, mentions="input", case="an integer input"):
                student.max_pool2d(torch.ones(1, 1, 4, 4, dtype=torch.int64), 2)
            with case(TypeError, mentions="kernel_size", case="kernel_size 2.0"):
                student.max_pool2d(x, 2.0)


class TestAvgPool2d:
    @pytest.mark.points(5)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=pool_cases())
    def test_matches_F_avg_pool2d_random(self, student, case):
        """equals F.avg_pool2d (count_include_pad=True) on random inputs: both layouts, ints and pairs, stride None too, both dtypes"""
        x, k, stride, padding = case
        assert_pool("avg", student.avg_pool2d(x, k, stride, padding), x, k, stride, padding)

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_ones_with_padding_by_hand(self, student):
        """a 3x3 image of ones, kernel 3, stride 1, padding 1: corners 4/9, edges 6/9, the centre 1 (worked by hand)"""
        x = torch.ones(1, 3, 3, dtype=torch.float64)
        # a corner window holds 4 real ones and 5 padded zeros, an edge window 6 ones, the centre 9
        expected = torch.tensor([[[4.0, 6.0, 4.0], [6.0, 9.0, 6.0], [4.0, 6.0, 4.0]]], dtype=torch.float64) / 9
        got = student.avg_pool2d(x, 3, stride=1, padding=1)
        assert_same(got, expected, mistakes={mistakes.PAD_NOT_COUNTED: torch.ones(1, 3, 3, dtype=torch.float64)})

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_padding_pair(self, student):
        """padding (0, 2) with kernel (2, 5) and stride (1, 3) equals F.avg_pool2d: the padding counts"""
        x = randn(2, 2, 5, 7, seed=4)
        assert_pool("avg", student.avg_pool2d(x, (2, 5), stride=(1, 3), padding=(0, 2)), x, (2, 5), (1, 3), (0, 2))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_window_that_does_not_fit_is_left_out(self, student):
        """a 5x8 image with 3x3 pooling gives 1x2: windows that do not fit are left out"""
        x = randn(3, 5, 8, seed=5)
        assert_pool("avg", student.avg_pool2d(x, 3), x, 3)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError (TypeError for an integer input) naming them"""
        x = randn(2, 1, 6, 6)
        with error_cases(valid=lambda: student.avg_pool2d(x, 3, 2, 1), expected=F.avg_pool2d(x, 3, 2, 1)) as case:
            with case(ValueError, mentions="padding", case="padding (2, 0) with kernel_size 3"):
                student.avg_pool2d(x, 3, padding=(2, 0))
            with case(ValueError, mentions="padding", case="padding -1"):
                student.avg_pool2d(x, 3, padding=-1)
            with case(ValueError, mentions="stride", case="stride 0"):
                student.avg_pool2d(x, 3, stride=0)
            with case(ValueError, mentions="input", case="a 5-d input"):
                student.avg_pool2d(randn(1, 1, 1, 6, 6), 2)
            with case(TypeError, mentions="input", case="an integer input"):
                student.avg_pool2d(torch.ones(1, 4, 4, dtype=torch.int32), 2)


class TestMaxPool2dBackward:
    @pytest.mark.points(5)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=pool_cases(), seed=st.integers(0, 2**16))
    def test_matches_autograd_random(self, student, case, seed):
        """equals autograd's gradient of F.max_pool2d on random inputs full of ties: both layouts, ints and pairs, both dtypes"""
        x, k, stride, padding = case
        x = x.mul(1.5).round()  # small integers: windows often hold their maximum twice or more (made here, from the drawn values)
        grad_output = randn(*pooled_shape(x, k, stride, padding), seed=seed, dtype=x.dtype)
        assert_backward(student.max_pool2d_backward(grad_output, x, k, stride, padding), grad_output, x, k, stride, padding)

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_centre_of_four_windows_by_hand(self, student):
        """a peak in the middle of a 3x3 image is the maximum of all four 2x2 windows (stride 1): it gets 1 + 2 + 3 + 4 (worked by hand)"""
        x = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]])
        grad_output = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
        expected = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 0.0]]])
        got = student.max_pool2d_backward(grad_output, x, 2, stride=1)
        assert_same(got, expected, mistakes={mistakes.GRAD_OVERWRITTEN: expected * 0.4})  # only the last window's 4

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_ties_with_padding_by_hand(self, student):
        """a 4x4 image of ones, kernel 3, stride 2, padding 1: each window's first real pixel gets its gradient (worked by hand)"""
        x = torch.ones(1, 1, 4, 4)
        grad_output = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
        # windows cover rows/columns -1..1 and 1..3; padding never wins, so the first real pixel of each is
        # (0, 0), (0, 1), (1, 0), (1, 1); the last one would be (1, 1), (1, 3), (3, 1), (3, 3)
        expected = torch.zeros(1, 1, 4, 4)
        expected[0, 0, :2, :2] = grad_output[0, 0]
        last = torch.zeros(1, 1, 4, 4)
        last[0, 0, 1::2, 1::2] = grad_output[0, 0]
        got = student.max_pool2d_backward(grad_output, x, 3, stride=2, padding=1)
        assert_same(got, expected, mistakes=lambda: {**_VISIBLE.backward_mistakes(grad_output, x, 3, 2, 1), mistakes.LAST_MAX_ON_TIES: last})

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 in, float64 out, with stride (1, 2) and padding (1, 0)"""
        x = randn(2, 2, 5, 6, seed=6, dtype=torch.float64)
        grad_output = randn(*pooled_shape(x, (3, 2), (1, 2), (1, 0)), seed=7, dtype=torch.float64)
        assert_backward(student.max_pool2d_backward(grad_output, x, (3, 2), (1, 2), (1, 0)), grad_output, x, (3, 2), (1, 2), (1, 0))

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """grad_output of the wrong shape or dimensions raises ValueError, an integer one TypeError, naming `grad_output`; padding too large naming `padding`"""
        x = randn(2, 3, 6, 6)
        grad_output = randn(2, 3, 2, 2, seed=1)
        with error_cases(valid=lambda: student.max_pool2d_backward(grad_output, x, 3), expected=autograd_backward(grad_output, x, 3)) as case:
            with case(ValueError, mentions="grad_output", case="a grad_output for stride 1"):
                student.max_pool2d_backward(randn(2, 3, 4, 4, seed=2), x, 3)
            with case(ValueError, mentions="grad_output", case="a 3-d grad_output for a 4-d input"):
                student.max_pool2d_backward(randn(3, 2, 2, seed=2), x, 3)
            with case(TypeError, mentions="grad_output", case="an integer grad_output"):
                student.max_pool2d_backward(torch.ones(2, 3, 2, 2, dtype=torch.int64), x, 3)
            with case(ValueError, mentions="padding", case="padding 2 with kernel_size 3"):
                student.max_pool2d_backward(randn(2, 3, 4, 4, seed=2), x, 3, stride=2, padding=2)


ALEXNET = [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)]  # conv1, pool1, conv2, pool2, conv3-5, pool5
VGG16 = [layer for convs in (2, 2, 3, 3, 3) for layer in [(3, 1)] * convs + [(2, 2)]]  # five blocks, each ending in a pool


def gradient_support(layers, size):
    """The side of the input region that one central output pixel's gradient reaches, through real torch layers.

    Each layer is a convolution by a (k, k) kernel of ones with stride s (every tap counts), in float64.
    """
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    h = x
    for k, s in layers:
        h = F.conv2d(h, torch.ones(1, 1, k, k, dtype=torch.float64), stride=s)
    h[0, 0, h.shape[2] // 2, h.shape[3] // 2].backward()
    rows = (x.grad[0, 0] != 0).any(1).nonzero()
    return int(rows.max() - rows.min() + 1)


class TestReceptiveField:
    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_alexnet(self, student):
        """AlexNet's last pooling layer sees 195x195 pixels (Araujo et al.'s table)"""
        # spacing 1, 4, 8, 8, 16, 16, 16, 16: 1 + 10 + 2*4 + 4*8 + 2*8 + 2*16 * 4 = 195
        assert_field(student.receptive_field(ALEXNET), ALEXNET, 195)

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_vgg16(self, student):
        """VGG-16's conv5_3 sees 196 pixels and its pool5 212 (Araujo et al.'s table)"""
        # block by block: 1 + 4 + 1 = 6; + 8 + 2 = 16; + 24 + 4 = 44; + 48 + 8 = 100; + 96 = 196 (conv5_3), + 16 = 212
        assert_field(student.receptive_field(VGG16[:-1]), VGG16[:-1], 196)
        assert_field(student.receptive_field(VGG16), VGG16, 212)

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @given(layers=st.lists(st.tuples(st.integers(1, 11), st.integers(1, 5)), max_size=12))
    def test_matches_the_recurrence_random(self, student, layers):
        """equals the recurrence r = s * r + (k - s), from the output back, on random stacks up to 12 layers"""
        assert_receptive_field(student.receptive_field(layers), layers, receptive_field_by_recurrence(layers))

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(max_examples=15, deadline=None)
    @given(layers=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3)), min_size=1, max_size=3))
    def test_matches_the_gradient_of_real_layers(self, student, layers):
        """equals the span of input pixels one output's gradient reaches through real strided layers (autograd)"""
        size = receptive_field_by_recurrence(layers) + 2 * max(s for _, s in layers) * 3  # room for a central pixel
        assert_receptive_field(student.receptive_field(layers), layers, gradient_support(layers, size))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_layers_as_lists(self, student):
        """layers as a list of lists [[5, 2], [3, 1]] works too: 1 + 4 + 2*2 = 9"""
        assert_same(student.receptive_field([[5, 2], [3, 1]]), 9, mistakes=field_mistakes([(5, 2), (3, 1)]))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """stride 0, an entry of 1 value raise ValueError; a float kernel_size TypeError; each naming `layers`"""
        with error_cases(valid=lambda: student.receptive_field(ALEXNET), expected=195) as case:
            with case(ValueError, mentions="layers", case="a stride of 0"):
                student.receptive_field([(3, 0)])
            with case(ValueError, mentions="layers", case="an entry (3,)"):
                student.receptive_field([(3, 1), (3,)])
            with case(TypeError, mentions="layers", case="a kernel_size of 3.0"):
                student.receptive_field([(3.0, 1)])
