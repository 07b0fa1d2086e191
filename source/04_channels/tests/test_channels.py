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
from autograder.compare import assert_same, error_cases
from autograder.inputs import randn

# ITU-R BT.601 luminance, written out: 0.299 R + 0.587 G + 0.114 B, as a (1, 3, 1, 1) conv weight.
LUMA = (0.299, 0.587, 0.114)
BT601 = torch.tensor(LUMA).reshape(1, 3, 1, 1)
# The weights of known mistakes: R, G, B in reverse order (OpenCV's BGR), MATLAB rgb2gray's
# rounded values (a near miss: 0.2989 is not 0.299), and a plain average.
MISTAKEN_WEIGHTS = {
    mistakes.BGR_NOT_RGB: LUMA[::-1],
    mistakes.MATLAB_GRAY_WEIGHTS: (0.2989, 0.5870, 0.1140),
    mistakes.EQUAL_CHANNEL_WEIGHTS: (1 / 3, 1 / 3, 1 / 3),
}

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
    """F.conv2d with a (1, 3, 1, 1) weight on (..., 3, H, W), in x's dtype."""
    flat = x.reshape(-1, 3, *x.shape[-2:])
    out = F.conv2d(flat, weight.to(x.dtype))
    return out.reshape(*x.shape[:-3], 1, *x.shape[-2:])


def assert_gray(got, x, mistakes=None):
    """got equals F.conv2d with the BT.601 weight.

    On float64 input the weight may be exactly 0.299, 0.587, 0.114 or those
    values rounded to float32 (grayscale_kernel() is float32, used in the
    input's dtype): both are right, so both are accepted at float64 accuracy.
    """
    if x.dtype == torch.float64:
        try:
            assert_same(got, torch_gray(x, BT601.float()))
            return
        except AssertionError:
            pass  # not the float32 weight: it must then be the exact one
    assert_same(got, torch_gray(x, torch.tensor(LUMA, dtype=torch.float64).reshape(1, 3, 1, 1)), mistakes=mistakes)


def nearest(got, candidates):
    """The candidate closest to got: a mistaken weight written in float32 or in float64 is the same mistake."""
    if type(got) is not torch.Tensor:
        return candidates[0]
    fits = [c for c in candidates if c.shape == got.shape and c.dtype == got.dtype]
    return min(fits, key=lambda c: (got.double() - c.double()).abs().max().item()) if fits else candidates[0]


def gray_mistakes(x, got):
    """What the known mistakes of to_grayscale return on x (got picks the float32 or float64 weights)."""
    found = {}
    for phrase, values in MISTAKEN_WEIGHTS.items():
        exact = torch.tensor(values, dtype=torch.float64).reshape(1, 3, 1, 1)
        found[phrase] = nearest(got, [torch_gray(x, exact), torch_gray(x, exact.float())])
    found[mistakes.NO_CHANNEL_SUM] = x * BT601.reshape(3, 1, 1).to(x.dtype)
    found[mistakes.INPUT_CAST_TO_FLOAT32] = torch_gray(x.float())
    return found


def rank3(image, kernel):
    """F.conv2d(image[None], kernel[None])[0, 0], in the image's dtype."""
    return F.conv2d(image[None], kernel.to(image.dtype)[None])[0, 0]


def per_channel(image, kernel):
    """(C, Ho, Wo): each channel convolved with its own kernel slice (a grouped F.conv2d)."""
    return F.conv2d(image[None], kernel[:, None].to(image.dtype), groups=image.shape[0])[0]


def multichannel_mistakes(image, kernel):
    return {
        mistakes.FLIPPED_KERNEL: rank3(image, kernel.flip(-1, -2)),
        mistakes.NO_CHANNEL_SUM: per_channel(image, kernel),
        mistakes.OFF_BY_ONE_LOW: rank3(image, kernel)[:-1, :-1],
    }


def contribution_mistakes(image, kernel):
    return {
        mistakes.FLIPPED_KERNEL: per_channel(image, kernel.flip(-1, -2)),
        mistakes.CONTRIBUTIONS_SUMMED: rank3(image, kernel),
    }


