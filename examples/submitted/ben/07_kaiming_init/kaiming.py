"""07 · Kaiming initialisation: why sqrt(5)?

The end of fast.ai part 2, lesson 9 ("digging into convolution"): a deep stack of
conv + ReLU layers keeps its activations at a useful scale only if each layer's
weights have the right standard deviation. Kaiming (He) init picks std =
gain / sqrt(fan) to do that; PyTorch's default conv init, `kaiming_uniform_` with
`a=math.sqrt(5)`, is not that formula for ReLU, and its activations shrink layer
after layer. Here you rebuild torch.nn.init's pieces and measure the difference.
"""

from __future__ import annotations

import math
import numbers
import warnings

import torch
import torch.nn.functional as F

__all__ = [
    "calculate_gain",
    "fan_in_and_fan_out",
    "kaiming_uniform_",
    "kaiming_normal_",
    "default_conv_std",
    "activation_stds",
]


def calculate_gain(nonlinearity: str, param: int | float | None = None) -> float:
    """The recommended gain for a nonlinearity, equal to `torch.nn.init.calculate_gain`.

    The gain corrects the weights' std for what the nonlinearity does to the
    activations' second moment:
    1 for "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
    "conv_transpose2d", "conv_transpose3d" and "sigmoid"; 5/3 for "tanh";
    sqrt(2) for "relu" (ReLU zeroes half the values, halving the second moment);
    sqrt(2 / (1 + negative_slope**2)) for "leaky_relu", with `param` as the
    negative slope (0.01 when None); 3/4 for "selu".

    Errors: ValueError for an unknown `nonlinearity`, and for "leaky_relu" when
    `param` is a bool or not an int or float.

    Hint: `math.sqrt(2.0 / (1 + slope**2))`, with slope = param (0.01 when
    None); sqrt(2) alone is the gain of slope 0, plain ReLU. Remember that
    `True` is an int in Python.
    """
    linear_fns = (
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
    )
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif (not isinstance(param, bool) and isinstance(param, int)) or isinstance(param, float):
            negative_slope = param
        else:
            raise ValueError(f"param (the leaky_relu negative slope) must be an int or a float, got {param!r}")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"nonlinearity must be one of linear, conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, "
        f"conv_transpose3d, sigmoid, tanh, relu, leaky_relu, selu; got {nonlinearity!r}"
    )


