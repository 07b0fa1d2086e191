"""06 · Stride and dilation. CS231n conv_forward_naive style: numpy and loops over the output pixels."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
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
    x = input.detach().cpu().numpy()
    w = weight.detach().cpu().numpy().astype(x.dtype)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode="constant")
    N, _, Hp, Wp = xp.shape
    F_out, _, kh, kw = w.shape
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    Ho, Wo = (Hp - span_h) // sh + 1, (Wp - span_w) // sw + 1
    out = np.zeros((N, F_out, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            window = xp[:, :, i * dh : i * dh + sh * (kh - 1) + 1 : sh, j * dw : j * dw + sw * (kw - 1) + 1 : sw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        out += bias.detach().cpu().numpy().astype(x.dtype)[None, :, None, None]
    return torch.from_numpy(out)


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
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    Ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    Wo = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return (int(N), int(C_out), int(Ho), int(Wo))


def activation_memory(
    input_shape: Sequence[int],
    layers: Sequence[tuple[int, int | tuple[int, int], int | tuple[int, int], int | tuple[int, int]]],
    bytes_per_element: int = 4,
) -> int:
    """Bytes held by the input and every layer's output of a stack of conv layers."""
    shape = tuple(input_shape)
    total = math.prod(shape)
    for c_out, kernel_size, stride, padding in layers:
        kh, kw = _pair(kernel_size)
        shape = output_shape(shape, (c_out, shape[1], kh, kw), stride, padding)
        total += math.prod(shape)
    return total * bytes_per_element
