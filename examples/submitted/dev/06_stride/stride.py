"""06 · Stride and dilation.

The general 2-d convolution of fast.ai part 2, lesson 9 ("digging into convolution"):
stride moves the kernel more than one pixel at a time, so the output is smaller;
dilation spreads the kernel's taps apart, so it sees further for the same weights.
Stride 2 halves the height and the width of the output, quartering the memory its
activations take: that is how a deep network keeps memory under control.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["conv2d", "output_shape", "activation_memory"]


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


def conv2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> torch.Tensor:
    """The general 2-d convolution (cross-correlation), equal to `F.conv2d`.

    Pad `input` with `padding` zeros on each side; place the kernel at every
    `stride`-th position; at each position take the input pixels `dilation` apart
    under the kernel's taps, multiply by the weights, sum over the taps and every
    input channel, and add the output channel's bias.

    Shapes: input (N, C_in, H, W), weight (C_out, C_in, kh, kw), bias (C_out,) or
    None -> (N, C_out, Ho, Wo) in input's dtype, with, per dimension,
    Ho = (H + 2*ph - dh*(kh - 1) - 1) // sh + 1 (and the same for Wo).
    stride, padding and dilation are each an int or an (h, w) pair: a padding
    (ph, pw) pads ph rows at the top and the bottom and pw columns at the left
    and the right.

    Dtypes: float32 and float64 inputs are both valid and the result keeps
    input's dtype (a float64 input is computed in float64, not cast to float32);
    a weight or bias of the other float dtype is used in input's dtype (it is
    not an error).

    Errors: TypeError when input, weight or bias is not a floating-point tensor;
    ValueError when input or weight is not 4-d, bias is not (C_out,), input's
    channels differ from weight.shape[1] (the message names the channels),
    stride or dilation is below 1, padding is below 0 (the message names the
    setting), or the output would be below 1x1.

    Hint: `F.unfold(input, (kh, kw), dilation=..., padding=..., stride=...)`
    gathers every patch as a column, (N, C_in*kh*kw, Ho*Wo); one matrix
    multiplication by `weight.reshape(C_out, -1)` does the rest. Use
    `output_shape` for the checks and for Ho, Wo.
    """
    # YOUR CODE HERE
    raise NotImplementedError("conv2d")


def output_shape(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> tuple[int, int, int, int]:
    """The shape (N, C_out, Ho, Wo) that `conv2d` returns, without computing it.

    Per dimension the output size is floor((size + 2*padding - dilation*(k - 1) - 1)
    / stride) + 1: the padded size, minus the span of the dilated kernel
    (dilation*(k - 1) + 1), divided by the stride, plus the first position.

    Shapes: input_shape (N, C_in, H, W), weight_shape (C_out, C_in, kh, kw) (tuples,
    lists or torch.Size) -> a tuple of 4 Python ints.

    Errors: ValueError when input_shape or weight_shape does not have 4 entries
    (the message names it), an entry is negative (weight entries must be at
    least 1), input's channels differ from weight_shape[1] (the message names
    the channels), stride or dilation is below 1, padding is below 0 (the
    message names the setting), or Ho or Wo would be below 1 (the dilated
    kernel is larger than the padded input). TypeError when an entry is not an
    int.

    Hint: Python's `//` floors, so `(size + 2*p - d*(k - 1) - 1) // s + 1` is the
    formula; check it on a 5x5 input, 3x3 kernel, stride 2, padding 1: 3x3.
    """
    # YOUR CODE HERE
    raise NotImplementedError("output_shape")


def activation_memory(
    input_shape: Sequence[int],
    layers: Sequence[tuple[int, int | tuple[int, int], int | tuple[int, int], int | tuple[int, int]]],
    bytes_per_element: int = 4,
) -> int:
    """Bytes held by the activations of a stack of conv layers, the input included.

    Each `layers[i] = (c_out, kernel_size, stride, padding)` is a conv layer
    (dilation 1) applied to the previous layer's output (the first to the input).
    Count the input's elements and every layer's output elements, and multiply
    the total by `bytes_per_element` (4 for float32). Compare stride 1 and
    stride 2 to see how stride keeps memory under control.

    Shapes: input_shape (N, C, H, W); kernel_size, stride and padding are each an
    int or an (h, w) pair -> an int. With no layers it is the input's bytes.

    Errors: ValueError when input_shape does not have 4 entries, a layer is not
    4 values, c_out or a kernel size is below 1, bytes_per_element is below 1
    (the message names bytes_per_element), or a layer's output would be below
    1x1 (the message names the layer). TypeError for non-int values.

    Hint: chain `output_shape`: layer i's weight shape is
    (c_out, C of the current activation, kh, kw), and its output shape becomes
    the next layer's input shape; `math.prod(shape)` counts the elements.
    """
    # YOUR CODE HERE
    raise NotImplementedError("activation_memory")
