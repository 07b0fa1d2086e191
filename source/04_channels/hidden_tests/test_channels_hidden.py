"""Hidden checks for 04_channels: property tests over shapes, edge cases, every error case,
and the green detector at several brightness levels under two definitions of brightness.

Expected values come only from PyTorch (`F.conv2d`), hand-worked cases, or properties.
"""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import mistakes
from autograder.compare import assert_same, error_cases
from autograder.inputs import randn

# ITU-R BT.601 luminance, written out, as a (1, 3, 1, 1) conv weight.
LUMA = (0.299, 0.587, 0.114)
BT601 = torch.tensor(LUMA, dtype=torch.float64).reshape(1, 3, 1, 1)
# The weights of known mistakes: R, G, B in reverse order (OpenCV's BGR), MATLAB rgb2gray's
# rounded values (a near miss: 0.2989 is not 0.299), and a plain average.
MISTAKEN_WEIGHTS = {
    mistakes.BGR_NOT_RGB: LUMA[::-1],
    mistakes.MATLAB_GRAY_WEIGHTS: (0.2989, 0.5870, 0.1140),
    mistakes.EQUAL_CHANNEL_WEIGHTS: (1 / 3, 1 / 3, 1 / 3),
}


DTYPES = (torch.float32, torch.float64)
ONE_FAILURE = settings(report_multiple_bugs=False)  # a failing example is reported as one check failure


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
    assert_same(got, torch_gray(x), mistakes=mistakes)


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
        mistakes.INPUT_CAST_TO_FLOAT32: rank3(image.float(), kernel.float()),
    }


def contribution_mistakes(image, kernel):
    return {
        mistakes.FLIPPED_KERNEL: per_channel(image, kernel.flip(-1, -2)),
        mistakes.CONTRIBUTIONS_SUMMED: rank3(image, kernel),
        mistakes.INPUT_CAST_TO_FLOAT32: per_channel(image.float(), kernel.float()),
    }


@st.composite
def rgb_images(draw, min_dims=3, max_dims=5):
    """(..., 3, H, W) with 0 to 2 leading dimensions, values in (0, 1)."""
    ndim = draw(st.integers(min_dims, max_dims))
    lead = [draw(st.integers(1, 3)) for _ in range(ndim - 3)]
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    dtype = draw(st.sampled_from(DTYPES))
    return randn(*lead, 3, h, w, seed=draw(st.integers(0, 2**16)), dtype=dtype).sigmoid()


@st.composite
def image_kernel_cases(draw):
    """image (C, H, W) and kernel (C, kh, kw) that fits: non-square, 1x1 up to the image size."""
    c = draw(st.integers(1, 4))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    kh, kw = draw(st.integers(1, min(h, 4))), draw(st.integers(1, min(w, 4)))
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**16))
    return randn(c, h, w, seed=seed, dtype=dtype), randn(c, kh, kw, seed=seed + 1, dtype=dtype)


