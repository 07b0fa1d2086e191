"""07 · Why sqrt(5)? torch.nn.init rebuilt from its formulas; the conv stack as shift and add with einsum."""

from __future__ import annotations

import math
import warnings

import torch

__all__ = [
    "calculate_gain",
    "fan_in_and_fan_out",
    "kaiming_uniform_",
    "kaiming_normal_",
    "default_conv_std",
    "activation_stds",
]


def calculate_gain(nonlinearity: str, param: int | float | None = None) -> float:
    """The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    gains = {"sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 3.0 / 4}
    if nonlinearity == "linear" or nonlinearity.startswith("conv"):
        return 1.0
    return gains[nonlinearity]


def fan_in_and_fan_out(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight, as PyTorch computes them."""
    receptive_field = weight.shape[2:].numel()
    return weight.size(1) * receptive_field, weight.size(0) * receptive_field


def _fan(tensor: torch.Tensor, mode: str) -> int:
    """fan_in or fan_out, by mode."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return fan_in if mode.lower() == "fan_in" else fan_out


def kaiming_uniform_(
    tensor: torch.Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill tensor in place from U(-bound, bound), Kaiming uniform; return it."""
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
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
    """Fill tensor in place from N(0, std^2), Kaiming normal; return it."""
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    std = calculate_gain(nonlinearity, a) * math.sqrt(1.0 / _fan(tensor, mode))
    with torch.no_grad():
        tensor.normal_(0, std, generator=generator)
    return tensor


def default_conv_std(fan_in: int) -> float:
    """The weight std of nn.Conv2d's default init: 1 / sqrt(3 * fan_in)."""
    gain = math.sqrt(2.0 / (1 + math.sqrt(5) ** 2))
    bound = gain * math.sqrt(3.0 / fan_in)
    return bound / math.sqrt(3.0)


def _conv_same(h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Stride-1 convolution with "same" zero padding (extra pixel right/bottom), shift and add."""
    N, C, H, W = h.shape
    _, _, kh, kw = w.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    x = h.new_zeros(N, C, H + kh - 1, W + kw - 1)
    x[:, :, top : top + H, left : left + W] = h
    out = 0
    for i in range(kh):
        for j in range(kw):
            out = out + torch.einsum("ncyx,oc->noyx", x[:, :, i : i + H, j : j + W], w[:, :, i, j])
    return out


def activation_stds(x: torch.Tensor, weights: list[torch.Tensor]) -> list[float]:
    """The std of the activations after each conv + ReLU layer of a stack."""
    stds = []
    h = x
    with torch.no_grad():
        for w in weights:
            h = torch.relu(_conv_same(h, w.to(x.dtype)))
            stds.append(h.std().item())
    return stds
