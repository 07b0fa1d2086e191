"""05 · Stacked filters: many kernels make channels.

One rank-3 kernel gives one output channel; stack C_out of them into a
(C_out, C_in, kh, kw) weight and the layer gives C_out channels. The next
layer's kernels then span all of those channels: on a 2-channel input each of
its filters is 3x3x2 (fast.ai part 2 lesson 9, "digging into convolution").
"""

from __future__ import annotations

import numbers

import torch

__all__ = ["stack_kernels", "conv2d", "two_layer", "param_count"]


def stack_kernels(kernels: list[torch.Tensor]) -> torch.Tensor:
    """Stack C_out rank-3 kernels into one convolution weight.

    Each kernel ``(C_in, kh, kw)`` will make one output channel; stacked along
    a new first dimension they make the weight of a layer with C_out outputs.
    The kernels are copied, not modified; the weight keeps their dtype
    (float32 or float64).

    Shapes: C_out kernels (C_in, kh, kw) -> (C_out, C_in, kh, kw).
    Errors: TypeError when ``kernels`` is not a list or tuple or an element is
    not a tensor; ValueError when the list is empty, a kernel is not 3-D, or a
    kernel's shape (C_in, kh or kw) differs from the first one's (the message
    names its index).
    Hint: ``torch.stack``.
    """
    # YOUR CODE HERE
    raise NotImplementedError("stack_kernels")


def conv2d(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """A convolution layer: stride 1, no padding, many output channels.

    Output channel o is the rank-3 kernel ``weight[o]`` convolved with each
    image (summed over all C_in channels), plus ``bias[o]`` when given:
    ``out[n, o, y, x] = sum over c, i, j of input[n, c, y+i, x+j] * weight[o, c, i, j]``.
    Cross-correlation (no flip). The result equals
    ``F.conv2d(input, weight, bias)``. Float32 and float64 inputs are both valid
    and the result keeps the input's dtype; a weight or bias of the other float
    dtype is used in the input's dtype (not an error).

    Shapes: input (N, C_in, H, W), weight (C_out, C_in, kh, kw), bias (C_out,)
    -> (N, C_out, H - kh + 1, W - kw + 1).
    Errors: TypeError when an argument is not a tensor or input is not floating
    point; ValueError when input or weight is not 4-D, their C_in differ, the
    kernel is empty or larger than the image, or bias is not of shape (C_out,).
    Each message names the argument (``input``, ``weight``, ``bias``).
    Hint: ``input.unfold(2, kh, 1).unfold(3, kw, 1)`` is a view (N, C_in, Ho, Wo,
    kh, kw) of every window; one ``torch.einsum`` with the weight sums over
    c, i and j for every output channel at once. Add the bias reshaped to
    (1, C_out, 1, 1).
    """
    # YOUR CODE HERE
    raise NotImplementedError("conv2d")


def two_layer(
    input: torch.Tensor,
    w1: torch.Tensor,
    w2: torch.Tensor,
    b1: torch.Tensor | None = None,
    b2: torch.Tensor | None = None,
) -> torch.Tensor:
    """Two convolution layers with a ReLU between them.

    ``conv2d(relu(conv2d(input, w1, b1)), w2, b2)``. The first layer turns
    C_in channels into C1; each of the second layer's C2 kernels is
    (C1, kh2, kw2): it spans every channel the first layer made. The result
    keeps the input's dtype (float32 or float64); weights and biases of the
    other float dtype are used in the input's dtype, as in ``conv2d``.

    Shapes: input (N, C_in, H, W), w1 (C1, C_in, kh1, kw1), w2 (C2, C1, kh2, kw2),
    b1 (C1,), b2 (C2,) -> (N, C2, H - kh1 - kh2 + 2, W - kw1 - kw2 + 2).
    Errors: as ``conv2d`` for each layer; ValueError when w2's C_in is not
    w1's C_out (the message names ``w2``), or the second kernel does not fit
    the first layer's output.
    Hint: use your ``conv2d`` twice and ``torch.relu``.
    """
    # YOUR CODE HERE
    raise NotImplementedError("two_layer")


def param_count(c_in: int, c_out: int, kernel_size: int | tuple[int, int], bias: bool = True) -> int:
    """The number of learnable parameters of a convolution layer.

    The weight has one value per (output channel, input channel, kernel row,
    kernel column); the bias, when there is one, one per output channel. The
    result equals ``sum(p.numel() for p in nn.Conv2d(c_in, c_out, kernel_size,
    bias=bias).parameters())``.

    Shapes: ``kernel_size`` is an int or a (kh, kw) pair; returns an int.
    Errors: TypeError when a count or size is not an int; ValueError when
    ``c_in``, ``c_out`` or a kernel size is below 1, or ``kernel_size`` is a
    pair of the wrong length. Each message names the argument.
    Hint: a 3x3 layer from 3 to 16 channels has 16*3*3*3 + 16 = 448.
    """
    # YOUR CODE HERE
    raise NotImplementedError("param_count")
