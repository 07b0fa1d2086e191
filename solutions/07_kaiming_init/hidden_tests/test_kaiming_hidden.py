"""Hidden checks for 07_kaiming_init: every name and shape, random settings, edge cases, errors."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from autograder import mistakes
from autograder.compare import assert_same, expect_error
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
    if fan_in != fan_out:
        swapped = "fan_out" if mode.lower() == "fan_in" else "fan_in"
        phrase = mistakes.FAN_OUT_NOT_FAN_IN if mode.lower() == "fan_in" else (mistakes.MODE_CASE if mode != mode.lower() else None)
        if phrase:
            found[phrase] = torch_filled(right, shape, seed, dtype, **{**settings, "mode": swapped})
    if nonlinearity == "leaky_relu" and a != 0.01:
        found[mistakes.A_IGNORED] = torch_filled(right, shape, seed, dtype, **{**settings, "a": None})
    return unambiguous(found)


def check_init(student, kind, shape, seed, dtype=torch.float32, **settings):
    """The student's kaiming_<kind>_ fills a tensor exactly as torch.nn.init's does from the same generator state."""
    right = torch.nn.init.kaiming_uniform_ if kind == "uniform" else torch.nn.init.kaiming_normal_
    tensor = torch.zeros(shape, dtype=dtype)
    getattr(student, f"kaiming_{kind}_")(tensor, generator=generator(seed), **settings)
    assert bool(tensor.ne(0).any()), f"the tensor passed in is still all zeros: kaiming_{kind}_ fills it in place"
    expected = torch_filled(right, shape, seed, dtype, **settings)

    def found():  # computed only when a comparison fails
        return init_mistakes(tensor, kind, shape, seed, dtype, **settings)

    assert_same(tensor, expected, mistakes=found)  # the values, within float tolerance
    assert_same(tensor, expected, mistakes=found, rtol=0, atol=0)  # and bit for bit


@st.composite
def init_cases(draw):
    """A random shape (2-d to 5-d), seed, dtype and Kaiming settings."""
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=2, max_size=5)))
    settings = {
        "a": draw(st.sampled_from([0, 0.01, 0.1, 1, 2, math.sqrt(5)])),
        "mode": draw(st.sampled_from(["fan_in", "fan_out", "FAN_IN", "Fan_Out"])),
        "nonlinearity": draw(st.sampled_from(["leaky_relu", "relu", "leaky_relu", "linear", "tanh", "selu", "sigmoid"])),
    }
    return shape, draw(st.integers(0, 2**16)), draw(st.sampled_from([torch.float32, torch.float64])), settings


INIT_CASES = [
    ((64, 3, 7, 7), torch.float32, {"nonlinearity": "relu"}),
    ((10, 20), torch.float64, {"a": 0.2}),
    ((6, 4, 5), torch.float32, {"mode": "fan_out", "nonlinearity": "relu"}),
    ((2, 3, 2, 2, 2), torch.float64, {"a": math.sqrt(5), "mode": "fan_out"}),
    ((128, 64, 3, 3), torch.float64, {"a": math.sqrt(5)}),
    ((5, 7, 1, 1), torch.float32, {"mode": "FAN_OUT", "nonlinearity": "tanh"}),
    ((3, 9, 2, 4), torch.float32, {"a": 1, "mode": "Fan_In"}),
]


class TestCalculateGain:
    @pytest.mark.points(1)
    @pytest.mark.parametrize("nonlinearity", NAMES)
    def test_matches_torch(self, student, nonlinearity):
        """equals torch.nn.init.calculate_gain"""
        assert_same(student.calculate_gain(nonlinearity), float(torch.nn.init.calculate_gain(nonlinearity)))

    @pytest.mark.points(2)
    def test_leaky_relu_slopes_match_torch(self, student):
        """leaky_relu with negative slopes 0, 0.2, 1, 2 (an int), 3 and sqrt(5) equals torch's"""
        for slope in [0, 0.2, 1, 2, 3.0, math.sqrt(5), 0.01]:
            assert_same(student.calculate_gain("leaky_relu", slope), float(torch.nn.init.calculate_gain("leaky_relu", slope)),
                        mistakes=lambda: {mistakes.SLOPE_NOT_SQUARED: math.sqrt(2.0 / (1 + slope))})

    @pytest.mark.points(1)
    def test_param_is_ignored_by_other_names(self, student):
        """param only matters for leaky_relu"""
        for name in ["relu", "tanh", "linear", "selu"]:
            assert_same(student.calculate_gain(name, 0.3), float(torch.nn.init.calculate_gain(name, 0.3)))

    @pytest.mark.points(1)
    @pytest.mark.parametrize("nonlinearity", ["swish", "ReLU", "gelu", ""])
    def test_unknown_name_is_an_error(self, student, nonlinearity):
        """an unknown nonlinearity raises ValueError naming the nonlinearity"""
        with expect_error(ValueError, mentions="nonlinearity"):
            student.calculate_gain(nonlinearity)

    @pytest.mark.points(1)
    @pytest.mark.parametrize("param", [True, "0.1"])
    def test_bad_slope_is_an_error(self, student, param):
        """a leaky_relu slope that is a bool or a string raises ValueError, as in PyTorch"""
        with expect_error(ValueError):
            student.calculate_gain("leaky_relu", param)


