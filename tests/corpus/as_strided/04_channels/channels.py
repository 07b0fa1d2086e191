"""04 · A kernel has rank 3. Windows as a torch.as_strided view (C, Ho, Wo, kh, kw), then tensordot."""

from __future__ import annotations

import torch

__all__ = [
    "grayscale_kernel",
    "to_grayscale",
    "conv2d_multichannel",
    "channel_contributions",
    "green_detector_kernel",
]


def grayscale_kernel() -> torch.Tensor:
    """The (1, 3, 1, 1) ITU-R BT.601 luminance weight for R, G, B."""
    return torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32).view(1, 3, 1, 1)


def to_grayscale(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) -> (..., 1, H, W), a 1x1 convolution with grayscale_kernel()."""
    w = grayscale_kernel().to(rgb.dtype).reshape(3)
    return (rgb.movedim(-3, -1) @ w).unsqueeze(-3)


def _windows(image: torch.Tensor, kh: int, kw: int) -> torch.Tensor:
    """(C, Ho, Wo, kh, kw): every window of a (C, H, W) image, without copying."""
    image = image.contiguous()
    C, H, W = image.shape
    sC, sH, sW = image.stride()
    return torch.as_strided(image, (C, H - kh + 1, W - kw + 1, kh, kw), (sC, sH, sW, sH, sW))


def conv2d_multichannel(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Valid convolution of a (C, H, W) image by one (C, kh, kw) kernel, summed over channels."""
    _, kh, kw = kernel.shape
    return torch.tensordot(_windows(image, kh, kw), kernel.to(image.dtype), dims=([0, 3, 4], [0, 1, 2]))


def channel_contributions(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """(C, Ho, Wo): each channel's part of conv2d_multichannel."""
    _, kh, kw = kernel.shape
    return (_windows(image, kh, kw) * kernel.to(image.dtype)[:, None, None]).sum(dim=(-2, -1))


def green_detector_kernel() -> torch.Tensor:
    """A (3, 3, 3) kernel: +1 on green, -1/2 on red and blue, zero-sum so grey gives 0."""
    return torch.stack([torch.full((3, 3), -0.5), torch.full((3, 3), 1.0), torch.full((3, 3), -0.5)])
