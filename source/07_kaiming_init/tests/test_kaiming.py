"""Visible checks for 07_kaiming_init.

Run them with `pytest` in this folder, or `convgrade check 07_kaiming_init`.
Each check compares your function with PyTorch's own (`torch.nn.init`, with
the same random generator state, so the values must be identical bit for bit),
with a formula worked out by hand below, or with what the lesson claims about
deep stacks of conv + ReLU layers.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from autograder import mistakes
from autograder.compare import assert_same, expect_error
from autograder.inputs import randn


def generator(seed):
    """A fresh generator in a known state: the same seed gives the same draws."""
    return torch.Generator().manual_seed(seed)


def torch_filled(init, shape, seed, dtype=torch.float32, **kwargs):
    """A new tensor filled by torch.nn.init's `init` from `generator(seed)`."""
    tensor = torch.empty(shape, dtype=dtype)
    init(tensor, generator=generator(seed), **kwargs)
    return tensor


def closest(got, candidates):
    """The candidate nearest to what the student returned (one mistake has several spellings)."""
    if not (isinstance(got, torch.Tensor) and all(got.shape == c.shape for c in candidates)):
        return candidates[0]
    return min(candidates, key=lambda c: (got.double() - c.double()).abs().max().item())


def unambiguous(found):
    """The mistakes whose result no other mistake gives too (a failure then names the right one)."""
    def same(a, b):
        return a.shape == b.shape and a.dtype == b.dtype and bool(torch.isclose(a, b, rtol=1e-6, atol=0).all())

    return {k: v for k, v in found.items() if not any(same(v, other) for j, other in found.items() if j != k)}


