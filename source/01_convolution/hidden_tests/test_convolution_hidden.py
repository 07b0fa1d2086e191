"""Hidden checks for 01_convolution: property tests over shapes, the limits, and every error case.

Expected values come only from PyTorch (`F.conv2d` and the sizes it returns),
from cases worked out by hand, or, for the edge kernels, from how any edge
detector must behave on synthetic images.
"""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import mistakes
from autograder.compare import assert_same, expect_error
from autograder.inputs import randn

# A mistake this assignment can name that autograder/mistakes.py does not list.

DTYPES = (torch.float32, torch.float64)


def torch_conv(image, kernel):
    """F.conv2d on one (H, W) image and one (kh, kw) kernel."""
    return F.conv2d(image[None, None], kernel[None, None])[0, 0]


def conv_mistakes(image, kernel):
    return {mistakes.FLIPPED_KERNEL: torch_conv(image, kernel.flip(0, 1))}


@st.composite
def single_cases(draw):
    """(image, kernel): non-square images up to 8x8, any kernel that fits, float32 or float64."""
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    kh, kw = draw(st.integers(1, h)), draw(st.integers(1, w))
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**16))
    return randn(h, w, seed=seed, dtype=dtype), randn(kh, kw, seed=seed + 1, dtype=dtype)


class TestConv2dSingle:
    @pytest.mark.points(3)
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(case=single_cases())
    def test_matches_F_conv2d_random(self, student, case):
        """equals F.conv2d on random shapes: non-square images and kernels, float32 and float64"""
        image, kernel = case
        assert_same(student.conv2d_single(image, kernel), torch_conv(image, kernel), mistakes=lambda: conv_mistakes(image, kernel))

    @pytest.mark.points(1)
    def test_non_square_image_and_kernel(self, student):
        """a 4x7 image and a 3x2 kernel give a 2x6 output"""
        image, kernel = randn(4, 7, seed=2), randn(3, 2, seed=3)
        assert_same(student.conv2d_single(image, kernel), torch_conv(image, kernel), mistakes=lambda: conv_mistakes(image, kernel))

    @pytest.mark.points(1)
    def test_kernel_as_large_as_the_image(self, student):
        """a kernel of the image's size gives one value, the sum of their product"""
        image, kernel = randn(3, 5, seed=4), randn(3, 5, seed=5)
        assert_same(student.conv2d_single(image, kernel), torch_conv(image, kernel), mistakes=lambda: conv_mistakes(image, kernel))

    @pytest.mark.points(1)
    def test_one_by_one_kernel(self, student):
        """a 1x1 kernel [[2.5]] scales the image by 2.5"""
        image = randn(4, 3, seed=6)
        assert_same(student.conv2d_single(image, torch.tensor([[2.5]])), 2.5 * image)

    @pytest.mark.points(1)
    def test_one_row_kernel_by_hand(self, student):
        """the 1x2 kernel [[-1, 1]] gives the difference of neighbours along a row (by hand)"""
        image = torch.tensor([[1.0, 4.0, 9.0], [16.0, 25.0, 36.0]])
        # each output is right neighbour minus left: 4-1, 9-4 / 25-16, 36-25
        expected = torch.tensor([[3.0, 5.0], [9.0, 11.0]])
        flipped = -expected  # [[1, -1]]: left minus right
        assert_same(student.conv2d_single(image, torch.tensor([[-1.0, 1.0]])), expected,
                    mistakes=lambda: {mistakes.FLIPPED_KERNEL: flipped})

    @pytest.mark.points(1)
    def test_keeps_float64(self, student):
        """float64 in, float64 out, with float64 accuracy"""
        image, kernel = randn(6, 5, seed=7, dtype=torch.float64), randn(3, 3, seed=8, dtype=torch.float64)
        assert_same(student.conv2d_single(image, kernel), torch_conv(image, kernel), mistakes=lambda: conv_mistakes(image, kernel))

    @pytest.mark.points(1)
    def test_image_not_2d_is_an_error(self, student):
        """an image that is not 2-d (1-d, 3-d, 4-d) raises ValueError naming `image`"""
        for shape in [(3, 4, 4), (5,), (1, 1, 4, 4)]:
            with expect_error(ValueError, mentions="image"):
                student.conv2d_single(randn(*shape), randn(2, 2, seed=1))

    @pytest.mark.points(1)
    def test_kernel_not_2d_is_an_error(self, student):
        """a kernel that is not 2-d (1-d, 3-d) raises ValueError naming `kernel`"""
        for shape in [(1, 2, 2), (2,)]:
            with expect_error(ValueError, mentions="kernel"):
                student.conv2d_single(randn(5, 5), randn(*shape, seed=1))

    @pytest.mark.points(1)
    def test_kernel_larger_than_the_image_is_an_error(self, student):
        """a kernel taller, wider, or both, than the image raises ValueError naming `kernel`"""
        for kernel_shape in [(4, 2), (2, 6), (4, 6)]:
            with expect_error(ValueError, mentions="kernel"):
                student.conv2d_single(randn(3, 5), randn(*kernel_shape, seed=1))

    @pytest.mark.points(1)
    def test_integer_image_is_an_error(self, student):
        """an integer image raises TypeError naming `image`"""
        with expect_error(TypeError, mentions="image"):
            student.conv2d_single(torch.arange(9).reshape(3, 3), randn(2, 2))

    @pytest.mark.points(1)
    def test_different_dtypes_are_an_error(self, student):
        """a float32 kernel on a float64 image raises TypeError"""
        with expect_error(TypeError):
            student.conv2d_single(randn(4, 4, dtype=torch.float64), randn(2, 2))


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


