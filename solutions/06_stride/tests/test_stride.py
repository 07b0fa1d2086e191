"""Visible checks for 06_stride.

Run them with `pytest` in this folder, or `convgrade check 06_stride`. Each
check compares your function with PyTorch's own (`F.conv2d` and the shapes it
returns), with a small case worked out by hand below, or with a property that
every correct answer has (those run on random cases).
"""

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


class TestConv2d:
    @pytest.mark.points(3)
    def test_stride_2_by_hand(self, student):
        """a 4x4 image, a 2x2 kernel, stride 2 (worked by hand)"""
        x = torch.arange(1.0, 17.0).reshape(1, 1, 4, 4)
        # [[ 1  2  3  4]
        #  [ 5  6  7  8]      kernel [[1 2]
        #  [ 9 10 11 12]              [3 4]]
        #  [13 14 15 16]]
        w = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
        # stride 2 uses the 4 windows that do not overlap:
        #   [[1 2] [5 6]]     -> 1*1 + 2*2 + 5*3 + 6*4     = 44
        #   [[3 4] [7 8]]     -> 3*1 + 4*2 + 7*3 + 8*4     = 64
        #   [[9 10] [13 14]]  -> 9*1 + 10*2 + 13*3 + 14*4  = 124
        #   [[11 12] [15 16]] -> 11*1 + 12*2 + 15*3 + 16*4 = 144
        expected = torch.tensor([[[[44.0, 64.0], [124.0, 144.0]]]])
        # with stride 1 every window is used: 3x3 values
        stride_1 = torch.tensor([[[[44.0, 54.0, 64.0], [84.0, 94.0, 104.0], [124.0, 134.0, 144.0]]]])
        # stride and dilation swapped: windows 1 pixel apart, their taps 2 apart,
        #   taps (0,0) (0,2) (2,0) (2,2) -> 1*1 + 3*2 + 9*3 + 11*4 = 78, then 88, 118, 128
        swapped = torch.tensor([[[[78.0, 88.0], [118.0, 128.0]]]])
        # the kernel rotated by 180 degrees, [[4 3] [2 1]]
        flipped = torch.tensor([[[[26.0, 46.0], [106.0, 126.0]]]])
        got = student.conv2d(x, w, stride=2)
        stride_ignored = stride_1[..., :2, :2] if isinstance(got, torch.Tensor) and got.shape == expected.shape else stride_1
        assert_same(got, expected, mistakes={
            mistakes.STRIDE_IGNORED: stride_ignored,
            mistakes.STRIDE_AS_DILATION: swapped,
            mistakes.FLIPPED_KERNEL: flipped,
        })

    @pytest.mark.points(4)
    def test_stride_2_padding_1_matches_F_conv2d(self, student):
        """equals F.conv2d with stride 2, padding 1 and a bias"""
        check_conv(student, randn(2, 3, 7, 6), randn(4, 3, 3, 3, seed=1), randn(4, seed=2), stride=2, padding=1)

    @pytest.mark.points(4)
    def test_dilation_2_matches_F_conv2d(self, student):
        """equals F.conv2d with dilation 2 (the 3x3 kernel spans 5x5 pixels)"""
        check_conv(student, randn(1, 2, 9, 8, seed=3), randn(3, 2, 3, 3, seed=4), dilation=2)

    @pytest.mark.points(4)
    def test_pairs_match_F_conv2d(self, student):
        """equals F.conv2d with (h, w) pairs: stride (2, 3), padding (1, 2), dilation (1, 2)"""
        # H: (11 + 2*1 - 1*(3-1) - 1) // 2 + 1 = 6;  W: (9 + 2*2 - 2*(2-1) - 1) // 3 + 1 = 4
        x, w, b = randn(2, 3, 11, 9, seed=5), randn(4, 3, 3, 2, seed=6), randn(4, seed=7)
        check_conv(student, x, w, b, stride=(2, 3), padding=(1, 2), dilation=(1, 2))

    @pytest.mark.points(3)
    @pytest.mark.category("properties")
    @given(case=conv_cases(stride=True, padding=True, dilation=True, dtypes=(torch.float32,)))
    def test_stride_keeps_every_sth_window(self, student, case):
        """stride (sh, sw) keeps every sh-th row and sw-th column of the stride-1 output, on random cases"""
        settings = case.kwargs()
        sh, sw = pair(case.stride)
        x, w, b = case.input, case.weight, case.bias
        dense = student.conv2d(x, w, b, **{**settings, "stride": 1})
        if not (isinstance(dense, torch.Tensor) and dense.dim() == 4):  # say what is wrong with the stride-1 output
            assert_same(dense, F.conv2d(x, w, b, padding=case.padding, dilation=case.dilation))
        got = student.conv2d(x, w, b, **settings)
        # window (i, j) of stride s starts where window (s*i, s*j) of stride 1 does
        assert_same(got, dense[..., ::sh, ::sw], mistakes=lambda: conv_mistakes(got, x, w, b, **settings))

    @pytest.mark.points(3)
    @pytest.mark.category("dtypes")
    def test_float64_and_a_weight_of_the_other_dtype(self, student):
        """float64 stays float64 (to float64 accuracy); a weight and bias of the other float dtype are used in the input's dtype"""
        settings = {"stride": 2, "padding": (1, 0), "dilation": (1, 2)}
        x64, w64, b64 = randn(2, 3, 8, 9, dtype=torch.float64), randn(4, 3, 3, 3, seed=1, dtype=torch.float64), randn(4, seed=2, dtype=torch.float64)
        check_conv(student, x64, w64, b64, **settings)  # float64 in, float64 out
        check_conv(student, x64.float(), w64, b64, **settings)  # float32 input, float64 weight: float32 out
        check_conv(student, x64, w64.float(), b64.float(), **settings)  # float64 input, float32 weight: float64 out

    @pytest.mark.points(2)
    @pytest.mark.category("edge")
    def test_kernel_as_large_as_the_padded_image(self, student):
        """a kernel as large as the padded image gives a 1x1 output"""
        # 5x4 padded by 1 is 7x6, the kernel's size: one window, (7 - 7) // 2 + 1 = 1
        check_conv(student, randn(2, 3, 5, 4), randn(2, 3, 7, 6, seed=1), randn(2, seed=2), stride=2, padding=1)

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError naming them: channels that differ, a negative padding, a stride of 0"""
        x, w = randn(1, 3, 6, 6), randn(2, 3, 3, 3, seed=1)
        with error_cases(valid=lambda: student.conv2d(x, w, stride=2, padding=1), expected=F.conv2d(x, w, stride=2, padding=1)) as case:
            with case(ValueError, mentions="channel", case="input channels that differ from weight.shape[1]"):
                student.conv2d(x, randn(2, 4, 3, 3, seed=1))
            with case(ValueError, mentions="padding", case="a negative padding"):
                student.conv2d(x, w, padding=-1)
            with case(ValueError, mentions="stride", case="a stride of 0"):
                student.conv2d(x, w, stride=0)


class TestOutputShape:
    @pytest.mark.points(1)
    @pytest.mark.category("shapes")
    @pytest.mark.parametrize(
        "input_shape, weight_shape, settings, expected",
        [
            # (32 + 2*1 - 1*(3-1) - 1) // 2 + 1 = 31 // 2 + 1 = 16
            ((1, 3, 32, 32), (16, 3, 3, 3), {"stride": 2, "padding": 1}, (1, 16, 16, 16)),
            # (5 + 2 - 2 - 1) // 2 + 1 = 3
            ((1, 1, 5, 5), (1, 1, 3, 3), {"stride": 2, "padding": 1}, (1, 1, 3, 3)),
            # dilation 2: the 3x3 kernel spans 5 pixels, (7 - 4 - 1) // 1 + 1 = 3
            ((4, 1, 7, 7), (2, 1, 3, 3), {"dilation": 2}, (4, 2, 3, 3)),
            # H: (10 + 0 - 1*(3-1) - 1) // 2 + 1 = 4;  W: (7 + 2 - 2*(2-1) - 1) // 1 + 1 = 7
            ((2, 3, 10, 7), (5, 3, 3, 2), {"stride": (2, 1), "padding": (0, 1), "dilation": (1, 2)}, (2, 5, 4, 7)),
        ],
    )
    def test_by_hand(self, student, input_shape, weight_shape, settings, expected):
        """(N, C_out, Ho, Wo) worked out by hand with the formula"""
        got = student.output_shape(input_shape, weight_shape, **settings)
        assert_same(got, expected)

    @pytest.mark.points(2)
    @pytest.mark.category("shapes")
    def test_matches_F_conv2d_shape(self, student):
        """equals the shape F.conv2d returns, with (h, w) pairs"""
        x, w = randn(2, 3, 9, 8), randn(4, 3, 3, 3, seed=1)
        settings = {"stride": (2, 3), "padding": (2, 1), "dilation": (2, 1)}
        expected = tuple(F.conv2d(x, w, **settings).shape)
        # H: (9 + 2*2 - 2*(3-1) - 1) // 2 + 1 = 5;  W: (8 + 2*1 - 1*(3-1) - 1) // 3 + 1 = 3
        assert_same(student.output_shape(tuple(x.shape), tuple(w.shape), **settings), expected, mistakes={
            mistakes.STRIDE_IGNORED: (2, 4, 9, 8),  # (9 + 4 - 5) // 1 + 1, (8 + 2 - 3) // 1 + 1
            mistakes.DILATION_IGNORED: (2, 4, 6, 3),  # (9 + 4 - 3) // 2 + 1, (8 + 2 - 3) // 3 + 1
            mistakes.PADDING_PAIR_IGNORED: (2, 4, 3, 2),  # (9 - 5) // 2 + 1, (8 - 3) // 3 + 1
            mistakes.PADDING_ONE_SIDE: (2, 4, 4, 3),  # (9 + 2 - 5) // 2 + 1, (8 + 1 - 3) // 3 + 1
            mistakes.OFF_BY_ONE_LOW: (2, 4, 4, 2),  # no + 1
            mistakes.NO_FLOOR: (2, 4, 5, 4),  # rounded up: ceil(8 / 2) + 1, ceil(7 / 3) + 1
        })

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @given(
        size=st.integers(1, 60), k=st.integers(1, 7), s=st.integers(1, 5), p=st.integers(0, 4), d=st.integers(1, 3),
    )
    def test_stride_divides_and_padding_adds(self, student, size, k, s, p, d):
        """stride s keeps ceil(n / s) of the n stride-1 positions; padding p adds 2p of them (random sizes)"""
        span = d * (k - 1) + 1
        size = max(size, span)  # the kernel fits the unpadded input
        shape, weight = (1, 1, size, size + 1), (1, 1, k, k)
        h1, w1 = size - span + 1, size + 1 - span + 1  # the positions at stride 1: size - span + 1
        assert_same(student.output_shape(shape, weight, dilation=d), (1, 1, h1, w1))
        # floor((n - 1) / s) + 1 = ceil(n / s): every s-th of the n positions
        assert_same(student.output_shape(shape, weight, stride=s, dilation=d), (1, 1, math.ceil(h1 / s), math.ceil(w1 / s)))
        # p zeros on both sides: 2p more positions at stride 1
        assert_same(student.output_shape(shape, weight, padding=p, dilation=d), (1, 1, h1 + 2 * p, w1 + 2 * p), mistakes={
            mistakes.PADDING_ONE_SIDE: (1, 1, h1 + p, w1 + p),
        })

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_kernel_exactly_as_large_as_the_padded_input(self, student):
        """a dilated kernel exactly as large as the padded input gives 1x1"""
        # span 2*(4-1)+1 = 7 = 5 + 2*1 in height; 3*(2-1)+1 = 4 = 4 + 0 in width
        assert_same(student.output_shape((3, 2, 5, 4), (6, 2, 4, 2), stride=5, padding=(1, 0), dilation=(2, 3)), (3, 6, 1, 1))

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """shapes that do not fit raise ValueError: channels that differ, a kernel larger than the padded input, a negative padding"""
        with error_cases(valid=lambda: student.output_shape((1, 3, 8, 8), (4, 3, 3, 3), stride=2, padding=1), expected=(1, 4, 4, 4)) as case:  # (8 + 2 - 3) // 2 + 1 = 4
            with case(ValueError, mentions="channel", case="input channels that differ from weight_shape[1]"):
                student.output_shape((1, 3, 8, 8), (4, 2, 3, 3))
            with case(ValueError, case="a kernel larger than the padded input (output below 1)"):
                student.output_shape((1, 1, 4, 4), (1, 1, 5, 5), padding=0)
            with case(ValueError, mentions="padding", case="a negative padding"):
                student.output_shape((1, 1, 8, 8), (1, 1, 3, 3), padding=-1)


class TestActivationMemory:
    @pytest.mark.points(2)
    def test_one_layer_by_hand(self, student):
        """one 1x1 layer on a (1, 3, 8, 8) input: (3*64 + 4*64) * 4 bytes"""
        # input: 1*3*8*8 = 192 elements; a 1x1 kernel, stride 1 keeps 8x8: 1*4*8*8 = 256
        # (192 + 256) * 4 bytes (float32) = 1792
        assert_same(
            student.activation_memory((1, 3, 8, 8), [(4, 1, 1, 0)]),
            1792,
            mistakes={mistakes.INPUT_NOT_COUNTED: 256 * 4, mistakes.ELEMENTS_NOT_BYTES: 192 + 256},
        )

    @pytest.mark.points(2)
    def test_stride_2_keeps_memory_under_control(self, student):
        """two 3x3 layers on a 32x32 image: stride 2 needs far less memory than stride 1"""
        # input (1, 3, 32, 32): 3072 elements
        # stride 1, padding 1: (1, 16, 32, 32) = 16384, then (1, 32, 32, 32) = 32768
        #   (3072 + 16384 + 32768) * 4 = 208896 bytes
        # stride 2, padding 1: (32 + 2 - 2 - 1) // 2 + 1 = 16: (1, 16, 16, 16) = 4096,
        #   then (16 + 2 - 2 - 1) // 2 + 1 = 8: (1, 32, 8, 8) = 2048
        #   (3072 + 4096 + 2048) * 4 = 36864 bytes
        stride_1 = student.activation_memory((1, 3, 32, 32), [(16, 3, 1, 1), (32, 3, 1, 1)])
        stride_2 = student.activation_memory((1, 3, 32, 32), [(16, 3, 2, 1), (32, 3, 2, 1)])
        assert_same(stride_1, 208896)
        assert_same(stride_2, 36864, mistakes={mistakes.STRIDE_IGNORED: 208896})

    @pytest.mark.points(2)
    def test_matches_real_activations(self, student):
        """equals the bytes of the input and of each F.conv2d output of a real stack"""
        layers = [(8, 3, 1, 1), (16, 3, 2, 1), (16, (1, 3), (1, 2), (0, 1)), (4, 5, 2, 2)]
        h = randn(2, 3, 15, 12)
        total = h.numel() * h.element_size()
        for i, (c_out, k, s, p) in enumerate(layers):
            kh, kw = (k, k) if isinstance(k, int) else k
            h = F.conv2d(h, randn(c_out, h.shape[1], kh, kw, seed=i + 1), stride=s, padding=p)
            total += h.numel() * h.element_size()
        assert_same(student.activation_memory((2, 3, 15, 12), layers), total)

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @given(
        shape=st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(2, 24), st.integers(2, 24)),
        layers=st.lists(st.tuples(st.integers(1, 8), st.sampled_from([1, 3, 5])), min_size=1, max_size=4),
    )
    def test_stride_2_uses_less_memory(self, student, shape, layers):
        """a random stack with stride 2 holds fewer bytes than the same stack with stride 1"""
        # padding k // 2 keeps the size at stride 1 ("same"), and halves it (rounded up) at stride 2
        stride_1 = [(c, k, 1, k // 2) for c, k in layers]
        stride_2 = [(c, k, 2, k // 2) for c, k in layers]
        got_1, got_2 = student.activation_memory(shape, stride_1), student.activation_memory(shape, stride_2)
        assert isinstance(got_1, int) and isinstance(got_2, int), f"expected ints, got {got_1!r:.80} and {got_2!r:.80}"
        assert got_2 < got_1, f"stride 2 should need fewer bytes than stride 1: {got_2} vs {got_1}"

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_no_layers_is_the_input(self, student):
        """with no layers only the input is held"""
        assert_same(student.activation_memory((4, 3, 10, 7), []), 4 * 3 * 10 * 7 * 4)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError: a layer whose output would be below 1x1 (naming the layer), bytes_per_element 0"""
        with error_cases(valid=lambda: student.activation_memory((1, 3, 8, 8), [(4, 3, 1, 1)]), expected=4 * (3 * 8 * 8 + 4 * 8 * 8)) as case:  # input and output, float32
            # layer 0: (4 - 3) // 2 + 1 = 1, a 1x1 output; layer 1's 3x3 kernel does not fit it
            with case(ValueError, mentions="layer", case="a layer whose output would be below 1x1"):
                student.activation_memory((1, 1, 4, 4), [(2, 3, 2, 0), (2, 3, 1, 0)])
            with case(ValueError, mentions="bytes_per_element", case="bytes_per_element 0"):
                student.activation_memory((1, 3, 8, 8), [(4, 3, 1, 1)], bytes_per_element=0)
