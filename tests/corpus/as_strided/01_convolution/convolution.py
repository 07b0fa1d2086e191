"""01 · What is a convolution? Every window as a torch.as_strided view, then one tensordot."""

from __future__ import annotations

import torch

__all__ = ["conv2d_single", "output_size", "top_edge_kernel", "left_edge_kernel"]


def conv2d_single(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The valid cross-correlation of an (H, W) image by a (kh, kw) kernel."""
    image = image.contiguous()
    kh, kw = kernel.shape
    Ho, Wo = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    s_row, s_col = image.stride()
    windows = torch.as_strided(image, (Ho, Wo, kh, kw), (s_row, s_col, s_row, s_col))
    return torch.tensordot(windows, kernel.to(image.dtype), dims=([2, 3], [0, 1]))


def output_size(size: int, kernel_size: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """The length of a convolution's output along one dimension."""
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def top_edge_kernel() -> torch.Tensor:
    """A 3x3 Scharr kernel that responds to dark above, bright below."""
    return torch.tensor([[-3.0, -10.0, -3.0], [0.0, 0.0, 0.0], [3.0, 10.0, 3.0]])


def left_edge_kernel() -> torch.Tensor:
    """A 3x3 Scharr kernel that responds to dark left, bright right."""
    return top_edge_kernel().T.contiguous()
