"""Visible checks for 01_convolution.

Run them with `pytest` in this folder, or `convgrade check 01_convolution`. Each
check compares your function with PyTorch's `F.conv2d` (and the sizes it
returns), with a small case worked out by hand below, or, for the edge
kernels, with how any edge detector must behave on a synthetic image.
"""

import pytest
import torch
import torch.nn.functional as F

from autograder import mistakes
from autograder.compare import assert_same, expect_error
from autograder.inputs import randn

# A mistake this assignment can name that autograder/mistakes.py does not list.


def torch_conv(image, kernel):
    """F.conv2d on one (H, W) image and one (kh, kw) kernel."""
    return F.conv2d(image[None, None], kernel[None, None])[0, 0]


class TestConv2dSingle:
    @pytest.mark.points(2)
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
        assert_same(student.conv2d_single(image, kernel), expected, mistakes={mistakes.FLIPPED_KERNEL: flipped})

    @pytest.mark.points(2)
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
        assert_same(student.conv2d_single(image, kernel), expected, mistakes={mistakes.FLIPPED_KERNEL: flipped})

    @pytest.mark.points(2)
    def test_matches_F_conv2d(self, student):
        """equals F.conv2d on a 5x7 image with a 2x3 kernel"""
        image, kernel = randn(5, 7), randn(2, 3, seed=1)
        got = student.conv2d_single(image, kernel)
        assert_same(got, torch_conv(image, kernel), mistakes={mistakes.FLIPPED_KERNEL: torch_conv(image, kernel.flip(0, 1))})

    @pytest.mark.points(1)
    def test_kernel_larger_than_the_image_is_an_error(self, student):
        """a kernel taller than the image raises ValueError naming `kernel`"""
        with expect_error(ValueError, mentions="kernel"):
            student.conv2d_single(randn(3, 5), randn(4, 2, seed=1))


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

    @pytest.mark.points(2)
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

    @pytest.mark.points(1)
    def test_kernel_that_does_not_fit_is_an_error(self, student):
        """size 2 with kernel_size 3 (an empty output) raises ValueError"""
        with expect_error(ValueError):
            student.output_size(2, 3)

    @pytest.mark.points(1)
    def test_stride_0_is_an_error(self, student):
        """stride 0 raises ValueError naming `stride`"""
        with expect_error(ValueError, mentions="stride"):
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
    def test_shape(self, student):
        """a (3, 3) floating-point tensor"""
        checked_kernel(student.top_edge_kernel(), "top_edge_kernel")

    @pytest.mark.points(2)
    def test_responds_to_a_top_edge(self, student):
        """dark above, bright below: strongly positive along the edge, more than anywhere else"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        check_edge_response(kernel, response(kernel, top_edge_image()), "top_edge_kernel", "top (dark above, bright below)")

    @pytest.mark.points(1)
    def test_zero_on_constant_images(self, student):
        """0 on constant images (the weights sum to 0)"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        for value in (1.0, -2.0, 0.5, 7.0):
            out = response(kernel, torch.full((SIZE, SIZE), value, dtype=torch.float64))
            check_no_response(out / max(1.0, abs(value)), "top_edge_kernel", f"a constant image of {value}")

    @pytest.mark.points(1)
    def test_no_response_to_a_vertical_edge(self, student):
        """no response to a vertical edge (dark left, bright right)"""
        kernel = checked_kernel(student.top_edge_kernel(), "top_edge_kernel")
        check_no_response(response(kernel, top_edge_image().T), "top_edge_kernel", "a vertical edge (dark left, bright right)")


class TestLeftEdgeKernel:
    @pytest.mark.points(1)
    def test_shape(self, student):
        """a (3, 3) floating-point tensor"""
        checked_kernel(student.left_edge_kernel(), "left_edge_kernel")

    @pytest.mark.points(2)
    def test_responds_to_a_left_edge(self, student):
        """dark left, bright right: strongly positive along the edge, more than anywhere else"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        out = response(kernel, top_edge_image().T)  # columns 0-3 dark, 4-7 bright
        check_edge_response(kernel, out, "left_edge_kernel", "left (dark left, bright right)", across_columns=True)

    @pytest.mark.points(1)
    def test_zero_on_constant_images(self, student):
        """0 on constant images (the weights sum to 0)"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        for value in (1.0, -2.0, 0.5, 7.0):
            out = response(kernel, torch.full((SIZE, SIZE), value, dtype=torch.float64))
            check_no_response(out / max(1.0, abs(value)), "left_edge_kernel", f"a constant image of {value}")

    @pytest.mark.points(1)
    def test_not_a_top_edge_kernel(self, student):
        """"not top-edge!": no response to a horizontal edge (dark above, bright below)"""
        kernel = checked_kernel(student.left_edge_kernel(), "left_edge_kernel")
        check_no_response(response(kernel, top_edge_image()), "left_edge_kernel", "a horizontal edge (dark above, bright below)")