class TestGrayscaleKernel:
    @pytest.mark.points(3)
    def test_bt601_weights(self, student):
        """the (1, 3, 1, 1) weight 0.299, 0.587, 0.114 for R, G, B"""
        got = student.grayscale_kernel()
        assert_same(got, BT601, mistakes=lambda: {
            phrase: torch.tensor(values).reshape(1, 3, 1, 1) for phrase, values in MISTAKEN_WEIGHTS.items()
        })

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    def test_white_stays_white(self, student):
        """as a conv weight it maps white (1, 1, 1) to 1: the weights sum to 1"""
        kernel = student.grayscale_kernel()
        assert_same(tuple(kernel.shape), (1, 3, 1, 1))
        white = torch.ones(1, 3, 2, 2)
        assert_same(F.conv2d(white, kernel.float()), torch.ones(1, 1, 2, 2))


class TestToGrayscale:
    @pytest.mark.points(3)
    def test_two_pixels_by_hand(self, student):
        """two pixels: (1, 0.5, 0) -> 0.5925 and (0.2, 0.4, 1) -> 0.4086"""
        rgb = torch.tensor([[[1.0, 0.2]], [[0.5, 0.4]], [[0.0, 1.0]]])  # (3, 1, 2)
        # 0.299*1 + 0.587*0.5 + 0.114*0 = 0.5925;  0.299*0.2 + 0.587*0.4 + 0.114*1 = 0.4086
        expected = torch.tensor([[[0.5925, 0.4086]]])
        got = student.to_grayscale(rgb)
        assert_same(got, expected, mistakes=lambda: gray_mistakes(rgb, got))

    @pytest.mark.points(3)
    def test_matches_F_conv2d_batch(self, student):
        """a batch (N, 3, H, W) equals F.conv2d with the BT.601 weight"""
        x = randn(2, 3, 5, 4).sigmoid()
        got = student.to_grayscale(x)
        assert_same(got, F.conv2d(x, BT601), mistakes=lambda: gray_mistakes(x, got))

    @pytest.mark.points(2)
    @pytest.mark.category("shapes")
    def test_matches_F_conv2d_single_image(self, student):
        """a single image (3, H, W) gives (1, H, W)"""
        x = randn(3, 4, 6, seed=1).sigmoid()
        got = student.to_grayscale(x)
        assert_same(got, F.conv2d(x[None], BT601)[0], mistakes=lambda: gray_mistakes(x, got))

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_keeps_float64(self, student):
        """float64 in, float64 out, with float64 accuracy (the float32 kernel used in float64)"""
        x = randn(2, 3, 4, 5, seed=3, dtype=torch.float64).sigmoid()
        got = student.to_grayscale(x)
        assert_gray(got, x, mistakes=lambda: gray_mistakes(x, got))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError naming `rgb`: 4 channels, a 2-D input"""
        rgb = randn(3, 4, 4)
        with error_cases(valid=lambda: student.to_grayscale(rgb), expected=torch_gray(rgb)) as case:
            with case(ValueError, mentions="rgb", case="an image with 4 channels"):
                student.to_grayscale(randn(4, 5, 5))
            with case(ValueError, mentions="rgb", case="a 2-D input"):
                student.to_grayscale(randn(3, 4))


class TestConv2dMultichannel:
    @pytest.mark.points(3)
    def test_two_channels_by_hand(self, student):
        """a 2-channel 3x4 image and a 2x2x2 kernel (worked by hand)"""
        got = student.conv2d_multichannel(IMAGE, KERNEL)
        assert_same(got, TOTAL, mistakes=lambda: multichannel_mistakes(IMAGE, KERNEL))

    @pytest.mark.points(3)
    def test_matches_F_conv2d(self, student):
        """equals F.conv2d(image[None], kernel[None])[0, 0] on an RGB image"""
        image, kernel = randn(3, 6, 5, seed=2), randn(3, 3, 2, seed=3)
        got = student.conv2d_multichannel(image, kernel)
        assert_same(got, rank3(image, kernel), mistakes=lambda: multichannel_mistakes(image, kernel))

    @pytest.mark.points(2)
    @pytest.mark.category("edge")
    def test_one_by_one_kernel(self, student):
        """a 1x1 kernel is a weighted sum of the channels"""
        image, kernel = randn(3, 4, 6, seed=6), randn(3, 1, 1, seed=7)
        got = student.conv2d_multichannel(image, kernel)
        assert_same(got, (image * kernel).sum(0), mistakes=lambda: multichannel_mistakes(image, kernel))

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_kernel_used_in_the_image_dtype(self, student):
        """a float32 kernel on a float64 image gives a float64 result, with float64 accuracy"""
        image, kernel = randn(3, 5, 5, seed=10, dtype=torch.float64), randn(3, 3, 3, seed=11)
        got = student.conv2d_multichannel(image, kernel)
        assert_same(got, rank3(image, kernel.double()), mistakes=lambda: {
            mistakes.INPUT_CAST_TO_FLOAT32: rank3(image.float(), kernel),
        })

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError: a channel mismatch, a 2-D kernel (naming `kernel`)"""
        image, kernel = randn(3, 5, 5), randn(3, 3, 3, seed=1)
        with error_cases(valid=lambda: student.conv2d_multichannel(image, kernel), expected=rank3(image, kernel)) as case:
            with case(ValueError, case="a kernel with 2 channels on a 3-channel image"):
                student.conv2d_multichannel(randn(3, 5, 5), randn(2, 3, 3))
            with case(ValueError, mentions="kernel", case="a 2-D kernel"):
                student.conv2d_multichannel(randn(3, 5, 5), randn(3, 3))


