"""02 · Convolution is a matrix multiplication. Windows from Tensor.unfold, then matmul."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["conv_matrix", "conv2d_matmul", "im2col", "conv2d_im2col"]


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    """An int or an (h, w) pair as an (h, w) pair."""
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def conv_matrix(kernel: torch.Tensor, image_shape: Sequence[int]) -> torch.Tensor:
    """The (Ho*Wo, H*W) matrix M with M @ image.flatten() == the valid convolution, flattened."""
    H, W = image_shape
    kh, kw = kernel.shape
    # column p of M is the convolution of the image that is 1 at pixel p and 0 elsewhere
    units = torch.eye(H * W, dtype=kernel.dtype).reshape(H * W, H, W)
    windows = units.unfold(1, kh, 1).unfold(2, kw, 1)  # (H*W, Ho, Wo, kh, kw)
    Ho, Wo = windows.shape[1:3]
    columns = windows.reshape(H * W, Ho * Wo, kh * kw) @ kernel.reshape(kh * kw)
    return columns.T.contiguous()


def conv2d_matmul(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The valid convolution of an (H, W) image as one matrix-vector product."""
    kh, kw = kernel.shape
    M = conv_matrix(kernel.to(image.dtype), image.shape)
    return (M @ image.flatten()).view(image.shape[0] - kh + 1, image.shape[1] - kw + 1)


def im2col(
    input: torch.Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """Every kernel-sized patch as a column, (N, C*kh*kw, L), in F.unfold's order."""
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    x = F.pad(input, [pw, pw, ph, ph])
    windows = x.unfold(2, kh, sh).unfold(3, kw, sw)  # (N, C, Ho, Wo, kh, kw)
    N, C, Ho, Wo = windows.shape[:4]
    return windows.permute(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, Ho * Wo)


def conv2d_im2col(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """A batched multi-channel convolution as im2col and one matrix multiplication."""
    C_out, _, kh, kw = weight.shape
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    N, _, H, W = input.shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    cols = im2col(input, (kh, kw), stride, padding)
    w = weight.to(input.dtype).reshape(1, C_out, -1).expand(N, -1, -1)
    if bias is None:
        out = torch.bmm(w, cols)
    else:
        out = torch.baddbmm(bias.to(input.dtype).reshape(1, C_out, 1), w, cols)
    return out.view(N, C_out, Ho, Wo)
