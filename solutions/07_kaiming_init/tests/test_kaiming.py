"""Visible checks for 07_kaiming_init.

Run them with `pytest` in this folder, or `convgrade check 07_kaiming_init`.
Each check compares your function with PyTorch's own (`torch.nn.init`, with
the same random generator state, so the values must be the same up to the
last bits of float rounding), with a formula worked out by hand below, or with
what the lesson claims about deep stacks of conv + ReLU layers.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from autograder import mistakes
from autograder.compare import assert_same, error_cases
from autograder.inputs import randn


def generator(seed):
    """A fresh generator in a known state: the same seed gives the same draws."""
    return torch.Generator().manual_seed(seed)


def torch_filled(init, shape, seed, dtype=torch.float32, **kwargs):
    """A new tensor filled by torch.nn.init's `init` from `generator(seed)`."""
    tensor = torch.empty(shape, dtype=dtype)
    init(tensor, generator=generator(seed), **kwargs)
    return tensor


def same_draws(got, expected, **compare):
    """Compare an init's values with torch's from the same generator state.

    The tolerance lets a formula equal to torch's but evaluated in another order
    pass (bound = gain * sqrt(3 / fan) and sqrt(3) * (gain / sqrt(fan)) differ in
    their last bits): about a million float32 ulps would still be far below any
    real mistake.
    """
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

    Seeding the grader's own random generator cannot reproduce a submission that
    draws from the global one (it may run in another process), so: a second call
    with the same generator state gives other values, or the values have the right
    distribution without being the generator's draws.
    """
    again = torch.zeros(shape, dtype=dtype)
    try:
        getattr(student, f"kaiming_{kind}_")(again, generator=generator(seed), **settings)
    except Exception:  # noqa: BLE001 - the first call worked; a failure now says nothing about the generator
        return False
    return not torch.equal(again, got) or right_distribution(got, kind, std)


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
    if fan_in != fan_out:  # the other fan: fan_in and fan_out swapped, fan taken from size(0)
        other_mode = "fan_out" if mode.lower() == "fan_in" else "fan_in"
        phrase = mistakes.FAN_OUT_NOT_FAN_IN if mode.lower() == "fan_in" else mistakes.FAN_SWAPPED
        found[phrase] = torch_filled(right, shape, seed, dtype, **{**settings, "mode": other_mode})
    if nonlinearity == "leaky_relu" and a != 0:
        found[mistakes.SLOPE_IGNORED] = torch_filled(right, shape, seed, dtype, **{**settings, "a": 0})  # gain sqrt(2)
        if a != 1:
            found[mistakes.SLOPE_NOT_SQUARED] = with_std(math.sqrt(2.0 / (1 + a)) / math.sqrt(fan))
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


class TestCalculateGain:
    @pytest.mark.points(1)
    @pytest.mark.parametrize(
        "nonlinearity, param, expected",
        [
            ("relu", None, math.sqrt(2.0)),  # ReLU zeroes half the values: the second moment halves
            ("tanh", None, 5.0 / 3),
            ("leaky_relu", None, math.sqrt(2.0 / (1 + 0.01**2))),  # default negative slope 0.01
            ("leaky_relu", math.sqrt(5), math.sqrt(2.0 / (1 + 5))),  # nn.Conv2d's a=sqrt(5): sqrt(1/3)
        ],
    )
    def test_by_hand(self, student, nonlinearity, param, expected):
        """the gain for relu, tanh and leaky_relu, from the formulas"""
        slope = 0.01 if param is None else param
        wrong = {mistakes.SLOPE_NOT_SQUARED: math.sqrt(2.0 / (1 + slope))}
        # sqrt(2) is the gain of slope 0: the default slope taken as 0, or the slope left out altogether
        wrong[mistakes.SLOPE_DEFAULT if param is None else mistakes.SLOPE_IGNORED] = math.sqrt(2.0)
        assert_same(student.calculate_gain(nonlinearity, param), expected, mistakes=wrong if nonlinearity == "leaky_relu" else None)

    @pytest.mark.points(2)
    def test_matches_torch_for_every_name(self, student):
        """equals torch.nn.init.calculate_gain for every nonlinearity it knows"""
        names = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]  # fmt: skip
        for name in names:
            assert_same(student.calculate_gain(name), float(torch.nn.init.calculate_gain(name)))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """an unknown nonlinearity raises ValueError naming the nonlinearity"""
        with error_cases(valid=lambda: student.calculate_gain("leaky_relu", 0.2), expected=torch.nn.init.calculate_gain("leaky_relu", 0.2)) as case:
            with case(ValueError, mentions="nonlinearity", case="an unknown nonlinearity 'swish'"):
                student.calculate_gain("swish")


class TestFanInAndFanOut:
    @pytest.mark.points(2)
    def test_conv_weight_by_hand(self, student):
        """a (16, 3, 5, 5) conv weight: fan_in 3*5*5 = 75, fan_out 16*5*5 = 400"""
        got = student.fan_in_and_fan_out(torch.empty(16, 3, 5, 5))
        assert_same(got, (75, 400), mistakes={mistakes.FAN_SWAPPED: (400, 75), mistakes.NO_RECEPTIVE_FIELD: (3, 16)})

    @pytest.mark.points(1)
    def test_linear_weight_by_hand(self, student):
        """a (10, 20) Linear weight: fan_in 20 (in_features), fan_out 10"""
        got = student.fan_in_and_fan_out(torch.empty(10, 20))
        assert_same(got, (20, 10), mistakes={mistakes.FAN_SWAPPED: (10, 20)})

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    @given(shape=st.lists(st.integers(1, 9), min_size=2, max_size=5), dtype=st.sampled_from([torch.float32, torch.float64]))
    def test_matches_torch_on_random_shapes(self, student, shape, dtype):
        """equals PyTorch's fans for random 2-d to 5-d shapes"""
        w = torch.empty(shape, dtype=dtype)
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(w)
        assert_same(student.fan_in_and_fan_out(w), (fan_in, fan_out), mistakes=lambda: {
            mistakes.FAN_SWAPPED: (fan_out, fan_in),
            mistakes.NO_RECEPTIVE_FIELD: (shape[1], shape[0]),
        })

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_zero_size_dimension(self, student):
        """a dimension of size 0 gives a fan of 0, as in PyTorch"""
        # (0, 4, 3, 3): fan_in 4*3*3 = 36, fan_out 0*3*3 = 0
        w = torch.empty(0, 4, 3, 3)
        assert_same(student.fan_in_and_fan_out(w), (36, 0), mistakes={mistakes.FAN_SWAPPED: (0, 36)})

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a 1-d tensor has no fan in and out: ValueError naming the dimensions"""
        with error_cases(valid=lambda: student.fan_in_and_fan_out(torch.empty(16, 3, 5, 5)), expected=(75, 400)) as case:
            with case(ValueError, mentions="dimension", case="a 1-d tensor of 5 values"):
                student.fan_in_and_fan_out(torch.empty(5))
            with case(ValueError, mentions="dimension", case="a 1-d tensor of 1 value"):
                student.fan_in_and_fan_out(torch.empty(1))


@pytest.mark.task("kaiming_uniform_")
class TestKaimingUniform:
    @pytest.mark.points(1)
    @pytest.mark.parametrize(
        "shape, settings",
        [
            ((16, 8, 3, 3), {}),
            ((32, 20), {"nonlinearity": "relu"}),
            ((64, 16, 3, 3), {"a": math.sqrt(5)}),  # nn.Conv2d's default init
        ],
    )
    def test_matches_torch(self, student, shape, settings):
        """the same values as torch.nn.init.kaiming_uniform_ from the same generator state"""
        check_init(student, "uniform", shape, seed=len(shape), **settings)

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_float64(self, student):
        """a float64 tensor is filled in float64, with torch's values from the same generator state"""
        check_init(student, "uniform", (16, 8, 3, 3), seed=7, dtype=torch.float64, nonlinearity="relu")

    @pytest.mark.points(1)
    def test_fills_in_place_and_returns_the_tensor(self, student):
        """fills the tensor it is given and returns that same tensor"""
        tensor = torch.zeros(8, 4, 3, 3)
        result = student.kaiming_uniform_(tensor, nonlinearity="relu", generator=generator(5))
        assert bool(tensor.ne(0).any()), "the tensor passed in is still all zeros: kaiming_uniform_ fills it in place"
        assert result is tensor, f"kaiming_uniform_ must return the tensor it was given, got {type(result).__name__}"
        expected = torch_filled(torch.nn.init.kaiming_uniform_, (8, 4, 3, 3), 5, nonlinearity="relu")
        same_draws(tensor, expected, mistakes=lambda: init_mistakes(student, tensor, "uniform", (8, 4, 3, 3), 5, nonlinearity="relu"))

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    def test_bound_is_respected(self, student):
        """every value lies in [-bound, bound] and comes close to it, bound = sqrt(2) * sqrt(3 / fan_in) for relu"""
        tensor = torch.empty(256, 32, 3, 3)
        student.kaiming_uniform_(tensor, nonlinearity="relu", generator=generator(4))
        bound = math.sqrt(2.0) * math.sqrt(3.0 / (32 * 9))  # fan_in = 32 * 3 * 3 = 288
        largest = tensor.abs().max().item()
        # what the known mistakes' bounds would be (the largest of 73728 draws comes within 0.01% of its bound)
        wrong = {
            mistakes.MISSING_SQRT3: bound / math.sqrt(3.0),  # bound = std
            mistakes.FAN_OUT_NOT_FAN_IN: math.sqrt(2.0) * math.sqrt(3.0 / (256 * 9)),  # fan_out = 256 * 3 * 3 = 2304
            mistakes.GAIN_SQUARED: 2.0 * math.sqrt(3.0 / (32 * 9)),
        }
        hint = next((f"; likely {phrase.split(':')[0]}\n  likely mistake: {phrase}" for phrase, b in wrong.items()
                     if math.isclose(largest, b, rel_tol=0.01)), "")
        assert largest <= bound * (1 + 1e-6), f"largest |value| {largest:.6g} exceeds the bound {bound:.6g}{hint}"
        assert largest > 0.99 * bound, f"largest |value| {largest:.6g} is far below the bound {bound:.6g}: too narrow{hint}"

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    @pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
    def test_empty_tensor_is_left_as_it_is(self, student):
        """a tensor with no elements is returned unchanged, as PyTorch does (no division by a fan of 0)"""
        tensor = torch.empty(5, 0)
        result = student.kaiming_uniform_(tensor, generator=generator(0))
        assert result is tensor, f"kaiming_uniform_ must return the tensor it was given, got {type(result).__name__}"

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """an unknown mode or nonlinearity raises ValueError naming it"""
        with error_cases(valid=lambda: student.kaiming_uniform_(torch.empty(4, 3, 3, 3), generator=generator(3)), expected=torch_filled(torch.nn.init.kaiming_uniform_, (4, 3, 3, 3), 3)) as case:
            with case(ValueError, mentions="mode", case="an unknown mode 'fan_avg'"):
                student.kaiming_uniform_(torch.empty(4, 3, 3, 3), mode="fan_avg")
            with case(ValueError, mentions="nonlinearity", case="an unknown nonlinearity 'swish'"):
                student.kaiming_uniform_(torch.empty(4, 3, 3, 3), nonlinearity="swish")


