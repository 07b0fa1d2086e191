"""05 · Many kernels make channels. Windows as a torch.as_strided view, then one tensordot with the weight."""

from __future__ import annotations

import torch

__all__ = ["stack_kernels", "conv2d", "two_layer", "param_count"]


def stack_kernels(kernels: list[torch.Tensor]) -> torch.Tensor:
    """C_out kernels (C_in, kh, kw) -> one weight (C_out, C_in, kh, kw)."""
    return torch.stack([k.clone() for k in kernels], dim=0)


def conv2d(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Stride 1, no padding: (N, C_in, H, W) x (C_out, C_in, kh, kw) -> (N, C_out, Ho, Wo)."""
    x = input.contiguous()
    N, C, H, W = x.shape
    _, _, kh, kw = weight.shape
    sN, sC, sH, sW = x.stride()
    windows = torch.as_strided(x, (N, C, H - kh + 1, W - kw + 1, kh, kw), (sN, sC, sH, sW, sH, sW))
    out = torch.tensordot(windows, weight.to(x.dtype), dims=([1, 4, 5], [1, 2, 3]))  # (N, Ho, Wo, C_out)
    if bias is not None:
        out = out + bias.to(x.dtype)
    return out.permute(0, 3, 1, 2).contiguous()


def two_layer(
    input: torch.Tensor,
    w1: torch.Tensor,
    w2: torch.Tensor,
    b1: torch.Tensor | None = None,
    b2: torch.Tensor | None = None,
) -> torch.Tensor:
    """conv, ReLU, conv."""
    hidden = conv2d(input, w1, b1).clamp(min=0)
    return conv2d(hidden, w2, b2)


def param_count(c_in: int, c_out: int, kernel_size: int | tuple[int, int], bias: bool = True) -> int:
    """The number of learnable parameters of a conv layer."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    weights = c_out * c_in * kh * kw
    return weights + c_out if bias else weights
