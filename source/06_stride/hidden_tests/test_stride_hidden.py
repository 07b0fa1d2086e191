"""Hidden checks for 06_stride: random shapes and settings, edge cases, every error case."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from autograder import mistakes
from autograder.compare import assert_same, expect_error
from autograder.inputs import conv_cases, pair, randn


def unambiguous(found):
    """The mistakes whose result no other mistake gives too (a failure then names the right one)."""
    def same(a, b):
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
            return a.shape == b.shape and bool(torch.isclose(a, b, rtol=1e-6, atol=1e-8).all())
        return a == b

    return {k: v for k, v in found.items() if not any(same(v, other) for j, other in found.items() if j != k)}


def conv_mistakes(got, x, w, b=None, stride=1, padding=0, dilation=1):
    """What the known mistakes would return for this call of conv2d (only those that change it).

    A student who ignores stride (or dilation) either returns the stride-1
    (dilation-1) result in full, or, when the output size is right, its first
    Ho x Wo values: the windows then start one pixel apart instead of `stride`.
    """
    expected = F.conv2d(x, w, b, stride, padding, dilation)
    same_size = isinstance(got, torch.Tensor) and got.shape == expected.shape

    def as_returned(full):
        return full[..., : expected.shape[-2], : expected.shape[-1]] if same_size else full

    found = {mistakes.FLIPPED_KERNEL: F.conv2d(x, w.flip(-1, -2), b, stride, padding, dilation)}
    if pair(stride) != (1, 1):
        found[mistakes.STRIDE_IGNORED] = as_returned(F.conv2d(x, w, b, 1, padding, dilation))
    if pair(dilation) != (1, 1):
        found[mistakes.DILATION_IGNORED] = as_returned(F.conv2d(x, w, b, stride, padding, 1))
    if b is not None:
        found[mistakes.MISSING_BIAS] = F.conv2d(x, w, None, stride, padding, dilation)
    if pair(padding) != (0, 0):
        try:
            found[mistakes.PADDING_IGNORED] = F.conv2d(x, w, b, stride, 0, dilation)
        except RuntimeError:  # the kernel does not fit the unpadded input
            pass
    return unambiguous(found)


def check_conv(student, x, w, b=None, stride=1, padding=0, dilation=1):
    """The student's conv2d equals F.conv2d for this call."""
    got = student.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    expected = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    assert_same(got, expected, mistakes=lambda: conv_mistakes(got, x, w, b, stride, padding, dilation))


def meta_shape(input_shape, weight_shape, **settings):
    """The shape F.conv2d returns, without computing anything (meta tensors), or None when it refuses."""
    try:
        out = F.conv2d(torch.empty(input_shape, device="meta"), torch.empty(weight_shape, device="meta"), **settings)
    except RuntimeError:
        return None
    return tuple(out.shape)


def shape_mistakes(input_shape, weight_shape, stride, padding, dilation):
    """What the known mistakes of output_shape would return (only those that change it)."""
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    n, c_out, kh, kw = input_shape[0], weight_shape[0], weight_shape[2], weight_shape[3]
    h, w = input_shape[2], input_shape[3]
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    found = {
        mistakes.STRIDE_IGNORED: meta_shape(input_shape, weight_shape, padding=padding, dilation=dilation),
        mistakes.DILATION_IGNORED: meta_shape(input_shape, weight_shape, stride=stride, padding=padding),
        mistakes.PADDING_IGNORED: meta_shape(input_shape, weight_shape, stride=stride, dilation=dilation),
        # p added once instead of on both sides
        mistakes.PADDING_ONE_SIDE: (n, c_out, (h + ph - span_h) // sh + 1, (w + pw - span_w) // sw + 1),
        # the "+ 1" for the first position left out
        mistakes.OFF_BY_ONE_LOW: (n, c_out, (h + 2 * ph - span_h) // sh, (w + 2 * pw - span_w) // sw),
        # rounded up: a window that sticks out of the padded input counted
        mistakes.NO_FLOOR: (n, c_out, -(-(h + 2 * ph - span_h) // sh) + 1, -(-(w + 2 * pw - span_w) // sw) + 1),
    }
    return unambiguous({phrase: value for phrase, value in found.items() if value is not None})


@st.composite
def shape_cases(draw):
    """Large, valid shapes and settings (ints or pairs) for output_shape; no tensor is made."""
    def int_or_pair(low, high):
        return draw(st.one_of(st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high))))

    stride, padding, dilation = int_or_pair(1, 4), int_or_pair(0, 5), int_or_pair(1, 3)
    kh, kw = draw(st.integers(1, 11)), draw(st.integers(1, 11))
    (ph, pw), (dh, dw) = pair(padding), pair(dilation)
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 300))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 300))
    n, c_in, c_out = draw(st.integers(1, 64)), draw(st.integers(1, 512)), draw(st.integers(1, 512))
    return (n, c_in, h, w), (c_out, c_in, kh, kw), stride, padding, dilation


