"""Hidden checks for 06_stride: random shapes and settings, dtypes, edge cases, every error case."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from autograder import mistakes
from autograder.compare import assert_same, error_cases
from autograder.inputs import conv_cases, pair, randn


def same_result(a, b):
    """Whether two mistakes' results are the same."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and bool(torch.isclose(a, b, rtol=1e-6, atol=1e-8).all())
    return a == b


def unambiguous(found):
    """The mistakes whose result no other mistake gives too (a failure then names the right one)."""
    return {k: v for k, v in found.items() if not any(same_result(v, other) for j, other in found.items() if j != k)}


def conv_mistakes(got, x, w, b=None, stride=1, padding=0, dilation=1):
    """What the known mistakes would return for this call of conv2d (only those that change it).

    A student who ignores stride (or dilation), or swaps them, either returns the
    wrong sliding in full or, when the output size is right, its first Ho x Wo
    values: the windows then start at the wrong places.
    """
    w_in, b_in = w.to(x.dtype), None if b is None else b.to(x.dtype)  # the weight is used in the input's dtype
    expected = F.conv2d(x, w_in, b_in, stride, padding, dilation)
    same_size = isinstance(got, torch.Tensor) and got.shape == expected.shape

    def as_returned(full):
        return full[..., : expected.shape[-2], : expected.shape[-1]] if same_size and full is not None else full

    def conv(x=x, w=w_in, b=b_in, **changed):
        settings = {"stride": stride, "padding": padding, "dilation": dilation, **changed}
        try:
            return F.conv2d(x, w, b, **settings)
        except RuntimeError:  # the kernel does not fit
            return None

    found = {mistakes.FLIPPED_KERNEL: conv(w=w_in.flip(-1, -2))}
    if pair(stride) != pair(dilation):  # windows dilation apart, taps stride apart
        found[mistakes.STRIDE_AS_DILATION] = as_returned(conv(stride=dilation, dilation=stride))
    if pair(stride) != (1, 1):
        found[mistakes.STRIDE_IGNORED] = as_returned(conv(stride=1))
    if pair(dilation) != (1, 1):
        found[mistakes.DILATION_IGNORED] = as_returned(conv(dilation=1))
    if b is not None:
        found[mistakes.MISSING_BIAS] = conv(b=None)
    if pair(padding) != (0, 0):
        found[mistakes.PADDING_PAIR_IGNORED if isinstance(padding, tuple) else mistakes.PADDING_IGNORED] = conv(padding=0)
    if x.dtype == torch.float64:  # .float() on the input
        found[mistakes.INPUT_CAST_TO_FLOAT32] = conv(x=x.float(), w=w.float(), b=None if b is None else b.float())
    elif w.dtype == torch.float64:  # the float64 weight promoted the float32 input
        found[mistakes.WEIGHT_DTYPE_KEPT] = conv(x=x.double(), w=w.double(), b=None if b is None else b.double())
    found = {k: v for k, v in found.items() if v is not None}
    plainer = [found[k] for k in (mistakes.STRIDE_IGNORED, mistakes.DILATION_IGNORED) if k in found]
    if mistakes.STRIDE_AS_DILATION in found and any(same_result(found[mistakes.STRIDE_AS_DILATION], v) for v in plainer):
        del found[mistakes.STRIDE_AS_DILATION]  # a 1x1 kernel or a single window: the plainer mistake says it all
    return unambiguous(found)


def check_conv(student, x, w, b=None, stride=1, padding=0, dilation=1):
    """The student's conv2d equals F.conv2d for this call (a weight of the other dtype used in x's dtype)."""
    got = student.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    expected = F.conv2d(x, w.to(x.dtype), None if b is None else b.to(x.dtype), stride=stride, padding=padding, dilation=dilation)
    assert_same(got, expected, mistakes=lambda: conv_mistakes(got, x, w, b, stride, padding, dilation))


