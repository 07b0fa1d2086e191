"""Hidden checks for 03_padding: property tests over shapes, the limits, dtypes, and every error case.

Expected values come only from PyTorch (`F.pad`, `nn.Conv2d(padding="same",
padding_mode=...)`, `F.conv2d(padding="same")`), from cases worked by hand, or
from properties. Each requirement is stated in the function's docstring and has
a visible check of the same kind.
"""

from contextlib import contextmanager

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import mistakes
from autograder.compare import assert_same, error_cases
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


def pad_mistakes(x, padding, mode, value=0.0):
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
    @pytest.mark.points(6)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(case=pad_cases())
    def test_matches_F_pad_random(self, student, case):
        """equals F.pad on random 2-D to 5-D inputs, float32 and float64, every mode, int and 4-tuple padding"""
        x, padding, mode, value = case
        expected = torch_pad(x, as_four(padding), mode, value)
        kwargs = {"mode": mode} if mode != "zeros" or value == 0.0 else {"mode": mode, "value": value}
        got = student.pad2d(x, padding, **kwargs)
        assert_same(got, expected, mistakes=lambda: pad_mistakes(x, padding, mode, value))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    @pytest.mark.parametrize("mode", MODES)
    def test_padding_at_the_limit(self, student, mode):
        """padding as large as the mode allows on every side (reflect size-1, circular size)"""
        x = randn(2, 4, 6, seed=3, dtype=torch.float64)
        h, w = x.shape[-2:]
        padding = (side_limit(mode, w), side_limit(mode, w), side_limit(mode, h), side_limit(mode, h))
        got = student.pad2d(x, padding, mode=mode)
        assert_same(got, torch_pad(x, padding, mode), mistakes=lambda: pad_mistakes(x, padding, mode, 0.0))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    @pytest.mark.parametrize("mode", MODES)
    def test_some_sides_not_padded(self, student, mode):
        """zero padding on some sides pads only the others"""
        x = randn(3, 1, 5, seed=4)  # H = 1: reflect cannot pad top or bottom, but 0 is fine
        padding = (0, 2, 0, 0) if mode == "reflect" else (0, 2, 1, 0)
        got = student.pad2d(x, padding, mode=mode)
        assert_same(got, torch_pad(x, padding, mode), mistakes=lambda: pad_mistakes(x, padding, mode, 0.0))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_zero_padding_returns_the_input_values(self, student):
        """padding 0 returns the same values and shape"""
        x = randn(2, 3, 4, seed=6)
        for mode in MODES:
            assert_same(student.pad2d(x, 0, mode=mode), x)

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 in, float64 out, with float64 accuracy, on a 4-D batch in every mode"""
        x = randn(2, 2, 5, 4, seed=5, dtype=torch.float64)
        padding = (2, 1, 1, 3)
        for mode in MODES:
            got = student.pad2d(x, padding, mode=mode)
            assert_same(got, torch_pad(x, padding, mode), mistakes=lambda: pad_mistakes(x, padding, mode, 0.0))

    @pytest.mark.points(1)
    @pytest.mark.category("values")
    def test_value_in_float64(self, student):
        """zeros mode fills a float64 border with `value` exactly"""
        x = randn(2, 3, 3, seed=7, dtype=torch.float64)
        value = 1 / 3  # not a float32 number: a float32 border would be off in the 8th digit
        got = student.pad2d(x, (1, 0, 2, 1), value=value)
        assert_same(got, torch_pad(x, (1, 0, 2, 1), "zeros", value), mistakes=lambda: pad_mistakes(x, (1, 0, 2, 1), "zeros", value))

    @pytest.mark.points(3)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError or TypeError naming the argument, every case in the docstring"""
        x = randn(2, 3, 5)  # H = 3, W = 5
        with error_cases(valid=lambda: student.pad2d(x, (1, 1, 2, 0), mode="reflect"), expected=torch_pad(x, (1, 1, 2, 0), "reflect")) as case:
            for mode in MODES:
                with case(ValueError, mentions="padding", case=f"negative padding in {mode!r} mode"):
                    student.pad2d(randn(4, 4), (0, 0, -1, 1), mode=mode)
            with case(ValueError, mentions="padding", case="a negative int padding"):
                student.pad2d(randn(4, 4), -1)
            for padding in [(0, 0, 3, 0), (0, 5, 0, 0), 3]:
                with case(ValueError, mentions="padding", case=f"reflect padding {padding} >= the size it pads"):
                    student.pad2d(x, padding, mode="reflect")
            for padding in [(0, 0, 4, 0), (6, 0, 0, 0), 4]:
                with case(ValueError, mentions="padding", case=f"circular padding {padding} > the size it pads"):
                    student.pad2d(x, padding, mode="circular")
            with case(ValueError, mentions="mode", case="an unknown mode"):
                student.pad2d(randn(3, 3), 1, mode="symmetric")
            for padding in [(1, 1), (1, 1, 1), (1, 1, 1, 1, 1)]:
                with case(ValueError, mentions="padding", case=f"padding of {len(padding)} values"):
                    student.pad2d(randn(3, 3), padding)
            with case(TypeError, mentions="padding", case="a float padding"):
                student.pad2d(randn(3, 3), 1.5)
            with case(ValueError, mentions="input", case="a 1-D input"):
                student.pad2d(randn(5), 1)


