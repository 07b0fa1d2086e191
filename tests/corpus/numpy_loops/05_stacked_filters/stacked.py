"""05 · Many kernels make channels. CS231n conv_forward_naive style: numpy and loops."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["stack_kernels", "conv2d", "two_layer", "param_count"]


def stack_kernels(kernels: list[torch.Tensor]) -> torch.Tensor:
    """C_out kernels (C_in, kh, kw) -> one weight (C_out, C_in, kh, kw)."""
    return torch.from_numpy(np.stack([k.detach().cpu().numpy() for k in kernels]))


def conv2d(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Stride 1, no padding: (N, C_in, H, W) x (C_out, C_in, kh, kw) -> (N, C_out, Ho, Wo)."""
    x = input.detach().cpu().numpy()
    w = weight.detach().cpu().numpy().astype(x.dtype)
    N, _, H, W = x.shape
    F_out, _, kh, kw = w.shape
    Ho, Wo = H - kh + 1, W - kw + 1
    out = np.zeros((N, F_out, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for f in range(F_out):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, f, i, j] = np.sum(x[n, :, i : i + kh, j : j + kw] * w[f])
    if bias is not None:
        out += bias.detach().cpu().numpy().astype(x.dtype)[None, :, None, None]
    return torch.from_numpy(out)


def two_layer(
    input: torch.Tensor,
    w1: torch.Tensor,
    w2: torch.Tensor,
    b1: torch.Tensor | None = None,
    b2: torch.Tensor | None = None,
) -> torch.Tensor:
    """conv, ReLU, conv."""
    h = conv2d(input, w1, b1).numpy()
    h = torch.from_numpy(np.maximum(h, 0))
    return conv2d(h, w2, b2)


def param_count(c_in: int, c_out: int, kernel_size: int | tuple[int, int], bias: bool = True) -> int:
    """The number of learnable parameters of a conv layer."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    n = c_out * c_in * kh * kw
    if bias:
        n += c_out
    return n
