"""03 · Padding. Borders gathered with index_select; the same convolution over torch.as_strided windows."""

from __future__ import annotations

import torch

__all__ = ["pad2d", "same_padding", "conv2d_same"]


def _source_index(size: int, before: int, after: int, mode: str) -> torch.Tensor:
    """For each padded position, the index of the input row (or column) it copies."""
    i = torch.arange(-before, size + after)
    if mode == "reflect":
        i = torch.where(i < 0, -i - 1, i)
        return torch.where(i > size - 1, 2 * size - 1 - i, i)
    if mode == "replicate":
        return i.clamp(0, size - 1)
    return i % size  # circular


def pad2d(
    input: torch.Tensor,
    padding: int | tuple[int, int, int, int],
    mode: str = "zeros",
    value: float = 0.0,
) -> torch.Tensor:
    """Pad the last two dimensions of input by (left, right, top, bottom) in mode."""
    if isinstance(padding, int):
        padding = (padding, padding, padding, padding)
    left, right, top, bottom = padding
    H, W = input.shape[-2:]
    if mode == "zeros":
        out = input.new_full((*input.shape[:-2], H + top + bottom, W + left + right), value)
        out[..., top : top + H, left : left + W] = input
        return out
    rows = _source_index(H, top, bottom, mode).to(input.device)
    cols = _source_index(W, left, right, mode).to(input.device)
    return input.index_select(-2, rows).index_select(-1, cols)


def same_padding(kernel_size: int | tuple[int, int], dilation: int | tuple[int, int] = 1) -> tuple[int, int, int, int]:
    """The (left, right, top, bottom) padding that keeps H and W for stride 1."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    pad = []
    for k, d in ((kw, dw), (kh, dh)):
        total = d * (k - 1)
        pad += [total // 2, total - total // 2]
    return tuple(pad)


def conv2d_same(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    mode: str = "zeros",
) -> torch.Tensor:
    """A stride-1 convolution whose output keeps H and W, padded with pad2d in mode."""
    N, C, H, W = input.shape
    _, _, kh, kw = weight.shape
    x = pad2d(input, same_padding((kh, kw)), mode).contiguous()
    sN, sC, sH, sW = x.stride()
    windows = torch.as_strided(x, (N, C, H, W, kh, kw), (sN, sC, sH, sW, sH, sW))
    out = torch.tensordot(windows, weight.to(input.dtype), dims=([1, 4, 5], [1, 2, 3]))  # (N, H, W, C_out)
    if bias is not None:
        out = out + bias.to(input.dtype)
    return out.permute(0, 3, 1, 2)
