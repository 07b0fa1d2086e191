"""05 · Many kernels make channels. Shift and add: one slice per kernel tap, combined with torch.einsum."""

from __future__ import annotations

import torch

__all__ = ["stack_kernels", "conv2d", "two_layer", "param_count"]


def stack_kernels(kernels: list[torch.Tensor]) -> torch.Tensor:
    """C_out kernels (C_in, kh, kw) -> one weight (C_out, C_in, kh, kw)."""
    return torch.stack(list(kernels))


def conv2d(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Stride 1, no padding: (N, C_in, H, W) x (C_out, C_in, kh, kw) -> (N, C_out, Ho, Wo)."""
    weight = weight.to(input.dtype)
    _, _, kh, kw = weight.shape
    Ho, Wo = input.shape[2] - kh + 1, input.shape[3] - kw + 1
    out = 0
    for i in range(kh):
        for j in range(kw):
            out = out + torch.einsum("ncyx,oc->noyx", input[:, :, i : i + Ho, j : j + Wo], weight[:, :, i, j])
    return out


def two_layer(
    input: torch.Tensor,
    w1: torch.Tensor,
    w2: torch.Tensor,
    b1: torch.Tensor | None = None,
    b2: torch.Tensor | None = None,
) -> torch.Tensor:
    """conv, ReLU, conv."""
    return conv2d(torch.relu(conv2d(input, w1, b1)), w2, b2)


def param_count(c_in: int, c_out: int, kernel_size: int | tuple[int, int], bias: bool = True) -> int:
    """The number of learnable parameters of a conv layer."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return c_out * (c_in * kh * kw + int(bias))
