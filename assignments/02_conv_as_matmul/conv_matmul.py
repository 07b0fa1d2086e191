"""02 · Convolution is a matrix multiplication.

fast.ai part 2, lesson 9 ("digging into convolution"): a convolution is a matrix
multiplication by a special matrix, in which most entries are always zero and the
same few weights are shared by every row. Building that matrix densely shows the
idea but is far too slow and too big to use; im2col, which copies every patch
into a column so that one ordinary matrix multiplication does the whole
convolution, is the practical version of the same idea.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["conv_matrix", "conv2d_matmul", "im2col", "conv2d_im2col"]


def _pair(value: int | Sequence[int], name: str, minimum: int) -> tuple[int, int]:
    """Turn an int or an (h, w) pair into a validated (h, w) tuple of ints.

    Raises TypeError when `value` is not an int or a pair of ints, and ValueError
    when the pair has the wrong length or an entry is below `minimum`.
    """
    if isinstance(value, bool) or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
    if isinstance(value, numbers.Integral):
        pair = (int(value), int(value))
    elif isinstance(value, Sequence):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or an (h, w) pair, got {len(value)} values: {tuple(value)!r}")
        for v in value:
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {tuple(value)!r}")
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {type(value).__name__}")
    if min(pair) < minimum:
        shown = pair[0] if isinstance(value, numbers.Integral) else pair
        raise ValueError(f"{name} must be at least {minimum}, got {shown}")
    return pair


def _check_float_tensor(name: str, t: object) -> None:
    """Raise TypeError naming `name` unless `t` is a floating-point tensor (float32 and float64 both are)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")


def conv_matrix(kernel: torch.Tensor, image_shape: Sequence[int]) -> torch.Tensor:
    """The matrix M such that a valid convolution by `kernel` is `M @ image.flatten()`.

    Row r = oy*Wo + ox of M computes output pixel (oy, ox): it holds kernel[i, j]
    in column (oy + i)*W + (ox + j), the flattened index of the image pixel under
    that weight, and 0 everywhere else. So every row holds the same kh*kw weights
    (weight sharing), shifted, and the rest of the matrix is always zero.

    Shapes: kernel (kh, kw), image_shape (H, W) (a tuple, list or torch.Size of
    ints) -> (Ho*Wo, H*W) with Ho = H - kh + 1, Wo = W - kw + 1, in kernel's
    dtype (float32 or float64): one row per output pixel, one column per image
    pixel, not the transpose. Every kernel weight appears exactly Ho*Wo times,
    once per row; all other entries are exactly 0. Any kernel that fits works,
    from 1x1 (the identity times the weight) to the image's size (one row).

    Errors: TypeError when kernel is not a floating-point tensor or image_shape
    is not a pair of ints; ValueError when kernel is not 2-d, image_shape does
    not have 2 entries, or the kernel is larger than the image. The message
    names the argument.

    Hint: no loop needed. Build the row and column index of every (oy, ox, i, j)
    with broadcasting `torch.arange`s shaped (Ho, 1, 1, 1), (1, Wo, 1, 1),
    (1, 1, kh, 1), (1, 1, 1, kw), then write `kernel.expand(Ho, Wo, kh, kw)`
    into a zero matrix at those positions: `M[rows, cols] = values`.
    """
    # YOUR CODE HERE
    raise NotImplementedError("conv_matrix")


