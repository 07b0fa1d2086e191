"""Visible checks for 04_channels.

Run them with `pytest` in this folder, or `convgrade check 04_channels`. Each
check compares your function with PyTorch's `F.conv2d`, with a small case
worked out by hand below, or, for the green detector, with how any green
detector must behave on a synthetic image.
"""

import pytest
import torch
import torch.nn.functional as F

from autograder import mistakes
from autograder.compare import assert_same, expect_error
from autograder.inputs import randn

# ITU-R BT.601 luminance, written out: 0.299 R + 0.587 G + 0.114 B, as a (1, 3, 1, 1) conv weight.
BT601 = torch.tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)
BGR = torch.tensor([0.114, 0.587, 0.299]).reshape(1, 3, 1, 1)
EQUAL = torch.full((1, 3, 1, 1), 1 / 3)

# A mistake this assignment can name that autograder/mistakes.py does not list.

# A 2-channel 3x4 image and a 2-channel 2x2 kernel, worked by hand below.
IMAGE = torch.tensor(
    [
        [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [9.0, 10.0, 11.0, 12.0]],
        [[1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 3.0], [2.0, 0.0, 1.0, 0.0]],
    ]
)
KERNEL = torch.tensor(
    [
        [[1.0, 0.0], [0.0, -1.0]],  # channel 0: top-left minus bottom-right = -5 everywhere
        [[0.0, 1.0], [2.0, 0.0]],   # channel 1: top-right + 2 * bottom-left
    ]
)
# Channel 0: 1-6, 2-7, 3-8 / 5-10, 6-11, 7-12.  Channel 1: 0+2*0, 2+2*1, 0+2*0 / 1+2*2, 0+2*0, 3+2*1.
CONTRIBUTIONS = torch.tensor(
    [
        [[-5.0, -5.0, -5.0], [-5.0, -5.0, -5.0]],
        [[0.0, 4.0, 0.0], [5.0, 0.0, 5.0]],
    ]
)
TOTAL = torch.tensor([[-5.0, -1.0, -5.0], [0.0, -5.0, 0.0]])  # the sum over the two channels


def torch_gray(x, weight=BT601):
    """F.conv2d with a (1, 3, 1, 1) weight on (..., 3, H, W)."""
    flat = x.reshape(-1, 3, *x.shape[-2:])
    out = F.conv2d(flat, weight.to(x.dtype))
    return out.reshape(*x.shape[:-3], 1, *x.shape[-2:])


def per_channel(image, kernel):
    """(C, Ho, Wo): each channel convolved with its own kernel slice (a grouped F.conv2d)."""
    return F.conv2d(image[None], kernel[:, None].to(image.dtype), groups=image.shape[0])[0]


class TestGrayscaleKernel:
    @pytest.mark.points(2)
    def test_bt601_weights(self, student):
        """the (1, 3, 1, 1) weight 0.299, 0.587, 0.114 for R, G, B"""
        assert_same(student.grayscale_kernel(), BT601, mistakes={
            mistakes.BGR_NOT_RGB: BGR,
            mistakes.EQUAL_CHANNEL_WEIGHTS: EQUAL,
        })

    @pytest.mark.points(1)
    def test_white_stays_white(self, student):
        """as a conv weight it maps white (1, 1, 1) to 1: the weights sum to 1"""
        kernel = student.grayscale_kernel()
        assert_same(tuple(kernel.shape), (1, 3, 1, 1))
        white = torch.ones(1, 3, 2, 2)
        assert_same(F.conv2d(white, kernel.float()), torch.ones(1, 1, 2, 2))


class TestToGrayscale:
    @pytest.mark.points(2)
    def test_two_pixels_by_hand(self, student):
        """two pixels: (1, 0.5, 0) -> 0.5925 and (0.2, 0.4, 1) -> 0.4086"""
        rgb = torch.tensor([[[1.0, 0.2]], [[0.5, 0.4]], [[0.0, 1.0]]])  # (3, 1, 2)
        # 0.299*1 + 0.587*0.5 + 0.114*0 = 0.5925;  0.299*0.2 + 0.587*0.4 + 0.114*1 = 0.4086
        expected = torch.tensor([[[0.5925, 0.4086]]])
        assert_same(student.to_grayscale(rgb), expected, mistakes={
            mistakes.BGR_NOT_RGB: torch_gray(rgb, BGR),
            mistakes.EQUAL_CHANNEL_WEIGHTS: torch_gray(rgb, EQUAL),
            mistakes.NO_CHANNEL_SUM: rgb * BT601[0],
        })

    @pytest.mark.points(2)
    def test_matches_F_conv2d_batch(self, student):
        """a batch (N, 3, H, W) equals F.conv2d with the BT.601 weight"""
        x = randn(2, 3, 5, 4).sigmoid()
        assert_same(student.to_grayscale(x), F.conv2d(x, BT601), mistakes={
            mistakes.BGR_NOT_RGB: F.conv2d(x, BGR),
            mistakes.EQUAL_CHANNEL_WEIGHTS: F.conv2d(x, EQUAL),
            mistakes.NO_CHANNEL_SUM: x * BT601,
        })

    @pytest.mark.points(1)
    def test_matches_F_conv2d_single_image(self, student):
        """a single image (3, H, W) gives (1, H, W)"""
        x = randn(3, 4, 6, seed=1).sigmoid()
        assert_same(student.to_grayscale(x), F.conv2d(x[None], BT601)[0], mistakes={
            mistakes.BGR_NOT_RGB: F.conv2d(x[None], BGR)[0],
            mistakes.EQUAL_CHANNEL_WEIGHTS: F.conv2d(x[None], EQUAL)[0],
        })

    @pytest.mark.points(1)
    def test_four_channels_is_an_error(self, student):
        """an image with 4 channels raises ValueError naming `rgb`"""
        with expect_error(ValueError, mentions="rgb"):
            student.to_grayscale(randn(4, 5, 5))