@st.composite
def memory_cases(draw):
    """A valid (input_shape, layers, dtype) for activation_memory: every layer's output is at least 1x1."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 16)), draw(st.integers(1, 16)))
    layers = []
    current = shape
    for _ in range(draw(st.integers(0, 4))):
        _, c, h, w = current
        ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        # the kernel fits the padded input, so the layer's output is at least 1x1
        kh, kw = draw(st.integers(1, min(5, h + 2 * ph))), draw(st.integers(1, min(5, w + 2 * pw)))
        sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        c_out = draw(st.integers(1, 6))
        as_int = draw(st.booleans())
        kernel = kh if as_int and kh == kw else (kh, kw)
        stride = sh if as_int and sh == sw else (sh, sw)
        padding = ph if as_int and ph == pw else (ph, pw)
        layers.append((c_out, kernel, stride, padding))
        current = meta_shape(current, (c_out, c, kh, kw), stride=stride, padding=padding)
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    return shape, layers, dtype


def real_memory(input_shape, layers, dtype=torch.float32):
    """Bytes of the input and of every output of the stack, run with real F.conv2d calls."""
    h = randn(*input_shape, dtype=dtype)
    total = h.numel() * h.element_size()
    for i, (c_out, kernel, stride, padding) in enumerate(layers):
        h = F.conv2d(h, randn(c_out, h.shape[1], *pair(kernel), seed=i + 1, dtype=dtype), stride=stride, padding=padding)
        total += h.numel() * h.element_size()
    return total


class TestConv2d:
    @pytest.mark.points(3)
    @given(case=conv_cases(stride=True, padding=True, dilation=True))
    def test_matches_F_conv2d_on_random_settings(self, student, case):
        """equals F.conv2d for random shapes, strides, paddings and dilations (ints and pairs)"""
        check_conv(student, case.input, case.weight, case.bias, **case.kwargs())

    @pytest.mark.points(1)
    def test_stride_larger_than_the_kernel(self, student):
        """stride 3 with a 2x2 kernel skips pixels"""
        check_conv(student, randn(2, 2, 8, 7), randn(3, 2, 2, 2, seed=1), randn(3, seed=2), stride=3)

    @pytest.mark.points(1)
    def test_1x1_kernel_with_stride(self, student):
        """a 1x1 kernel with stride 2 and padding 1"""
        check_conv(student, randn(1, 4, 5, 6), randn(2, 4, 1, 1, seed=1), stride=2, padding=1)

    @pytest.mark.points(1)
    def test_1x1_kernel_with_dilation(self, student):
        """a 1x1 kernel with dilation 3 (dilation changes nothing for one tap)"""
        check_conv(student, randn(2, 3, 4, 4), randn(5, 3, 1, 1, seed=1), randn(5, seed=2), dilation=3)

    @pytest.mark.points(1)
    def test_kernel_as_large_as_the_padded_image(self, student):
        """a kernel as large as the padded image gives a 1x1 output"""
        check_conv(student, randn(2, 3, 5, 4), randn(2, 3, 7, 6, seed=1), randn(2, seed=2), stride=2, padding=1)

    @pytest.mark.points(1)
    def test_dilated_kernel_as_large_as_the_image(self, student):
        """a dilated kernel spanning the whole image gives a 1x1 output"""
        check_conv(student, randn(1, 2, 7, 5), randn(3, 2, 3, 3, seed=1), dilation=(3, 2))

    @pytest.mark.points(2)
    def test_non_square_pairs(self, student):
        """different (h, w) pairs for stride, padding and dilation on a non-square image"""
        x, w, b = randn(2, 3, 13, 8), randn(4, 3, 3, 2, seed=1), randn(4, seed=2)
        check_conv(student, x, w, b, stride=(1, 3), padding=(2, 0), dilation=(2, 1))
        check_conv(student, x, w, b, stride=(3, 2), padding=(0, 1), dilation=(1, 3))

    @pytest.mark.points(2)
    def test_float64_keeps_its_dtype(self, student):
        """float64 in, float64 out, to float64 accuracy"""
        x = randn(2, 3, 9, 10, dtype=torch.float64)
        w, b = randn(4, 3, 3, 3, seed=1, dtype=torch.float64), randn(4, seed=2, dtype=torch.float64)
        check_conv(student, x, w, b, stride=2, padding=(1, 2), dilation=(1, 2))

    @pytest.mark.points(1)
    def test_stride_1_default(self, student):
        """with no settings it is the plain valid convolution"""
        x, w = randn(1, 2, 6, 7), randn(3, 2, 3, 2, seed=1)
        check_conv(student, x, w)

    @pytest.mark.points(1)
    def test_channel_mismatch_is_an_error(self, student):
        """input channels that differ from weight's raise ValueError naming the channels"""
        with expect_error(ValueError, mentions="channel"):
            student.conv2d(randn(1, 3, 6, 6), randn(2, 4, 3, 3, seed=1))

    @pytest.mark.points(1)
    def test_kernel_larger_than_the_padded_input_is_an_error(self, student):
        """a dilated kernel larger than the padded input raises ValueError"""
        with expect_error(ValueError):
            student.conv2d(randn(1, 1, 5, 5), randn(1, 1, 3, 3, seed=1), dilation=3)

    @pytest.mark.points(1)
    @pytest.mark.parametrize(
        "setting, value",
        [("stride", 0), ("stride", (1, 0)), ("padding", -1), ("padding", (0, -2)), ("dilation", 0), ("dilation", (0, 1))],
    )
    def test_bad_setting_is_an_error(self, student, setting, value):
        """a stride or dilation below 1, or a negative padding, raises ValueError naming it"""
        with expect_error(ValueError, mentions=setting):
            student.conv2d(randn(1, 2, 6, 6), randn(2, 2, 3, 3, seed=1), **{setting: value})


