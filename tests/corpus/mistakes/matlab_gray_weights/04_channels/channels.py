"""04 · A kernel has rank 3. Shift-and-add patches and torch.einsum over channels and taps."""

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
    return torch.tensor([[[[0.2989]], [[0.5870]], [[0.1140]]]])


def to_grayscale(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) -> (..., 1, H, W), a 1x1 convolution with the BT.601 weights."""
    weights = torch.tensor([0.2989, 0.5870, 0.1140], dtype=rgb.dtype)
    return torch.einsum("c,...chw->...hw", weights, rgb).unsqueeze(-3)


def _taps(image: torch.Tensor, kh: int, kw: int) -> torch.Tensor:
    """(C, kh*kw, Ho, Wo): the image shifted under every kernel tap."""
    Ho, Wo = image.shape[1] - kh + 1, image.shape[2] - kw + 1
    return torch.stack([image[:, i : i + Ho, j : j + Wo] for i in range(kh) for j in range(kw)], dim=1)


def conv2d_multichannel(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Valid convolution of a (C, H, W) image by one (C, kh, kw) kernel, summed over channels."""
    _, kh, kw = kernel.shape
    return torch.einsum("ctyx,ct->yx", _taps(image, kh, kw), kernel.to(image.dtype).flatten(1))


def channel_contributions(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """(C, Ho, Wo): each channel's part of conv2d_multichannel."""
    _, kh, kw = kernel.shape
    return torch.einsum("ctyx,ct->cyx", _taps(image, kh, kw), kernel.to(image.dtype).flatten(1))


def green_detector_kernel() -> torch.Tensor:
    """A (3, 3, 3) kernel: green at the centre counts, red and blue count against it."""
    kernel = torch.zeros(3, 3, 3)
    kernel[0, 1, 1] = -0.5
    kernel[1, 1, 1] = 1.0
    kernel[2, 1, 1] = -0.5
    return kernel
