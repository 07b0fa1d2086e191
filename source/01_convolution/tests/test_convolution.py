"""Visible checks for 01_convolution.

Run them with `pytest` in this folder, or `convgrade check 01_convolution`. Each
check compares your function with PyTorch's `F.conv2d` (and the sizes it
returns), with a small case worked out by hand below, or, for the edge
kernels, with how any edge detector must behave on a synthetic image.
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
from autograder.student import CheckFailure, student_call_of


def torch_conv(image, kernel):
    """F.conv2d on one (H, W) image and one (kh, kw) kernel."""
    return F.conv2d(image[None, None], kernel[None, None])[0, 0]


def conv_mistakes(image, kernel):
    """What the known mistakes of conv2d_single would return."""
    expected = torch_conv(image, kernel)
    return {
        mistakes.FLIPPED_KERNEL: torch_conv(image, kernel.flip(0, 1)),
        mistakes.OFF_BY_ONE_LOW: expected[:-1, :-1],  # H - kh rows and W - kw columns: the last window left out
    }


def works_with_3x3(student):
    """Whether conv2d_single gives the right result with a 3x3 kernel, the lesson's size."""
    image, kernel = randn(5, 6, seed=98), randn(3, 3, seed=99)
    try:
        assert_same(student.conv2d_single(image, kernel), torch_conv(image, kernel))
    except NotImplementedError:
        raise
    except Exception:  # noqa: BLE001 - any failure: it does not work with 3x3 either
        return False
    return True


@contextmanager
def naming_a_3x3_window(student, kernel):
    """A failure with a kernel other than 3x3, while a 3x3 kernel works, names a window hard-coded to 3x3."""
    try:
        yield
    except NotImplementedError:
        raise
    except Exception as failure:
        if tuple(kernel.shape) == (3, 3):
            raise
        if isinstance(failure, CheckFailure):
            reason, details = failure.reason, str(failure).splitlines()[1:]
        elif student_call_of(failure) is not None:  # the student's code raised
            message = str(failure).splitlines()[0].rstrip() if str(failure) else ""
            reason, details = f"`conv2d_single` raised {type(failure).__name__}: {message}", [f"  call: {student_call_of(failure)}"]
        else:
            raise
        if not works_with_3x3(student):
            raise
        kh, kw = kernel.shape
        raise CheckFailure("\n".join([
            f"{reason}; likely {mistakes.WINDOW_3X3.split(':')[0]}",
            *details,
            f"  a {kh}x{kw} kernel fails, while a 3x3 kernel gives F.conv2d's result",
            f"  likely mistake: {mistakes.WINDOW_3X3}",
        ])) from None


def assert_conv(student, image, kernel, expected=None, known=None):
    """conv2d_single(image, kernel) equals `expected` (F.conv2d's by default), naming the known mistakes."""
    expected = torch_conv(image, kernel.to(image.dtype)) if expected is None else expected
    with naming_a_3x3_window(student, kernel):
        got = student.conv2d_single(image, kernel)
        assert_same(got, expected, mistakes=lambda: known if known is not None else conv_mistakes(image, kernel.to(image.dtype)))


@st.composite
def single_cases(draw):
    """(image, kernel): float32 images up to 6x6, non-square, and any kernel that fits."""
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    kh, kw = draw(st.integers(1, h)), draw(st.integers(1, w))
    seed = draw(st.integers(0, 2**16))
    return randn(h, w, seed=seed), randn(kh, kw, seed=seed + 1)


