"""01 · What is a convolution? Windows from Tensor.unfold, then one matrix-vector product."""

from __future__ import annotations

import torch

__all__ = ["conv2d_single", "output_size", "top_edge_kernel", "left_edge_kernel"]


def conv2d_single(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The valid cross-correlation of an (H, W) image by a (kh, kw) kernel."""
    kh, kw = kernel.shape
    windows = image.unfold(0, kh, 1).unfold(1, kw, 1)  # (Ho, Wo, kh, kw)
    Ho, Wo = windows.shape[:2]
    return windows.reshape(Ho, Wo, kh * kw) @ kernel.to(image.dtype).reshape(kh * kw)


def output_size(size: int, kernel_size: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """The length of a convolution's output along one dimension."""
    effective_kernel = dilation * (kernel_size - 1) + 1
    return (size + 2 * padding - effective_kernel) // stride + 1


def top_edge_kernel() -> torch.Tensor:
    """A 3x3 kernel: the pixel below minus the pixel above."""
    return torch.tensor([[0.0, -1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def left_edge_kernel() -> torch.Tensor:
    """A 3x3 kernel: the pixel to the right minus the pixel to the left."""
    return torch.tensor([[0.0, 0.0, 0.0], [-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