@pytest.mark.task("kaiming_normal_")
class TestKaimingNormal:
    @pytest.mark.points(1)
    @pytest.mark.parametrize(
        "shape, settings",
        [
            ((16, 8, 3, 3), {"nonlinearity": "relu"}),  # Kaiming for ReLU: std = sqrt(2 / fan_in)
            ((20, 32), {}),
            ((8, 16, 5, 5), {"a": 0.2, "mode": "fan_out"}),
        ],
    )
    def test_matches_torch(self, student, shape, settings):
        """the same values as torch.nn.init.kaiming_normal_ from the same generator state"""
        check_init(student, "normal", shape, seed=10 + len(shape), **settings)

    @pytest.mark.points(2)
    @pytest.mark.category("dtypes")
    def test_float64(self, student):
        """a float64 tensor is filled in float64, with torch's values from the same generator state"""
        check_init(student, "normal", (16, 8, 5, 5), seed=17, dtype=torch.float64, nonlinearity="relu")

    @pytest.mark.points(1)
    def test_fills_in_place_and_returns_the_tensor(self, student):
        """fills the tensor it is given and returns that same tensor"""
        tensor = torch.zeros(8, 4, 3, 3)
        result = student.kaiming_normal_(tensor, nonlinearity="relu", generator=generator(6))
        assert bool(tensor.ne(0).any()), "the tensor passed in is still all zeros: kaiming_normal_ fills it in place"
        assert result is tensor, f"kaiming_normal_ must return the tensor it was given, got {type(result).__name__}"
        expected = torch_filled(torch.nn.init.kaiming_normal_, (8, 4, 3, 3), 6, nonlinearity="relu")
        same_draws(tensor, expected, mistakes=lambda: init_mistakes(student, tensor, "normal", (8, 4, 3, 3), 6, nonlinearity="relu"))

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    def test_std_is_kaiming(self, student):
        """the values' std is close to sqrt(2 / fan_in) for relu (a large tensor)"""
        tensor = torch.empty(256, 32, 3, 3)
        student.kaiming_normal_(tensor, nonlinearity="relu", generator=generator(5))
        # fan_in = 32*3*3 = 288, fan_out = 256*3*3 = 2304; 73728 draws: the measured std is within
        # about 0.3% of the true one, 3% is a safe margin
        assert_same(tensor.std().item(), math.sqrt(2.0 / 288), rtol=0.03, mistakes={
            mistakes.FAN_OUT_NOT_FAN_IN: math.sqrt(2.0 / 2304),
            mistakes.GAIN_SQUARED: 2.0 / math.sqrt(288),
        })

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    @pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
    def test_empty_tensor_is_left_as_it_is(self, student):
        """a tensor with no elements is returned unchanged, as PyTorch does (no division by a fan of 0)"""
        tensor = torch.empty(5, 0)
        result = student.kaiming_normal_(tensor, generator=generator(0))
        assert result is tensor, f"kaiming_normal_ must return the tensor it was given, got {type(result).__name__}"

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """an unknown mode or nonlinearity raises ValueError naming it"""
        with error_cases(valid=lambda: student.kaiming_normal_(torch.empty(4, 3, 3, 3), generator=generator(3)), expected=torch_filled(torch.nn.init.kaiming_normal_, (4, 3, 3, 3), 3)) as case:
            with case(ValueError, mentions="mode", case="an unknown mode 'fan_avg'"):
                student.kaiming_normal_(torch.empty(4, 3, 3, 3), mode="fan_avg")
            with case(ValueError, mentions="nonlinearity", case="an unknown nonlinearity 'swish'"):
                student.kaiming_normal_(torch.empty(4, 3, 3, 3), nonlinearity="swish")


