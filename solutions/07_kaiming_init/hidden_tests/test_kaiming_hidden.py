"""Hidden checks for 07_kaiming_init: every name and shape, random settings, dtypes, edge cases, errors."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from autograder import mistakes
from autograder.compare import assert_same, error_cases
from autograder.inputs import randn


NAMES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
         "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]  # fmt: skip


def generator(seed):
    """A fresh generator in a known state: the same seed gives the same draws."""
    return torch.Generator().manual_seed(seed)


def torch_filled(init, shape, seed, dtype=torch.float32, **kwargs):
    """A new tensor filled by torch.nn.init's `init` from `generator(seed)`."""
    tensor = torch.empty(shape, dtype=dtype)
    init(tensor, generator=generator(seed), **kwargs)
    return tensor


def same_draws(got, expected, **compare):
    """Compare an init's values with torch's from the same generator state, to the last bits of another order."""
    rtol = 1e-6 if expected.dtype == torch.float32 else 1e-12
    largest = expected.abs().max().item() if expected.numel() else 0.0
    assert_same(got, expected, rtol=rtol, atol=rtol * largest, **compare)


def same_result(a, b):
    """Whether two mistakes' results are the same."""
    return a.shape == b.shape and a.dtype == b.dtype and bool(torch.isclose(a, b, rtol=1e-6, atol=0).all())


def unambiguous(found):
    """The mistakes whose result no other mistake gives too (a failure then names the right one)."""
    return {k: v for k, v in found.items() if not any(same_result(v, other) for j, other in found.items() if j != k)}


def right_distribution(values, kind, std):
    """Whether `values` look drawn from the right distribution (std, and bound for uniform), whatever the draws."""
    n = values.numel()
    if n < 1000:  # too few values to tell
        return False
    values = values.double().flatten()
    if kind == "uniform":
        if values.abs().max().item() > math.sqrt(3.0) * std * (1 + 1e-6):
            return False
        spread = math.sqrt(0.2 / n)  # the relative standard error of a uniform sample's std
    else:
        spread = math.sqrt(0.5 / n)  # ... of a normal sample's std
    return abs(values.std().item() / std - 1) < 4 * spread and abs(values.mean().item()) < 4 * std / math.sqrt(n)


def generator_ignored(student, got, kind, shape, seed, dtype, settings, std):
    """Whether the student's values come from another random stream than `generator`.

    A second call with the same generator state gives other values, or the values
    have the right distribution without being the generator's draws.
    """
    again = torch.zeros(shape, dtype=dtype)
    try:
        getattr(student, f"kaiming_{kind}_")(again, generator=generator(seed), **settings)
    except Exception:  # noqa: BLE001 - the first call worked; a failure now says nothing about the generator
        return False
    return not torch.equal(again, got) or right_distribution(got, kind, std)


def lower_case_mode_works(student, kind, shape, seed, dtype, settings):
    """Whether the student's kaiming_<kind>_ gives torch's values when the mode is spelled in lower case."""
    right = torch.nn.init.kaiming_uniform_ if kind == "uniform" else torch.nn.init.kaiming_normal_
    lower = {**settings, "mode": settings["mode"].lower()}
    tensor = torch.zeros(shape, dtype=dtype)
    try:
        getattr(student, f"kaiming_{kind}_")(tensor, generator=generator(seed), **lower)
    except Exception:  # noqa: BLE001 - then the case is not what is wrong
        return False
    expected = torch_filled(right, shape, seed, dtype, **lower)
    rtol = 1e-6 if dtype == torch.float32 else 1e-12
    return bool(torch.allclose(tensor, expected, rtol=rtol, atol=rtol * expected.abs().max().item()))