class TestChannelContributions:
    @pytest.mark.points(3)
    def test_two_channels_by_hand(self, student):
        """each channel's part of the 2-channel case above (worked by hand)"""
        got = student.channel_contributions(IMAGE, KERNEL)
        assert_same(got, CONTRIBUTIONS, mistakes=lambda: contribution_mistakes(IMAGE, KERNEL))

    @pytest.mark.points(3)
    def test_matches_per_channel_F_conv2d(self, student):
        """each channel equals F.conv2d of that image channel by its kernel slice"""
        image, kernel = randn(3, 5, 6, seed=4), randn(3, 3, 3, seed=5)
        got = student.channel_contributions(image, kernel)
        assert_same(got, per_channel(image, kernel), mistakes=lambda: contribution_mistakes(image, kernel))

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    def test_sum_is_the_rank3_convolution(self, student):
        """the contributions add up to the rank-3 result F.conv2d(image[None], kernel[None])[0, 0]"""
        image, kernel = randn(4, 6, 5, seed=16), randn(4, 2, 3, seed=17)
        got = student.channel_contributions(image, kernel)
        total = rank3(image, kernel)
        assert_same(tuple(got.shape), (4, *total.shape), mistakes={mistakes.CONTRIBUTIONS_SUMMED: tuple(total.shape)})
        assert_same(got.sum(0), total)

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_kernel_used_in_the_image_dtype(self, student):
        """a float32 kernel on a float64 image gives a float64 result, with float64 accuracy"""
        image, kernel = randn(3, 6, 7, seed=12, dtype=torch.float64), randn(3, 3, 2, seed=13)
        got = student.channel_contributions(image, kernel)
        assert_same(got, per_channel(image, kernel.double()), mistakes=lambda: {
            mistakes.INPUT_CAST_TO_FLOAT32: per_channel(image.float(), kernel),
        })

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_one_by_one_kernel(self, student):
        """a 1x1 kernel scales each channel by its weight"""
        image, kernel = randn(3, 4, 5, seed=14), randn(3, 1, 1, seed=15)
        got = student.channel_contributions(image, kernel)
        assert_same(got, image * kernel, mistakes=lambda: contribution_mistakes(image, kernel))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a kernel with fewer channels than the image raises ValueError"""
        image, kernel = randn(3, 5, 5), randn(3, 3, 3, seed=1)
        with error_cases(valid=lambda: student.channel_contributions(image, kernel), expected=per_channel(image, kernel)) as case:
            with case(ValueError, case="a kernel with 2 channels on a 3-channel image"):
                student.channel_contributions(randn(3, 5, 5), randn(2, 3, 3))


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
    @pytest.mark.category("shapes")
    def test_shape(self, student):
        """a (3, 3, 3) floating-point tensor"""
        kernel = student.green_detector_kernel()
        assert isinstance(kernel, torch.Tensor), f"returned {type(kernel).__name__}, expected a torch.Tensor"
        assert_same(tuple(kernel.shape), (3, 3, 3))
        assert kernel.is_floating_point(), f"returned a {kernel.dtype} tensor, expected floating point"

    @pytest.mark.points(3)
    @pytest.mark.category("properties")
    def test_green_beats_red_blue_grey(self, student):
        """on a green patch the response is higher than on red, blue or grey ones (same channel sum)"""
        colours = {
            "green": (0.0, 0.9, 0.0),
            "red": (0.9, 0.0, 0.0),
            "blue": (0.0, 0.0, 0.9),
            "grey": (0.3, 0.3, 0.3),
        }
        check_green_wins(student.green_detector_kernel(), colours, "channel sum")