def spread(w, dilation):
    """The kernel w with dilation - 1 zeros between its taps: (kh, kw) -> (dh*(kh-1)+1, dw*(kw-1)+1)."""
    dh, dw = pair(dilation)
    kh, kw = w.shape[-2:]
    out = torch.zeros(*w.shape[:-2], dh * (kh - 1) + 1, dw * (kw - 1) + 1, dtype=w.dtype)
    out[..., ::dh, ::dw] = w
    return out


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
        (mistakes.PADDING_PAIR_IGNORED if isinstance(padding, tuple) else mistakes.PADDING_IGNORED):
            meta_shape(input_shape, weight_shape, stride=stride, dilation=dilation),
        # p added once instead of on both sides
        mistakes.PADDING_ONE_SIDE: (n, c_out, (h + ph - span_h) // sh + 1, (w + pw - span_w) // sw + 1),
        # the "+ 1" for the first position left out
        mistakes.OFF_BY_ONE_LOW: (n, c_out, (h + 2 * ph - span_h) // sh, (w + 2 * pw - span_w) // sw),
        # rounded up: a window that sticks out of the padded input counted
        mistakes.NO_FLOOR: (n, c_out, -(-(h + 2 * ph - span_h) // sh) + 1, -(-(w + 2 * pw - span_w) // sw) + 1),
    }
    return unambiguous({phrase: value for phrase, value in found.items() if value is not None and value != meta_shape(
        input_shape, weight_shape, stride=stride, padding=padding, dilation=dilation)})


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
    @pytest.mark.points(8)
    @pytest.mark.category("properties")
    @given(case=conv_cases(stride=True, padding=True, dilation=True, dtypes=(torch.float32,)))
    def test_matches_F_conv2d_on_random_settings(self, student, case):
        """equals F.conv2d for random shapes, strides, paddings and dilations (ints and pairs)"""
        check_conv(student, case.input, case.weight, case.bias, **case.kwargs())

    @pytest.mark.points(4)
    @pytest.mark.category("properties")
    @given(case=conv_cases(padding=True, dilation=True, dtypes=(torch.float32,)))
    def test_dilation_spreads_the_kernel(self, student, case):
        """dilation d equals the kernel with d - 1 zeros between its taps, on random cases"""
        x, w, b = case.input, case.weight, case.bias
        got = student.conv2d(x, w, b, padding=case.padding, dilation=case.dilation)
        expected = F.conv2d(x, spread(w, case.dilation), b, padding=case.padding)
        assert_same(got, expected, mistakes=lambda: conv_mistakes(got, x, w, b, padding=case.padding, dilation=case.dilation))

    @pytest.mark.points(2)
    def test_stride_larger_than_the_kernel(self, student):
        """stride 3 with a 2x2 kernel skips pixels"""
        check_conv(student, randn(2, 2, 8, 7), randn(3, 2, 2, 2, seed=1), randn(3, seed=2), stride=3)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_1x1_kernel_with_stride(self, student):
        """a 1x1 kernel with stride 2 and padding 1"""
        check_conv(student, randn(1, 4, 5, 6), randn(2, 4, 1, 1, seed=1), stride=2, padding=1)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_1x1_kernel_with_dilation(self, student):
        """a 1x1 kernel with dilation 3 (dilation changes nothing for one tap)"""
        check_conv(student, randn(2, 3, 4, 4), randn(5, 3, 1, 1, seed=1), randn(5, seed=2), dilation=3)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_dilated_kernel_as_large_as_the_image(self, student):
        """a dilated kernel spanning the whole image gives a 1x1 output"""
        check_conv(student, randn(1, 2, 7, 5), randn(3, 2, 3, 3, seed=1), dilation=(3, 2))

    @pytest.mark.points(4)
    def test_non_square_pairs(self, student):
        """different (h, w) pairs for stride, padding and dilation on a non-square image"""
        x, w, b = randn(2, 3, 13, 8), randn(4, 3, 3, 2, seed=1), randn(4, seed=2)
        check_conv(student, x, w, b, stride=(1, 3), padding=(2, 0), dilation=(2, 1))
        check_conv(student, x, w, b, stride=(3, 2), padding=(0, 1), dilation=(1, 3))

    @pytest.mark.points(5)
    @pytest.mark.category("dtypes")
    @given(case=conv_cases(stride=True, padding=True, dilation=True), other_weight=st.booleans(), other_bias=st.booleans())
    def test_dtypes_on_random_settings(self, student, case, other_weight, other_bias):
        """float32 and float64 keep their dtype and accuracy, with a weight or bias of either float dtype (random cases)"""
        other = torch.float64 if case.input.dtype == torch.float32 else torch.float32
        w = case.weight.to(other) if other_weight else case.weight
        b = case.bias.to(other) if other_bias and case.bias is not None else case.bias
        check_conv(student, case.input, w, b, **case.kwargs())

    @pytest.mark.points(1)
    def test_stride_1_default(self, student):
        """with no settings it is the plain valid convolution"""
        check_conv(student, randn(1, 2, 6, 7), randn(3, 2, 3, 2, seed=1))

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError: a kernel larger than the padded input, a stride or dilation below 1, a negative padding pair, a 3-d input, a bias of the wrong shape"""
        x, w = randn(1, 2, 6, 6), randn(2, 2, 3, 3, seed=1)
        with error_cases(valid=lambda: student.conv2d(x, w, stride=(2, 1), padding=(1, 0), dilation=(1, 2)), expected=F.conv2d(x, w, stride=(2, 1), padding=(1, 0), dilation=(1, 2))) as case:
            with case(ValueError, case="a dilated kernel larger than the padded input"):
                student.conv2d(randn(1, 1, 5, 5), randn(1, 1, 3, 3, seed=1), dilation=3)
            with case(ValueError, mentions="stride", case="a stride pair with a 0"):
                student.conv2d(x, w, stride=(1, 0))
            with case(ValueError, mentions="padding", case="a padding pair with a negative entry"):
                student.conv2d(x, w, padding=(0, -2))
            with case(ValueError, mentions="dilation", case="a dilation of 0"):
                student.conv2d(x, w, dilation=0)
            with case(ValueError, mentions="dilation", case="a dilation pair with a 0"):
                student.conv2d(x, w, dilation=(0, 1))
            with case(ValueError, mentions="input", case="a 3-d input"):
                student.conv2d(randn(2, 6, 6), w)
            with case(ValueError, mentions="bias", case="a bias of the wrong shape"):
                student.conv2d(x, w, randn(3, seed=2))


class TestOutputShape:
    @pytest.mark.points(4)
    @pytest.mark.category("properties")
    @given(case=conv_cases(stride=True, padding=True, dilation=True), kind=st.sampled_from([tuple, list, torch.Size]))
    def test_matches_F_conv2d_on_random_settings(self, student, case, kind):
        """equals the shape F.conv2d returns for random settings (tuples, lists or torch.Size)"""
        settings = case.kwargs()
        input_shape, weight_shape = tuple(case.input.shape), tuple(case.weight.shape)
        got = student.output_shape(kind(input_shape), kind(weight_shape), **settings)
        expected = tuple(F.conv2d(case.input, case.weight, **settings).shape)
        assert_same(got, expected, mistakes=lambda: shape_mistakes(input_shape, weight_shape, **settings))

    @pytest.mark.points(4)
    @pytest.mark.category("properties")
    @given(case=shape_cases())
    def test_matches_F_conv2d_on_large_shapes(self, student, case):
        """equals F.conv2d's shape for large images, many channels and kernels up to 11x11"""
        input_shape, weight_shape, stride, padding, dilation = case
        settings = {"stride": stride, "padding": padding, "dilation": dilation}
        got = student.output_shape(input_shape, weight_shape, **settings)
        assert_same(got, meta_shape(input_shape, weight_shape, **settings),
                    mistakes=lambda: shape_mistakes(input_shape, weight_shape, **settings))

    @pytest.mark.points(1)
    @pytest.mark.category("shapes")
    def test_returns_python_ints(self, student):
        """returns a tuple of 4 Python ints, also when given torch.Size"""
        got = student.output_shape(torch.Size([2, 3, 17, 17]), torch.Size([8, 3, 3, 3]), stride=2, padding=1)
        # (17 + 2 - 2 - 1) // 2 + 1 = 9
        assert_same(got, (2, 8, 9, 9))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_1x1_image_and_kernel(self, student):
        """a 1x1 image with a 1x1 kernel gives 1x1, whatever the stride"""
        # (1 + 0 - 0 - 1) // 4 + 1 = 1
        assert_same(student.output_shape((3, 2, 1, 1), (5, 2, 1, 1), stride=4), (3, 5, 1, 1))

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError: outputs below 1, channels that differ, a stride or dilation of 0, a negative padding, an input_shape without 4 entries"""
        with error_cases(valid=lambda: student.output_shape((2, 3, 9, 7), (4, 3, 3, 2), stride=2, dilation=(1, 2)), expected=meta_shape((2, 3, 9, 7), (4, 3, 3, 2), stride=2, dilation=(1, 2))) as case:
            with case(ValueError, case="a kernel higher than the input"):
                student.output_shape((1, 1, 4, 9), (1, 1, 5, 3))
            with case(ValueError, case="a kernel wider than the input"):
                student.output_shape((1, 1, 9, 4), (1, 1, 3, 5))
            with case(ValueError, case="a dilated span of 7 on a 6x6 input"):
                student.output_shape((1, 1, 6, 6), (1, 1, 3, 3), dilation=3)
            with case(ValueError, case="a padded input of 4 for a 5x5 kernel"):
                student.output_shape((1, 1, 2, 2), (1, 1, 5, 5), padding=1, stride=2)
            with case(ValueError, mentions="channel", case="input channels that differ from weight_shape[1]"):
                student.output_shape((2, 16, 32, 32), (8, 3, 3, 3), stride=2, padding=1)
            with case(ValueError, mentions="stride", case="a stride of 0"):
                student.output_shape((1, 1, 8, 8), (1, 1, 3, 3), stride=0)
            with case(ValueError, mentions="padding", case="a padding pair with a negative entry"):
                student.output_shape((1, 1, 8, 8), (1, 1, 3, 3), padding=(1, -1))
            with case(ValueError, mentions="dilation", case="a dilation of 0"):
                student.output_shape((1, 1, 8, 8), (1, 1, 3, 3), dilation=0)
            with case(ValueError, mentions="input_shape", case="an input_shape with 3 entries"):
                student.output_shape((3, 8, 8), (1, 3, 3, 3))


class TestActivationMemory:
    @pytest.mark.points(6)
    @pytest.mark.category("properties")
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

    @pytest.mark.points(1)
    @pytest.mark.parametrize("bytes_per_element", [1, 2, 8])
    def test_bytes_per_element(self, student, bytes_per_element):
        """the element count is multiplied by bytes_per_element"""
        # input 2*3*6*6 = 216; (6 + 2 - 3) // 2 + 1 = 3: 2*5*3*3 = 90; 1x1 keeps 3x3: 2*7*3*3 = 126
        got = student.activation_memory((2, 3, 6, 6), [(5, 3, 2, 1), (7, 1, 1, 0)], bytes_per_element=bytes_per_element)
        assert_same(got, (216 + 90 + 126) * bytes_per_element, mistakes=lambda: {mistakes.ELEMENTS_NOT_BYTES: 216 + 90 + 126})

    @pytest.mark.points(2)
    def test_pairs_in_layers(self, student):
        """kernel_size, stride and padding given as (h, w) pairs"""
        # H: (9 + 2*2 - 5) // 3 + 1 = 3;  W: (6 + 0 - 1) // 1 + 1 = 6: 1*2*3*6 = 36; input 1*1*9*6 = 54
        got = student.activation_memory((1, 1, 9, 6), [(2, (5, 1), (3, 1), (2, 0))])
        # padding ignored: H (9 - 5) // 3 + 1 = 2: 1*2*2*6 = 24
        assert_same(got, (54 + 36) * 4, mistakes={mistakes.PADDING_PAIR_IGNORED: (54 + 24) * 4})

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_layers_down_to_1x1(self, student):
        """a stack that shrinks the image to exactly 1x1"""
        # 5x5 -> (5 + 2 - 3) // 2 + 1 = 3 -> (3 - 3) // 1 + 1 = 1: 1*4*3*3 = 36, 1*8*1*1 = 8; input 1*3*5*5 = 75
        assert_same(student.activation_memory((1, 3, 5, 5), [(4, 3, 2, 1), (8, 3, 1, 0)]), (75 + 36 + 8) * 4)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError: layers whose output would be below 1x1 (naming the layer), a c_out of 0"""
        with error_cases(valid=lambda: student.activation_memory((1, 3, 5, 5), [(4, 3, 2, 1), (2, 1, 1, 0)]), expected=real_memory((1, 3, 5, 5), [(4, 3, 2, 1), (2, 1, 1, 0)])) as case:
            with case(ValueError, mentions="layer", case="a first layer's kernel larger than the padded input"):
                student.activation_memory((1, 3, 5, 5), [(2, 8, 1, 1)])  # 5 + 2 < 8
            with case(ValueError, mentions="layer", case="a third layer's kernel larger than its input"):
                student.activation_memory((1, 3, 5, 5), [(4, 3, 2, 1), (4, 3, 2, 0), (4, 3, 1, 0)])  # 5 -> 3 -> 1
            with case(ValueError, mentions="layer", case="a kernel too wide"):
                student.activation_memory((1, 3, 5, 5), [(4, (1, 9), 1, 0)])
            with case(ValueError, case="a layer with c_out 0"):
                student.activation_memory((1, 3, 8, 8), [(0, 3, 1, 1)])
