"""04 · A kernel has rank 3. CS231n style: numpy arrays and loops over the output pixels."""

from __future__ import annotations

import numpy as np
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
    return torch.from_numpy(np.array([0.299, 0.587, 0.114], dtype=np.float32).reshape(1, 3, 1, 1))


def to_grayscale(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) -> (..., 1, H, W), a 1x1 convolution with grayscale_kernel()."""
    x = rgb.detach().cpu().numpy()
    w = grayscale_kernel().numpy().reshape(3).astype(x.dtype)
    H, W = x.shape[-2:]
    out = np.zeros(x.shape[:-3] + (1, H, W), dtype=x.dtype)
    for i in range(H):
        for j in range(W):
            out[..., 0, i, j] = x[..., :, i, j] @ w
    return torch.from_numpy(out)


def conv2d_multichannel(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Valid convolution of a (C, H, W) image by one (C, kh, kw) kernel, summed over channels."""
    x = image.detach().cpu().numpy()
    k = kernel.detach().cpu().numpy().astype(x.dtype)
    _, H, W = x.shape
    _, kh, kw = k.shape
    out = np.zeros((H - kh + 1, W - kw + 1), dtype=x.dtype)
    for i in range(H - kh + 1):
        for j in range(W - kw + 1):
            out[i, j] = np.sum(x[:, i : i + kh, j : j + kw] * k)
    return torch.from_numpy(out)


def channel_contributions(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """(C, Ho, Wo): each channel's part of conv2d_multichannel."""
    x = image.detach().cpu().numpy()
    k = kernel.detach().cpu().numpy().astype(x.dtype)
    C, H, W = x.shape
    _, kh, kw = k.shape
    out = np.zeros((C, H - kh + 1, W - kw + 1), dtype=x.dtype)
    for i in range(H - kh + 1):
        for j in range(W - kw + 1):
            out[:, i, j] = np.sum(x[:, i : i + kh, j : j + kw] * k, axis=(1, 2))
    return torch.from_numpy(out)


def green_detector_kernel() -> torch.Tensor:
    """A (3, 3, 3) kernel that favours green over red, blue and grey."""
    k = np.zeros((3, 3, 3), dtype=np.float32)
    k[0] = -1.0
    k[1] = 2.0
    k[2] = -1.0
    return torch.from_numpy(k)