def torch_size(size, kernel_size, padding, stride, dilation):
    """The height of what F.conv2d returns for a (size, 1) input."""
    out = F.conv2d(
        torch.zeros(1, 1, size, 1), torch.zeros(1, 1, kernel_size, 1),
        stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1),
    )
    return out.shape[2]


@st.composite
def size_cases(draw):
    """(size, kernel_size, padding, stride, dilation) for which the output is not empty."""
    kernel_size, dilation = draw(st.integers(1, 7)), draw(st.integers(1, 3))
    padding, stride = draw(st.integers(0, 3)), draw(st.integers(1, 5))
    span = dilation * (kernel_size - 1) + 1
    size = draw(st.integers(max(1, span - 2 * padding), 40))
    return size, kernel_size, padding, stride, dilation


class TestOutputSize:
    @pytest.mark.points(3)
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(case=size_cases())
    def test_matches_F_conv2d_random(self, student, case):
        """equals the size F.conv2d returns, over random sizes, kernels, padding, stride and dilation"""
        size, kernel_size, padding, stride, dilation = case
        got = student.output_size(size, kernel_size, padding=padding, stride=stride, dilation=dilation)
        assert_same(got, torch_size(*case), mistakes=lambda: size_mistakes(*case))

    @pytest.mark.points(1)
    @pytest.mark.parametrize(
        "args, expected",
        [
            ((5, 5), 1),  # the kernel fills the input: one position
            ((1, 1), 1),  # a 1x1 kernel on one pixel
            ((1, 3, 1), 1),  # padding 1 makes room for a 3-kernel on a single pixel
            ((9, 2, 0, 4), 2),  # floor((9 - 2) / 4) + 1 = 1 + 1: stride larger than the kernel
            ((10, 1, 0, 3), 4),  # floor(9 / 3) + 1: pixels 0, 3, 6, 9
            ((10, 3, 2, 3, 3), 3),  # span 7, floor((10 + 4 - 7) / 3) + 1 = 2 + 1
        ],
    )
    def test_limits_by_hand(self, student, args, expected):
        """limits worked out by hand: kernel as large as the input, 1x1 kernel, stride > kernel"""
        names = ("size", "kernel_size", "padding", "stride", "dilation")
        got = student.output_size(*args)
        assert_same(got, expected, mistakes=lambda: size_mistakes(**dict(zip(names, args))))

    @pytest.mark.points(1)
    def test_keyword_arguments(self, student):
        """padding, stride and dilation can be given by name in any order"""
        got = student.output_size(size=28, dilation=2, stride=3, kernel_size=3, padding=2)
        # span 5: floor((28 + 4 - 5) / 3) + 1 = 9 + 1
        assert_same(got, 10, mistakes=lambda: size_mistakes(28, 3, 2, 3, 2))

    @pytest.mark.points(1)
    @pytest.mark.parametrize(
        "name, calls",
        [
            ("size", [(0, 1), (-3, 1)]),
            ("kernel_size", [(5, 0), (5, -1)]),
            ("padding", [(5, 3, -1)]),
            ("stride", [(5, 3, 0, 0), (5, 3, 0, -2)]),
            ("dilation", [(5, 3, 0, 1, 0)]),
        ],
    )
    def test_argument_out_of_range_is_an_error(self, student, name, calls):
        """an argument below its range raises ValueError naming it"""
        for args in calls:
            with expect_error(ValueError, mentions=name):
                student.output_size(*args)

    @pytest.mark.points(1)
    def test_empty_output_is_an_error(self, student):
        """a kernel (dilated) that does not fit in the padded input raises ValueError"""
        for args in [(2, 3), (4, 5, 0, 2), (5, 3, 0, 1, 3), (1, 4, 1)]:
            with expect_error(ValueError):
                student.output_size(*args)

    @pytest.mark.points(1)
    @pytest.mark.parametrize(
        "args, name",
        [
            ((28.0, 3), "size"),
            ((28, 3.0), "kernel_size"),
            ((28, 3, 0.5), "padding"),
            ((28, 3, 0, 2.0), "stride"),
            ((28, 3, 0, 1, "2"), "dilation"),
        ],
    )
    def test_non_int_is_an_error(self, student, args, name):
        """a float or string argument raises TypeError naming it"""
        with expect_error(TypeError, mentions=name):
            student.output_size(*args)

    @pytest.mark.points(1)
    def test_bool_is_an_error(self, student):
        """a bool is not an int: padding=True raises TypeError naming `padding`"""
        with expect_error(TypeError, mentions="padding"):
            student.output_size(28, 3, True)


