"""03 · Padding.

A valid convolution shrinks the image by kernel_size - 1 pixels per dimension.
Padding the border first keeps the size: with zeros, or, as fast.ai prefers,
by reflecting the image at its edge so the border looks like real content
(fast.ai part 2 lesson 9, "digging into convolution"). Here you build padding
out of indexing, then use it for a "same" convolution.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

__all__ = ["pad2d", "same_padding", "conv2d_same"]

PAD_MODES = ("zeros", "reflect", "replicate", "circular")


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    """Return ``value`` as an ``(h, w)`` pair of ints that are at least 1."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or an (h, w) pair, got {len(value)} values")
        pair = tuple(value)
    else:
        pair = (value, value)
    for v in pair:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
        if v < 1:
            raise ValueError(f"{name} must be at least 1, got {value!r}")
    return int(pair[0]), int(pair[1])


def pad2d(
    input: torch.Tensor,
    padding: int | tuple[int, int, int, int],
    mode: str = "zeros",
    value: float = 0.0,
) -> torch.Tensor:
    """Pad the last two dimensions of ``input``.

    ``padding`` is one int for all four sides, or ``(left, right, top, bottom)``
    as in ``F.pad``. ``mode`` says what goes into the new border pixels:

    - ``"zeros"``: the constant ``value`` (0 by default);
    - ``"reflect"``: the image mirrored at its edge, the edge pixel itself not
      repeated: row ``[a, b, c, d]`` padded by 2 gives ``[c, b, a, b, c, d, c, b]``;
    - ``"replicate"``: the edge pixel repeated: ``[a, a, a, b, c, d, d, d]``;
    - ``"circular"``: the image wrapped around: ``[c, d, a, b, c, d, a, b]``.

    The result equals ``F.pad(input, padding, mode)`` with ``"constant"`` for
    ``"zeros"``; ``value`` is used only in ``"zeros"`` mode. Any leading
    dimensions are kept. The input is not modified. Float32 and float64
    inputs are both valid; the result keeps the input's dtype (and float64
    accuracy: a float64 border holds ``value`` exactly).

    Shapes: input (..., H, W) -> (..., H + top + bottom, W + left + right).
    Errors: TypeError when ``input`` is not a tensor or ``padding`` is not an
    int or a tuple of 4 ints; ValueError when ``input`` has fewer than 2
    dimensions, ``padding`` does not have 4 values or one is negative, ``mode``
    is unknown, a reflect padding is >= the size of the dimension it pads, a
    circular padding is > that size, or a replicate padding pads an empty
    dimension. Each message names the argument (``input``, ``padding`` or
    ``mode``) and the rule broken.
    Hint: for "zeros", allocate the output with ``input.new_full(shape, value)``
    and copy the input into the middle with slice assignment. For the other
    modes, compute for each output row the input row it copies from
    (``torch.arange(-top, H + bottom)`` mapped back into ``0..H-1``: mirror it,
    clamp it, or take it modulo H), do the same for columns, and gather both
    with ``index_select``.
    """
    # YOUR CODE HERE
    raise NotImplementedError("pad2d")


def same_padding(kernel_size: int | tuple[int, int], dilation: int | tuple[int, int] = 1) -> tuple[int, int, int, int]:
    """The padding that keeps H and W for a stride-1 convolution.

    A kernel of size k with dilation d spans ``d * (k - 1) + 1`` pixels, so the
    output shrinks by ``total = d * (k - 1)``. Split ``total`` between the two
    sides: ``total // 2`` before (left / top), the rest after (right / bottom).
    For an even kernel the extra pixel goes right / bottom, as PyTorch's
    ``padding="same"`` does.

    ``kernel_size`` and ``dilation`` are an int or an ``(h, w)`` pair; the
    horizontal padding comes from the width ``kw``, the vertical from ``kh``.

    Shapes: returns a tuple of 4 ints (left, right, top, bottom), the order
    ``F.pad`` and ``pad2d`` take.
    Errors: TypeError when a value is not an int; ValueError when a pair does
    not have 2 values or a value is below 1. Each message names the argument
    (``kernel_size`` or ``dilation``).
    Hint: kernel 3 -> (1, 1, 1, 1); kernel 4 -> (1, 2, 1, 2); kernel (3, 5) ->
    (2, 2, 1, 1). ``_pair`` turns an int or a pair into ``(h, w)`` for you.
    """
    # YOUR CODE HERE
    raise NotImplementedError("same_padding")


def conv2d_same(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    mode: str = "zeros",
) -> torch.Tensor:
    """A stride-1 convolution whose output has the same H and W as its input.

    Pad ``input`` with ``pad2d`` in ``mode`` by ``same_padding`` of the kernel
    size, then run a valid convolution (``F.conv2d`` with ``padding=0`` is
    allowed here, once the input is padded). Adds ``bias`` per output channel
    when given. The result equals ``nn.Conv2d(C_in, C_out, (kh, kw),
    padding="same", padding_mode=mode)`` with the same weight and bias, for
    any kernel size: odd or even (an even kernel's extra pixel of padding goes
    right / bottom, see ``same_padding``), square or not, even larger than the
    image in ``"zeros"`` mode.

    Float32 and float64 inputs are both valid; the result keeps ``input``'s
    dtype. A ``weight`` or ``bias`` of the other float dtype is used in
    ``input``'s dtype: it is not an error.

    Shapes: input (N, C_in, H, W), weight (C_out, C_in, kh, kw), bias (C_out,)
    -> (N, C_out, H, W).
    Errors: TypeError when an argument is not a tensor or input is not floating
    point; ValueError when input or weight is not 4-D, their C_in differ, bias
    is not of shape (C_out,), ``mode`` is unknown, or the padding is too large
    for ``mode`` (see ``pad2d``). Each message names the argument (``input``,
    ``weight``, ``bias``, ``mode`` or ``padding``).
    Hint: ``F.conv2d(pad2d(input, same_padding((kh, kw)), mode), weight, bias)``
    is the whole idea; the rest is checking the arguments.
    """
    # YOUR CODE HERE
    raise NotImplementedError("conv2d_same")
