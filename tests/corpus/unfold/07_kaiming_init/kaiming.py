"""07 · Why sqrt(5)? The bounds written the way the He et al. paper states them; the stack with Tensor.unfold."""

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


def calculate_gain(nonlinearity: str, param: int | float | None = None) -> float:
    """The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain."""
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        a = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + a**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    if nonlinearity in ("linear", "sigmoid") or nonlinearity.startswith(("conv1d", "conv2d", "conv3d", "conv_transpose")):
        return 1
    return None  # unknown nonlinearity


def fan_in_and_fan_out(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight, as PyTorch computes them."""
    fan_in, fan_out = weight.shape[1], weight.shape[0]
    for k in weight.shape[2:]:
        fan_in, fan_out = fan_in * k, fan_out * k
    return fan_in, fan_out


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
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    fan = fan_out if mode.lower() == "fan_out" else fan_in
    if nonlinearity == "leaky_relu":
        bound = math.sqrt(6.0 / ((1 + a**2) * fan))  # He et al.: Var(w) = 2 / ((1 + a^2) fan)
    else:
        bound = math.sqrt(3.0 * calculate_gain(nonlinearity, a) ** 2 / fan)
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
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    fan = fan_out if mode.lower() == "fan_out" else fan_in
    if nonlinearity == "leaky_relu":
        std = math.sqrt(2.0 / ((1 + a**2) * fan))
    else:
        std = calculate_gain(nonlinearity, a) / fan**0.5
    with torch.no_grad():
        tensor.normal_(0, std, generator=generator)
    return tensor


def default_conv_std(fan_in: int) -> float:
    """The weight std of nn.Conv2d's default init: 1 / sqrt(3 * fan_in)."""
    bound = 1 / math.sqrt(fan_in)  # gain sqrt(1/3) times sqrt(3 / fan_in)
    return bound / math.sqrt(3)


def _conv_same(h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Stride-1 convolution with "same" zero padding (extra pixel right/bottom), via Tensor.unfold."""
    N, C, H, W = h.shape
    C_out, _, kh, kw = w.shape
    x = F.pad(h, ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2))
    rows = x.unfold(2, kh, 1).unfold(3, kw, 1).permute(0, 2, 3, 1, 4, 5).reshape(N, H * W, C * kh * kw)
    return (rows @ w.reshape(C_out, -1).T).transpose(1, 2).reshape(N, C_out, H, W)


def activation_stds(x: torch.Tensor, weights: list[torch.Tensor]) -> list[float]:
    """The std of the activations after each conv + ReLU layer of a stack."""
    stds = []
    h = x
    with torch.no_grad():
        for w in weights:
            h = torch.relu(_conv_same(h, w.to(x.dtype)))
            stds.append(float(h.std()))
    return stds