class TestConv2dSingle:
    @pytest.mark.points(4)
    @pytest.mark.category("values")
    def test_by_hand(self, student):
        """a 3x3 image and the 2x2 kernel [[1, 0], [0, -1]] (worked by hand)"""
        image = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
        kernel = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
        # The kernel fits at 2x2 positions; at each it takes top-left minus bottom-right:
        #   (0, 0): 1*1 + 2*0 + 4*0 + 5*(-1) = 1 - 5 = -4
        #   (0, 1): 2*1 + 3*0 + 5*0 + 6*(-1) = 2 - 6 = -4
        #   (1, 0): 4*1 + 5*0 + 7*0 + 8*(-1) = 4 - 8 = -4
        #   (1, 1): 5*1 + 6*0 + 8*0 + 9*(-1) = 5 - 9 = -4
        expected = torch.tensor([[-4.0, -4.0], [-4.0, -4.0]])
        # the kernel rotated by 180 degrees, [[-1, 0], [0, 1]], gives bottom-right minus top-left: +4
        flipped = torch.tensor([[4.0, 4.0], [4.0, 4.0]])
        # one window too few each way (H - kh = 1 row and column): only (0, 0)
        assert_conv(student, image, kernel, expected,
                    known={mistakes.FLIPPED_KERNEL: flipped, mistakes.OFF_BY_ONE_LOW: expected[:1, :1]})

    @pytest.mark.points(4)
    @pytest.mark.category("values")
    def test_non_symmetric_kernel_by_hand(self, student):
        """the kernel [[1, 2], [3, 4]] is used as is, not flipped (worked by hand)"""
        image = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
        kernel = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
        #   (0, 0): 1*1 + 2*2 + 4*3 + 5*4 = 1 + 4 + 12 + 20 = 37
        #   (0, 1): 2*1 + 3*2 + 5*3 + 6*4 = 2 + 6 + 15 + 24 = 47
        #   (1, 0): 4*1 + 5*2 + 7*3 + 8*4 = 4 + 10 + 21 + 32 = 67
        #   (1, 1): 5*1 + 6*2 + 8*3 + 9*4 = 5 + 12 + 24 + 36 = 77
        expected = torch.tensor([[37.0, 47.0], [67.0, 77.0]])
        # with the kernel rotated by 180 degrees, [[4, 3], [2, 1]]:
        #   (0, 0): 1*4 + 2*3 + 4*2 + 5*1 = 23, and each step right adds 10, each step down 30
        flipped = torch.tensor([[23.0, 33.0], [53.0, 63.0]])
        assert_conv(student, image, kernel, expected,
                    known={mistakes.FLIPPED_KERNEL: flipped, mistakes.OFF_BY_ONE_LOW: expected[:1, :1]})

    @pytest.mark.points(3)
    @pytest.mark.category("values")
    def test_matches_F_conv2d(self, student):
        """equals F.conv2d on a 5x7 image with a 2x3 kernel"""
        assert_conv(student, randn(5, 7), randn(2, 3, seed=1))

    @pytest.mark.points(2)
    @pytest.mark.category("shapes")
    def test_output_shape(self, student):
        """(H, W) by (kh, kw) gives (H - kh + 1, W - kw + 1): a 6x9 image by a 4x2 kernel gives 3x8"""
        image, kernel = randn(6, 9, seed=2), randn(4, 2, seed=3)
        with naming_a_3x3_window(student, kernel):
            got = student.conv2d_single(image, kernel)
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else got
            # 6 - 4 + 1 = 3 rows, 9 - 2 + 1 = 8 columns; (2, 7) leaves out the last window each way
            assert_same(shape, (3, 8), mistakes={mistakes.OFF_BY_ONE_LOW: (2, 7), mistakes.TRANSPOSED: (8, 3)})

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_dtypes(self, student):
        """float64 in, float64 out; a kernel of the other float dtype is used in the image's dtype"""
        image64, kernel64 = randn(6, 5, seed=4, dtype=torch.float64), randn(3, 2, seed=5, dtype=torch.float64)
        assert_conv(student, image64, kernel64)
        # a float32 kernel on a float64 image: the result is float64, the kernel cast to float64
        assert_conv(student, image64, randn(3, 2, seed=6))
        # a float64 kernel on a float32 image: the result is float32
        assert_conv(student, randn(6, 5, seed=7), randn(3, 2, seed=8, dtype=torch.float64))

    @pytest.mark.points(3)
    @pytest.mark.category("edge")
    def test_any_kernel_size(self, student):
        """not only 3x3: kernels 1x1, 1x4, 4x1, 2x2 and as large as the 5x6 image all equal F.conv2d"""
        image = randn(5, 6, seed=9)
        for seed, shape in enumerate([(3, 3), (1, 1), (1, 4), (4, 1), (2, 2), (5, 6)]):
            # the 5x6 kernel fills the image: one window, the sum of image * kernel
            assert_conv(student, image, randn(*shape, seed=10 + seed))

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(case=single_cases())
    def test_matches_F_conv2d_random(self, student, case):
        """equals F.conv2d on random image and kernel shapes (Hypothesis)"""
        image, kernel = case
        assert_conv(student, image, kernel)

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError naming them: a kernel taller than the image, a 3-d image"""
        image, kernel = randn(3, 5), randn(2, 2, seed=1)
        with error_cases(valid=lambda: student.conv2d_single(image, kernel), expected=torch_conv(image, kernel)) as case:
            with case(ValueError, mentions="kernel", case="a kernel taller than the image"):
                student.conv2d_single(randn(3, 5), randn(4, 2, seed=1))
            with case(ValueError, mentions="image", case="a 3-d image"):
                student.conv2d_single(randn(3, 4, 4), randn(2, 2, seed=1))


def size_mistakes(size, kernel_size, padding=0, stride=1, dilation=1):
    """What the known mistakes of output_size would return (formula variants)."""
    span = dilation * (kernel_size - 1) + 1
    return {
        mistakes.STRIDE_IGNORED: size + 2 * padding - span + 1,
        mistakes.PADDING_ONE_SIDE: (size + padding - span) // stride + 1,
        mistakes.DILATION_IGNORED: (size + 2 * padding - kernel_size) // stride + 1,
        mistakes.NO_FLOOR: (size + 2 * padding - span) / stride + 1,
        mistakes.OFF_BY_ONE_HIGH: (size + 2 * padding - span + 1) // stride + 1,  # the "- 1" left out
        mistakes.OFF_BY_ONE_LOW: (size + 2 * padding - span) // stride,  # the "+ 1" left out
        mistakes.ROUNDED_UP: -(-(size + 2 * padding - span) // stride) + 1,
    }


class TestOutputSize:
    @pytest.mark.points(1)
    @pytest.mark.category("values")
    @pytest.mark.parametrize(
        "size, kernel_size, settings, expected",
        [
            # floor((28 + 0 - 1*(3-1) - 1) / 1) + 1 = 25 + 1 = 26
            (28, 3, {}, 26),
            # floor((28 + 2 - 2 - 1) / 1) + 1 = 27 + 1 = 28: padding 1 keeps the size of a 3x3 conv
            (28, 3, {"padding": 1}, 28),
            # floor((28 + 2 - 2 - 1) / 2) + 1 = floor(13.5) + 1 = 14: stride 2 halves it
            (28, 3, {"padding": 1, "stride": 2}, 14),
            # dilation 2: the 3 taps span 5 pixels; floor((7 - 2*2 - 1) / 1) + 1 = 3
            (7, 3, {"dilation": 2}, 3),
            # floor((5 + 2 - 2 - 1) / 2) + 1 = 2 + 1 = 3
            (5, 3, {"padding": 1, "stride": 2}, 3),
        ],
    )
    def test_by_hand(self, student, size, kernel_size, settings, expected):
        """the output length worked out by hand with the formula"""
        got = student.output_size(size, kernel_size, **settings)
        assert_same(got, expected, mistakes=lambda: size_mistakes(size, kernel_size, **settings))

    @pytest.mark.points(1)
    @pytest.mark.category("values")
    @pytest.mark.parametrize(
        "size, kernel_size, padding, stride, dilation",
        [(32, 5, 2, 2, 1), (10, 4, 0, 3, 1), (17, 3, 3, 4, 2)],
    )
    def test_matches_F_conv2d(self, student, size, kernel_size, padding, stride, dilation):
        """equals the height of what F.conv2d returns"""
        out = F.conv2d(
            torch.zeros(1, 1, size, 1), torch.zeros(1, 1, kernel_size, 1),
            stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1),
        )
        got = student.output_size(size, kernel_size, padding=padding, stride=stride, dilation=dilation)
        assert_same(got, out.shape[2], mistakes=lambda: size_mistakes(size, kernel_size, padding, stride, dilation))

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(kernel_size=st.integers(1, 5), padding=st.integers(0, 3), dilation=st.integers(1, 3), extra=st.integers(0, 20))
    def test_padding_and_dilation_invariants(self, student, kernel_size, padding, dilation, extra):
        """padding p counts as 2p more pixels, a dilated kernel as a kernel of its span (Hypothesis)"""
        span = dilation * (kernel_size - 1) + 1
        size = max(1, span - 2 * padding) + extra
        # the plain case (no padding, no dilation) is size - kernel_size + 1
        plain = student.output_size(size + 2 * padding, span)
        assert_same(plain, size + 2 * padding - span + 1, mistakes=lambda: size_mistakes(size + 2 * padding, span))
        got = student.output_size(size, kernel_size, padding=padding, dilation=dilation)
        assert_same(got, plain, mistakes=lambda: size_mistakes(size, kernel_size, padding, 1, dilation))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    @pytest.mark.parametrize(
        "args, expected",
        [
            ((5, 5), 1),  # the kernel fills the input: one position
            ((7, 1), 7),  # a 1x1 kernel: every pixel
            ((9, 2, 0, 4), 2),  # floor((9 - 2) / 4) + 1 = 1 + 1: a stride larger than the kernel
        ],
    )
    def test_limits_by_hand(self, student, args, expected):
        """limits worked out by hand: a kernel as large as the input, a 1x1 kernel, a stride larger than the kernel"""
        names = ("size", "kernel_size", "padding", "stride", "dilation")
        got = student.output_size(*args)
        assert_same(got, expected, mistakes=lambda: size_mistakes(**dict(zip(names, args))))

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """an empty output (size 2, kernel_size 3) and stride 0 raise ValueError, naming `stride`"""
        with error_cases(valid=lambda: student.output_size(28, 3, stride=2), expected=13) as case:  # (28 - 3) // 2 + 1
            with case(ValueError, case="size 2 with kernel_size 3, an empty output"):
                student.output_size(2, 3)
            with case(ValueError, mentions="stride", case="stride 0"):
                student.output_size(28, 3, stride=0)


# The edge kernels: any kernel that behaves like an edge detector passes. Their
# responses are measured with F.conv2d on synthetic 8x8 images, in float64.
SIZE = 8


def checked_kernel(kernel, name):
    """The kernel in float64, after checking it is a (3, 3) floating-point tensor."""
    if not isinstance(kernel, torch.Tensor):
        raise AssertionError(f"{name}() returned {type(kernel).__name__}, expected a torch.Tensor")
    if tuple(kernel.shape) != (3, 3):
        raise AssertionError(f"{name}() must return a (3, 3) tensor, got shape {tuple(kernel.shape)}")
    if not kernel.is_floating_point():
        raise AssertionError(f"{name}() returned a {kernel.dtype} tensor, expected floating point")
    return kernel.detach().to(torch.float64)


def response(kernel, image):
    """F.conv2d of a (H, W) float64 image by the (3, 3) kernel: (H - 2, W - 2)."""
    return F.conv2d(image[None, None], kernel[None, None])[0, 0]


def top_edge_image():
    """Rows 0-3 dark (0), rows 4-7 bright (1)."""
    image = torch.zeros(SIZE, SIZE, dtype=torch.float64)
    image[SIZE // 2 :] = 1.0
    return image


def check_edge_response(kernel, out, name, direction, across_columns=False):
    """Fail unless the windows that straddle the edge (output lines 2 and 3, along the
    edge) respond strongly and positively, and clearly more than every other window.

    The edge lies between lines 3 and 4 of the image: rows for a top edge, columns
    (``across_columns``) for a left edge.
    """
    lines = out.T if across_columns else out
    edge = SIZE // 2  # the first bright line
    along = lines[edge - 2 : edge]  # the two output lines whose windows hold both sides
    away = torch.cat([lines[: edge - 2], lines[edge:]])
    strength = along.max(dim=0).values  # the best response across the edge, at each position along it
    opposite = -along.min(dim=0).values
    strong = 0.25 * kernel.abs().sum().item()  # half of the largest response a zero-sum kernel can give
    shown = "\n  responses (the output of F.conv2d):\n" + "\n".join(
        "    " + " ".join(f"{v:7.3g}" for v in row) for row in out.tolist()
    )
    if strength.max().item() <= 0 and opposite.min().item() > strong:
        raise AssertionError(
            f"{name}() responds negatively to a {direction} edge: it detects the opposite edge; "
            f"swap the signs (F.conv2d does not flip the kernel){shown}"
        )
    if not strength.min().item() > strong:
        raise AssertionError(
            f"{name}() does not respond strongly to a {direction} edge: the response along the edge "
            f"is {strength.min().item():.3g}, expected above {strong:.3g} (a quarter of sum |kernel|){shown}"
        )
    if not strength.min().item() > 2 * away.abs().max().item():
        raise AssertionError(
            f"{name}() responds about as much away from the edge ({away.abs().max().item():.3g}) "
            f"as along it ({strength.min().item():.3g}){shown}"
        )


def check_no_response(out, name, what):
    worst = out.abs().max().item()
    if worst > 1e-6:
        raise AssertionError(f"{name}() responds to {what}: up to {worst:.3g}, expected 0 (within 1e-6)")


class TestTopEdgeKernel:
    @pytest.mark.points(1)
    @pytest.mark.category("shapes")
    def test_shape(self, student):
        """a (3, 3) floating-point tensor"""
        checked_kernel(student.top_edge_kernel(), "top_edge_kernel")

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_responds_to_a_top_edge(self, student):
        """dark above, bright below: strongly positive along the edge, more than anywhere else"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        check_edge_response(kernel, response(kernel, top_edge_image()), "top_edge_kernel", "top (dark above, bright below)")

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    def test_zero_on_constant_images(self, student):
        """0 on constant images (the weights sum to 0)"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        for value in (1.0, -2.0, 0.5, 7.0):
            out = response(kernel, torch.full((SIZE, SIZE), value, dtype=torch.float64))
            check_no_response(out / max(1.0, abs(value)), "top_edge_kernel", f"a constant image of {value}")

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    def test_no_response_to_a_vertical_edge(self, student):
        """no response to a vertical edge (dark left, bright right)"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        check_no_response(response(kernel, top_edge_image().T), "top_edge_kernel", "a vertical edge (dark left, bright right)")


class TestLeftEdgeKernel:
    @pytest.mark.points(1)
    @pytest.mark.category("shapes")
    def test_shape(self, student):
        """a (3, 3) floating-point tensor"""
        checked_kernel(student.left_edge_kernel(), "left_edge_kernel")

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_responds_to_a_left_edge(self, student):
        """dark left, bright right: strongly positive along the edge, more than anywhere else"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        out = response(kernel, top_edge_image().T)  # columns 0-3 dark, 4-7 bright
        check_edge_response(kernel, out, "left_edge_kernel", "left (dark left, bright right)", across_columns=True)

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    def test_zero_on_constant_images(self, student):
        """0 on constant images (the weights sum to 0)"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        for value in (1.0, -2.0, 0.5, 7.0):
            out = response(kernel, torch.full((SIZE, SIZE), value, dtype=torch.float64))
            check_no_response(out / max(1.0, abs(value)), "left_edge_kernel", f"a constant image of {value}")

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    def test_not_a_top_edge_kernel(self, student):
        """"not top-edge!": no response to a horizontal edge (dark above, bright below)"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        check_no_response(response(kernel, top_edge_image()), "left_edge_kernel", "a horizontal edge (dark above, bright below)")