def default_std_mistakes(fan_in):
    """What the known mistakes of default_conv_std return."""
    return {
        mistakes.MISSING_SQRT3: 1 / math.sqrt(fan_in),  # the bound, not the std
        mistakes.KAIMING_NOT_DEFAULT: math.sqrt(2 / fan_in),
        mistakes.SQRT5_NOT_SQUARED: math.sqrt(2 / (1 + math.sqrt(5))) / math.sqrt(fan_in),
        mistakes.A_IS_5: math.sqrt(2 / (1 + 5**2)) / math.sqrt(fan_in),
    }


class TestDefaultConvStd:
    @pytest.mark.points(2)
    @pytest.mark.parametrize("fan_in", [27, 576])
    def test_by_hand(self, student, fan_in):
        """1 / sqrt(3 * fan_in): the std of U(-1/sqrt(fan_in), 1/sqrt(fan_in))"""
        # gain = sqrt(2 / (1 + sqrt(5)**2)) = sqrt(1/3); bound = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in);
        # a uniform U(-b, b) has std b / sqrt(3), so std = 1 / sqrt(3 * fan_in)
        assert_same(student.default_conv_std(fan_in), 1 / math.sqrt(3 * fan_in), mistakes=default_std_mistakes(fan_in))

    @pytest.mark.points(2)
    def test_matches_nn_conv2d(self, student):
        """within 3% of the measured std of a default-initialised nn.Conv2d(64, 256, 3) weight"""
        with torch.random.fork_rng():
            torch.manual_seed(0)
            measured = torch.nn.Conv2d(64, 256, 3).weight.detach().std().item()
        # 147456 weights: the std of the measured std is about 0.1%, far below 3%
        fan_in = 64 * 3 * 3
        assert_same(student.default_conv_std(fan_in), measured, rtol=0.03, mistakes=default_std_mistakes(fan_in))

    @pytest.mark.points(1)
    @pytest.mark.category("properties")
    def test_sqrt_6_smaller_than_kaiming(self, student):
        """Kaiming's ReLU std sqrt(2 / fan_in) is sqrt(6) times the default's, whatever fan_in"""
        for fan_in in [9, 144, 4608]:
            got = student.default_conv_std(fan_in)
            assert isinstance(got, float), f"default_conv_std must return a Python float, got {type(got).__name__}"
            ratio = math.sqrt(2 / fan_in) / got
            assert_same(ratio, math.sqrt(6), rtol=1e-9, mistakes={
                phrase: math.sqrt(2 / fan_in) / wrong for phrase, wrong in default_std_mistakes(fan_in).items()
            })

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """fan_in below 1 raises ValueError naming fan_in"""
        with error_cases(valid=lambda: student.default_conv_std(27), expected=1 / 9) as case:  # 1 / sqrt(3 * 27)
            with case(ValueError, mentions="fan_in", case="fan_in 0"):
                student.default_conv_std(0)
            with case(ValueError, mentions="fan_in", case="a negative fan_in"):
                student.default_conv_std(-9)