def fan_in_and_fan_out(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight, as PyTorch computes them.

    The receptive field is the product of the dimensions after the first two
    (1 for a 2-d weight). fan_in = weight.shape[1] * receptive field (the inputs
    each output sums over); fan_out = weight.shape[0] * receptive field. For a
    conv weight (C_out, C_in, kh, kw): (C_in*kh*kw, C_out*kh*kw); for a Linear
    weight (out_features, in_features): (in_features, out_features).

    Shapes: weight with at least 2 dimensions -> a tuple of two Python ints.
    Errors: TypeError when weight is not a tensor; ValueError when it has fewer
    than 2 dimensions.
    Hint: `math.prod(weight.shape[2:])` is 1 for an empty slice.
    """
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if weight.dim() < 2:
        raise ValueError(f"weight must have at least 2 dimensions to have a fan in and out, got shape {tuple(weight.shape)}")
    receptive_field = math.prod(int(s) for s in weight.shape[2:])
    return int(weight.shape[1]) * receptive_field, int(weight.shape[0]) * receptive_field


def kaiming_uniform_(
    tensor: torch.Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill `tensor` in place from U(-bound, bound), Kaiming (He) uniform; return it.

    gain = calculate_gain(nonlinearity, a) (`a` is the leaky ReLU's negative
    slope); fan = fan_in or fan_out by `mode` ("fan_in" or "fan_out", any case;
    fan_in = weight.shape[1] * receptive field); std = gain / sqrt(fan);
    bound = sqrt(3) * std (U(-b, b) has std b/sqrt(3)). The values are drawn
    from `generator` (the global random generator when None), so with the same
    `generator` state the result is identical to `torch.nn.init.kaiming_uniform_`
    (a formula equal to torch's but evaluated in another order, whose last bits
    differ, is identical too: values are compared with a float tolerance). A
    tensor with no elements is left as it is (with a warning, as PyTorch does).

    Shapes and dtypes: tensor with at least 2 dimensions, float32 or float64,
    filled in place in its own dtype; returns the same tensor object.
    Errors: ValueError for an unknown mode or nonlinearity (the message names
    it), or fewer than 2 dimensions; TypeError when mode is not a string.
    Hint: `std = gain / math.sqrt(fan)`, `bound = math.sqrt(3.0) * std`, then
    `tensor.uniform_(-bound, bound, generator=generator)` inside `torch.no_grad()`
    (a weight usually requires grad, and autograd refuses in-place changes to it).
    """
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a string, 'fan_in' or 'fan_out', got {type(mode).__name__}")
    if mode.lower() not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    gain = calculate_gain(nonlinearity, a)
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    fan = fan_out  # the number of weights each unit feeds
    std = gain / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    with torch.no_grad():
        tensor.uniform_(-bound, bound, generator=generator)
    return tensor


def kaiming_normal_(
    tensor: torch.Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill `tensor` in place from N(0, std^2), Kaiming (He) normal; return it.

    gain = calculate_gain(nonlinearity, a); fan = fan_in or fan_out by `mode`
    ("fan_in" or "fan_out", any case); std = gain / sqrt(fan). With "relu" and
    fan_in, each conv + ReLU layer keeps the activations' second moment:
    fan_in * std^2 / 2 = 1. The values are drawn from `generator` (the global
    random generator when None), so with the same `generator` state the result
    is identical to `torch.nn.init.kaiming_normal_` (up to the last bits of a
    formula evaluated in another order). A tensor with no elements is left as it
    is (with a warning, as PyTorch does).

    Shapes and dtypes: tensor with at least 2 dimensions, float32 or float64,
    filled in place in its own dtype; returns the same tensor object.
    Errors: ValueError for an unknown mode or nonlinearity (the message names
    it), or fewer than 2 dimensions; TypeError when mode is not a string.
    Hint: `tensor.normal_(0, std, generator=generator)` inside `torch.no_grad()`.
    """
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a string, 'fan_in' or 'fan_out', got {type(mode).__name__}")
    if mode.lower() not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    gain = calculate_gain(nonlinearity, a)
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    fan = fan_out  # the number of weights each unit feeds
    std = gain / math.sqrt(fan)
    with torch.no_grad():
        tensor.normal_(0, std, generator=generator)
    return tensor


def default_conv_std(fan_in: int) -> float:
    """The weight std that nn.Conv2d's default init gives: 1 / sqrt(3 * fan_in).

    nn.Conv2d initialises its weight with kaiming_uniform_(w, a=math.sqrt(5)).
    That is the leaky_relu gain with negative slope sqrt(5):
    gain = sqrt(2 / (1 + 5)) = sqrt(1/3), so
    bound = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in), and the std of
    U(-bound, bound) is bound / sqrt(3) = 1 / sqrt(3 * fan_in).
    Kaiming for ReLU wants std = sqrt(2 / fan_in) instead: the default is
    sqrt(6) times smaller.

    Shapes: fan_in a positive number (C_in*kh*kw for a conv) -> a Python float.
    Errors: TypeError when fan_in is not a number; ValueError when fan_in < 1
    (the message names fan_in).
    Hint: one line of `math`; check it: fill `torch.empty(64, 16, 3, 3)` with
    your kaiming_uniform_(w, a=math.sqrt(5)); its std is close to
    default_conv_std(16*9).
    """
    if isinstance(fan_in, bool) or not isinstance(fan_in, numbers.Real):
        raise TypeError(f"fan_in must be a number, got {fan_in!r}")
    if fan_in < 1:
        raise ValueError(f"fan_in must be at least 1, got {fan_in}")
    return 1.0 / math.sqrt(3 * float(fan_in))


def activation_stds(x: torch.Tensor, weights: list[torch.Tensor]) -> list[float]:
    """The std of the activations after each conv + ReLU layer of a stack.

    Start from h = x; for each weight w in order: h = relu(conv2d(h, w)) with
    stride 1, "same" zero padding (the output keeps H, W; for an even kernel the
    extra padding goes right/bottom, as PyTorch's padding="same") and no bias;
    record h.std() as a Python float.

    Why it matters: a conv layer with zero-mean weights of std s multiplies the
    second moment of its input by fan_in * s^2, and ReLU halves it. Kaiming
    normal for ReLU (s^2 = 2 / fan_in) gives fan_in * s^2 / 2 = 1: the stds stay
    of the same order over 10 layers. The default init, kaiming_uniform_ with
    a=sqrt(5), has gain sqrt(2/(1+5)) = sqrt(1/3), bound = gain * sqrt(3/fan_in)
    = 1/sqrt(fan_in) and std = bound / sqrt(3) = 1/sqrt(3*fan_in), so each layer
    multiplies the second moment by fan_in * s^2 / 2 = 1/6: the std shrinks by
    about sqrt(6) per layer, to about 1e-4 of its start after 10 layers.

    Shapes: x (N, C, H, W); weights a list of (C_out, C_in, kh, kw) tensors, each
    C_in equal to the previous layer's C_out (the first to C) -> a list of
    len(weights) Python floats (an empty list for no weights). x and the
    weights are not modified.
    Dtypes: x float32 or float64, the stack computed in x's dtype (float64 to
    float64 accuracy); a weight of the other float dtype is used in x's dtype
    (it is not an error).
    Errors: TypeError when x or a weight is not a floating-point tensor;
    ValueError when x is not 4-d, a weight is not 4-d, or a weight's C_in does
    not match the channels coming into it (the message names the channels).
    Hint: `F.conv2d(h, w, padding="same")` is allowed here; run the stack under
    `torch.no_grad()` and use `.item()`.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    if x.dim() != 4:
        raise ValueError(f"x must be 4-d (N, C, H, W), got shape {tuple(x.shape)}")
    weights = list(weights)
    channels = x.shape[1]
    for i, w in enumerate(weights):
        if not isinstance(w, torch.Tensor):
            raise TypeError(f"weights[{i}] must be a torch.Tensor, got {type(w).__name__}")
        if not w.is_floating_point():
            raise TypeError(f"weights[{i}] must be a floating-point tensor, got {w.dtype}")
        if w.dim() != 4:
            raise ValueError(f"weights[{i}] must be 4-d (C_out, C_in, kh, kw), got shape {tuple(w.shape)}")
        if w.shape[1] != channels:
            raise ValueError(f"weights[{i}] expects {w.shape[1]} input channels but layer {i} receives {channels}")
        channels = w.shape[0]

    stds = []
    with torch.no_grad():
        h = x
        for w in weights:
            h = F.relu(F.conv2d(h, w.to(x.dtype), padding="same"))  # a weight of the other dtype in x's
            stds.append(h.std().item())
    return stds