class TestToGrayscale:
    @pytest.mark.points(7)
    @ONE_FAILURE
    @given(rgb=rgb_images())
    def test_matches_F_conv2d_random(self, student, rgb):
        """equals F.conv2d with the BT.601 weight on random 3-D, 4-D and 5-D inputs, float32 and float64"""
        got = student.to_grayscale(rgb)
        assert_gray(got, rgb, mistakes=lambda: gray_mistakes(rgb, got))

    @pytest.mark.points(3)
    def test_primary_colours_by_hand(self, student):
        """pure red, green, blue and white pixels give 0.299, 0.587, 0.114 and 1"""
        rgb = torch.tensor([[[1.0, 0.0, 0.0, 1.0]], [[0.0, 1.0, 0.0, 1.0]], [[0.0, 0.0, 1.0, 1.0]]])
        expected = torch.tensor([[[0.299, 0.587, 0.114, 1.0]]])
        got = student.to_grayscale(rgb)
        assert_same(got, expected, mistakes=lambda: gray_mistakes(rgb, got))

    @pytest.mark.points(2)
    @pytest.mark.category("shapes")
    def test_five_dimensional_input(self, student):
        """(T, N, 3, H, W) keeps both leading dimensions"""
        x = randn(2, 3, 3, 4, 5, seed=1).sigmoid()
        got = student.to_grayscale(x)
        assert_gray(got, x, mistakes=lambda: gray_mistakes(x, got))

    @pytest.mark.points(2)
    @pytest.mark.category("shapes")
    def test_channel_dimension_is_minus_three(self, student):
        """the channels are dimension -3 even when dimension 1 also has size 3"""
        x = randn(2, 3, 3, 3, 5, seed=2).sigmoid()  # (T=2, N=3, C=3, H=3, W=5)
        flat_wrong = (x * BT601.float().reshape(1, 3, 1, 1, 1)).sum(1, keepdim=True)
        got = student.to_grayscale(x)
        assert_gray(got, x, mistakes=lambda: {mistakes.CHANNELS_FROM_DIM_1: flat_wrong, **gray_mistakes(x, got)})

    @pytest.mark.points(3)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError (TypeError for an integer tensor) naming `rgb`"""
        rgb = randn(2, 3, 4, 4)
        with error_cases(valid=lambda: student.to_grayscale(rgb), expected=torch_gray(rgb)) as case:
            with case(ValueError, mentions="rgb", case="a batch with 1 channel"):
                student.to_grayscale(randn(2, 1, 4, 4))
            with case(ValueError, mentions="rgb", case="a batch with 4 channels"):
                student.to_grayscale(randn(2, 4, 4, 4))
            with case(ValueError, mentions="rgb", case="a 2-D input"):
                student.to_grayscale(randn(3, 4))
            with case(TypeError, mentions="rgb", case="an integer tensor"):
                student.to_grayscale(torch.ones(3, 2, 2, dtype=torch.int64))


class TestConv2dMultichannel:
    @pytest.mark.points(7)
    @ONE_FAILURE
    @given(case=image_kernel_cases())
    def test_matches_F_conv2d_random(self, student, case):
        """equals F.conv2d(image[None], kernel[None])[0, 0] on random shapes and channel counts, float32 and float64"""
        image, kernel = case
        got = student.conv2d_multichannel(image, kernel)
        assert_same(got, rank3(image, kernel), mistakes=lambda: multichannel_mistakes(image, kernel))

    @pytest.mark.points(3)
    def test_sixteen_channels(self, student):
        """16 channels (not only RGB): equals F.conv2d(image[None], kernel[None])[0, 0]"""
        image, kernel = randn(16, 7, 6, seed=20), randn(16, 3, 3, seed=21)
        got = student.conv2d_multichannel(image, kernel)
        assert_same(got, rank3(image, kernel), mistakes=lambda: multichannel_mistakes(image, kernel))

    @pytest.mark.points(2)
    @pytest.mark.category("edge")
    def test_kernel_as_large_as_the_image(self, student):
        """a kernel as large as the image gives a 1x1 output"""
        image, kernel = randn(3, 4, 5, seed=4), randn(3, 4, 5, seed=5)
        got = student.conv2d_multichannel(image, kernel)
        assert_same(got, rank3(image, kernel), mistakes=lambda: multichannel_mistakes(image, kernel))

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_single_channel(self, student):
        """one channel: the ordinary 2-D convolution"""
        image, kernel = randn(1, 6, 5, seed=8, dtype=torch.float64), randn(1, 2, 3, seed=9, dtype=torch.float64)
        got = student.conv2d_multichannel(image, kernel)
        assert_same(got, rank3(image, kernel), mistakes=lambda: multichannel_mistakes(image, kernel))

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_float64_kernel_on_float32_image(self, student):
        """a float64 kernel on a float32 image gives a float32 result (the kernel used in the image's dtype)"""
        image, kernel = randn(3, 5, 6, seed=10), randn(3, 2, 3, seed=11, dtype=torch.float64)
        got = student.conv2d_multichannel(image, kernel)
        assert_same(got, rank3(image, kernel.float()), mistakes=lambda: {
            mistakes.WEIGHT_DTYPE_KEPT: rank3(image.double(), kernel),
        })

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError (TypeError for an integer image), naming the argument where stated"""
        image, kernel = randn(2, 5, 4), randn(2, 3, 2, seed=1)
        with error_cases(valid=lambda: student.conv2d_multichannel(image, kernel), expected=rank3(image, kernel)) as case:
            with case(ValueError, case="a kernel larger than the image"):
                student.conv2d_multichannel(randn(3, 4, 4), randn(3, 5, 3))
            with case(ValueError, case="a kernel with more channels than the image"):
                student.conv2d_multichannel(randn(2, 5, 5), randn(3, 3, 3))
            with case(ValueError, mentions="image", case="a 2-D image"):
                student.conv2d_multichannel(randn(5, 5), randn(1, 3, 3))
            with case(TypeError, mentions="image", case="an integer image"):
                student.conv2d_multichannel(torch.ones(3, 4, 4, dtype=torch.int64), randn(3, 2, 2))


class TestChannelContributions:
    @pytest.mark.points(6)
    @ONE_FAILURE
    @given(case=image_kernel_cases())
    def test_matches_per_channel_F_conv2d_random(self, student, case):
        """each channel equals F.conv2d of that image channel by its kernel slice, on random shapes, float32 and float64"""
        image, kernel = case
        got = student.channel_contributions(image, kernel)
        assert_same(got, per_channel(image, kernel), mistakes=lambda: contribution_mistakes(image, kernel))

    @pytest.mark.points(2)
    def test_five_channels(self, student):
        """5 channels (not only RGB): each channel's own 2-D convolution"""
        image, kernel = randn(5, 6, 7, seed=22), randn(5, 3, 2, seed=23)
        got = student.channel_contributions(image, kernel)
        assert_same(got, per_channel(image, kernel), mistakes=lambda: contribution_mistakes(image, kernel))

    @pytest.mark.points(4)
    @pytest.mark.category("properties")
    @ONE_FAILURE
    @given(case=image_kernel_cases())
    def test_sum_is_the_rank3_convolution(self, student, case):
        """the contributions add up to F.conv2d(image[None], kernel[None])[0, 0], on random shapes"""
        image, kernel = case
        got = student.channel_contributions(image, kernel)
        total = rank3(image, kernel)
        assert_same(tuple(got.shape), (image.shape[0], *total.shape),
                    mistakes=lambda: {mistakes.CONTRIBUTIONS_SUMMED: tuple(total.shape)})
        assert_same(got.sum(0), rank3(image, kernel))

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_float64_kernel_on_float32_image(self, student):
        """a float64 kernel on a float32 image gives a float32 result (the kernel used in the image's dtype)"""
        image, kernel = randn(3, 6, 7, seed=12), randn(3, 3, 2, seed=13, dtype=torch.float64)
        got = student.channel_contributions(image, kernel)
        assert_same(got, per_channel(image, kernel.float()), mistakes=lambda: {
            mistakes.WEIGHT_DTYPE_KEPT: per_channel(image.double(), kernel),
        })

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_kernel_as_large_as_the_image(self, student):
        """a kernel as large as the image gives one 1x1 map per channel"""
        image, kernel = randn(3, 4, 5, seed=18), randn(3, 4, 5, seed=19)
        got = student.channel_contributions(image, kernel)
        assert_same(got, per_channel(image, kernel), mistakes=lambda: contribution_mistakes(image, kernel))

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise ValueError: a kernel larger than the image, a 2-D kernel (naming `kernel`)"""
        image, kernel = randn(2, 5, 4), randn(2, 3, 2, seed=1)
        with error_cases(valid=lambda: student.channel_contributions(image, kernel), expected=per_channel(image, kernel)) as case:
            with case(ValueError, case="a kernel larger than the image"):
                student.channel_contributions(randn(2, 3, 6), randn(2, 4, 2))
            with case(ValueError, mentions="kernel", case="a 2-D kernel"):
                student.channel_contributions(randn(3, 5, 5), randn(3, 3))


# The green detector: any kernel whose response on a uniform patch is higher for
# green than for red, blue, white or grey of the same brightness passes. The
# response is measured with F.conv2d at the centre of uniform 5x5 patches laid
# side by side. Brightness is defined in two ways (a correct detector wins under
# both): the same channel sum r + g + b, and the same BT.601 luminance. "White"
# is the neutral colour at the highest level, "grey" the neutral at the others.
# The responses are linear in the colour, so values above 1 are fine here.
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
            shown = tuple(round(v, 4) for v in colours[name])
            shown_green = tuple(round(v, 4) for v in colours["green"])
            raise AssertionError(
                f"a green patch {shown_green} gives {green:.6g}, not more than a {name} patch "
                f"{shown} of the same {brightness} ({response:.6g})\n"
                f"  responses at the patch centres: " + ", ".join(f"{n} {r:.6g}" for n, r in responses.items()) + hint
            )


def same_sum(level):
    """Colours whose channels sum to `level`."""
    return {
        "green": (0.0, level, 0.0),
        "red": (level, 0.0, 0.0),
        "blue": (0.0, 0.0, level),
        "neutral": (level / 3, level / 3, level / 3),
    }


def same_luminance(level):
    """Colours whose BT.601 luminance is `level`."""
    r, g, b = LUMA
    return {
        "green": (0.0, level / g, 0.0),
        "red": (level / r, 0.0, 0.0),
        "blue": (0.0, 0.0, level / b),
        "neutral": (level, level, level),
    }


class TestGreenDetectorKernel:
    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    @pytest.mark.parametrize("level, neutral", [(3.0, "white"), (1.5, "grey"), (0.6, "grey"), (0.1, "grey")])
    def test_same_channel_sum(self, student, level, neutral):
        """green beats red, blue and white / grey whose channels have the same sum"""
        colours = same_sum(level)
        colours[neutral] = colours.pop("neutral")
        check_green_wins(student.green_detector_kernel(), colours, "channel sum")

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    @pytest.mark.parametrize("level, neutral", [(1.0, "white"), (0.5, "grey"), (0.114, "grey"), (0.02, "grey")])
    def test_same_luminance(self, student, level, neutral):
        """green beats red, blue and white / grey of the same BT.601 luminance"""
        colours = same_luminance(level)
        colours[neutral] = colours.pop("neutral")
        check_green_wins(student.green_detector_kernel(), colours, "luminance")