def conv2d_matmul(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The valid convolution of one image by one kernel, as one matrix-vector product.

    Build `conv_matrix(kernel, image.shape)`, multiply it by the flattened image,
    and reshape the result to the output's (Ho, Wo). It equals the valid
    cross-correlation that `torch.nn.functional.conv2d` computes.

    Like any convolution it is linear in the image: conv2d_matmul(a*x + y, kernel)
    is a*conv2d_matmul(x, kernel) + conv2d_matmul(y, kernel). Any kernel that
    fits works, from 1x1 to the image's size.

    Shapes: image (H, W), kernel (kh, kw) -> (H - kh + 1, W - kw + 1), in image's dtype.

    Dtypes: float32 and float64 both work, and the result keeps image's dtype. A
    kernel of the other float dtype is used in image's dtype (not an error).

    Errors: TypeError when image or kernel is not a floating-point tensor;
    ValueError when image or kernel is not 2-d or the kernel is larger than the
    image. The message names the argument.

    Hint: `image.flatten()` has H*W entries in row-major order, the order the
    matrix's columns use; `(M @ v).reshape(Ho, Wo)` puts the result back in shape.
    """
    # YOUR CODE HERE
    raise NotImplementedError("conv2d_matmul")


def im2col(
    input: torch.Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """Copy every kernel-sized patch of a batch of images into a column.

    Pad `input` with `padding` zeros on each side, place a (kh, kw) window at
    every `stride`-th position, row by row, and write the window's C*kh*kw
    values, ordered (channel, row, column), as one column. Equal, value for
    value and in the same order, to
    `torch.nn.functional.unfold(input, kernel_size, stride=stride, padding=padding)`.

    The channels come first: rows c*kh*kw to (c+1)*kh*kw - 1 are the im2col of
    channel c alone.

    Shapes: input (N, C, H, W) -> (N, C*kh*kw, L) in input's dtype (float32 or
    float64), where L = Ho*Wo, Ho = (H + 2*ph - kh) // sh + 1 and
    Wo = (W + 2*pw - kw) // sw + 1. kernel_size, stride and padding are each an
    int or an (h, w) pair. Any kernel that fits works, from 1x1 to the size of
    the padded input (one column), and any stride, larger than the kernel too.

    Errors: TypeError when input is not a floating-point tensor or an argument is
    not an int or a pair of ints; ValueError when input is not 4-d, kernel_size
    or stride is below 1, padding is below 0, or the kernel is larger than the
    padded input. The message names the argument.

    Hint: `F.pad` pads; `x.unfold(2, kh, sh).unfold(3, kw, sw)` is a view of
    shape (N, C, Ho, Wo, kh, kw) with every window, no copy. Move the dimensions
    into (N, C, kh, kw, Ho, Wo) order with `permute`, then copy into the
    (N, C*kh*kw, Ho*Wo) result.
    """
    # YOUR CODE HERE
    raise NotImplementedError("im2col")


def conv2d_im2col(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """A batched, multi-channel convolution as im2col and one matrix multiplication.

    `im2col` turns the input into columns (N, C_in*kh*kw, L), one per output
    pixel; the weight, flattened to (C_out, C_in*kh*kw), times those columns is
    (N, C_out, L), which is already the output's layout; add each output
    channel's bias and reshape. Equal to
    `F.conv2d(input, weight, bias, stride=stride, padding=padding)`.

    The bias adds bias[c] to every value of output channel c; bias=None adds
    nothing. Vectorised: no Python loop over the output's pixels.

    Shapes: input (N, C_in, H, W), weight (C_out, C_in, kh, kw), bias (C_out,) or
    None -> (N, C_out, Ho, Wo) in input's dtype, Ho and Wo as in `im2col`.
    stride and padding are each an int or an (h, w) pair.

    Dtypes: float32 and float64 both work, and the result keeps input's dtype. A
    weight or bias of the other float dtype is used in input's dtype (not an error).

    Errors: TypeError when input, weight or bias is not a floating-point tensor;
    ValueError when input or weight is not 4-d, input's channels differ from
    weight.shape[1], bias is not (C_out,), or as in `im2col`. The message names
    the argument.

    Hint: `weight.reshape(C_out, -1) @ cols` broadcasts over the batch. No loop:
    the whole convolution is one matmul. `torch.baddbmm(bias, w, cols)` adds
    the bias in the same pass.
    """
    # YOUR CODE HERE
    raise NotImplementedError("conv2d_im2col")