def init_mistakes(student, got, kind, shape, seed, dtype=torch.float32, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """What the known mistakes of kaiming_uniform_ (kind "uniform") or kaiming_normal_ would give."""
    settings = {"a": a, "mode": mode, "nonlinearity": nonlinearity}
    gain = torch.nn.init.calculate_gain(nonlinearity, a)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    fan = fan_in if mode.lower() == "fan_in" else fan_out
    uniform, normal = torch.nn.init.kaiming_uniform_, torch.nn.init.kaiming_normal_
    right, other = (uniform, normal) if kind == "uniform" else (normal, uniform)

    def with_std(std, bound=None):
        tensor = torch.empty(shape, dtype=dtype)
        if kind == "uniform":
            bound = math.sqrt(3.0) * std if bound is None else bound
            return tensor.uniform_(-bound, bound, generator=generator(seed))
        return tensor.normal_(0, std, generator=generator(seed))

    wrong_kind = mistakes.NORMAL_NOT_UNIFORM if kind == "uniform" else mistakes.UNIFORM_NOT_NORMAL
    found = {wrong_kind: torch_filled(other, shape, seed, dtype, **settings)}
    if gain != 1:  # the gain taken for a variance
        found[mistakes.GAIN_SQUARED] = with_std(gain**2 / math.sqrt(fan))
    if kind == "uniform":
        found[mistakes.MISSING_SQRT3] = with_std(None, gain / math.sqrt(fan))  # bound = std
    if fan_in != fan_out:  # the other fan: fan taken from size(0), or the mode's case not ignored
        other_mode = "fan_out" if mode.lower() == "fan_in" else "fan_in"
        if mode != mode.lower() and lower_case_mode_works(student, kind, shape, seed, dtype, settings):
            phrase = mistakes.MODE_CASE
        else:
            phrase = mistakes.FAN_OUT_NOT_FAN_IN if mode.lower() == "fan_in" else mistakes.FAN_SWAPPED
        found[phrase] = torch_filled(right, shape, seed, dtype, **{**settings, "mode": other_mode})
    if nonlinearity == "leaky_relu" and a != 0:
        found[mistakes.SLOPE_IGNORED] = torch_filled(right, shape, seed, dtype, **{**settings, "a": 0})  # gain sqrt(2)
        if a != 1:
            found[mistakes.SLOPE_NOT_SQUARED] = with_std(math.sqrt(2.0 / (1 + a)) / math.sqrt(fan))
        if a != 0.01:
            found[mistakes.A_IGNORED] = torch_filled(right, shape, seed, dtype, **{**settings, "a": None})
    if mistakes.GAIN_SQUARED in found and mistakes.MISSING_SQRT3 in found:
        if same_result(found[mistakes.GAIN_SQUARED], found[mistakes.MISSING_SQRT3]):  # gain**2 = gain / sqrt(3) for a = sqrt(5)
            del found[mistakes.GAIN_SQUARED]
    found = unambiguous(found)
    if generator_ignored(student, got, kind, shape, seed, dtype, settings, gain / math.sqrt(fan)):
        found[mistakes.GENERATOR_IGNORED] = got.clone()  # named only when no mistake above fits
    return found


def check_init(student, kind, shape, seed, dtype=torch.float32, **settings):
    """The student's kaiming_<kind>_ fills a tensor as torch.nn.init's does from the same generator state."""
    right = torch.nn.init.kaiming_uniform_ if kind == "uniform" else torch.nn.init.kaiming_normal_
    tensor = torch.zeros(shape, dtype=dtype)
    getattr(student, f"kaiming_{kind}_")(tensor, generator=generator(seed), **settings)
    assert bool(tensor.ne(0).any()), f"the tensor passed in is still all zeros: kaiming_{kind}_ fills it in place"
    expected = torch_filled(right, shape, seed, dtype, **settings)
    same_draws(tensor, expected, mistakes=lambda: init_mistakes(student, tensor, kind, shape, seed, dtype, **settings))


@st.composite
def init_cases(draw):
    """A random shape (2-d to 5-d), seed and Kaiming settings (float32: the dtypes are checked on their own)."""
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=2, max_size=5)))
    settings = {
        "a": draw(st.sampled_from([0, 0.01, 0.1, 1, 2, math.sqrt(5)])),
        "mode": draw(st.sampled_from(["fan_in", "fan_out", "FAN_IN", "Fan_Out"])),
        "nonlinearity": draw(st.sampled_from(["leaky_relu", "relu", "leaky_relu", "linear", "tanh", "selu", "sigmoid"])),
    }
    return shape, draw(st.integers(0, 2**16)), settings


