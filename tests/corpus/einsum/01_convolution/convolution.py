"""01 · What is a convolution? Shift and add: one slice per kernel tap, combined with torch.einsum."""

from __future__ import annotations

import math

import torch

__all__ = ["conv2d_single", "output_size", "top_edge_kernel", "left_edge_kernel"]


def conv2d_single(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The valid cross-correlation of an (H, W) image by a (kh, kw) kernel."""
    kernel = kernel.to(image.dtype)
    kh, kw = kernel.shape
    Ho, Wo = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    # patches[t] is the image shifted by tap t = (i, j): the pixel under weight (i, j) for every output
    patches = torch.stack([image[i : i + Ho, j : j + Wo] for i in range(kh) for j in range(kw)])
    return torch.einsum("t,tyx->yx", kernel.reshape(-1), patches)


def output_size(size: int, kernel_size: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """The length of a convolution's output along one dimension."""
    return math.floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1


def top_edge_kernel() -> torch.Tensor:
    """A 3x3 Sobel kernel that responds to dark above, bright below."""
    return torch.tensor([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]])


def left_edge_kernel() -> torch.Tensor:
    """A 3x3 Sobel kernel that responds to dark left, bright right."""
    return torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