class TestOutputShape:
    @pytest.mark.points(2)
    @given(case=conv_cases(stride=True, padding=True, dilation=True), kind=st.sampled_from([tuple, list, torch.Size]))
    def test_matches_F_conv2d_on_random_settings(self, student, case, kind):
        """equals the shape F.conv2d returns for random settings (tuples, lists or torch.Size)"""
        settings = case.kwargs()
        input_shape, weight_shape = tuple(case.input.shape), tuple(case.weight.shape)
        got = student.output_shape(kind(input_shape), kind(weight_shape), **settings)
        expected = tuple(F.conv2d(case.input, case.weight, **settings).shape)
        assert_same(got, expected, mistakes=lambda: shape_mistakes(input_shape, weight_shape, **settings))

    @pytest.mark.points(2)
    @given(case=shape_cases())
    def test_matches_F_conv2d_on_large_shapes(self, student, case):
        """equals F.conv2d's shape for large images, many channels and kernels up to 11x11"""
        input_shape, weight_shape, stride, padding, dilation = case
        settings = {"stride": stride, "padding": padding, "dilation": dilation}
        got = student.output_shape(input_shape, weight_shape, **settings)
        assert_same(got, meta_shape(input_shape, weight_shape, **settings),
                    mistakes=lambda: shape_mistakes(input_shape, weight_shape, **settings))

    @pytest.mark.points(1)
    def test_kernel_exactly_as_large_as_the_padded_input(self, student):
        """a dilated kernel exactly as large as the padded input gives 1x1"""
        # span 2*(4-1)+1 = 7 = 5 + 2*1 in height; 3*(2-1)+1 = 4 = 4 + 0 in width
        assert_same(student.output_shape((3, 2, 5, 4), (6, 2, 4, 2), stride=5, padding=(1, 0), dilation=(2, 3)), (3, 6, 1, 1))

    @pytest.mark.points(1)
    def test_returns_python_ints(self, student):
        """returns a tuple of 4 Python ints, also when given torch.Size"""
        got = student.output_shape(torch.Size([2, 3, 17, 17]), torch.Size([8, 3, 3, 3]), stride=2, padding=1)
        # (17 + 2 - 2 - 1) // 2 + 1 = 9
        assert_same(got, (2, 8, 9, 9))

    @pytest.mark.points(1)
    @pytest.mark.parametrize(
        "input_shape, weight_shape, settings",
        [
            ((1, 1, 4, 9), (1, 1, 5, 3), {}),  # too high
            ((1, 1, 9, 4), (1, 1, 3, 5), {}),  # too wide
            ((1, 1, 6, 6), (1, 1, 3, 3), {"dilation": 3}),  # dilated span 7 > 6
            ((1, 1, 2, 2), (1, 1, 5, 5), {"padding": 1, "stride": 2}),  # padded 4 < 5
        ],
    )
    def test_output_below_1_is_an_error(self, student, input_shape, weight_shape, settings):
        """an output height or width below 1 raises ValueError"""
        with expect_error(ValueError):
            student.output_shape(input_shape, weight_shape, **settings)

    @pytest.mark.points(1)
    def test_channel_mismatch_is_an_error(self, student):
        """input channels that differ from weight_shape[1] raise ValueError naming the channels"""
        with expect_error(ValueError, mentions="channel"):
            student.output_shape((2, 16, 32, 32), (8, 3, 3, 3), stride=2, padding=1)

    @pytest.mark.points(1)
    @pytest.mark.parametrize("setting, value", [("stride", 0), ("padding", (1, -1)), ("dilation", 0)])
    def test_bad_setting_is_an_error(self, student, setting, value):
        """a stride or dilation below 1, or a negative padding, raises ValueError naming it"""
        with expect_error(ValueError, mentions=setting):
            student.output_shape((1, 1, 8, 8), (1, 1, 3, 3), **{setting: value})

    @pytest.mark.points(1)
    def test_wrong_number_of_entries_is_an_error(self, student):
        """an input_shape without 4 entries raises ValueError naming input_shape"""
        with expect_error(ValueError, mentions="input_shape"):
            student.output_shape((3, 8, 8), (1, 3, 3, 3))