# The edge kernels, measured with F.conv2d in float64 on synthetic images.


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


def step_image(h, w, edge, dark=0.0, bright=1.0):
    """Rows 0 .. edge-1 `dark`, rows edge .. h-1 `bright` (a top edge)."""
    image = torch.full((h, w), dark, dtype=torch.float64)
    image[edge:] = bright
    return image


def check_top_edge(kernel, image, edge, contrast, name, direction):
    """Fail unless the output lines whose windows straddle the edge respond strongly and
    positively, and every other output line does not respond (within 1e-6)."""
    out = response(kernel, image)
    straddling = [i for i in (edge - 2, edge - 1) if 0 <= i < out.shape[0]]
    others = [i for i in range(out.shape[0]) if i not in straddling]
    strength = out[straddling].max(dim=0).values
    strong = 0.25 * kernel.abs().sum().item() * contrast
    if strength.max().item() <= 0 and (-out[straddling].min(dim=0).values).min().item() > strong:
        raise AssertionError(
            f"{name}() responds negatively to a {direction} edge (between image lines {edge - 1} and {edge}): "
            f"it detects the opposite edge; swap the signs (F.conv2d does not flip the kernel)"
        )
    if not strength.min().item() > strong:
        raise AssertionError(
            f"{name}() does not respond strongly to a {direction} edge (between image lines {edge - 1} "
            f"and {edge}, contrast {contrast:g}): the response along it is {strength.min().item():.3g}, "
            f"expected above {strong:.3g}"
        )
    if others:
        away = out[others].abs().max().item()
        if away > 1e-6 * max(1.0, abs(image).max().item()):
            raise AssertionError(
                f"{name}() responds away from a {direction} edge (up to {away:.3g}), where the image is flat"
            )


def check_no_response(out, scale, name, what):
    worst = out.abs().max().item()
    if worst > 1e-6 * max(1.0, scale):
        raise AssertionError(f"{name}() responds to {what}: up to {worst:.3g}, expected 0 (within 1e-6)")


constants = st.floats(-100.0, 100.0, allow_nan=False, allow_infinity=False)
EDGES = range(2, 6)  # edges far enough from the border that both windows across them exist (7 lines)
CONTRASTS = [(0.2, 0.7), (-1.0, 3.0), (10.0, 10.5)]  # (dark, bright)


