"""Hidden checks for 01_convolution: property tests over shapes, the limits, and the error cases.

Expected values come only from PyTorch (`F.conv2d` and the sizes it returns),
from cases worked out by hand, or, for the edge kernels, from how any edge
detector must behave on synthetic images.
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

DTYPES = (torch.float32, torch.float64)


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
    """(image, kernel): non-square images up to 8x8, any kernel that fits, float32 or float64."""
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    kh, kw = draw(st.integers(1, h)), draw(st.integers(1, w))
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**16))
    return randn(h, w, seed=seed, dtype=dtype), randn(kh, kw, seed=seed + 1, dtype=dtype)


@st.composite
def crop_cases(draw):
    """(image, kernel, rows, cols): a kernel that still fits once `rows` rows and `cols` columns are cropped."""
    image, kernel = draw(single_cases())
    (h, w), (kh, kw) = image.shape, kernel.shape
    return image, kernel, draw(st.integers(0, h - kh)), draw(st.integers(0, w - kw))


class TestConv2dSingle:
    @pytest.mark.points(5)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(case=single_cases())
    def test_matches_F_conv2d_random(self, student, case):
        """equals F.conv2d on random shapes: non-square images and kernels, float32 and float64"""
        image, kernel = case
        assert_conv(student, image, kernel)

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=crop_cases())
    def test_shift_equivariant(self, student, case):
        """cropping the image's first rows and columns crops the output's the same way (a shift moves the output)"""
        image, kernel, rows, cols = case
        with naming_a_3x3_window(student, kernel):
            full = student.conv2d_single(image, kernel)
            if not isinstance(full, torch.Tensor):
                assert_same(full, torch_conv(image, kernel))  # says what it returned instead of a tensor
            cropped = student.conv2d_single(image[rows:, cols:], kernel)
            # compared with the student's own uncropped output: a property of any convolution
            assert_same(cropped, full[rows:, cols:])

    @pytest.mark.points(2)
    @pytest.mark.category("shapes")
    def test_non_square_shapes(self, student):
        """non-square images and kernels: 4x7 by 3x2 gives 2x6, 1x5 by 1x2 gives 1x4, 6x1 by 3x1 gives 4x1"""
        for seed, (image_shape, kernel_shape) in enumerate([((4, 7), (3, 2)), ((1, 5), (1, 2)), ((6, 1), (3, 1))]):
            assert_conv(student, randn(*image_shape, seed=20 + seed), randn(*kernel_shape, seed=30 + seed))

    @pytest.mark.points(2)
    @pytest.mark.category("edge")
    def test_kernel_as_large_as_the_image(self, student):
        """a kernel of the image's size gives one value, the sum of their product"""
        image, kernel = randn(3, 5, seed=4), randn(3, 5, seed=5)
        assert_conv(student, image, kernel, expected=(image * kernel).sum().reshape(1, 1))

    @pytest.mark.points(2)
    @pytest.mark.category("edge")
    def test_one_by_one_kernel(self, student):
        """a 1x1 kernel [[2.5]] scales the image by 2.5"""
        image = randn(4, 3, seed=6)
        assert_conv(student, image, torch.tensor([[2.5]]), expected=2.5 * image)

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_one_row_kernel_by_hand(self, student):
        """the 1x2 kernel [[-1, 1]] gives the difference of neighbours along a row (by hand)"""
        image = torch.tensor([[1.0, 4.0, 9.0], [16.0, 25.0, 36.0]])
        # each output is right neighbour minus left: 4-1, 9-4 / 25-16, 36-25
        expected = torch.tensor([[3.0, 5.0], [9.0, 11.0]])
        flipped = -expected  # [[1, -1]]: left minus right
        # one window too few each way: 1 row, 1 column
        assert_conv(student, image, torch.tensor([[-1.0, 1.0]]), expected,
                    known={mistakes.FLIPPED_KERNEL: flipped, mistakes.OFF_BY_ONE_LOW: expected[:1, :1]})

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 in, float64 out, with float64 accuracy"""
        image, kernel = randn(6, 5, seed=7, dtype=torch.float64), randn(3, 3, seed=8, dtype=torch.float64)
        assert_conv(student, image, kernel)

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_kernel_of_the_other_dtype(self, student):
        """a float64 kernel on a float32 image gives float32, a float32 kernel on a float64 image float64"""
        assert_conv(student, randn(5, 7, seed=9), randn(2, 4, seed=10, dtype=torch.float64))
        assert_conv(student, randn(7, 5, seed=11, dtype=torch.float64), randn(3, 3, seed=12))

    @pytest.mark.points(3)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError or TypeError naming them: images or kernels not 2-d, kernels larger than the image, integer tensors"""
        image, kernel = randn(5, 5), randn(2, 3, seed=1)
        with error_cases(valid=lambda: student.conv2d_single(image, kernel), expected=torch_conv(image, kernel)) as case:
            for shape in [(3, 4, 4), (5,), (1, 1, 4, 4)]:
                with case(ValueError, mentions="image", case=f"a {len(shape)}-d image"):
                    student.conv2d_single(randn(*shape), randn(2, 2, seed=1))
            for shape in [(1, 2, 2), (2,)]:
                with case(ValueError, mentions="kernel", case=f"a {len(shape)}-d kernel"):
                    student.conv2d_single(randn(5, 5), randn(*shape, seed=1))
            for shape, what in [((4, 2), "taller"), ((2, 6), "wider"), ((4, 6), "taller and wider")]:
                with case(ValueError, mentions="kernel", case=f"a kernel {what} than the image"):
                    student.conv2d_single(randn(3, 5), randn(*shape, seed=1))
            with case(TypeError, mentions="image", case="an integer image"):
                student.conv2d_single(torch.arange(9).reshape(3, 3), randn(2, 2))
            with case(TypeError, mentions="kernel", case="an integer kernel"):
                student.conv2d_single(randn(3, 3), torch.ones(2, 2, dtype=torch.int64))


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