class TestFanInAndFanOut:
    @pytest.mark.points(1)
    @pytest.mark.parametrize("shape", [(7, 3), (5, 4, 6), (8, 4, 3, 2), (2, 3, 4, 5, 6), (1, 1), (3, 1, 1, 1)])
    def test_matches_torch(self, student, shape):
        """equals torch.nn.init._calculate_fan_in_and_fan_out, 2-d to 5-d"""
        w = torch.empty(shape)
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(w)
        wrong = {mistakes.FAN_SWAPPED: (fan_out, fan_in)}
        if len(shape) > 2:
            wrong[mistakes.NO_RECEPTIVE_FIELD] = (shape[1], shape[0])
        assert_same(student.fan_in_and_fan_out(w), (fan_in, fan_out), mistakes=wrong)

    @pytest.mark.points(2)
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
    def test_zero_size_dimension(self, student):
        """a dimension of size 0 gives a fan of 0, as in PyTorch"""
        w = torch.empty(0, 4, 3, 3)
        assert_same(student.fan_in_and_fan_out(w), torch.nn.init._calculate_fan_in_and_fan_out(w))

    @pytest.mark.points(1)
    @pytest.mark.parametrize("shape", [(5,), (1,)])
    def test_below_2_dimensions_is_an_error(self, student, shape):
        """a 1-d tensor raises ValueError"""
        # (a 0-d tensor would be the other case, but the harness cannot describe a 0-d argument yet)
        with expect_error(ValueError, mentions="dimension"):
            student.fan_in_and_fan_out(torch.empty(shape))


@pytest.mark.task("kaiming_uniform_")
class TestKaimingUniform:
    @pytest.mark.points(1)
    @pytest.mark.parametrize("shape, dtype, settings", INIT_CASES)
    def test_identical_to_torch(self, student, shape, dtype, settings):
        """identical, bit for bit, to torch.nn.init.kaiming_uniform_ from the same generator state"""
        check_init(student, "uniform", shape, seed=sum(shape), dtype=dtype, **settings)

    @pytest.mark.points(3)
    @given(case=init_cases())
    def test_identical_to_torch_on_random_settings(self, student, case):
        """identical to torch's for random shapes, seeds, a, mode, nonlinearity and float64"""
        shape, seed, dtype, settings = case
        check_init(student, "uniform", shape, seed, dtype, **settings)

    @pytest.mark.points(1)
    def test_float64_returns_the_tensor(self, student):
        """a float64 tensor is filled in place, keeps float64, and is returned"""
        tensor = torch.zeros(16, 8, 3, 3, dtype=torch.float64)
        result = student.kaiming_uniform_(tensor, a=math.sqrt(5), generator=generator(2))
        assert bool(tensor.ne(0).any()), "the tensor passed in is still all zeros: kaiming_uniform_ fills it in place"
        assert result is tensor, f"kaiming_uniform_ must return the tensor it was given, got {type(result).__name__}"
        expected = torch_filled(torch.nn.init.kaiming_uniform_, (16, 8, 3, 3), 2, torch.float64, a=math.sqrt(5))
        assert_same(tensor, expected, rtol=0, atol=0)

    @pytest.mark.points(1)
    def test_bound_is_respected(self, student):
        """every value lies in [-bound, bound], bound = sqrt(2) * sqrt(3 / fan_in) for relu"""
        tensor = torch.empty(256, 32, 3, 3)
        student.kaiming_uniform_(tensor, nonlinearity="relu", generator=generator(4))
        bound = math.sqrt(2.0) * math.sqrt(3.0 / (32 * 9))
        largest = tensor.abs().max().item()
        assert largest <= bound * (1 + 1e-6), f"largest |value| {largest:.6g} exceeds the bound {bound:.6g}"
        assert largest > 0.99 * bound, f"largest |value| {largest:.6g} is far below the bound {bound:.6g}: too narrow"

    @pytest.mark.points(1)
    @pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
    def test_empty_tensor_is_left_as_it_is(self, student):
        """a tensor with no elements is returned unchanged, as PyTorch does (no division by a fan of 0)"""
        tensor = torch.empty(5, 0)
        result = student.kaiming_uniform_(tensor, generator=generator(0))
        assert result is tensor, f"kaiming_uniform_ must return the tensor it was given, got {type(result).__name__}"

    @pytest.mark.points(1)
    @pytest.mark.parametrize("mode", ["fan_avg", "in", ""])
    def test_unknown_mode_is_an_error(self, student, mode):
        """an unknown mode raises ValueError naming the mode"""
        with expect_error(ValueError, mentions="mode"):
            student.kaiming_uniform_(torch.empty(4, 3, 3, 3), mode=mode)

    @pytest.mark.points(1)
    def test_unknown_nonlinearity_is_an_error(self, student):
        """an unknown nonlinearity raises ValueError naming the nonlinearity"""
        with expect_error(ValueError, mentions="nonlinearity"):
            student.kaiming_uniform_(torch.empty(4, 3, 3, 3), nonlinearity="swish")

    @pytest.mark.points(1)
    def test_one_dimension_is_an_error(self, student):
        """a 1-d tensor has no fan: ValueError"""
        with expect_error(ValueError):
            student.kaiming_uniform_(torch.empty(5))


