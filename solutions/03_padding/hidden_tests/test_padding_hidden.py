"""Hidden checks for 03_padding: property tests over shapes, the limits, and every error case.

Expected values come only from PyTorch (`F.pad`, `nn.Conv2d(padding="same",
padding_mode=...)`, `F.conv2d(padding="same")`) or from properties.
"""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import mistakes
from autograder.compare import assert_same, expect_error
from autograder.inputs import randn


# PyTorch warns that padding="same" with an even kernel makes a padded copy; that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

MODES = ("zeros", "reflect", "replicate", "circular")
TORCH_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}
DTYPES = (torch.float32, torch.float64)


def torch_pad(x, padding, mode, value=0.0):
    """F.pad in the given mode, for any number of leading dimensions."""
    batched = x.reshape(-1, 1, *x.shape[-2:])
    if mode == "zeros":
        padded = F.pad(batched, padding, mode="constant", value=value)
    else:
        padded = F.pad(batched, padding, mode=TORCH_MODE[mode])
    return padded.reshape(*x.shape[:-2], *padded.shape[-2:])


def wrong_end_circular(x, padding):
    """Circular padding that copies the border from the near end of the image (the mistake)."""
    left, right, top, bottom = padding
    width = x.shape[-1]
    x = torch.cat([x[..., :left], x, x[..., width - right :]], dim=-1)
    height = x.shape[-2]
    return torch.cat([x[..., :top, :], x, x[..., height - bottom :, :]], dim=-2)


def as_four(padding):
    return (padding,) * 4 if isinstance(padding, int) else tuple(padding)


def pad_mistakes(x, padding, mode, value):
    """What the known mistakes would return (those that are defined for these arguments)."""
    pads = as_four(padding)
    left, right, top, bottom = pads
    candidates = {
        mistakes.SIDES_SWAPPED: lambda: torch_pad(x, (top, bottom, left, right), mode, value),
    }
    if mode == "reflect":
        candidates[mistakes.SYMMETRIC_NOT_REFLECT] = lambda: mistakes.symmetric_pad(x, pads)
        candidates[mistakes.REPLICATE_NOT_REFLECT] = lambda: torch_pad(x, pads, "replicate")
    if mode == "circular":
        candidates[mistakes.CIRCULAR_WRONG_END] = lambda: wrong_end_circular(x, pads)
    if mode == "zeros" and value != 0.0:
        candidates[mistakes.VALUE_IGNORED] = lambda: torch_pad(x, pads, "zeros")
    if mode != "zeros":
        candidates[mistakes.MODE_IGNORED] = lambda: torch_pad(x, pads, "zeros")
    found = {}
    for phrase, make in candidates.items():
        try:
            found[phrase] = make()
        except (RuntimeError, ValueError, IndexError):
            pass  # that mistake is not defined for these arguments
    return found


def side_limit(mode, size):
    """The largest padding of a side that `mode` allows on a dimension of `size`."""
    return {"zeros": 4, "reflect": size - 1, "replicate": 4, "circular": size}[mode]


@st.composite
def pad_cases(draw):
    """(input, padding, mode, value): 2-D to 5-D inputs, int or 4-tuple padding up to the limits."""
    mode = draw(st.sampled_from(MODES))
    ndim = draw(st.integers(2, 5))
    lead = [draw(st.integers(1, 3)) for _ in range(ndim - 2)]
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    lim_h, lim_w = side_limit(mode, h), side_limit(mode, w)

    def side(limit):
        return draw(st.one_of(st.just(0), st.just(limit), st.integers(0, limit)))

    if draw(st.booleans()):
        padding = side(min(lim_h, lim_w))
    else:
        padding = (side(lim_w), side(lim_w), side(lim_h), side(lim_h))
    dtype = draw(st.sampled_from(DTYPES))
    value = draw(st.sampled_from([0.0, 1.5, -2.0])) if mode == "zeros" else 0.0
    x = randn(*lead, h, w, seed=draw(st.integers(0, 2**16)), dtype=dtype)
    return x, padding, mode, value