NAMES = ("size", "kernel_size", "padding", "stride", "dilation")  # output_size's arguments, in order


class TestOutputSize:
    @pytest.mark.points(4)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)  # one failure, reported as a check failure
    @given(case=size_cases())
    def test_matches_F_conv2d_random(self, student, case):
        """equals the size F.conv2d returns, over random sizes, kernels, padding, stride and dilation"""
        size, kernel_size, padding, stride, dilation = case
        got = student.output_size(size, kernel_size, padding=padding, stride=stride, dilation=dilation)
        assert_same(got, torch_size(*case), mistakes=lambda: size_mistakes(*case))

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(case=size_cases())
    def test_stride_keeps_every_sth_position(self, student, case):
        """stride s keeps every s-th of the stride-1 positions, the first included (Hypothesis)"""
        size, kernel_size, padding, stride, dilation = case
        every = student.output_size(size, kernel_size, padding=padding, stride=1, dilation=dilation)
        assert_same(every, torch_size(size, kernel_size, padding, 1, dilation),
                    mistakes=lambda: size_mistakes(size, kernel_size, padding, 1, dilation))
        # positions 0, s, 2s, ... of the `every` stride-1 positions: (every - 1) // s + 1 of them
        got = student.output_size(size, kernel_size, padding=padding, stride=stride, dilation=dilation)
        assert_same(got, (every - 1) // stride + 1, mistakes=lambda: size_mistakes(*case))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    @pytest.mark.parametrize(
        "args, expected",
        [
            ((1, 1), 1),  # a 1x1 kernel on one pixel
            ((1, 3, 1), 1),  # padding 1 makes room for a 3-kernel on a single pixel
            ((10, 1, 0, 3), 4),  # floor(9 / 3) + 1: pixels 0, 3, 6, 9
            ((10, 3, 2, 3, 3), 3),  # span 7, floor((10 + 4 - 7) / 3) + 1 = 2 + 1
            ((4, 4, 0, 7), 1),  # the kernel fills the input, a stride larger than it: floor(0 / 7) + 1
            ((4, 2, 0, 1, 3), 1),  # dilation 3: the 2 taps span 4 pixels, the whole input
        ],
    )
    def test_limits_by_hand(self, student, args, expected):
        """limits worked out by hand: one pixel, a kernel (dilated) as large as the input, stride > kernel"""
        got = student.output_size(*args)
        assert_same(got, expected, mistakes=lambda: size_mistakes(**dict(zip(NAMES, args))))

    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_keyword_arguments(self, student):
        """padding, stride and dilation can be given by name in any order"""
        got = student.output_size(size=28, dilation=2, stride=3, kernel_size=3, padding=2)
        # span 5: floor((28 + 4 - 5) / 3) + 1 = 9 + 1
        assert_same(got, 10, mistakes=lambda: size_mistakes(28, 3, 2, 3, 2))

    @pytest.mark.points(3)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """arguments out of range or an empty output raise ValueError, non-ints TypeError, each naming the argument"""
        with error_cases(valid=lambda: student.output_size(5, 3, 1, 2), expected=torch_size(5, 3, 1, 2, 1)) as case:
            for name, calls in [
                ("size", [(0, 1), (-3, 1)]),
                ("kernel_size", [(5, 0), (5, -1)]),
                ("padding", [(5, 3, -1)]),
                ("stride", [(5, 3, 0, 0), (5, 3, 0, -2)]),
                ("dilation", [(5, 3, 0, 1, 0)]),
            ]:
                for args in calls:
                    with case(ValueError, mentions=name, case=f"{name} {args[NAMES.index(name)]}"):
                        student.output_size(*args)
            for args in [(2, 3), (4, 5, 0, 2), (5, 3, 0, 1, 3), (1, 4, 1)]:
                with case(ValueError, case=f"output_size{args}, an empty output"):
                    student.output_size(*args)
            for args, name in [
                ((28.0, 3), "size"),
                ((28, 3.0), "kernel_size"),
                ((28, 3, 0.5), "padding"),
                ((28, 3, 0, 2.0), "stride"),
                ((28, 3, 0, 1, "2"), "dilation"),
            ]:
                with case(TypeError, mentions=name, case=f"{name} {args[NAMES.index(name)]!r}"):
                    student.output_size(*args)
            with case(TypeError, mentions="padding", case="padding True (a bool is not an int)"):
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
    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_edge_anywhere(self, student):
        """a top edge at any row of a non-square 7x10 image, and nothing where the image is flat"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        for edge in EDGES:
            check_top_edge(kernel, step_image(7, 10, edge), edge, 1.0, "top_edge_kernel", "top")

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    def test_any_contrast(self, student):
        """darker above than below by any amount: positive, in proportion to the contrast"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        for dark, bright in CONTRASTS:
            check_top_edge(kernel, step_image(8, 6, 4, dark, bright), 4, bright - dark, "top_edge_kernel", "top")

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    def test_bottom_edge_is_negative(self, student):
        """bright above, dark below (the opposite edge) gives a negative response"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        out = response(kernel, step_image(8, 8, 4, dark=1.0, bright=0.0))
        assert out[2:4].min().item() < 0, "top_edge_kernel() does not respond negatively to a bottom edge (bright above)"
        assert out.max().item() < 1e-6, "top_edge_kernel() responds positively to a bottom edge (bright above, dark below)"

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(value=constants)
    def test_zero_on_any_constant(self, student, value):
        """0 on a constant image, whatever the constant"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        out = response(kernel, torch.full((5, 6), value, dtype=torch.float64))
        check_no_response(out, abs(value), "top_edge_kernel", f"a constant image of {value!r}")

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    def test_no_response_to_vertical_edges(self, student):
        """no response to a vertical edge at any column, in either direction"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        for edge in range(1, 7):
            for dark, bright, what in ((0.0, 1.0, "dark left"), (1.0, 0.0, "bright left")):
                image = step_image(7, 6, edge, dark, bright).T  # 6 rows, 7 columns
                check_no_response(response(kernel, image), 1.0, "top_edge_kernel",
                                  f"a vertical edge ({what}) between columns {edge - 1} and {edge}")


class TestLeftEdgeKernel:
    @pytest.mark.points(2)
    @pytest.mark.category("values")
    def test_edge_anywhere(self, student):
        """a left edge at any column of a non-square 10x7 image, and nothing where the image is flat"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        # transposing both the image and the kernel transposes the response: the kernel
        # responds to a left edge as its transpose responds to a top edge
        for edge in EDGES:
            check_top_edge(kernel.T, step_image(7, 10, edge), edge, 1.0, "left_edge_kernel", "left")

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    def test_any_contrast(self, student):
        """darker left than right by any amount: positive, in proportion to the contrast"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        for dark, bright in CONTRASTS:
            check_top_edge(kernel.T, step_image(8, 6, 4, dark, bright), 4, bright - dark, "left_edge_kernel", "left")

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    def test_right_edge_is_negative(self, student):
        """bright left, dark right (the opposite edge) gives a negative response"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        out = response(kernel, step_image(8, 8, 4, dark=1.0, bright=0.0).T)
        assert out[:, 2:4].min().item() < 0, "left_edge_kernel() does not respond negatively to a right edge (bright left)"
        assert out.max().item() < 1e-6, "left_edge_kernel() responds positively to a right edge (bright left, dark right)"

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    @settings(report_multiple_bugs=False)
    @given(value=constants)
    def test_zero_on_any_constant(self, student, value):
        """0 on a constant image, whatever the constant"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        out = response(kernel, torch.full((6, 5), value, dtype=torch.float64))
        check_no_response(out, abs(value), "left_edge_kernel", f"a constant image of {value!r}")

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    def test_no_response_to_horizontal_edges(self, student):
        """"not top-edge!": no response to a horizontal edge at any row, in either direction"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        for edge in range(1, 7):
            for dark, bright, what in ((0.0, 1.0, "dark above"), (1.0, 0.0, "bright above")):
                image = step_image(7, 6, edge, dark, bright)
                check_no_response(response(kernel, image), 1.0, "left_edge_kernel",
                                  f"a horizontal edge ({what}) between rows {edge - 1} and {edge}")
