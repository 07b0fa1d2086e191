"""Visible checks for 03_padding.

Run them with `pytest` in this folder, or `convgrade check 03_padding`. Each
check compares your function with PyTorch's own (`F.pad`, `nn.Conv2d`), with
a small case worked out by hand below, or with a property every correct
answer has (those draw their examples with Hypothesis, the same ones on
every run). The hidden checks grade the same things on more inputs.
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


def pad_mistakes(x, padding, mode, value=0.0):
    """What the known mistakes of pad2d would return (those defined for these arguments)."""
    left, right, top, bottom = padding
    candidates = {mistakes.SIDES_SWAPPED: lambda: torch_pad(x, (top, bottom, left, right), mode, value)}
    if mode == "reflect":
        candidates[mistakes.SYMMETRIC_NOT_REFLECT] = lambda: mistakes.symmetric_pad(x, padding)
        candidates[mistakes.REPLICATE_NOT_REFLECT] = lambda: torch_pad(x, padding, "replicate")
    if mode == "circular":
        candidates[mistakes.CIRCULAR_WRONG_END] = lambda: wrong_end_circular(x, padding)
    if mode == "zeros" and value != 0.0:
        candidates[mistakes.VALUE_IGNORED] = lambda: torch_pad(x, padding, "zeros")
    if mode != "zeros":
        candidates[mistakes.MODE_IGNORED] = lambda: torch_pad(x, padding, "zeros")
    found = {}
    for phrase, make in candidates.items():
        try:
            found[phrase] = make()
        except (RuntimeError, ValueError, IndexError):
            pass  # that mistake is not defined for these arguments
    return found


class TestPad2d:
    @pytest.mark.points(1)
    @pytest.mark.category("values")
    def test_zeros_by_hand(self, student):
        """zeros: a 2x2 image padded by 1 (worked by hand)"""
        x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
        expected = torch.tensor(
            [
                [0.0, 0.0, 0.0, 0.0],
                [0.0, 1.0, 2.0, 0.0],
                [0.0, 3.0, 4.0, 0.0],
                [0.0, 0.0, 0.0, 0.0],
            ]
        )
        assert_same(student.pad2d(x, 1), expected)

    @pytest.mark.points(1)
    @pytest.mark.category("values")
    @pytest.mark.parametrize(
        "mode, row",
        [
            # reflect: mirror about the edge pixel, which is not repeated: ... 3 2 | 1 2 3 4 | 3 2 ...
            ("reflect", [3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]),
            # replicate: the edge pixel again and again: 1 1 | 1 2 3 4 | 4 4
            ("replicate", [1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 4.0, 4.0]),
            # circular: the image wrapped around, the left border from its far (right) end: 3 4 | 1 2 3 4 | 1 2
            ("circular", [3.0, 4.0, 1.0, 2.0, 3.0, 4.0, 1.0, 2.0]),
        ],
    )
    def test_row_by_hand(self, student, mode, row):
        """the row [1 2 3 4] padded by 2 on the left and right (worked by hand)"""
        x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
        got = student.pad2d(x, (2, 2, 0, 0), mode=mode)
        assert_same(got, torch.tensor([row]), mistakes=lambda: pad_mistakes(x, (2, 2, 0, 0), mode))

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    @pytest.mark.parametrize("mode", MODES)
    def test_matches_F_pad(self, student, mode):
        """equals F.pad on a batch with different padding on each side"""
        x = randn(2, 3, 5, 7)
        padding = (1, 2, 3, 0)  # (left, right, top, bottom): the last dimension (W) first
        got = student.pad2d(x, padding, mode=mode)
        assert_same(got, torch_pad(x, padding, mode), mistakes=lambda: pad_mistakes(x, padding, mode))

    @pytest.mark.points(1)
    @pytest.mark.category("values")
    def test_value_fills_the_border(self, student):
        """zeros mode fills the border with `value`"""
        x = randn(1, 3, 4)
        got = student.pad2d(x, 2, value=-1.5)
        assert_same(got, torch_pad(x, (2, 2, 2, 2), "zeros", -1.5), mistakes=lambda: pad_mistakes(x, (2, 2, 2, 2), "zeros", -1.5))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_padding_at_the_limit_by_hand(self, student):
        """padding as large as the mode allows: reflect by size - 1, circular by size (worked by hand)"""
        x = torch.tensor([[1.0, 2.0, 3.0]])
        # reflect can show at most size - 1 = 2 pixels: [1 2 3] by 2 -> 3 2 | 1 2 3 | 2 1
        got = student.pad2d(x, (2, 2, 0, 0), mode="reflect")
        assert_same(got, torch.tensor([[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]]), mistakes=lambda: pad_mistakes(x, (2, 2, 0, 0), "reflect"))
        # circular at most size = 3: [1 2 3] by 3 -> 1 2 3 | 1 2 3 | 1 2 3
        got = student.pad2d(x, (3, 3, 0, 0), mode="circular")
        assert_same(got, torch.tensor([[1.0, 2.0, 3.0] * 3]), mistakes=lambda: pad_mistakes(x, (3, 3, 0, 0), "circular"))

    @pytest.mark.points(1)
    @pytest.mark.category("shapes")
    def test_any_number_of_leading_dimensions(self, student):
        """pads only the last two dimensions: (..., H, W) -> (..., H + top + bottom, W + left + right)"""
        padding = (2, 0, 1, 3)
        for shape in [(5, 4), (3, 5, 4), (2, 3, 5, 4), (2, 1, 3, 5, 4)]:
            x = randn(*shape, seed=1)
            got = student.pad2d(x, padding, mode="reflect")
            assert_same(got, torch_pad(x, padding, "reflect"), mistakes=lambda: pad_mistakes(x, padding, "reflect"))

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 in, float64 out, with float64 accuracy, in every mode"""
        x = randn(2, 5, 4, seed=2, dtype=torch.float64)
        padding = (1, 2, 2, 1)
        for mode in MODES:
            got = student.pad2d(x, padding, mode=mode)
            assert_same(got, torch_pad(x, padding, mode), mistakes=lambda: pad_mistakes(x, padding, mode))

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(
        mode=st.sampled_from(MODES),
        lead=st.lists(st.integers(1, 2), max_size=2),
        h=st.integers(1, 6),
        w=st.integers(1, 6),
        sides=st.tuples(*[st.integers(0, 6)] * 4),
        seed=st.integers(0, 2**16),
    )
    def test_the_input_sits_in_the_middle(self, student, mode, lead, h, w, sides, seed):
        """the result has the padded shape and holds the input unchanged in its middle (random shapes, every mode)"""
        limit = {"zeros": 6, "reflect": (w - 1, h - 1), "replicate": 6, "circular": (w, h)}[mode]
        limit_w, limit_h = limit if isinstance(limit, tuple) else (limit, limit)
        left, right, top, bottom = (min(sides[0], limit_w), min(sides[1], limit_w), min(sides[2], limit_h), min(sides[3], limit_h))
        x = randn(*lead, h, w, seed=seed)
        got = student.pad2d(x, (left, right, top, bottom), mode=mode)
        shape = (*lead, h + top + bottom, w + left + right)
        if type(got) is not torch.Tensor or tuple(got.shape) != shape:
            # not a tensor of the padded shape: say what came back (and which known mistake gives that)
            assert_same(got, torch.zeros(shape), mistakes=lambda: pad_mistakes(x, (left, right, top, bottom), mode))
        assert_same(got[..., top : top + h, left : left + w], x)

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError naming the argument: negative padding, too much reflect or circular padding, an unknown mode"""
        x = randn(3, 3)
        with error_cases(valid=lambda: student.pad2d(x, (1, 2, 0, 1)), expected=torch_pad(x, (1, 2, 0, 1), "zeros")) as case:
            with case(ValueError, mentions="padding", case="negative padding"):
                student.pad2d(randn(4, 4), (1, -1, 0, 0))
            with case(ValueError, mentions="padding", case="reflect padding as large as the image"):
                student.pad2d(randn(3, 3), 3, mode="reflect")
            with case(ValueError, mentions="padding", case="circular padding larger than the image"):
                student.pad2d(randn(3, 3), (0, 0, 4, 0), mode="circular")
            with case(ValueError, mentions="mode", case="an unknown mode"):
                student.pad2d(randn(3, 3), 1, mode="symmetric")


def same_mistakes(kernel_size, dilation=1):
    """What the known mistakes of same_padding would return."""
    (kh, kw) = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    (dh, dw) = (dilation, dilation) if isinstance(dilation, int) else dilation
    th, tw = dh * (kh - 1), dw * (kw - 1)
    return {
        mistakes.EVEN_KERNEL_SYMMETRIC: (dw * (kw // 2), dw * (kw // 2), dh * (kh // 2), dh * (kh // 2)),
        mistakes.EXTRA_PIXEL_BEFORE: (tw - tw // 2, tw // 2, th - th // 2, th // 2),
        mistakes.DILATION_IGNORED: ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2),
        mistakes.SIDES_SWAPPED: (th // 2, th - th // 2, tw // 2, tw - tw // 2),
    }


def likely(got, candidates):
    """The known mistake whose result ``got`` is, else None."""
    return next((phrase for phrase, result in candidates.items() if got == result), None)


def likely_text(phrase):
    """'; likely <short name>' and the whole phrase on a line of its own, or '' without a phrase."""
    return f"; likely {phrase.split(':')[0]}\n  likely mistake: {phrase}" if phrase else ""


class TestSamePadding:
    @pytest.mark.points(1)
    @pytest.mark.category("values")
    @pytest.mark.parametrize(
        "kernel_size, dilation, expected",
        [
            (3, 1, (1, 1, 1, 1)),  # total 2: 1 before, 1 after
            (1, 1, (0, 0, 0, 0)),  # total 0: a 1x1 kernel keeps the size as it is
            (4, 1, (1, 2, 1, 2)),  # total 3: 3 // 2 = 1 before, the other 2 after (right / bottom)
            ((3, 5), 1, (2, 2, 1, 1)),  # width 5: total 4 -> 2, 2; height 3: total 2 -> 1, 1
            (3, 2, (2, 2, 2, 2)),  # dilation 2: the taps are 2 apart, the kernel spans 5 pixels, total 4
        ],
    )
    def test_by_hand(self, student, kernel_size, dilation, expected):
        """(left, right, top, bottom) that keeps the size; an even kernel's extra pixel goes right/bottom"""
        got = student.same_padding(kernel_size, dilation)
        assert_same(got, expected, mistakes=same_mistakes(kernel_size, dilation))

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(
        kernel_size=st.one_of(st.integers(1, 8), st.tuples(st.integers(1, 8), st.integers(1, 8))),
        dilation=st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    )
    def test_padding_adds_up_to_the_kernel_span(self, student, kernel_size, dilation):
        """left + right = dw*(kw-1) and top + bottom = dh*(kh-1), the after side at most one more (ints and pairs)"""
        got = student.same_padding(kernel_size, dilation)
        call = f"same_padding({kernel_size!r}, dilation={dilation!r})"
        if type(got) not in (tuple, list) or len(got) != 4 or any(type(p) is not int for p in got):
            pytest.fail(f"{call} returned {got!r:.100}, expected a tuple of 4 ints (left, right, top, bottom)", pytrace=False)
        (kh, kw) = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        (dh, dw) = (dilation, dilation) if isinstance(dilation, int) else dilation
        left, right, top, bottom = got
        hint = likely_text(likely(tuple(got), same_mistakes(kernel_size, dilation)))
        if (left + right, top + bottom) != (dw * (kw - 1), dh * (kh - 1)):
            pytest.fail(
                f"{call} returned {tuple(got)}: left + right = {left + right} and top + bottom = {top + bottom}, "
                f"expected dw*(kw-1) = {dw * (kw - 1)} and dh*(kh-1) = {dh * (kh - 1)}{hint}",
                pytrace=False,
            )
        if right - left not in (0, 1) or bottom - top not in (0, 1):
            pytest.fail(
                f"{call} returned {tuple(got)}: split the total evenly, the extra pixel after (right / bottom){hint}",
                pytrace=False,
            )

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a kernel size or dilation below 1 raises ValueError naming the argument"""
        with error_cases(valid=lambda: student.same_padding(3), expected=(1, 1, 1, 1)) as case:
            with case(ValueError, mentions="kernel_size", case="kernel size 0"):
                student.same_padding(0)
            with case(ValueError, mentions="dilation", case="dilation 0"):
                student.same_padding(3, dilation=0)


def conv_mistakes(x, weight, bias, mode):
    """What the known mistakes of conv2d_same would return (those defined for these arguments)."""
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
        kh, kw = kernel_size
        correct = ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2)
        try:
            pads = tuple(student.same_padding(kernel_size))
        except Exception:  # noqa: BLE001 - then there is nothing to add to the student's own error
            pads = correct
        if pads != correct:
            exc.add_note(f"  same_padding({kernel_size}) returned {pads}, expected {correct}: conv2d_same pads by it")
            phrase = likely(pads, same_mistakes(kernel_size))
            if phrase:
                exc.add_note(f"  likely mistake: {phrase}")
        raise


class TestConv2dSame:
    @pytest.mark.points(2)
    @pytest.mark.category("values")
    @pytest.mark.parametrize("mode", MODES)
    def test_matches_nn_conv2d_same(self, student, mode):
        """equals nn.Conv2d(padding="same", padding_mode=mode) with the same weights"""
        conv = torch.nn.Conv2d(3, 4, 3, padding="same", padding_mode=mode)
        with torch.no_grad():
            conv.weight.copy_(randn(4, 3, 3, 3, seed=1))
            conv.bias.copy_(randn(4, seed=2))
            x = randn(2, 3, 6, 5)
            expected = conv(x)
        weight, bias = conv.weight.detach(), conv.bias.detach()
        got = student.conv2d_same(x, weight, bias, mode=mode)
        assert_same(got, expected, mistakes=lambda: conv_mistakes(x, weight, bias, mode))

    @pytest.mark.points(1)
    @pytest.mark.category("values")
    @pytest.mark.parametrize("mode", MODES)
    def test_even_kernel(self, student, mode):
        """an even 2x4 kernel: the extra pixel of padding goes right / bottom, as nn.Conv2d(padding="same")"""
        conv = torch.nn.Conv2d(2, 3, (2, 4), padding="same", padding_mode=mode)
        with torch.no_grad():
            conv.weight.copy_(randn(3, 2, 2, 4, seed=3))
            conv.bias.copy_(randn(3, seed=4))
            x = randn(2, 2, 5, 6, seed=5)
            expected = conv(x)
        weight, bias = conv.weight.detach(), conv.bias.detach()
        with naming_same_padding_mistakes(student, (2, 4)):
            got = student.conv2d_same(x, weight, bias, mode=mode)
        assert_same(got, expected, mistakes=lambda: conv_mistakes(x, weight, bias, mode))

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(
        mode=st.sampled_from(MODES),
        kh=st.integers(1, 5),
        kw=st.integers(1, 5),
        channels=st.integers(1, 3),
        extra=st.tuples(st.integers(0, 3), st.integers(0, 3)),
        seed=st.integers(0, 2**16),
    )
    def test_identity_kernel_returns_the_input(self, student, mode, kh, kw, channels, extra, seed):
        """a kernel whose only 1 is at tap ((kh-1)//2, (kw-1)//2) returns the input unchanged (random sizes, every mode)"""
        # That tap sits over the output pixel's own input pixel exactly when the padding is
        # (kw-1)//2 left and (kh-1)//2 top, so this holds for odd and even kernels alike.
        h, w = kh + extra[0], kw + extra[1]  # large enough for every mode's padding
        x = randn(1, channels, h, w, seed=seed)
        weight = torch.zeros(channels, channels, kh, kw)
        for c in range(channels):
            weight[c, c, (kh - 1) // 2, (kw - 1) // 2] = 1.0
        with naming_same_padding_mistakes(student, (kh, kw)):
            got = student.conv2d_same(x, weight, mode=mode)
        assert_same(got, x, mistakes=lambda: conv_mistakes(x, weight, None, mode))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_one_by_one_kernel(self, student):
        """a 1x1 kernel needs no padding: equals F.conv2d, in every mode"""
        x = randn(2, 3, 4, 5, seed=6)
        weight, bias = randn(2, 3, 1, 1, seed=7), randn(2, seed=8)
        for mode in MODES:
            got = student.conv2d_same(x, weight, bias, mode=mode)
            assert_same(got, F.conv2d(x, weight, bias), mistakes=lambda: conv_mistakes(x, weight, bias, mode))

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_weight_used_in_the_input_dtype(self, student):
        """a float64 weight and bias on a float32 input give a float32 result (no error)"""
        x = randn(1, 2, 5, 4, seed=9)
        weight = randn(3, 2, 3, 3, seed=10, dtype=torch.float64)
        bias = randn(3, seed=11, dtype=torch.float64)
        conv = torch.nn.Conv2d(2, 3, 3, padding="same", padding_mode="reflect")
        with torch.no_grad():
            conv.weight.copy_(weight.float())
            conv.bias.copy_(bias.float())
            expected = conv(x)
        got = student.conv2d_same(x, weight, bias, mode="reflect")
        assert_same(got, expected, mistakes=lambda: conv_mistakes(x, weight.float(), bias.float(), "reflect"))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError: an unknown mode (naming `mode`), a weight whose C_in differs from the input's"""
        x, w = randn(1, 2, 4, 4), randn(3, 2, 3, 3, seed=1)
        with error_cases(valid=lambda: student.conv2d_same(x, w), expected=F.conv2d(x, w, padding="same")) as case:
            with case(ValueError, mentions="mode", case="an unknown mode"):
                student.conv2d_same(randn(1, 1, 4, 4), randn(1, 1, 3, 3), mode="symmetric")
            with case(ValueError, case="a weight with 3 input channels on a 2-channel input"):
                student.conv2d_same(randn(1, 2, 4, 4), randn(1, 3, 3, 3))