INIT_CASES = [
    ((64, 3, 7, 7), {"nonlinearity": "relu"}),
    ((10, 20), {"a": 0.2}),
    ((6, 4, 5), {"mode": "fan_out", "nonlinearity": "relu"}),
    ((2, 3, 2, 2, 2), {"a": math.sqrt(5), "mode": "fan_out"}),
    ((128, 64, 3, 3), {"a": math.sqrt(5)}),
    ((5, 7, 1, 1), {"mode": "FAN_OUT", "nonlinearity": "tanh"}),
    ((3, 9, 2, 4), {"a": 1, "mode": "Fan_In"}),
]
DTYPE_CASES = [((128, 64, 3, 3), {"a": math.sqrt(5)}), ((10, 20), {"a": 0.2, "mode": "fan_out"})]


class TestCalculateGain:
    @pytest.mark.points(2)
    def test_matches_torch_with_a_param(self, student):
        """equals torch.nn.init.calculate_gain for every name, with param None or 0.3 (param only matters for leaky_relu)"""
        for name in NAMES:
            for param in [None, 0.3]:
                assert_same(student.calculate_gain(name, param), float(torch.nn.init.calculate_gain(name, param)))

    @pytest.mark.points(2)
    def test_leaky_relu_slopes_match_torch(self, student):
        """leaky_relu with negative slopes 0, 0.2, 1, 2 (an int), 3 and sqrt(5) equals torch's"""
        for slope in [0, 0.2, 1, 2, 3.0, math.sqrt(5), 0.01]:
            assert_same(student.calculate_gain("leaky_relu", slope), float(torch.nn.init.calculate_gain("leaky_relu", slope)),
                        mistakes={mistakes.SLOPE_NOT_SQUARED: math.sqrt(2.0 / (1 + slope)), mistakes.SLOPE_IGNORED: math.sqrt(2.0)}
                        if slope not in (0, 1) else None)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """unknown nonlinearities raise ValueError naming the nonlinearity; a leaky_relu slope that is a bool or a string raises ValueError"""
        with error_cases(valid=lambda: student.calculate_gain("tanh"), expected=torch.nn.init.calculate_gain("tanh")) as case:
            for name in ["ReLU", "gelu", ""]:
                with case(ValueError, mentions="nonlinearity", case=f"an unknown nonlinearity {name!r}"):
                    student.calculate_gain(name)
            for param in [True, "0.1"]:
                with case(ValueError, case=f"a leaky_relu slope {param!r}"):
                    student.calculate_gain("leaky_relu", param)


class TestFanInAndFanOut:
    @pytest.mark.points(2)
    def test_matches_torch(self, student):
        """equals torch.nn.init._calculate_fan_in_and_fan_out, 2-d to 5-d"""
        for shape in [(7, 3), (5, 4, 6), (8, 4, 3, 2), (2, 3, 4, 5, 6)]:
            w = torch.empty(shape)
            fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(w)
            wrong = {mistakes.FAN_SWAPPED: (fan_out, fan_in)}
            if len(shape) > 2:
                wrong[mistakes.NO_RECEPTIVE_FIELD] = (shape[1], shape[0])
            assert_same(student.fan_in_and_fan_out(w), (fan_in, fan_out), mistakes=wrong)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_size_1_dimensions(self, student):
        """size-1 dimensions: a (1, 1) weight, a (3, 1, 1, 1) weight, a (1, 5, 1, 1) weight"""
        for shape, expected in [((1, 1), (1, 1)), ((3, 1, 1, 1), (1, 3)), ((1, 5, 1, 1), (5, 1))]:
            assert_same(student.fan_in_and_fan_out(torch.empty(shape)), expected,
                        mistakes={mistakes.FAN_SWAPPED: expected[::-1]} if expected[0] != expected[1] else None)


