"""04 · A kernel has rank 3. Windows from Tensor.unfold, then matmul."""

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
    return torch.tensor([0.114, 0.587, 0.299]).reshape(1, 3, 1, 1)


def to_grayscale(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) -> (..., 1, H, W), a 1x1 convolution with grayscale_kernel()."""
    pixels = rgb.unfold(-3, 3, 1)  # (..., 1, H, W, 3): each pixel's R, G, B
    return pixels @ grayscale_kernel().to(rgb.dtype).flatten()


def _windows(image: torch.Tensor, kh: int, kw: int) -> torch.Tensor:
    """(C, Ho*Wo, kh*kw): every window of a (C, H, W) image, one row per output pixel."""
    windows = image.unfold(1, kh, 1).unfold(2, kw, 1)  # (C, Ho, Wo, kh, kw)
    C, Ho, Wo = windows.shape[:3]
    return windows.reshape(C, Ho * Wo, kh * kw)


def conv2d_multichannel(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Valid convolution of a (C, H, W) image by one (C, kh, kw) kernel, summed over channels."""
    return channel_contributions(image, kernel).sum(dim=0)


def channel_contributions(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """(C, Ho, Wo): each channel's part of conv2d_multichannel."""
    C, kh, kw = kernel.shape
    Ho, Wo = image.shape[1] - kh + 1, image.shape[2] - kw + 1
    per_channel = _windows(image, kh, kw) @ kernel.to(image.dtype).reshape(C, kh * kw, 1)
    return per_channel.reshape(C, Ho, Wo)


def green_detector_kernel() -> torch.Tensor:
    """A (3, 3, 3) kernel: a plus of green counts, the same plus of red and blue counts against it."""
    plus = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])
    return torch.stack([-plus, 2 * plus, -plus])
