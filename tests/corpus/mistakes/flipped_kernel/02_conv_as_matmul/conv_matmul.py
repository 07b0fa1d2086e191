"""02 · Convolution is a matrix multiplication. Patches built by shifting slices, products by torch.einsum."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["conv_matrix", "conv2d_matmul", "im2col", "conv2d_im2col"]


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    """An int or an (h, w) pair as an (h, w) pair."""
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def conv_matrix(kernel: torch.Tensor, image_shape: Sequence[int]) -> torch.Tensor:
    """The (Ho*Wo, H*W) matrix M with M @ image.flatten() == the valid convolution, flattened."""
    H, W = image_shape
    kh, kw = kernel.shape
    Ho, Wo = H - kh + 1, W - kw + 1
    # unit[y, x] is the one-hot row of pixel (y, x); shifting it per tap picks the pixel under each weight
    unit = torch.eye(H * W, dtype=kernel.dtype).reshape(H, W, H * W)
    taps = torch.stack([unit[i : i + Ho, j : j + Wo] for i in range(kh) for j in range(kw)])
    return torch.einsum("t,tyxp->yxp", kernel.flip(0, 1).reshape(-1), taps).reshape(Ho * Wo, H * W)


def conv2d_matmul(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The valid convolution of an (H, W) image as one matrix-vector product."""
    H, W = image.shape
    kh, kw = kernel.shape
    M = conv_matrix(kernel.to(image.dtype), (H, W))
    return torch.einsum("rp,p->r", M, image.reshape(-1)).reshape(H - kh + 1, W - kw + 1)


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
    N, C, H, W = input.shape
    x = input.new_zeros(N, C, H + 2 * ph, W + 2 * pw)
    x[:, :, ph : ph + H, pw : pw + W] = input
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    shifted = [
        x[:, :, i : i + sh * (Ho - 1) + 1 : sh, j : j + sw * (Wo - 1) + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]
    return torch.stack(shifted, dim=2).reshape(N, C * kh * kw, Ho * Wo)


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
    out = torch.einsum("ok,nkl->nol", weight.to(input.dtype).flip(-2, -1).reshape(C_out, -1), cols)
    if bias is not None:
        out = out + bias.to(input.dtype)[None, :, None]
    return out.reshape(N, C_out, Ho, Wo)