class TestConv2dMultichannel:
    @pytest.mark.points(2)
    def test_two_channels_by_hand(self, student):
        """a 2-channel 3x4 image and a 2x2x2 kernel (worked by hand)"""
        got = student.conv2d_multichannel(IMAGE, KERNEL)
        assert_same(got, TOTAL, mistakes={
            mistakes.FLIPPED_KERNEL: F.conv2d(IMAGE[None], KERNEL.flip(-1, -2)[None])[0, 0],
            mistakes.NO_CHANNEL_SUM: CONTRIBUTIONS,
        })

    @pytest.mark.points(2)
    def test_matches_F_conv2d(self, student):
        """equals F.conv2d(image[None], kernel[None])[0, 0] on an RGB image"""
        image, kernel = randn(3, 6, 5, seed=2), randn(3, 3, 2, seed=3)
        got = student.conv2d_multichannel(image, kernel)
        assert_same(got, F.conv2d(image[None], kernel[None])[0, 0], mistakes={
            mistakes.FLIPPED_KERNEL: F.conv2d(image[None], kernel.flip(-1, -2)[None])[0, 0],
            mistakes.NO_CHANNEL_SUM: per_channel(image, kernel),
        })

    @pytest.mark.points(1)
    def test_channel_mismatch_is_an_error(self, student):
        """a kernel with 2 channels on a 3-channel image raises ValueError"""
        with expect_error(ValueError):
            student.conv2d_multichannel(randn(3, 5, 5), randn(2, 3, 3))


class TestChannelContributions:
    @pytest.mark.points(2)
    def test_two_channels_by_hand(self, student):
        """each channel's part of the 2-channel case above (worked by hand)"""
        got = student.channel_contributions(IMAGE, KERNEL)
        assert_same(got, CONTRIBUTIONS, mistakes={
            mistakes.FLIPPED_KERNEL: per_channel(IMAGE, KERNEL.flip(-1, -2)),
            mistakes.CONTRIBUTIONS_SUMMED: TOTAL,
        })

    @pytest.mark.points(2)
    def test_matches_per_channel_F_conv2d(self, student):
        """each channel equals F.conv2d of that image channel by its kernel slice; they sum to the rank-3 result"""
        image, kernel = randn(3, 5, 6, seed=4), randn(3, 3, 3, seed=5)
        got = student.channel_contributions(image, kernel)
        assert_same(got, per_channel(image, kernel), mistakes={
            mistakes.FLIPPED_KERNEL: per_channel(image, kernel.flip(-1, -2)),
            mistakes.CONTRIBUTIONS_SUMMED: F.conv2d(image[None], kernel[None])[0, 0],
        })
        assert_same(got.sum(0), F.conv2d(image[None], kernel[None])[0, 0])


# The green detector: any kernel whose response is higher on green than on red,
# blue or grey of the same brightness passes. The response is measured with
# F.conv2d at the centre of uniform 5x5 patches laid side by side.
PATCH = 5


def patch_responses(kernel, colours):
    """{name: response at the centre of that colour's uniform patch}."""
    names = list(colours)
    image = torch.cat(
        [torch.tensor(colours[n], dtype=torch.float64).reshape(3, 1, 1).expand(3, PATCH, PATCH) for n in names], dim=2
    )
    out = F.conv2d(image[None], kernel.to(torch.float64)[None])[0, 0]
    centre = PATCH // 2 - 1  # the output pixel whose 3x3 window is centred on the patch's centre
    return {n: out[centre, i * PATCH + centre].item() for i, n in enumerate(names)}


def check_green_wins(kernel, colours, brightness):
    """Fail unless the green patch's response is above every other patch's."""
    if not isinstance(kernel, torch.Tensor) or tuple(kernel.shape) != (3, 3, 3):
        shape = tuple(kernel.shape) if isinstance(kernel, torch.Tensor) else type(kernel).__name__
        raise AssertionError(f"green_detector_kernel() must return a (3, 3, 3) tensor, got {shape}")
    responses = patch_responses(kernel, colours)
    green = responses["green"]
    for name, response in responses.items():
        if name != "green" and not green > response + 1e-9 * max(1.0, abs(green), abs(response)):
            hint = ""
            if response == max(responses.values()) and name in ("red", "blue"):
                hint = "\n  the channels are R, G, B in that order: green is kernel[1]"
            raise AssertionError(
                f"a green patch {colours['green']} gives {green:.6g}, not more than a {name} patch "
                f"{colours[name]} of the same {brightness} ({response:.6g})\n"
                f"  responses at the patch centres: " + ", ".join(f"{n} {r:.6g}" for n, r in responses.items()) + hint
            )


class TestGreenDetectorKernel:
    @pytest.mark.points(1)
    def test_shape(self, student):
        """a (3, 3, 3) floating-point tensor"""
        kernel = student.green_detector_kernel()
        assert isinstance(kernel, torch.Tensor), f"returned {type(kernel).__name__}, expected a torch.Tensor"
        assert_same(tuple(kernel.shape), (3, 3, 3))
        assert kernel.is_floating_point(), f"returned a {kernel.dtype} tensor, expected floating point"

    @pytest.mark.points(2)
    def test_green_beats_red_blue_grey(self, student):
        """on a green patch the response is higher than on red, blue or grey ones (same channel sum)"""
        colours = {
            "green": (0.0, 0.9, 0.0),
            "red": (0.9, 0.0, 0.0),
            "blue": (0.0, 0.0, 0.9),
            "grey": (0.3, 0.3, 0.3),
        }
        check_green_wins(student.green_detector_kernel(), colours, "channel sum")