class TestTopEdgeKernel:
    @pytest.mark.points(1)
    def test_edge_anywhere(self, student):
        """a top edge at any row of a non-square 7x10 image, and nothing where the image is flat"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        for edge in EDGES:
            check_top_edge(kernel, step_image(7, 10, edge), edge, 1.0, "top_edge_kernel", "top")

    @pytest.mark.points(1)
    def test_any_contrast(self, student):
        """darker above than below by any amount: positive, in proportion to the contrast"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        for dark, bright in CONTRASTS:
            check_top_edge(kernel, step_image(8, 6, 4, dark, bright), 4, bright - dark, "top_edge_kernel", "top")

    @pytest.mark.points(1)
    def test_bottom_edge_is_negative(self, student):
        """bright above, dark below (the opposite edge) gives a negative response"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        out = response(kernel, step_image(8, 8, 4, dark=1.0, bright=0.0))
        assert out[2:4].min().item() < 0, "top_edge_kernel() does not respond negatively to a bottom edge (bright above)"
        assert out.max().item() < 1e-6, "top_edge_kernel() responds positively to a bottom edge (bright above, dark below)"

    @pytest.mark.points(1)
    @settings(report_multiple_bugs=False)
    @given(value=constants)
    def test_zero_on_any_constant(self, student, value):
        """0 on a constant image, whatever the constant"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        out = response(kernel, torch.full((5, 6), value, dtype=torch.float64))
        check_no_response(out, abs(value), "top_edge_kernel", f"a constant image of {value!r}")

    @pytest.mark.points(1)
    def test_no_response_to_vertical_edges(self, student):
        """no response to a vertical edge at any column, in either direction"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        for edge in range(1, 7):
            for dark, bright, what in ((0.0, 1.0, "dark left"), (1.0, 0.0, "bright left")):
                image = step_image(7, 6, edge, dark, bright).T  # 6 rows, 7 columns
                check_no_response(response(kernel, image), 1.0, "top_edge_kernel",
                                  f"a vertical edge ({what}) between columns {edge - 1} and {edge}")


class TestLeftEdgeKernel:
    @pytest.mark.points(1)
    def test_edge_anywhere(self, student):
        """a left edge at any column of a non-square 10x7 image, and nothing where the image is flat"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        # transposing both the image and the kernel transposes the response: the kernel
        # responds to a left edge as its transpose responds to a top edge
        for edge in EDGES:
            check_top_edge(kernel.T, step_image(7, 10, edge), edge, 1.0, "left_edge_kernel", "left")

    @pytest.mark.points(1)
    def test_any_contrast(self, student):
        """darker left than right by any amount: positive, in proportion to the contrast"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        for dark, bright in CONTRASTS:
            check_top_edge(kernel.T, step_image(8, 6, 4, dark, bright), 4, bright - dark, "left_edge_kernel", "left")

    @pytest.mark.points(1)
    def test_right_edge_is_negative(self, student):
        """bright left, dark right (the opposite edge) gives a negative response"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        out = response(kernel, step_image(8, 8, 4, dark=1.0, bright=0.0).T)
        assert out[:, 2:4].min().item() < 0, "left_edge_kernel() does not respond negatively to a right edge (bright left)"
        assert out.max().item() < 1e-6, "left_edge_kernel() responds positively to a right edge (bright left, dark right)"

    @pytest.mark.points(1)
    @settings(report_multiple_bugs=False)
    @given(value=constants)
    def test_zero_on_any_constant(self, student, value):
        """0 on a constant image, whatever the constant"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        out = response(kernel, torch.full((6, 5), value, dtype=torch.float64))
        check_no_response(out, abs(value), "left_edge_kernel", f"a constant image of {value!r}")

    @pytest.mark.points(1)
    def test_no_response_to_horizontal_edges(self, student):
        """"not top-edge!": no response to a horizontal edge at any row, in either direction"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        for edge in range(1, 7):
            for dark, bright, what in ((0.0, 1.0, "dark above"), (1.0, 0.0, "bright above")):
                image = step_image(7, 6, edge, dark, bright)
                check_no_response(response(kernel, image), 1.0, "left_edge_kernel",
                                  f"a horizontal edge ({what}) between rows {edge - 1} and {edge}")