class TestActivationMemory:
    @pytest.mark.points(3)
    @given(case=memory_cases())
    def test_matches_real_activations_on_random_stacks(self, student, case):
        """equals the bytes of a random stack run with F.conv2d (float32 and float64)"""
        input_shape, layers, dtype = case
        element = torch.empty((), dtype=dtype).element_size()
        expected = real_memory(input_shape, layers, dtype)
        got = student.activation_memory(input_shape, layers, bytes_per_element=element)
        assert_same(got, expected, mistakes=lambda: {
            mistakes.INPUT_NOT_COUNTED: expected - math.prod(input_shape) * element,
            mistakes.ELEMENTS_NOT_BYTES: expected // element,
        })

    @pytest.mark.points(2)
    @given(
        shape=st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(2, 24), st.integers(2, 24)),
        layers=st.lists(st.tuples(st.integers(1, 8), st.sampled_from([1, 3, 5])), min_size=1, max_size=4),
    )
    def test_stride_2_uses_less_memory(self, student, shape, layers):
        """a stack with stride 2 holds fewer bytes than the same stack with stride 1"""
        stride_1 = [(c, k, 1, k // 2) for c, k in layers]
        stride_2 = [(c, k, 2, k // 2) for c, k in layers]
        got_1, got_2 = student.activation_memory(shape, stride_1), student.activation_memory(shape, stride_2)
        assert_same(got_1, real_memory(shape, stride_1))
        assert_same(got_2, real_memory(shape, stride_2), mistakes=lambda: {mistakes.STRIDE_IGNORED: real_memory(shape, stride_1)})
        assert got_2 < got_1, f"stride 2 should need fewer bytes than stride 1: {got_2} vs {got_1}"

    @pytest.mark.points(1)
    @pytest.mark.parametrize("bytes_per_element", [1, 2, 8])
    def test_bytes_per_element(self, student, bytes_per_element):
        """the element count is multiplied by bytes_per_element"""
        # input 2*3*6*6 = 216; (6 + 2 - 3) // 2 + 1 = 3: 2*5*3*3 = 90; 1x1 keeps 3x3: 2*7*3*3 = 126
        got = student.activation_memory((2, 3, 6, 6), [(5, 3, 2, 1), (7, 1, 1, 0)], bytes_per_element=bytes_per_element)
        assert_same(got, (216 + 90 + 126) * bytes_per_element, mistakes=lambda: {mistakes.ELEMENTS_NOT_BYTES: 216 + 90 + 126})

    @pytest.mark.points(1)
    def test_no_layers_is_the_input(self, student):
        """with no layers only the input is held"""
        assert_same(student.activation_memory((4, 3, 10, 7), []), 4 * 3 * 10 * 7 * 4)

    @pytest.mark.points(1)
    def test_pairs_in_layers(self, student):
        """kernel_size, stride and padding given as (h, w) pairs"""
        # H: (9 + 2*2 - 5) // 3 + 1 = 3;  W: (6 + 0 - 1) // 1 + 1 = 6: 1*2*3*6 = 36; input 1*1*9*6 = 54
        got = student.activation_memory((1, 1, 9, 6), [(2, (5, 1), (3, 1), (2, 0))])
        assert_same(got, (54 + 36) * 4)

    @pytest.mark.points(1)
    @pytest.mark.parametrize(
        "layers",
        [
            [(2, 8, 1, 1)],  # 5 + 2 < 8 in the first layer
            [(4, 3, 2, 1), (4, 3, 2, 0), (4, 3, 1, 0)],  # 5 -> 3 -> 1, then 3x3 on 1x1
            [(4, (1, 9), 1, 0)],  # too wide
        ],
    )
    def test_layer_output_below_1_is_an_error(self, student, layers):
        """a layer whose output would be below 1x1 raises ValueError naming the layer"""
        with expect_error(ValueError, mentions="layer"):
            student.activation_memory((1, 3, 5, 5), layers)

    @pytest.mark.points(1)
    def test_bytes_per_element_below_1_is_an_error(self, student):
        """bytes_per_element below 1 raises ValueError naming it"""
        with expect_error(ValueError, mentions="bytes_per_element"):
            student.activation_memory((1, 3, 8, 8), [(4, 3, 1, 1)], bytes_per_element=0)

    @pytest.mark.points(1)
    def test_c_out_below_1_is_an_error(self, student):
        """a layer with c_out 0 raises ValueError"""
        with expect_error(ValueError):
            student.activation_memory((1, 3, 8, 8), [(0, 3, 1, 1)])
