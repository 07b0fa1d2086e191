"""05 · Many kernels make channels. Windows from Tensor.unfold, then one matmul with the flattened weight."""

from __future__ import annotations

import math

import torch

__all__ = ["stack_kernels", "conv2d", "two_layer", "param_count"]


def stack_kernels(kernels: list[torch.Tensor]) -> torch.Tensor:
    """C_out kernels (C_in, kh, kw) -> one weight (C_out, C_in, kh, kw)."""
    return torch.cat([k.unsqueeze(0) for k in kernels])


def conv2d(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Stride 1, no padding: (N, C_in, H, W) x (C_out, C_in, kh, kw) -> (N, C_out, Ho, Wo)."""
    C_out, C_in, kh, kw = weight.shape
    windows = input.unfold(2, kh, 1).unfold(3, kw, 1)  # (N, C_in, Ho, Wo, kh, kw)
    N, _, Ho, Wo = windows.shape[:4]
    rows = windows.permute(0, 2, 3, 1, 4, 5).reshape(N, Ho * Wo, C_in * kh * kw)
    out = rows @ weight.to(input.dtype).reshape(C_out, -1).T  # (N, Ho*Wo, C_out)
    out = out.permute(0, 2, 1).reshape(N, C_out, Ho, Wo)
    if bias is not None:
        out = out + bias.to(input.dtype)[None, :, None, None]
    return out


def two_layer(
    input: torch.Tensor,
    w1: torch.Tensor,
    w2: torch.Tensor,
    b1: torch.Tensor | None = None,
    b2: torch.Tensor | None = None,
) -> torch.Tensor:
    """conv, ReLU, conv."""
    h = conv2d(input, w1, b1)
    h = torch.where(h > 0, h, torch.zeros_like(h))
    return conv2d(h, w2, b2)


def param_count(c_in: int, c_out: int, kernel_size: int | tuple[int, int], bias: bool = True) -> int:
    """The number of learnable parameters of a conv layer."""
    ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return c_out * c_in * math.prod(ks) + (c_out if bias else 0)