class TestPad2d:
    @pytest.mark.points(3)
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(case=pad_cases())
    def test_matches_F_pad_random(self, student, case):
        """equals F.pad on random 2-D to 5-D inputs, every mode, int and 4-tuple padding"""
        x, padding, mode, value = case
        expected = torch_pad(x, as_four(padding), mode, value)
        kwargs = {"mode": mode} if mode != "zeros" or value == 0.0 else {"mode": mode, "value": value}
        got = student.pad2d(x, padding, **kwargs)
        assert_same(got, expected, mistakes=lambda: pad_mistakes(x, padding, mode, value))

    @pytest.mark.points(2)
    @pytest.mark.parametrize("mode", MODES)
    def test_padding_at_the_limit(self, student, mode):
        """padding as large as the mode allows on every side (reflect size-1, circular size)"""
        x = randn(2, 4, 6, seed=3, dtype=torch.float64)
        h, w = x.shape[-2:]
        padding = (side_limit(mode, w), side_limit(mode, w), side_limit(mode, h), side_limit(mode, h))
        got = student.pad2d(x, padding, mode=mode)
        assert_same(got, torch_pad(x, padding, mode), mistakes=lambda: pad_mistakes(x, padding, mode, 0.0))

    @pytest.mark.points(1)
    @pytest.mark.parametrize("mode", MODES)
    def test_some_sides_not_padded(self, student, mode):
        """zero padding on some sides pads only the others"""
        x = randn(3, 1, 5, seed=4)  # H = 1: reflect cannot pad top or bottom, but 0 is fine
        padding = (0, 2, 0, 0) if mode == "reflect" else (0, 2, 1, 0)
        got = student.pad2d(x, padding, mode=mode)
        assert_same(got, torch_pad(x, padding, mode), mistakes=lambda: pad_mistakes(x, padding, mode, 0.0))

    @pytest.mark.points(1)
    @pytest.mark.parametrize("mode", MODES)
    def test_keeps_float64(self, student, mode):
        """float64 in, float64 out, with float64 accuracy"""
        x = randn(2, 5, 4, seed=5, dtype=torch.float64)
        got = student.pad2d(x, (1, 2, 2, 1), mode=mode)
        assert_same(got, torch_pad(x, (1, 2, 2, 1), mode))

    @pytest.mark.points(1)
    def test_zero_padding_returns_the_input_values(self, student):
        """padding 0 returns the same values and shape"""
        x = randn(2, 3, 4, seed=6)
        for mode in MODES:
            assert_same(student.pad2d(x, 0, mode=mode), x)

    @pytest.mark.points(1)
    @pytest.mark.parametrize("mode", MODES)
    def test_negative_padding_is_an_error(self, student, mode):
        """negative padding raises ValueError naming `padding`, in every mode"""
        with expect_error(ValueError, mentions="padding"):
            student.pad2d(randn(4, 4), (0, 0, -1, 1), mode=mode)

    @pytest.mark.points(1)
    def test_negative_int_padding_is_an_error(self, student):
        """a negative int padding raises ValueError naming `padding`"""
        with expect_error(ValueError, mentions="padding"):
            student.pad2d(randn(4, 4), -1)

    @pytest.mark.points(1)
    @pytest.mark.parametrize("padding", [(0, 0, 3, 0), (0, 5, 0, 0), 3])
    def test_reflect_too_large_is_an_error(self, student, padding):
        """reflect padding >= the size of the padded dimension raises ValueError naming `padding`"""
        with expect_error(ValueError, mentions="padding"):
            student.pad2d(randn(2, 3, 5), padding, mode="reflect")

    @pytest.mark.points(1)
    @pytest.mark.parametrize("padding", [(0, 0, 4, 0), (6, 0, 0, 0), 4])
    def test_circular_too_large_is_an_error(self, student, padding):
        """circular padding > the size of the padded dimension raises ValueError naming `padding`"""
        with expect_error(ValueError, mentions="padding"):
            student.pad2d(randn(2, 3, 5), padding, mode="circular")

    @pytest.mark.points(1)
    def test_unknown_mode_is_an_error(self, student):
        """an unknown mode raises ValueError naming `mode`"""
        with expect_error(ValueError, mentions="mode"):
            student.pad2d(randn(3, 3), 1, mode="symmetric")

    @pytest.mark.points(1)
    @pytest.mark.parametrize("padding", [(1, 1), (1, 1, 1), (1, 1, 1, 1, 1)])
    def test_wrong_padding_length_is_an_error(self, student, padding):
        """padding that is not an int or 4 values raises ValueError naming `padding`"""
        with expect_error(ValueError, mentions="padding"):
            student.pad2d(randn(3, 3), padding)

    @pytest.mark.points(1)
    def test_padding_of_wrong_type_is_an_error(self, student):
        """a float padding raises TypeError naming `padding`"""
        with expect_error(TypeError, mentions="padding"):
            student.pad2d(randn(3, 3), 1.5)

    @pytest.mark.points(1)
    def test_one_dimensional_input_is_an_error(self, student):
        """an input with fewer than 2 dimensions raises ValueError naming `input`"""
        with expect_error(ValueError, mentions="input"):
            student.pad2d(randn(5), 1)