def conv_relu_stds(x, weights, relu=True, std_before_relu=False, unbiased=True, padding="same"):
    """The stds after each conv + ReLU layer, computed independently in x's dtype (and some mistaken versions)."""
    stds, h = [], x
    with torch.no_grad():
        for w in weights:
            z = F.conv2d(h, w.to(x.dtype), padding=padding)
            h = F.relu(z) if relu else z
            stds.append((z if std_before_relu else h).std(unbiased=unbiased).item())
    return stds


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


# Where the bounds of the lesson's claims come from: for x = randn(2, 64, 16, 16) and
# ten 64-channel 3x3 layers, 500 random seeds gave
#   Kaiming normal (relu, fan_in): every layer's std within a factor 3.3 of the first's (median 1.4);
#   default init: the geometric mean of the per-layer shrink factor between 2.28 and 2.76
#     (sqrt(6) = 2.45; the zero padding at the border shrinks a 16x16 map a little more),
#     and the last layer's std between 5e-5 and 2e-4 of x's.
# With 16 channels instead, the weights vary too much from layer to layer: the Kaiming
# stack leaves the factor 4 for 8% of seeds. The seed used here gives 1.25, 2.45 and 1.0e-4.
# Wrong computations (no ReLU, the std before the ReLU, no padding) fail these claims.