@pytest.mark.task("kaiming_uniform_")
class TestKaimingUniform:
    @pytest.mark.points(1)
    @pytest.mark.parametrize("shape, settings", INIT_CASES)
    def test_matches_torch(self, student, shape, settings):
        """the same values as torch.nn.init.kaiming_uniform_ from the same generator state"""
        check_init(student, "uniform", shape, seed=sum(shape), **settings)

    @pytest.mark.points(3)
    @pytest.mark.category("properties")
    @given(case=init_cases())
    def test_matches_torch_on_random_settings(self, student, case):
        """the same values as torch's for random shapes, seeds, a, mode and nonlinearity"""
        shape, seed, settings = case
        check_init(student, "uniform", shape, seed, **settings)

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    @pytest.mark.parametrize("shape, settings", DTYPE_CASES)
    def test_float64(self, student, shape, settings):
        """a float64 tensor is filled in float64, with torch's values from the same generator state"""
        check_init(student, "uniform", shape, seed=sum(shape) + 2, dtype=torch.float64, **settings)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_size_1_dimensions(self, student):
        """size-1 dimensions: a (1, 1) tensor (fan 1) and a (7, 1, 1, 1) one, torch's values"""
        check_init(student, "uniform", (1, 1), seed=3, nonlinearity="relu")
        check_init(student, "uniform", (7, 1, 1, 1), seed=4, mode="fan_out")

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise an error: unknown modes (ValueError naming the mode), a 1-d tensor (ValueError), a mode that is not a string (TypeError)"""
        with error_cases(valid=lambda: student.kaiming_uniform_(torch.empty(4, 3, 3, 3), mode="fan_out", generator=generator(3)), expected=torch_filled(torch.nn.init.kaiming_uniform_, (4, 3, 3, 3), 3, mode="fan_out")) as case:
            for mode in ["in", ""]:
                with case(ValueError, mentions="mode", case=f"an unknown mode {mode!r}"):
                    student.kaiming_uniform_(torch.empty(4, 3, 3, 3), mode=mode)
            with case(ValueError, case="a 1-d tensor"):
                student.kaiming_uniform_(torch.empty(5))
            with case(TypeError, case="a mode that is not a string"):
                student.kaiming_uniform_(torch.empty(4, 3, 3, 3), mode=1)


@pytest.mark.task("kaiming_normal_")
class TestKaimingNormal:
    @pytest.mark.points(1)
    @pytest.mark.parametrize("shape, settings", INIT_CASES)
    def test_matches_torch(self, student, shape, settings):
        """the same values as torch.nn.init.kaiming_normal_ from the same generator state"""
        check_init(student, "normal", shape, seed=sum(shape) + 1, **settings)

    @pytest.mark.points(3)
    @pytest.mark.category("properties")
    @given(case=init_cases())
    def test_matches_torch_on_random_settings(self, student, case):
        """the same values as torch's for random shapes, seeds, a, mode and nonlinearity"""
        shape, seed, settings = case
        check_init(student, "normal", shape, seed, **settings)

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    @pytest.mark.parametrize("shape, settings", DTYPE_CASES)
    def test_float64(self, student, shape, settings):
        """a float64 tensor is filled in float64, with torch's values from the same generator state"""
        check_init(student, "normal", shape, seed=sum(shape) + 3, dtype=torch.float64, **settings)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_size_1_dimensions(self, student):
        """size-1 dimensions: a (1, 1) tensor (fan 1) and a (7, 1, 1, 1) one, torch's values"""
        check_init(student, "normal", (1, 1), seed=5, nonlinearity="relu")
        check_init(student, "normal", (7, 1, 1, 1), seed=6, mode="fan_out")

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise an error: unknown modes (ValueError naming the mode), a 1-d tensor (ValueError), a mode that is not a string (TypeError)"""
        with error_cases(valid=lambda: student.kaiming_normal_(torch.empty(4, 3, 3, 3), mode="fan_out", generator=generator(3)), expected=torch_filled(torch.nn.init.kaiming_normal_, (4, 3, 3, 3), 3, mode="fan_out")) as case:
            for mode in ["out", ""]:
                with case(ValueError, mentions="mode", case=f"an unknown mode {mode!r}"):
                    student.kaiming_normal_(torch.empty(4, 3, 3, 3), mode=mode)
            with case(ValueError, case="a 1-d tensor"):
                student.kaiming_normal_(torch.empty(5))
            with case(TypeError, case="a mode that is not a string"):
                student.kaiming_normal_(torch.empty(4, 3, 3, 3), mode=1)


def default_std_mistakes(fan_in):
    """What the known mistakes of default_conv_std return."""
    return {
        mistakes.MISSING_SQRT3: 1 / math.sqrt(fan_in),  # the bound, not the std
        mistakes.KAIMING_NOT_DEFAULT: math.sqrt(2 / fan_in),
        mistakes.SQRT5_NOT_SQUARED: math.sqrt(2 / (1 + math.sqrt(5))) / math.sqrt(fan_in),
        mistakes.A_IS_5: math.sqrt(2 / (1 + 5**2)) / math.sqrt(fan_in),
    }


class TestDefaultConvStd:
    @pytest.mark.points(1)
    def test_formula_for_many_fans(self, student):
        """1 / sqrt(3 * fan_in) for fans from 1 to 4608"""
        for fan_in in [1, 3, 9, 25, 75, 147, 576, 1152, 4608]:
            assert_same(student.default_conv_std(fan_in), 1 / math.sqrt(3 * fan_in), mistakes=default_std_mistakes(fan_in))

    @pytest.mark.points(1)
    @pytest.mark.parametrize("c_in, c_out, k", [(32, 128, 5), (3, 512, 7), (256, 64, 1)])
    def test_matches_nn_conv2d(self, student, c_in, c_out, k):
        """within 3% of the measured std of a default-initialised nn.Conv2d weight"""
        with torch.random.fork_rng():
            torch.manual_seed(c_in + k)
            measured = torch.nn.Conv2d(c_in, c_out, k).weight.detach().std().item()
        # at least 16384 weights: the measured std is within about 0.5% of the true one
        fan_in = c_in * k * k
        assert_same(student.default_conv_std(fan_in), measured, rtol=0.03, mistakes=default_std_mistakes(fan_in))


def conv_relu_stds(x, weights, relu=True, std_before_relu=False, unbiased=True, padding="same"):
    """The stds after each conv + ReLU layer, computed independently in x's dtype (and some mistaken versions)."""
    stds, h = [], x
    with torch.no_grad():
        for w in weights:
            w = w.to(x.dtype)
            if padding == "top-left":  # an even kernel's extra padding on the wrong side
                kh, kw = w.shape[-2:]
                z = F.conv2d(F.pad(h, ((kw - 1) - (kw - 1) // 2, (kw - 1) // 2, (kh - 1) - (kh - 1) // 2, (kh - 1) // 2)), w)
            else:
                z = F.conv2d(h, w, padding=padding)
            h = F.relu(z) if relu else z
            stds.append((z if std_before_relu else h).std(unbiased=unbiased).item())
    return stds


def stds_mistakes(x, weights):
    """What the known mistakes of activation_stds would return."""
    found = {
        mistakes.RELU_MISSING: conv_relu_stds(x, weights, relu=False),
        mistakes.STD_BEFORE_RELU: conv_relu_stds(x, weights, std_before_relu=True),
        mistakes.BIASED_STD: conv_relu_stds(x, weights, unbiased=False),
    }
    if any(k % 2 == 0 for w in weights for k in w.shape[-2:]):
        found[mistakes.EVEN_KERNEL_PADDING] = conv_relu_stds(x, weights, padding="top-left")
    try:
        found[mistakes.PADDING_IGNORED] = conv_relu_stds(x, weights, padding=0)
    except RuntimeError:  # the stack shrinks below a kernel without padding
        pass
    return found


@st.composite
def small_stacks(draw, dtypes=(torch.float32,), mixed=False):
    """x (N, C, H, W) and 1 to 4 conv weights of random (also even and non-square) kernel sizes.

    With ``mixed``, each weight is of either float dtype, whatever x's.
    """
    dtype = draw(st.sampled_from(dtypes))
    seed = draw(st.integers(0, 2**16))
    channels = draw(st.integers(1, 4))
    x = randn(draw(st.integers(1, 3)), channels, draw(st.integers(2, 9)), draw(st.integers(2, 9)), seed=seed, dtype=dtype)
    weights = []
    for i in range(draw(st.integers(1, 4))):
        c_out, kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
        w_dtype = draw(st.sampled_from([torch.float32, torch.float64])) if mixed else dtype
        weights.append(randn(c_out, channels, kh, kw, seed=seed + i + 1, dtype=w_dtype) * (2 / (channels * kh * kw)) ** 0.5)
        channels = c_out
    return x, weights


def kaiming_stack(seed, channels=64, layers=10):
    """Kaiming-normal weights for ReLU (std sqrt(2 / fan_in)), 3x3 kernels."""
    g = generator(seed)
    return [torch.nn.init.kaiming_normal_(torch.empty(channels, channels, 3, 3), nonlinearity="relu", generator=g)
            for _ in range(layers)]  # fmt: skip


def default_stack(seed, channels=64, layers=10):
    """nn.Conv2d's default weights: kaiming_uniform_ with a=sqrt(5), std 1 / sqrt(3 * fan_in)."""
    g = generator(seed)
    return [torch.nn.init.kaiming_uniform_(torch.empty(channels, channels, 3, 3), a=math.sqrt(5), generator=g)
            for _ in range(layers)]  # fmt: skip


# Where the bounds of the lesson's claims come from: for x = randn(2, 64, H, H), H = 16 or 12,
# and ten 64-channel 3x3 layers, 500 random seeds gave
#   Kaiming normal (relu, fan_in): every layer's std within a factor 3.3 (H=16) or 3.6 (H=12) of the
#     first's (median 1.4-1.5);
#   default init: the geometric mean of the per-layer shrink factor between 2.28 and 2.78
#     (sqrt(6) = 2.45; zero padding at the border shrinks a small map a little more),
#     and the last layer's std between 5e-5 and 2e-4 of x's.
# With 16 channels the Kaiming stack leaves the factor 4 for 8% of seeds (the weights vary too
# much from layer to layer), so the claims are checked on 64 channels. The cases below
# give factors 1.67 and 1.56, shrink factors 2.51 and 2.46, and 8.1e-5 and 9.7e-5 of x's std.
CLAIM_CASES = [((2, 64, 12, 12), 1, 2), ((2, 64, 16, 16), 4, 5)]  # (x shape, x seed, weights seed)


class TestActivationStds:
    @pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
    @pytest.mark.points(3)
    @pytest.mark.category("properties")
    @given(stack=small_stacks())
    def test_matches_conv_relu_loop_on_random_stacks(self, student, stack):
        """equals an F.conv2d(padding="same") + ReLU loop for random stacks, with even and non-square kernels"""
        x, weights = stack
        assert_same(student.activation_stds(x, weights), conv_relu_stds(x, weights), rtol=1e-4, mistakes=lambda: stds_mistakes(x, weights))

    @pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    @given(stack=small_stacks(dtypes=(torch.float32, torch.float64), mixed=True))
    def test_dtypes_on_random_stacks(self, student, stack):
        """float32 and float64 x, each weight of either float dtype used in x's dtype (float64 to float64 accuracy)"""
        x, weights = stack
        rtol = 1e-4 if x.dtype == torch.float32 else 1e-10
        assert_same(student.activation_stds(x, weights), conv_relu_stds(x, weights), rtol=rtol, mistakes=lambda: stds_mistakes(x, weights))

    @pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
    @pytest.mark.points(1)
    def test_even_kernel_pads_bottom_right(self, student):
        """a 2x2 kernel pads one extra row and column at the bottom and right, as padding="same" does"""
        x = randn(1, 1, 5, 5)
        x[..., 0, :] = 10.0  # a bright top row: where the padding goes changes the result
        weights = [torch.ones(1, 1, 2, 2)]
        assert_same(student.activation_stds(x, weights), conv_relu_stds(x, weights), rtol=1e-4, mistakes=lambda: stds_mistakes(x, weights))

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    @pytest.mark.parametrize("shape, x_seed, w_seed", CLAIM_CASES)
    def test_kaiming_normal_keeps_the_scale(self, student, shape, x_seed, w_seed):
        """with Kaiming-normal (ReLU) weights the stds stay within a factor 4 over 10 layers"""
        x = randn(*shape, seed=x_seed)
        weights = kaiming_stack(w_seed)
        stds = student.activation_stds(x, weights)
        assert_same(stds, conv_relu_stds(x, weights), rtol=1e-4, mistakes=lambda: stds_mistakes(x, weights))
        ratios = [s / stds[0] for s in stds]
        assert all(1 / 4 < r < 4 for r in ratios), f"stds should stay within a factor 4 of the first: {ratios}"

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    @pytest.mark.parametrize("shape, x_seed, w_seed", CLAIM_CASES)
    def test_default_init_shrinks_by_sqrt_6(self, student, shape, x_seed, w_seed):
        """with the default init the std shrinks about sqrt(6) per layer, below 1e-3 of x's after 10"""
        x = randn(*shape, seed=x_seed)
        weights = default_stack(w_seed)
        stds = student.activation_stds(x, weights)
        assert_same(stds, conv_relu_stds(x, weights), rtol=1e-4, mistakes=lambda: stds_mistakes(x, weights))
        per_layer = (stds[0] / stds[-1]) ** (1 / 9)
        assert 2 < per_layer < 3, f"the std should shrink by about sqrt(6) = 2.45 per layer, got {per_layer:.3f}"
        assert stds[-1] / x.std().item() < 1e-3, f"after 10 layers the std should be below 1e-3 of x's: {stds}"

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad arguments raise an error: an x that is not (N, C, H, W) or a weight that is not 4-d (ValueError), an integer x (TypeError)"""
        x, weights = randn(2, 3, 6, 6), [randn(4, 3, 3, 3, seed=1) * 0.3, randn(2, 4, 1, 1, seed=2)]
        with error_cases(valid=lambda: student.activation_stds(x, weights), expected=conv_relu_stds(x, weights), rtol=1e-4) as case:
            with case(ValueError, case="a 3-d x"):
                student.activation_stds(randn(3, 6, 6), [randn(4, 3, 3, 3, seed=1)])
            with case(ValueError, case="a 3-d weight"):
                student.activation_stds(randn(1, 3, 6, 6), [randn(3, 3, 3, seed=1)])
            with case(TypeError, case="an integer x"):
                student.activation_stds(torch.ones(1, 3, 6, 6, dtype=torch.int64), [randn(4, 3, 3, 3, seed=1)])
