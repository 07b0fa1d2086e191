"""06 · Stride and dilation. Shift and add: one strided slice per kernel tap, combined with torch.einsum."""

from __future__ import annotations

from collections.abc import Sequence

import torch

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
    N, C, H, W = input.shape
    _, _, kh, kw = weight.shape
    _, _, Ho, Wo = output_shape(input.shape, weight.shape, stride, padding, dilation)
    x = input.new_zeros(N, C, H + 2 * ph, W + 2 * pw)
    x[:, :, ph : ph + H, pw : pw + W] = input
    taps = [
        x[:, :, i * dh : i * dh + sh * (Ho - 1) + 1 : sh, j * dw : j * dw + sw * (Wo - 1) + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]
    out = torch.einsum("nctyx,oct->noyx", torch.stack(taps, dim=2), weight.to(input.dtype).flatten(2))
    if bias is not None:
        out = out + bias.to(input.dtype)[:, None, None]
    return out


def output_shape(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> tuple[int, int, int, int]:
    """The (N, C_out, Ho, Wo) that conv2d returns."""
    sizes = []
    for size, k, s, p, d in zip(input_shape[2:], weight_shape[2:], _pair(stride), _pair(padding), _pair(dilation)):
        sizes.append((size + 2 * p - d * (k - 1) - 1) // s + 1)
    return (input_shape[0], weight_shape[0], sizes[0], sizes[1])


def activation_memory(
    input_shape: Sequence[int],
    layers: Sequence[tuple[int, int | tuple[int, int], int | tuple[int, int], int | tuple[int, int]]],
    bytes_per_element: int = 4,
) -> int:
    """Bytes held by the input and every layer's output of a stack of conv layers."""
    N, C, H, W = input_shape
    elements = N * C * H * W
    for c_out, kernel_size, stride, padding in layers:
        _, C, H, W = output_shape((N, C, H, W), (c_out, C, *_pair(kernel_size)), stride, padding)
        elements += N * C * H * W
    return elements * bytes_per_element
