"""02 · Convolution is a matrix multiplication. CS231n style: numpy arrays and explicit loops."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["conv_matrix", "conv2d_matmul", "im2col", "conv2d_im2col"]


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    """An int or an (h, w) pair as an (h, w) pair."""
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def conv_matrix(kernel: torch.Tensor, image_shape: Sequence[int]) -> torch.Tensor:
    """The (Ho*Wo, H*W) matrix M with M @ image.flatten() == the valid convolution, flattened."""
    k = kernel.detach().cpu().numpy()
    H, W = image_shape
    kh, kw = k.shape
    Ho, Wo = H - kh, W - kw
    M = np.zeros((Ho * Wo, H * W), dtype=k.dtype)
    for oy in range(Ho):
        for ox in range(Wo):
            for i in range(kh):
                for j in range(kw):
                    M[oy * Wo + ox, (oy + i) * W + (ox + j)] = k[i, j]
    return torch.from_numpy(M)


def conv2d_matmul(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The valid convolution of an (H, W) image as one matrix-vector product."""
    x = image.detach().cpu().numpy()
    H, W = x.shape
    kh, kw = kernel.shape
    M = conv_matrix(kernel, (H, W)).numpy().astype(x.dtype)
    out = M.dot(x.reshape(-1))
    return torch.from_numpy(out.reshape(H - kh, W - kw))


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
    x = input.detach().cpu().numpy()
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    N, C, Hp, Wp = xp.shape
    Ho, Wo = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    cols = np.zeros((N, C * kh * kw, Ho * Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
            cols[:, :, i * Wo + j] = patch.reshape(N, -1)
    return torch.from_numpy(cols)


def conv2d_im2col(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """A batched multi-channel convolution as im2col and one matrix multiplication."""
    F_out, _, kh, kw = weight.shape
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    N, _, H, W = input.shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    cols = im2col(input, (kh, kw), stride, padding).numpy()
    w = weight.detach().cpu().numpy().astype(cols.dtype)
    out = w.reshape(F_out, -1) @ cols
    if bias is not None:
        out = out + bias.detach().cpu().numpy().astype(cols.dtype)[None, :, None]
    return torch.from_numpy(np.ascontiguousarray(out.reshape(N, F_out, Ho, Wo)))