@pytest.mark.task("kaiming_normal_")
class TestKaimingNormal:
    @pytest.mark.points(1)
    @pytest.mark.parametrize("shape, dtype, settings", INIT_CASES)
    def test_identical_to_torch(self, student, shape, dtype, settings):
        """identical, bit for bit, to torch.nn.init.kaiming_normal_ from the same generator state"""
        check_init(student, "normal", shape, seed=sum(shape) + 1, dtype=dtype, **settings)

    @pytest.mark.points(3)
    @given(case=init_cases())
    def test_identical_to_torch_on_random_settings(self, student, case):
        """identical to torch's for random shapes, seeds, a, mode, nonlinearity and float64"""
        shape, seed, dtype, settings = case
        check_init(student, "normal", shape, seed, dtype, **settings)

    @pytest.mark.points(1)
    def test_float64_returns_the_tensor(self, student):
        """a float64 tensor is filled in place, keeps float64, and is returned"""
        tensor = torch.zeros(16, 8, 3, 3, dtype=torch.float64)
        result = student.kaiming_normal_(tensor, nonlinearity="relu", generator=generator(3))
        assert bool(tensor.ne(0).any()), "the tensor passed in is still all zeros: kaiming_normal_ fills it in place"
        assert result is tensor, f"kaiming_normal_ must return the tensor it was given, got {type(result).__name__}"
        expected = torch_filled(torch.nn.init.kaiming_normal_, (16, 8, 3, 3), 3, torch.float64, nonlinearity="relu")
        assert_same(tensor, expected, rtol=0, atol=0)

    @pytest.mark.points(1)
    def test_std_is_kaiming(self, student):
        """the values' std is close to sqrt(2 / fan_in) for relu (a large tensor)"""
        tensor = torch.empty(256, 32, 3, 3)
        student.kaiming_normal_(tensor, nonlinearity="relu", generator=generator(5))
        # 73728 draws: the measured std is within about 0.3% of the true one; 3% is a safe margin
        assert_same(tensor.std().item(), math.sqrt(2.0 / (32 * 9)), rtol=0.03)

    @pytest.mark.points(1)
    @pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
    def test_empty_tensor_is_left_as_it_is(self, student):
        """a tensor with no elements is returned unchanged, as PyTorch does (no division by a fan of 0)"""
        tensor = torch.empty(5, 0)
        result = student.kaiming_normal_(tensor, generator=generator(0))
        assert result is tensor, f"kaiming_normal_ must return the tensor it was given, got {type(result).__name__}"

    @pytest.mark.points(1)
    @pytest.mark.parametrize("mode", ["fan_avg", "out", ""])
    def test_unknown_mode_is_an_error(self, student, mode):
        """an unknown mode raises ValueError naming the mode"""
        with expect_error(ValueError, mentions="mode"):
            student.kaiming_normal_(torch.empty(4, 3, 3, 3), mode=mode)

    @pytest.mark.points(1)
    def test_unknown_nonlinearity_is_an_error(self, student):
        """an unknown nonlinearity raises ValueError naming the nonlinearity"""
        with expect_error(ValueError, mentions="nonlinearity"):
            student.kaiming_normal_(torch.empty(4, 3, 3, 3), nonlinearity="swish")

    @pytest.mark.points(1)
    def test_one_dimension_is_an_error(self, student):
        """a 1-d tensor has no fan: ValueError"""
        with expect_error(ValueError):
            student.kaiming_normal_(torch.empty(5))