def init_mistakes(got, kind, shape, seed, dtype=torch.float32, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """What the known mistakes of kaiming_uniform_ (kind "uniform") or kaiming_normal_ would give."""
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

    settings = {"a": a, "mode": mode, "nonlinearity": nonlinearity}
    wrong_kind = mistakes.NORMAL_NOT_UNIFORM if kind == "uniform" else mistakes.UNIFORM_NOT_NORMAL
    found = {wrong_kind: torch_filled(other, shape, seed, dtype, **settings)}
    if gain != 1:
        # gain**2 where gain belongs, or the gain taken for a variance
        squared = [gain**2 / math.sqrt(fan), math.sqrt(gain / fan), gain**2 / fan]
        found[mistakes.GAIN_SQUARED] = closest(got, [with_std(std) for std in squared])
    # the same std (and bound) computed in another order: equal up to the last bit or two
    stds = [gain * math.sqrt(1.0 / fan), math.sqrt(gain**2 / fan), gain * fan**-0.5, gain / fan**0.5]
    other_orders = [with_std(std) for std in stds]
    if kind == "uniform":
        bounds = [gain * math.sqrt(3.0 / fan), math.sqrt(3.0) * gain / math.sqrt(fan), math.sqrt(3.0 * gain**2 / fan)]
        other_orders += [with_std(None, bound) for bound in bounds]
        found[mistakes.MISSING_SQRT3] = with_std(None, gain / math.sqrt(fan))  # bound = std
    found[mistakes.ARITHMETIC_ORDER] = closest(got, other_orders)
    if mode.lower() == "fan_in" and fan_in != fan_out:
        found[mistakes.FAN_OUT_NOT_FAN_IN] = torch_filled(right, shape, seed, dtype, **{**settings, "mode": "fan_out"})
    if nonlinearity == "leaky_relu":
        found[mistakes.A_IGNORED] = torch_filled(right, shape, seed, dtype, **{**settings, "a": None})
    return unambiguous(found)


def check_init(student, kind, shape, seed, dtype=torch.float32, **settings):
    """The student's kaiming_<kind>_ fills a tensor exactly as torch.nn.init's does from the same generator state."""
    right = torch.nn.init.kaiming_uniform_ if kind == "uniform" else torch.nn.init.kaiming_normal_
    tensor = torch.zeros(shape, dtype=dtype)
    with torch.random.fork_rng():
        torch.manual_seed(seed + 1)  # so that a student who ignores `generator` can be told so
        getattr(student, f"kaiming_{kind}_")(tensor, generator=generator(seed), **settings)
        torch.manual_seed(seed + 1)
        unseeded = torch.empty(shape, dtype=dtype)
        right(unseeded, **settings)
    expected = torch_filled(right, shape, seed, dtype, **settings)
    assert bool(tensor.ne(0).any()), f"the tensor passed in is still all zeros: kaiming_{kind}_ fills it in place"

    def found():  # computed only when a comparison fails
        return {**init_mistakes(tensor, kind, shape, seed, dtype, **settings), mistakes.GENERATOR_IGNORED: unseeded}

    assert_same(tensor, expected, mistakes=found)  # the values, within float tolerance
    assert_same(tensor, expected, mistakes=found, rtol=0, atol=0)  # and bit for bit


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
        if param is None:
            wrong[mistakes.SLOPE_DEFAULT] = math.sqrt(2.0)
        assert_same(student.calculate_gain(nonlinearity, param), expected, mistakes=wrong if nonlinearity == "leaky_relu" else None)

    @pytest.mark.points(2)
    def test_matches_torch_for_every_name(self, student):
        """equals torch.nn.init.calculate_gain for every nonlinearity it knows"""
        names = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]  # fmt: skip
        for name in names:
            assert_same(student.calculate_gain(name), float(torch.nn.init.calculate_gain(name)))

    @pytest.mark.points(1)
    def test_unknown_name_is_an_error(self, student):
        """an unknown nonlinearity raises ValueError naming the nonlinearity"""
        with expect_error(ValueError, mentions="nonlinearity"):
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

    @pytest.mark.points(1)
    def test_matches_torch(self, student):
        """equals torch.nn.init._calculate_fan_in_and_fan_out on a non-square kernel"""
        w = torch.empty(8, 4, 3, 2)
        assert_same(student.fan_in_and_fan_out(w), torch.nn.init._calculate_fan_in_and_fan_out(w),
                    mistakes={mistakes.FAN_SWAPPED: (48, 24), mistakes.NO_RECEPTIVE_FIELD: (4, 8)})

    @pytest.mark.points(1)
    def test_one_dimension_is_an_error(self, student):
        """a 1-d tensor has no fan in and out: ValueError"""
        with expect_error(ValueError, mentions="dimension"):
            student.fan_in_and_fan_out(torch.empty(5))


@pytest.mark.task("kaiming_uniform_")
class TestKaimingUniform:
    @pytest.mark.points(2)
    @pytest.mark.parametrize(
        "shape, dtype, settings",
        [
            ((16, 8, 3, 3), torch.float32, {}),
            ((32, 20), torch.float32, {"nonlinearity": "relu"}),
            ((64, 16, 3, 3), torch.float64, {"a": math.sqrt(5)}),  # nn.Conv2d's default init
        ],
    )
    def test_identical_to_torch(self, student, shape, dtype, settings):
        """identical, bit for bit, to torch.nn.init.kaiming_uniform_ from the same generator state"""
        check_init(student, "uniform", shape, seed=len(shape), dtype=dtype, **settings)

    @pytest.mark.points(1)
    def test_fills_in_place_and_returns_the_tensor(self, student):
        """fills the tensor it is given and returns that same tensor"""
        tensor = torch.zeros(8, 4, 3, 3)
        result = student.kaiming_uniform_(tensor, nonlinearity="relu", generator=generator(5))
        assert bool(tensor.ne(0).any()), "the tensor passed in is still all zeros: kaiming_uniform_ fills it in place"
        assert result is tensor, f"kaiming_uniform_ must return the tensor it was given, got {type(result).__name__}"
        assert_same(tensor, torch_filled(torch.nn.init.kaiming_uniform_, (8, 4, 3, 3), 5, nonlinearity="relu"), rtol=0, atol=0)

    @pytest.mark.points(1)
    def test_unknown_mode_is_an_error(self, student):
        """an unknown mode raises ValueError naming the mode"""
        with expect_error(ValueError, mentions="mode"):
            student.kaiming_uniform_(torch.empty(4, 3, 3, 3), mode="fan_avg")


