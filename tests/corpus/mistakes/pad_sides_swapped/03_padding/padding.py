"""03 · Padding. CS231n style: numpy arrays, the border filled pixel by pixel."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["pad2d", "same_padding", "conv2d_same"]


def _source(i: int, size: int, mode: str) -> int:
    """The input index that padded index i (relative to the image) copies from."""
    if mode == "reflect":
        if i < 0:
            return -i
        if i >= size:
            return 2 * (size - 1) - i
        return i
    if mode == "replicate":
        return min(max(i, 0), size - 1)
    return i % size  # circular


def pad2d(
    input: torch.Tensor,
    padding: int | tuple[int, int, int, int],
    mode: str = "zeros",
    value: float = 0.0,
) -> torch.Tensor:
    """Pad the last two dimensions of input by (left, right, top, bottom) in mode."""
    if isinstance(padding, int):
        left = right = top = bottom = padding
    else:
        top, bottom, left, right = padding
    x = input.detach().cpu().numpy()
    H, W = x.shape[-2:]
    out_h, out_w = H + top + bottom, W + left + right
    out = np.full(x.shape[:-2] + (out_h, out_w), value, dtype=x.dtype)
    if mode == "zeros":
        out[..., top : top + H, left : left + W] = x
        return torch.from_numpy(out)
    for r in range(out_h):
        for c in range(out_w):
            out[..., r, c] = x[..., _source(r - top, H, mode), _source(c - left, W, mode)]
    return torch.from_numpy(out)


def same_padding(kernel_size: int | tuple[int, int], dilation: int | tuple[int, int] = 1) -> tuple[int, int, int, int]:
    """The (left, right, top, bottom) padding that keeps H and W for stride 1."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    total_h, total_w = dh * (kh - 1), dw * (kw - 1)
    return (total_w // 2, total_w - total_w // 2, total_h // 2, total_h - total_h // 2)


def conv2d_same(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    mode: str = "zeros",
) -> torch.Tensor:
    """A stride-1 convolution whose output keeps H and W, padded with pad2d in mode."""
    F_out, _, kh, kw = weight.shape
    xp = pad2d(input, same_padding((kh, kw)), mode).numpy()
    w = weight.detach().cpu().numpy().astype(xp.dtype)
    N, _, Hp, Wp = xp.shape
    H, W = Hp - kh + 1, Wp - kw + 1
    out = np.zeros((N, F_out, H, W), dtype=xp.dtype)
    for i in range(H):
        for j in range(W):
            out[:, :, i, j] = np.tensordot(xp[:, :, i : i + kh, j : j + kw], w, axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        out += bias.detach().cpu().numpy().astype(xp.dtype).reshape(1, -1, 1, 1)
    return torch.from_numpy(out)