class TestDefaultConvStd:
    @pytest.mark.points(1)
    def test_formula_for_many_fans(self, student):
        """1 / sqrt(3 * fan_in) for fans from 1 to 4608"""
        for fan_in in [1, 3, 9, 25, 75, 147, 576, 1152, 4608]:
            assert_same(student.default_conv_std(fan_in), 1 / math.sqrt(3 * fan_in), mistakes=lambda: {
                mistakes.MISSING_SQRT3: 1 / math.sqrt(fan_in),
                mistakes.KAIMING_NOT_DEFAULT: math.sqrt(2 / fan_in),
            })

    @pytest.mark.points(2)
    @pytest.mark.parametrize("c_in, c_out, k", [(32, 128, 5), (3, 512, 7), (256, 64, 1)])
    def test_matches_nn_conv2d(self, student, c_in, c_out, k):
        """within 3% of the measured std of a default-initialised nn.Conv2d weight"""
        with torch.random.fork_rng():
            torch.manual_seed(c_in + k)
            measured = torch.nn.Conv2d(c_in, c_out, k).weight.detach().std().item()
        # at least 16384 weights: the measured std is within about 0.5% of the true one
        fan_in = c_in * k * k
        assert_same(student.default_conv_std(fan_in), measured, rtol=0.03, mistakes=lambda: {
            mistakes.MISSING_SQRT3: 1 / math.sqrt(fan_in),
            mistakes.KAIMING_NOT_DEFAULT: math.sqrt(2 / fan_in),
        })

    @pytest.mark.points(1)
    def test_sqrt_6_smaller_than_kaiming(self, student):
        """Kaiming's ReLU std sqrt(2 / fan_in) is sqrt(6) times the default's"""
        got = student.default_conv_std(64 * 9)
        assert_same(math.sqrt(2 / (64 * 9)) / got, math.sqrt(6), rtol=1e-9)

    @pytest.mark.points(1)
    def test_fan_in_below_1_is_an_error(self, student):
        """fan_in 0 raises ValueError naming fan_in"""
        with expect_error(ValueError, mentions="fan_in"):
            student.default_conv_std(0)


def conv_relu_stds(x, weights, relu=True, std_before_relu=False, unbiased=True, padding="same"):
    """The stds after each conv + ReLU layer, computed independently (and some mistaken versions)."""
    stds, h = [], x
    with torch.no_grad():
        for w in weights:
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
def small_stacks(draw):
    """x (N, C, H, W) and 1 to 4 conv weights of random (also even and non-square) kernel sizes."""
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    seed = draw(st.integers(0, 2**16))
    channels = draw(st.integers(1, 4))
    x = randn(draw(st.integers(1, 3)), channels, draw(st.integers(2, 9)), draw(st.integers(2, 9)), seed=seed, dtype=dtype)
    weights = []
    for i in range(draw(st.integers(1, 4))):
        c_out, kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
        weights.append(randn(c_out, channels, kh, kw, seed=seed + i + 1, dtype=dtype) * (2 / (channels * kh * kw)) ** 0.5)
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
    @given(stack=small_stacks())
    def test_matches_conv_relu_loop_on_random_stacks(self, student, stack):
        """equals an F.conv2d(padding="same") + ReLU loop for random stacks, even kernels and float64"""
        x, weights = stack
        rtol = 1e-4 if x.dtype == torch.float32 else 1e-8
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
    def test_no_layers(self, student):
        """an empty stack gives an empty list"""
        assert_same(student.activation_stds(randn(1, 3, 4, 4), []), [])

    @pytest.mark.points(2)
    @pytest.mark.parametrize("shape, x_seed, w_seed", CLAIM_CASES)
    def test_kaiming_normal_keeps_the_scale(self, student, shape, x_seed, w_seed):
        """with Kaiming-normal (ReLU) weights the stds stay within a factor 4 over 10 layers"""
        x = randn(*shape, seed=x_seed)
        weights = kaiming_stack(w_seed)
        stds = student.activation_stds(x, weights)
        assert_same(stds, conv_relu_stds(x, weights), rtol=1e-4, mistakes=lambda: stds_mistakes(x, weights))
        ratios = [s / stds[0] for s in stds]
        assert all(1 / 4 < r < 4 for r in ratios), f"stds should stay within a factor 4 of the first: {ratios}"

    @pytest.mark.points(2)
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
    def test_channel_mismatch_is_an_error(self, student):
        """a weight whose C_in differs from the channels coming in raises ValueError naming the channels"""
        with expect_error(ValueError, mentions="channel"):
            student.activation_stds(randn(1, 3, 6, 6), [randn(4, 3, 3, 3, seed=1), randn(2, 3, 3, 3, seed=2)])

    @pytest.mark.points(1)
    def test_x_not_4d_is_an_error(self, student):
        """an x that is not (N, C, H, W) raises ValueError"""
        with expect_error(ValueError):
            student.activation_stds(randn(3, 6, 6), [randn(4, 3, 3, 3, seed=1)])