class TestActivationStds:
    @pytest.mark.points(2)
    def test_matches_conv_relu_loop(self, student):
        """equals the std after each F.conv2d(padding="same") + ReLU of a small stack"""
        x = randn(2, 3, 8, 8)
        weights = [randn(4, 3, 3, 3, seed=1) * 0.3, randn(5, 4, 3, 3, seed=2) * 0.3, randn(2, 5, 1, 1, seed=3)]
        got = student.activation_stds(x, weights)
        assert_same(got, conv_relu_stds(x, weights), rtol=1e-4, mistakes={
            mistakes.RELU_MISSING: conv_relu_stds(x, weights, relu=False),
            mistakes.STD_BEFORE_RELU: conv_relu_stds(x, weights, std_before_relu=True),
            mistakes.BIASED_STD: conv_relu_stds(x, weights, unbiased=False),
            mistakes.PADDING_IGNORED: conv_relu_stds(x, weights, padding=0),
        })

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    def test_kaiming_normal_keeps_the_scale(self, student):
        """with Kaiming-normal (ReLU) weights the stds stay within a factor 4 over 10 layers"""
        x = randn(2, 64, 16, 16)
        stds = student.activation_stds(x, kaiming_stack(seed=1))
        assert isinstance(stds, (list, tuple)) and len(stds) == 10, f"expected a list of 10 floats, got {stds!r:.200}"
        ratios = [float(s) / float(stds[0]) for s in stds]
        assert all(1 / 4 < r < 4 for r in ratios), (
            "with Kaiming-normal weights every layer's std should be within a factor 4 of the first layer's; "
            f"got std / first std = {[round(r, 3) for r in ratios]}"
        )

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    def test_default_init_shrinks_by_sqrt_6(self, student):
        """with nn.Conv2d's default init the std shrinks about sqrt(6) per layer, below 1e-3 after 10"""
        x = randn(2, 64, 16, 16)
        stds = student.activation_stds(x, default_stack(seed=1))
        assert isinstance(stds, (list, tuple)) and len(stds) == 10, f"expected a list of 10 floats, got {stds!r:.200}"
        per_layer = (float(stds[0]) / float(stds[-1])) ** (1 / 9)  # geometric mean of the 9 shrink factors
        assert 2 < per_layer < 3, (
            f"with the default init the std should shrink by about sqrt(6) = 2.45 per layer; got {per_layer:.3f} "
            f"(stds {[f'{float(s):.3g}' for s in stds]})"
        )
        last = float(stds[-1]) / x.std().item()
        assert last < 1e-3, f"after 10 layers the std should be below 1e-3 of x's; got {last:.3g}"

    @pytest.mark.points(1)
    @pytest.mark.category("dtypes")
    def test_float64_and_weights_of_the_other_dtype(self, student):
        """float64 x gives float64-accurate stds; float64 weights on a float32 x are used in float32"""
        x = randn(2, 3, 8, 8, dtype=torch.float64)
        weights = [randn(4, 3, 3, 3, seed=1, dtype=torch.float64) * 0.3, randn(2, 4, 3, 3, seed=2, dtype=torch.float64) * 0.3]
        # float64 throughout: a float32 computation is off by about 1e-7, far beyond 1e-10
        assert_same(student.activation_stds(x, weights), conv_relu_stds(x, weights), rtol=1e-10)
        # a float32 x with float64 weights: the weights are used in float32
        assert_same(student.activation_stds(x.float(), weights), conv_relu_stds(x.float(), weights), rtol=1e-4)

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_no_layers(self, student):
        """an empty stack gives an empty list"""
        assert_same(student.activation_stds(randn(1, 3, 4, 4), []), [])

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a weight whose C_in differs from the channels coming in raises ValueError naming the channels"""
        x, weights = randn(1, 3, 6, 6), [randn(4, 3, 3, 3, seed=1) * 0.3]
        with error_cases(valid=lambda: student.activation_stds(x, weights), expected=conv_relu_stds(x, weights), rtol=1e-4) as case:
            with case(ValueError, mentions="channel", case="a second weight with C_in 3 after 4 channels"):
                student.activation_stds(randn(1, 3, 6, 6), [randn(4, 3, 3, 3, seed=1), randn(2, 3, 3, 3, seed=2)])