def same_of_pytorch(kernel_size, dilation):
    """The (left, right, top, bottom) padding nn.Conv2d(padding="same") uses."""
    conv = torch.nn.Conv2d(1, 1, kernel_size, padding="same", dilation=dilation, device="meta")
    return tuple(int(p) for p in conv._reversed_padding_repeated_twice)


def _int_or_pair(low, high):
    return st.one_of(st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high)))


def _hw(value):
    return (value, value) if isinstance(value, int) else value


def same_mistakes(kernel_size, dilation):
    """What the known mistakes of same_padding would return."""
    (kh, kw), (dh, dw) = _hw(kernel_size), _hw(dilation)
    th, tw = dh * (kh - 1), dw * (kw - 1)
    return {
        mistakes.EXTRA_PIXEL_BEFORE: (tw - tw // 2, tw // 2, th - th // 2, th // 2),
        mistakes.DILATION_IGNORED: same_of_pytorch(kernel_size, 1),
        mistakes.SIDES_SWAPPED: (th // 2, th - th // 2, tw // 2, tw - tw // 2),
    }


class TestSamePadding:
    @pytest.mark.points(2)
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(kernel_size=_int_or_pair(1, 8), dilation=_int_or_pair(1, 3))
    def test_matches_nn_conv2d_same(self, student, kernel_size, dilation):
        """equals the padding nn.Conv2d(padding="same", dilation=...) uses, ints and pairs"""
        got = student.same_padding(kernel_size, dilation=dilation)
        assert_same(got, same_of_pytorch(kernel_size, dilation), mistakes=lambda: same_mistakes(kernel_size, dilation))

    @pytest.mark.points(2)
    @pytest.mark.parametrize(
        "kernel_size, dilation", [(4, 1), ((2, 5), (3, 1)), (3, 2), ((4, 1), (2, 3)), ((6, 3), 1)]
    )
    def test_gives_the_output_of_padding_same(self, student, kernel_size, dilation):
        """F.conv2d on the input padded this way equals F.conv2d(padding="same")"""
        kh, kw = _hw(kernel_size)
        x = randn(1, 2, 9, 8, seed=7, dtype=torch.float64)
        w = randn(3, 2, kh, kw, seed=8, dtype=torch.float64)
        expected = F.conv2d(x, w, padding="same", dilation=dilation)
        pads = student.same_padding(kernel_size, dilation)
        assert_same(pads, same_of_pytorch(kernel_size, dilation), mistakes=lambda: same_mistakes(kernel_size, dilation))
        assert_same(F.conv2d(F.pad(x, pads), w, dilation=dilation), expected)

    @pytest.mark.points(1)
    def test_non_square_kernel_by_hand(self, student):
        """kernel (4, 1): (0, 0, 1, 2), the width needs no padding"""
        assert_same(student.same_padding((4, 1)), (0, 0, 1, 2))

    @pytest.mark.points(1)
    def test_dilation_by_hand(self, student):
        """kernel 3 with dilation 2 spans 5 pixels: (2, 2, 2, 2)"""
        assert_same(student.same_padding(3, dilation=2), (2, 2, 2, 2),
                    mistakes=lambda: {mistakes.DILATION_IGNORED: (1, 1, 1, 1)})

    @pytest.mark.points(1)
    @pytest.mark.parametrize("kernel_size", [0, (3, 0)])
    def test_kernel_size_below_one_is_an_error(self, student, kernel_size):
        """a kernel size below 1 raises ValueError naming `kernel_size`"""
        with expect_error(ValueError, mentions="kernel_size"):
            student.same_padding(kernel_size)

    @pytest.mark.points(1)
    def test_dilation_below_one_is_an_error(self, student):
        """a dilation below 1 raises ValueError naming `dilation`"""
        with expect_error(ValueError, mentions="dilation"):
            student.same_padding(3, dilation=0)

    @pytest.mark.points(1)
    def test_wrong_pair_length_is_an_error(self, student):
        """a kernel_size of 3 values raises ValueError naming `kernel_size`"""
        with expect_error(ValueError, mentions="kernel_size"):
            student.same_padding((3, 3, 3))

    @pytest.mark.points(1)
    def test_float_kernel_size_is_an_error(self, student):
        """a float kernel_size raises TypeError naming `kernel_size`"""
        with expect_error(TypeError, mentions="kernel_size"):
            student.same_padding(3.0)


def nn_conv_same(x, weight, bias, mode):
    """nn.Conv2d(padding="same", padding_mode=mode) with these weights, in x's dtype."""
    c_out, c_in, kh, kw = weight.shape
    conv = torch.nn.Conv2d(c_in, c_out, (kh, kw), padding="same", padding_mode=mode,
                           bias=bias is not None, dtype=x.dtype)
    with torch.no_grad():
        conv.weight.copy_(weight)
        if bias is not None:
            conv.bias.copy_(bias)
        return conv(x)


def conv_mistakes(x, weight, bias, mode):
    """What the known mistakes of conv2d_same would return."""
    kh, kw = weight.shape[-2:]
    th, tw = kh - 1, kw - 1
    right_pads = (tw // 2, tw - tw // 2, th // 2, th - th // 2)
    found = {}
    candidates = {
        mistakes.FLIPPED_KERNEL: lambda: F.conv2d(torch_pad(x, right_pads, mode), weight.flip(-1, -2), bias),
        mistakes.EXTRA_PIXEL_BEFORE: lambda: F.conv2d(torch_pad(x, (tw - tw // 2, tw // 2, th - th // 2, th // 2), mode), weight, bias),
    }
    if bias is not None:
        candidates[mistakes.MISSING_BIAS] = lambda: F.conv2d(torch_pad(x, right_pads, mode), weight)
    if mode != "zeros":
        candidates[mistakes.MODE_IGNORED] = lambda: F.conv2d(torch_pad(x, right_pads, "zeros"), weight, bias)
    for phrase, make in candidates.items():
        try:
            found[phrase] = make()
        except (RuntimeError, ValueError):
            pass
    return found


@st.composite
def same_cases(draw):
    """(input, weight, bias, mode): even and odd, non-square kernels; sizes valid for the mode."""
    mode = draw(st.sampled_from(MODES))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))

    def smallest(k):
        after = (k - 1) - (k - 1) // 2  # the larger side of the padding
        return {"zeros": 1, "replicate": 1, "reflect": after + 1, "circular": max(after, 1)}[mode]

    h = draw(st.integers(smallest(kh), 8))
    w = draw(st.integers(smallest(kw), 8))
    n, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**16))
    x = randn(n, c_in, h, w, seed=seed, dtype=dtype)
    weight = randn(c_out, c_in, kh, kw, seed=seed + 1, dtype=dtype)
    bias = randn(c_out, seed=seed + 2, dtype=dtype) if draw(st.booleans()) else None
    return x, weight, bias, mode


class TestConv2dSame:
    @pytest.mark.points(3)
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(case=same_cases())
    def test_matches_nn_conv2d_same_random(self, student, case):
        """equals nn.Conv2d(padding="same", padding_mode=mode) on random shapes, every mode"""
        x, weight, bias, mode = case
        got = student.conv2d_same(x, weight, bias, mode=mode)
        assert_same(got, nn_conv_same(x, weight, bias, mode), mistakes=lambda: conv_mistakes(x, weight, bias, mode))

    @pytest.mark.points(1)
    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("kernel", [(2, 2), (4, 3), (1, 4)])
    def test_even_and_non_square_kernels(self, student, mode, kernel):
        """even and non-square kernels: the extra pixel of padding goes right / bottom"""
        x = randn(2, 2, 5, 6, seed=9, dtype=torch.float64)
        weight = randn(3, 2, *kernel, seed=10, dtype=torch.float64)
        bias = randn(3, seed=11, dtype=torch.float64)
        got = student.conv2d_same(x, weight, bias, mode=mode)
        assert_same(got, nn_conv_same(x, weight, bias, mode), mistakes=lambda: conv_mistakes(x, weight, bias, mode))

    @pytest.mark.points(1)
    @pytest.mark.parametrize("mode", MODES)
    def test_one_by_one_kernel(self, student, mode):
        """a 1x1 kernel needs no padding: equals F.conv2d"""
        x = randn(2, 3, 4, 5, seed=12)
        weight, bias = randn(2, 3, 1, 1, seed=13), randn(2, seed=14)
        got = student.conv2d_same(x, weight, bias, mode=mode)
        assert_same(got, F.conv2d(x, weight, bias), mistakes=lambda: conv_mistakes(x, weight, bias, mode))

    @pytest.mark.points(1)
    @pytest.mark.parametrize("mode", MODES)
    def test_without_bias_float64(self, student, mode):
        """no bias, float64: keeps the dtype and float64 accuracy"""
        x = randn(1, 2, 6, 4, seed=15, dtype=torch.float64)
        weight = randn(2, 2, 3, 3, seed=16, dtype=torch.float64)
        got = student.conv2d_same(x, weight, mode=mode)
        assert_same(got, nn_conv_same(x, weight, None, mode), mistakes=lambda: conv_mistakes(x, weight, None, mode))

    @pytest.mark.points(1)
    def test_kernel_larger_than_the_image_zeros(self, student):
        """zeros mode: a kernel larger than the image still keeps H and W"""
        x = randn(1, 1, 2, 3, seed=17)
        weight, bias = randn(2, 1, 5, 4, seed=18), randn(2, seed=19)
        got = student.conv2d_same(x, weight, bias)
        assert_same(got, nn_conv_same(x, weight, bias, "zeros"), mistakes=lambda: conv_mistakes(x, weight, bias, "zeros"))

    @pytest.mark.points(1)
    def test_weight_used_in_the_input_dtype(self, student):
        """a float32 weight on a float64 input gives a float64 result"""
        x = randn(1, 2, 5, 5, seed=20, dtype=torch.float64)
        weight, bias = randn(3, 2, 3, 3, seed=21), randn(3, seed=22)
        got = student.conv2d_same(x, weight, bias, mode="reflect")
        assert_same(got, nn_conv_same(x, weight.double(), bias.double(), "reflect"))

    @pytest.mark.points(1)
    def test_unknown_mode_is_an_error(self, student):
        """an unknown mode raises ValueError naming `mode`"""
        with expect_error(ValueError, mentions="mode"):
            student.conv2d_same(randn(1, 1, 4, 4), randn(1, 1, 3, 3), mode="symmetric")

    @pytest.mark.points(1)
    def test_reflect_padding_too_large_is_an_error(self, student):
        """reflect padding that does not fit the image raises ValueError naming `padding`"""
        with expect_error(ValueError, mentions="padding"):
            student.conv2d_same(randn(1, 1, 2, 6), randn(1, 1, 5, 3), mode="reflect")

    @pytest.mark.points(1)
    def test_circular_padding_too_large_is_an_error(self, student):
        """circular padding larger than the image raises ValueError naming `padding`"""
        with expect_error(ValueError, mentions="padding"):
            student.conv2d_same(randn(1, 1, 6, 1), randn(1, 1, 3, 5), mode="circular")

    @pytest.mark.points(1)
    def test_channel_mismatch_is_an_error(self, student):
        """a weight whose C_in differs from the input's channels raises ValueError"""
        with expect_error(ValueError):
            student.conv2d_same(randn(1, 2, 4, 4), randn(1, 3, 3, 3))

    @pytest.mark.points(1)
    def test_bias_of_wrong_shape_is_an_error(self, student):
        """a bias not of shape (C_out,) raises ValueError naming `bias`"""
        with expect_error(ValueError, mentions="bias"):
            student.conv2d_same(randn(1, 2, 4, 4), randn(3, 2, 3, 3), randn(2))

    @pytest.mark.points(1)
    def test_three_dimensional_input_is_an_error(self, student):
        """an input that is not 4-D raises ValueError naming `input`"""
        with expect_error(ValueError, mentions="input"):
            student.conv2d_same(randn(2, 4, 4), randn(1, 2, 3, 3))
