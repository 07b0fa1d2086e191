"""06 · Stride and dilation. Tensor.unfold steps by the stride; dilation keeps every d-th tap; then matmul."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["conv2d", "output_shape", "activation_memory"]


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    """An int or an (h, w) pair as an (h, w) pair."""
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def conv2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> torch.Tensor:
    """The general 2-d convolution (cross-correlation), equal to F.conv2d."""
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    C_out, C_in, kh, kw = weight.shape
    x = F.pad(input, (pw, pw, ph, ph))
    # each window spans d*(k-1)+1 pixels; keeping every d-th of them gives the k taps
    windows = x.unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)[..., ::dh, ::dw]
    N, _, Ho, Wo = windows.shape[:4]
    rows = windows.permute(0, 2, 3, 1, 4, 5).reshape(N, Ho * Wo, C_in * kh * kw)
    out = (rows @ weight.to(input.dtype).reshape(C_out, -1).T).transpose(1, 2).reshape(N, C_out, Ho, Wo)
    if bias is not None:
        out = out + bias.to(input.dtype).reshape(-1, 1, 1)
    return out


def output_shape(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> tuple[int, int, int, int]:
    """The (N, C_out, Ho, Wo) that conv2d returns."""
    s, p, d = _pair(stride), _pair(padding), _pair(dilation)
    Ho, Wo = (
        (input_shape[2 + i] + 2 * p[i] - d[i] * (weight_shape[2 + i] - 1) - 1) // s[i] + 1 for i in range(2)
    )
    return (input_shape[0], weight_shape[0], Ho, Wo)


def activation_memory(
    input_shape: Sequence[int],
    layers: Sequence[tuple[int, int | tuple[int, int], int | tuple[int, int], int | tuple[int, int]]],
    bytes_per_element: int = 4,
) -> int:
    """Bytes held by the input and every layer's output of a stack of conv layers."""
    shape = list(input_shape)
    numel = shape[0] * shape[1] * shape[2] * shape[3]
    for c_out, kernel_size, stride, padding in layers:
        kh, kw = _pair(kernel_size)
        shape = output_shape(shape, [c_out, shape[1], kh, kw], stride, padding)
        numel += shape[0] * shape[1] * shape[2] * shape[3]
    return bytes_per_element * numel