@pytest.mark.task("kaiming_normal_")
class TestKaimingNormal:
    @pytest.mark.points(2)
    @pytest.mark.parametrize(
        "shape, dtype, settings",
        [
            ((16, 8, 3, 3), torch.float32, {"nonlinearity": "relu"}),  # Kaiming for ReLU: std = sqrt(2 / fan_in)
            ((20, 32), torch.float32, {}),
            ((8, 16, 5, 5), torch.float64, {"a": 0.2, "mode": "fan_out"}),
        ],
    )
    def test_identical_to_torch(self, student, shape, dtype, settings):
        """identical, bit for bit, to torch.nn.init.kaiming_normal_ from the same generator state"""
        check_init(student, "normal", shape, seed=10 + len(shape), dtype=dtype, **settings)

    @pytest.mark.points(1)
    def test_fills_in_place_and_returns_the_tensor(self, student):
        """fills the tensor it is given and returns that same tensor"""
        tensor = torch.zeros(8, 4, 3, 3)
        result = student.kaiming_normal_(tensor, nonlinearity="relu", generator=generator(6))
        assert bool(tensor.ne(0).any()), "the tensor passed in is still all zeros: kaiming_normal_ fills it in place"
        assert result is tensor, f"kaiming_normal_ must return the tensor it was given, got {type(result).__name__}"
        assert_same(tensor, torch_filled(torch.nn.init.kaiming_normal_, (8, 4, 3, 3), 6, nonlinearity="relu"), rtol=0, atol=0)

    @pytest.mark.points(1)
    def test_unknown_mode_is_an_error(self, student):
        """an unknown mode raises ValueError naming the mode"""
        with expect_error(ValueError, mentions="mode"):
            student.kaiming_normal_(torch.empty(4, 3, 3, 3), mode="fan_avg")


class TestDefaultConvStd:
    @pytest.mark.points(2)
    @pytest.mark.parametrize("fan_in", [27, 576])
    def test_by_hand(self, student, fan_in):
        """1 / sqrt(3 * fan_in): the std of U(-1/sqrt(fan_in), 1/sqrt(fan_in))"""
        # gain = sqrt(2 / (1 + sqrt(5)**2)) = sqrt(1/3); bound = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in);
        # a uniform U(-b, b) has std b / sqrt(3), so std = 1 / sqrt(3 * fan_in)
        assert_same(student.default_conv_std(fan_in), 1 / math.sqrt(3 * fan_in), mistakes={
            mistakes.MISSING_SQRT3: 1 / math.sqrt(fan_in),
            mistakes.KAIMING_NOT_DEFAULT: math.sqrt(2 / fan_in),
        })

    @pytest.mark.points(2)
    def test_matches_nn_conv2d(self, student):
        """within 3% of the measured std of a default-initialised nn.Conv2d(64, 256, 3) weight"""
        with torch.random.fork_rng():
            torch.manual_seed(0)
            measured = torch.nn.Conv2d(64, 256, 3).weight.detach().std().item()
        # 147456 weights: the std of the measured std is about 0.1%, far below 3%
        fan_in = 64 * 3 * 3
        assert_same(student.default_conv_std(fan_in), measured, rtol=0.03, mistakes={
            mistakes.MISSING_SQRT3: 1 / math.sqrt(fan_in),
            mistakes.KAIMING_NOT_DEFAULT: math.sqrt(2 / fan_in),
        })


def conv_relu_stds(x, weights, relu=True, std_before_relu=False, unbiased=True, padding="same"):
    """The stds after each conv + ReLU layer, computed independently (and some mistaken versions)."""
    stds, h = [], x
    with torch.no_grad():
        for w in weights:
            z = F.conv2d(h, w, padding=padding)
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
