"""01 · What is a convolution? CS231n style: numpy arrays and loops over the output pixels."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["conv2d_single", "output_size", "top_edge_kernel", "left_edge_kernel"]


def conv2d_single(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The valid cross-correlation of an (H, W) image by a (kh, kw) kernel."""
    x = image.detach().cpu().numpy()
    k = kernel.detach().cpu().numpy().astype(x.dtype)[::-1, ::-1]
    H, W = x.shape
    kh, kw = k.shape
    out = np.zeros((H - kh + 1, W - kw + 1), dtype=x.dtype)
    for i in range(H - kh + 1):
        for j in range(W - kw + 1):
            out[i, j] = np.sum(x[i : i + kh, j : j + kw] * k)
    return torch.from_numpy(out)


def output_size(size: int, kernel_size: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """The length of a convolution's output along one dimension."""
    span = dilation * (kernel_size - 1) + 1
    return int(np.floor((size + 2 * padding - span) / stride)) + 1


def top_edge_kernel() -> torch.Tensor:
    """A 3x3 kernel that responds to dark above, bright below (Prewitt)."""
    k = np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], dtype=np.float32)
    return torch.from_numpy(k)


def left_edge_kernel() -> torch.Tensor:
    """A 3x3 kernel that responds to dark left, bright right."""
    k = np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(k.T))
