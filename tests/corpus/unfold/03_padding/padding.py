"""03 · Padding. Borders gathered by advanced indexing; the same convolution with Tensor.unfold and matmul."""

from __future__ import annotations

import torch

__all__ = ["pad2d", "same_padding", "conv2d_same"]


def _index(size: int, before: int, after: int, mode: str, device: torch.device) -> torch.Tensor:
    """The input index each padded position copies, mirrored, clamped or wrapped into 0..size-1."""
    i = torch.arange(-before, size + after, device=device)
    if mode == "reflect":
        return (size - 1) - ((size - 1) - i.abs()).abs()
    if mode == "replicate":
        return i.clamp(min=0, max=size - 1)
    return torch.remainder(i, size)


def pad2d(
    input: torch.Tensor,
    padding: int | tuple[int, int, int, int],
    mode: str = "zeros",
    value: float = 0.0,
) -> torch.Tensor:
    """Pad the last two dimensions of input by (left, right, top, bottom) in mode."""
    left, right, top, bottom = [padding] * 4 if isinstance(padding, int) else padding
    *lead, H, W = input.shape
    if mode == "zeros":
        out = torch.full((*lead, H + top + bottom, W + left + right), value, dtype=input.dtype, device=input.device)
        out[..., top : H + top, left : W + left] = input
        return out
    rows = _index(H, top, bottom, mode, input.device)
    cols = _index(W, left, right, mode, input.device)
    return input[..., rows[:, None], cols]


def same_padding(kernel_size: int | tuple[int, int], dilation: int | tuple[int, int] = 1) -> tuple[int, int, int, int]:
    """The (left, right, top, bottom) padding that keeps H and W for stride 1."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    return ((span_w - 1) // 2, span_w // 2, (span_h - 1) // 2, span_h // 2)


def conv2d_same(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    mode: str = "zeros",
) -> torch.Tensor:
    """A stride-1 convolution whose output keeps H and W, padded with pad2d in mode."""
    N, C, H, W = input.shape
    C_out, _, kh, kw = weight.shape
    x = pad2d(input, same_padding((kh, kw)), mode)
    windows = x.unfold(2, kh, 1).unfold(3, kw, 1)  # (N, C, H, W, kh, kw)
    rows = windows.permute(0, 2, 3, 1, 4, 5).reshape(N, H * W, C * kh * kw)
    out = rows @ weight.to(input.dtype).reshape(C_out, -1).T  # (N, H*W, C_out)
    if bias is not None:
        out = out + bias.to(input.dtype)
    return out.transpose(1, 2).reshape(N, C_out, H, W)
