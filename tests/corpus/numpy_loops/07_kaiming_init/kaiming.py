"""07 · Why sqrt(5)? torch.nn.init rebuilt; the conv stack in numpy with loops over the output pixels."""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

__all__ = [
    "calculate_gain",
    "fan_in_and_fan_out",
    "kaiming_uniform_",
    "kaiming_normal_",
    "default_conv_std",
    "activation_stds",
]

LINEAR = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]


def calculate_gain(nonlinearity: str, param: int | float | None = None) -> float:
    """The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain."""
    if nonlinearity in LINEAR or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        negative_slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    return None  # unknown nonlinearity


def fan_in_and_fan_out(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight, as PyTorch computes them."""
    receptive_field = 1
    for s in weight.shape[2:]:
        receptive_field *= s
    return weight.shape[1] * receptive_field, weight.shape[0] * receptive_field


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
    fan = fan_in if mode.lower() == "fan_in" else fan_out
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
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    fan = fan_in if mode.lower() == "fan_in" else fan_out
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    with torch.no_grad():
        return tensor.normal_(0, std, generator=generator)


def default_conv_std(fan_in: int) -> float:
    """The weight std of nn.Conv2d's default init: 1 / sqrt(3 * fan_in)."""
    return 1.0 / math.sqrt(3 * fan_in)


def _conv_same(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Stride-1 convolution with "same" zero padding (extra pixel right/bottom)."""
    _, _, kh, kw = w.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    xp = np.pad(x, ((0, 0), (0, 0), (top, kh - 1 - top), (left, kw - 1 - left)))
    N, _, H, W = x.shape
    out = np.zeros((N, w.shape[0], H, W), dtype=x.dtype)
    for i in range(H):
        for j in range(W):
            out[:, :, i, j] = np.tensordot(xp[:, :, i : i + kh, j : j + kw], w, axes=([1, 2, 3], [1, 2, 3]))
    return out


def activation_stds(x: torch.Tensor, weights: list[torch.Tensor]) -> list[float]:
    """The std of the activations after each conv + ReLU layer of a stack."""
    h = x.detach().cpu().numpy()
    stds = []
    for w in weights:
        h = np.maximum(_conv_same(h, w.detach().cpu().numpy().astype(h.dtype)), 0)
        stds.append(float(h.std(ddof=1)))
    return stds
