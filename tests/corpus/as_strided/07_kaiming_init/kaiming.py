"""07 · Why sqrt(5)? torch.nn.init rebuilt with a table of gains; the stack with F.conv2d(padding="same"), allowed here."""

from __future__ import annotations

import math
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

_GAINS = {
    "linear": lambda p: 1,
    "conv1d": lambda p: 1,
    "conv2d": lambda p: 1,
    "conv3d": lambda p: 1,
    "conv_transpose1d": lambda p: 1,
    "conv_transpose2d": lambda p: 1,
    "conv_transpose3d": lambda p: 1,
    "sigmoid": lambda p: 1,
    "tanh": lambda p: 5.0 / 3,
    "relu": lambda p: math.sqrt(2.0),
    "leaky_relu": lambda p: math.sqrt(2.0 / (1 + (0.01 if p is None else p) ** 2)),
    "selu": lambda p: 3.0 / 4,
}


def calculate_gain(nonlinearity: str, param: int | float | None = None) -> float:
    """The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain."""
    return _GAINS[nonlinearity](param)


def fan_in_and_fan_out(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight, as PyTorch computes them."""
    receptive_field = math.prod(weight.shape[2:])
    return weight.shape[1] * receptive_field, weight.shape[0] * receptive_field


def kaiming_uniform_(
    tensor: torch.Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill tensor in place from U(-bound, bound), Kaiming uniform; return it."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan = dict(zip(("fan_in", "fan_out"), fan_in_and_fan_out(tensor)))[mode.lower()]
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    with torch.no_grad():
        return tensor.uniform_(-bound, bound, generator=generator)


def kaiming_normal_(
    tensor: torch.Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill tensor in place from N(0, std^2), Kaiming normal; return it."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan = dict(zip(("fan_in", "fan_out"), fan_in_and_fan_out(tensor)))[mode.lower()]
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    with torch.no_grad():
        return tensor.normal_(0, std, generator=generator)


def default_conv_std(fan_in: int) -> float:
    """The weight std of nn.Conv2d's default init: 1 / sqrt(3 * fan_in)."""
    return (3 * fan_in) ** -0.5


def activation_stds(x: torch.Tensor, weights: list[torch.Tensor]) -> list[float]:
    """The std of the activations after each conv + ReLU layer of a stack."""
    stds = []
    with torch.no_grad():
        h = x
        for w in weights:
            h = F.relu(F.conv2d(h, w.to(x.dtype), padding="same"))
            stds.append(h.std().item())
    return stds
