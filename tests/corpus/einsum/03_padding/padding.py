"""03 · Padding. Borders cut from the image with slices and glued on with torch.cat; shift-and-add einsum conv."""

from __future__ import annotations

import torch

__all__ = ["pad2d", "same_padding", "conv2d_same"]


def _pad_last(x: torch.Tensor, before: int, after: int, mode: str, value: float) -> torch.Tensor:
    """Pad the last dimension of x by before and after."""
    n = x.shape[-1]
    if mode == "zeros":
        head = x.new_full((*x.shape[:-1], before), value)
        tail = x.new_full((*x.shape[:-1], after), value)
    elif mode == "reflect":
        head = x[..., 1 : before + 1].flip(-1)
        tail = x[..., n - 1 - after : n - 1].flip(-1)
    elif mode == "replicate":
        head = x[..., :1].expand(*x.shape[:-1], before)
        tail = x[..., n - 1 :].expand(*x.shape[:-1], after)
    else:  # circular
        head = x[..., n - before :]
        tail = x[..., :after]
    return torch.cat([head, x, tail], dim=-1)


def pad2d(
    input: torch.Tensor,
    padding: int | tuple[int, int, int, int],
    mode: str = "zeros",
    value: float = 0.0,
) -> torch.Tensor:
    """Pad the last two dimensions of input by (left, right, top, bottom) in mode."""
    left, right, top, bottom = (padding,) * 4 if isinstance(padding, int) else padding
    out = _pad_last(input, left, right, mode, value)
    out = _pad_last(out.transpose(-1, -2), top, bottom, mode, value)
    return out.transpose(-1, -2).contiguous()


def same_padding(kernel_size: int | tuple[int, int], dilation: int | tuple[int, int] = 1) -> tuple[int, int, int, int]:
    """The (left, right, top, bottom) padding that keeps H and W for stride 1."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    left, top = dw * (kw - 1) // 2, dh * (kh - 1) // 2
    return (left, dw * (kw - 1) - left, top, dh * (kh - 1) - top)


def conv2d_same(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    mode: str = "zeros",
) -> torch.Tensor:
    """A stride-1 convolution whose output keeps H and W, padded with pad2d in mode."""
    _, _, H, W = input.shape
    _, _, kh, kw = weight.shape
    x = pad2d(input, same_padding((kh, kw)), mode)
    patches = torch.stack([x[:, :, i : i + H, j : j + W] for i in range(kh) for j in range(kw)], dim=2)
    out = torch.einsum("nctyx,oct->noyx", patches, weight.to(input.dtype).flatten(2))
    if bias is not None:
        out = out + bias.to(input.dtype)[:, None, None]
    return out
