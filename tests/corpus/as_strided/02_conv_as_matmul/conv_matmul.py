"""02 · Convolution is a matrix multiplication. im2col as a torch.as_strided view ("deep learning from scratch")."""

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
    Ho, Wo = H - kh + 1, W - kw + 1
    # Row (oy, ox) is the kernel laid on an H x W image at (0, 0), shifted right by oy*W + ox.
    first_row = kernel.new_zeros(H, W)
    first_row[:kh, :kw] = kernel
    shift = (Ho - 1) * W + (Wo - 1)
    buffer = torch.cat([kernel.new_zeros(shift), first_row.reshape(-1)])
    # view[a, b, c] = buffer[a*W + b + c]: a Toeplitz view, read backwards in a and b
    view = torch.as_strided(buffer, (Ho, Wo, H * W), (W, 1, 1))
    return view.flip(0, 1).reshape(Ho * Wo, H * W)


def conv2d_matmul(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The valid convolution of an (H, W) image as one matrix-vector product."""
    H, W = image.shape
    kh, kw = kernel.shape
    M = conv_matrix(kernel.to(image.dtype), (H, W))
    return torch.mv(M, image.reshape(-1)).reshape(H - kh + 1, W - kw + 1)


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
    x = F.pad(input, (pw, pw, ph, ph)).contiguous()
    N, C, Hp, Wp = x.shape
    Ho, Wo = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    sN, sC, sH, sW = x.stride()
    windows = torch.as_strided(x, (N, C, kh, kw, Ho, Wo), (sN, sC, sH, sW, sH * sh, sW * sw))
    return windows.reshape(N, C * kh * kw, Ho * Wo)


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
    out = torch.matmul(weight.to(input.dtype).reshape(C_out, -1), cols)
    if bias is not None:
        out += bias.to(input.dtype).reshape(1, C_out, 1)
    return out.reshape(N, C_out, Ho, Wo)
