"""06 · Stride and dilation. Both are strides of a torch.as_strided view: between windows and between taps."""

from __future__ import annotations

import math
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
    N, _, Ho, Wo = output_shape(input.shape, weight.shape, stride, padding, dilation)
    _, C_in, kh, kw = weight.shape
    x = F.pad(input, (pw, pw, ph, ph)).contiguous()
    sN, sC, sH, sW = x.stride()
    windows = torch.as_strided(
        x, (N, C_in, Ho, Wo, kh, kw), (sN, sC, sH * sh, sW * sw, sH * dh, sW * dw)
    )
    out = torch.tensordot(windows, weight.to(x.dtype), dims=([1, 4, 5], [1, 2, 3])).permute(0, 3, 1, 2)
    if bias is not None:
        out = out + bias.to(x.dtype).view(1, -1, 1, 1)
    return out


def output_shape(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> tuple[int, int, int, int]:
    """The (N, C_out, Ho, Wo) that conv2d returns."""
    N, _, H, W = input_shape
    C_out, _, kh, kw = weight_shape
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    Ho = math.floor((H + 2 * ph - dh * (kh - 1) - 1) / sh + 1)
    Wo = math.floor((W + 2 * pw - dw * (kw - 1) - 1) / sw + 1)
    return N, C_out, Ho, Wo


def activation_memory(
    input_shape: Sequence[int],
    layers: Sequence[tuple[int, int | tuple[int, int], int | tuple[int, int], int | tuple[int, int]]],
    bytes_per_element: int = 4,
) -> int:
    """Bytes held by the input and every layer's output of a stack of conv layers."""
    shapes = [tuple(input_shape)]
    for c_out, kernel_size, stride, padding in layers:
        shapes.append(output_shape(shapes[-1], (c_out, shapes[-1][1], *_pair(kernel_size)), stride, padding))
    return sum(math.prod(s) for s in shapes) * bytes_per_element