def same_of_pytorch(kernel_size, dilation):
    """The (left, right, top, bottom) padding nn.Conv2d(padding="same") uses."""
    conv = torch.nn.Conv2d(1, 1, kernel_size, padding="same", dilation=dilation, device="meta")
    return tuple(int(p) for p in conv._reversed_padding_repeated_twice)


def _int_or_pair(low, high):
    return st.one_of(st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high)))


def _hw(value):
    return (value, value) if isinstance(value, int) else value


def same_mistakes(kernel_size, dilation=1):
    """What the known mistakes of same_padding would return."""
    (kh, kw), (dh, dw) = _hw(kernel_size), _hw(dilation)
    th, tw = dh * (kh - 1), dw * (kw - 1)
    return {
        mistakes.EVEN_KERNEL_SYMMETRIC: (dw * (kw // 2), dw * (kw // 2), dh * (kh // 2), dh * (kh // 2)),
        mistakes.EXTRA_PIXEL_BEFORE: (tw - tw // 2, tw // 2, th - th // 2, th // 2),
        mistakes.DILATION_IGNORED: same_of_pytorch(kernel_size, 1),
        mistakes.SIDES_SWAPPED: (th // 2, th - th // 2, tw // 2, tw - tw // 2),
    }


class TestSamePadding:
    @pytest.mark.points(5)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(kernel_size=_int_or_pair(1, 8), dilation=_int_or_pair(1, 3))
    def test_matches_nn_conv2d_same(self, student, kernel_size, dilation):
        """equals the padding nn.Conv2d(padding="same", dilation=...) uses, ints and pairs"""
        got = student.same_padding(kernel_size, dilation=dilation)
        assert_same(got, same_of_pytorch(kernel_size, dilation), mistakes=lambda: same_mistakes(kernel_size, dilation))

    @pytest.mark.points(1)
    @pytest.mark.category("values")
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
    @pytest.mark.category("values")
    def test_non_square_kernel_by_hand(self, student):
        """kernel (4, 1): (0, 0, 1, 2), the width needs no padding"""
        # height: total 4 - 1 = 3 -> 1 on top, 2 at the bottom; width: total 1 - 1 = 0
        assert_same(student.same_padding((4, 1)), (0, 0, 1, 2), mistakes=same_mistakes((4, 1)))

    @pytest.mark.points(1)
    @pytest.mark.category("values")
    def test_dilation_pair_by_hand(self, student):
        """kernel (2, 3) with dilation (3, 2): (2, 2, 1, 2)"""
        # height: 3 * (2 - 1) = 3 -> 1 on top, 2 at the bottom; width: 2 * (3 - 1) = 4 -> 2 and 2
        assert_same(student.same_padding((2, 3), dilation=(3, 2)), (2, 2, 1, 2),
                    mistakes=same_mistakes((2, 3), (3, 2)))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError or TypeError naming the argument, every case in the docstring"""
        with error_cases(valid=lambda: student.same_padding(4), expected=(1, 2, 1, 2)) as case:
            for kernel_size in [0, (3, 0)]:
                with case(ValueError, mentions="kernel_size", case=f"kernel_size {kernel_size!r} below 1"):
                    student.same_padding(kernel_size)
            with case(ValueError, mentions="dilation", case="dilation (1, 0) below 1"):
                student.same_padding(3, dilation=(1, 0))
            with case(ValueError, mentions="kernel_size", case="a kernel_size of 3 values"):
                student.same_padding((3, 3, 3))
            with case(TypeError, mentions="kernel_size", case="a float kernel_size"):
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
    """What the known mistakes of conv2d_same would return (those defined for these arguments)."""
    weight = weight.to(x.dtype)
    bias = None if bias is None else bias.to(x.dtype)
    kh, kw = weight.shape[-2:]
    th, tw = kh - 1, kw - 1
    pads = (tw // 2, tw - tw // 2, th // 2, th - th // 2)
    candidates = {
        mistakes.EVEN_KERNEL_SYMMETRIC: lambda: F.conv2d(torch_pad(x, (kw // 2, kw // 2, kh // 2, kh // 2), mode), weight, bias),
        mistakes.EXTRA_PIXEL_BEFORE: lambda: F.conv2d(torch_pad(x, (tw - tw // 2, tw // 2, th - th // 2, th // 2), mode), weight, bias),
        mistakes.SIDES_SWAPPED: lambda: F.conv2d(torch_pad(x, (th // 2, th - th // 2, tw // 2, tw - tw // 2), mode), weight, bias),
        mistakes.FLIPPED_KERNEL: lambda: F.conv2d(torch_pad(x, pads, mode), weight.flip(-1, -2), bias),
    }
    if bias is not None:
        candidates[mistakes.MISSING_BIAS] = lambda: F.conv2d(torch_pad(x, pads, mode), weight)
    if mode == "reflect":
        candidates[mistakes.SYMMETRIC_NOT_REFLECT] = lambda: F.conv2d(mistakes.symmetric_pad(x, pads), weight, bias)
    if mode == "circular":
        candidates[mistakes.CIRCULAR_WRONG_END] = lambda: F.conv2d(wrong_end_circular(x, pads), weight, bias)
    if mode != "zeros":
        candidates[mistakes.MODE_IGNORED] = lambda: F.conv2d(torch_pad(x, pads, "zeros"), weight, bias)
    found = {}
    for phrase, make in candidates.items():
        try:
            found[phrase] = make()
        except (RuntimeError, ValueError, IndexError):
            pass  # that mistake is not defined for these arguments
    return found


@contextmanager
def naming_same_padding_mistakes(student, kernel_size):
    """When conv2d_same raises, say so if same_padding((kh, kw)) is wrong, and which known mistake that is."""
    try:
        yield
    except (NotImplementedError, AssertionError):
        raise  # a stub, or a failure the grader words itself
    except Exception as exc:
        correct = same_of_pytorch(kernel_size, 1)
        try:
            pads = tuple(student.same_padding(kernel_size))
        except Exception:  # noqa: BLE001 - then there is nothing to add to the student's own error
            pads = correct
        if pads != correct:
            exc.add_note(f"  same_padding({kernel_size}) returned {pads}, expected {correct}: conv2d_same pads by it")
            phrase = next((p for p, result in same_mistakes(kernel_size).items() if pads == result), None)
            if phrase:
                exc.add_note(f"  likely mistake: {phrase}")
        raise


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
    @pytest.mark.points(6)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(case=same_cases())
    def test_matches_nn_conv2d_same_random(self, student, case):
        """equals nn.Conv2d(padding="same", padding_mode=mode) on random shapes, float32 and float64, every mode"""
        x, weight, bias, mode = case
        with naming_same_padding_mistakes(student, tuple(weight.shape[-2:])):
            got = student.conv2d_same(x, weight, bias, mode=mode)
        assert_same(got, nn_conv_same(x, weight, bias, mode), mistakes=lambda: conv_mistakes(x, weight, bias, mode))

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    @pytest.mark.parametrize("mode", MODES)
    def test_even_and_non_square_kernels(self, student, mode):
        """even and non-square kernels (2x2, 4x3, 1x4): the extra pixel of padding goes right / bottom"""
        x = randn(2, 2, 5, 6, seed=9, dtype=torch.float64)
        bias = randn(3, seed=11, dtype=torch.float64)
        for kernel in [(2, 2), (4, 3), (1, 4)]:
            weight = randn(3, 2, *kernel, seed=10, dtype=torch.float64)
            with naming_same_padding_mistakes(student, kernel):
                got = student.conv2d_same(x, weight, bias, mode=mode)
            assert_same(got, nn_conv_same(x, weight, bias, mode), mistakes=lambda: conv_mistakes(x, weight, bias, mode))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_kernel_larger_than_the_image_zeros(self, student):
        """zeros mode: a kernel larger than the image still keeps H and W"""
        x = randn(1, 1, 2, 3, seed=17)
        weight, bias = randn(2, 1, 5, 4, seed=18), randn(2, seed=19)
        with naming_same_padding_mistakes(student, (5, 4)):
            got = student.conv2d_same(x, weight, bias)
        assert_same(got, nn_conv_same(x, weight, bias, "zeros"), mistakes=lambda: conv_mistakes(x, weight, bias, "zeros"))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_kernel_as_large_as_the_mode_allows(self, student):
        """the largest kernels reflect (padding size - 1) and circular (padding size) allow on a small image"""
        x = randn(1, 2, 3, 2, seed=23)
        bias = randn(2, seed=24)
        for mode, kernel in [("reflect", (5, 3)), ("circular", (5, 4))]:
            # reflect: 5 rows pad 2 and 2 < H = 3, 3 columns pad 1 and 1 < W = 2;
            # circular: 5 rows pad 2 and 2 <= 3, 4 columns pad 1 and 2 <= W = 2
            weight = randn(2, 2, *kernel, seed=25)
            with naming_same_padding_mistakes(student, kernel):
                got = student.conv2d_same(x, weight, bias, mode=mode)
            assert_same(got, nn_conv_same(x, weight, bias, mode), mistakes=lambda: conv_mistakes(x, weight, bias, mode))

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_without_bias_float64(self, student):
        """no bias, float64: keeps the dtype and float64 accuracy, in every mode"""
        x = randn(1, 2, 6, 4, seed=15, dtype=torch.float64)
        weight = randn(2, 2, 3, 3, seed=16, dtype=torch.float64)
        for mode in MODES:
            got = student.conv2d_same(x, weight, mode=mode)
            assert_same(got, nn_conv_same(x, weight, None, mode), mistakes=lambda: conv_mistakes(x, weight, None, mode))

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_weight_used_in_the_input_dtype(self, student):
        """a float32 weight and bias on a float64 input give a float64 result (no error)"""
        x = randn(1, 2, 5, 5, seed=20, dtype=torch.float64)
        weight, bias = randn(3, 2, 3, 3, seed=21), randn(3, seed=22)
        got = student.conv2d_same(x, weight, bias, mode="reflect")
        assert_same(got, nn_conv_same(x, weight.double(), bias.double(), "reflect"),
                    mistakes=lambda: conv_mistakes(x, weight, bias, "reflect"))

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError naming the argument, every case in the docstring"""
        x, w = randn(1, 2, 4, 4), randn(3, 2, 3, 3, seed=1)
        with error_cases(valid=lambda: student.conv2d_same(x, w), expected=nn_conv_same(x, w, None, "zeros")) as case:
            with case(ValueError, mentions="mode", case="an unknown mode"):
                student.conv2d_same(randn(1, 1, 4, 4), randn(1, 1, 3, 3), mode="symmetric")
            with case(ValueError, mentions="padding", case="reflect padding that does not fit the image"):
                student.conv2d_same(randn(1, 1, 2, 6), randn(1, 1, 5, 3), mode="reflect")
            with case(ValueError, mentions="padding", case="circular padding larger than the image"):
                student.conv2d_same(randn(1, 1, 6, 1), randn(1, 1, 3, 5), mode="circular")
            with case(ValueError, case="a weight whose C_in differs from the input's channels"):
                student.conv2d_same(randn(1, 2, 4, 4), randn(1, 3, 3, 3))
            with case(ValueError, mentions="bias", case="a bias not of shape (C_out,)"):
                student.conv2d_same(randn(1, 2, 4, 4), randn(3, 2, 3, 3), randn(2))
            with case(ValueError, mentions="input", case="a 3-D input"):
                student.conv2d_same(randn(2, 4, 4), randn(1, 2, 3, 3))
