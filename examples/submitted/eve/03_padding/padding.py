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
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    if input.dim() < 2:
        raise ValueError(f"input must have at least 2 dimensions (..., H, W), got shape {tuple(input.shape)}")
    if isinstance(padding, (tuple, list)):
        if len(padding) != 4:
            raise ValueError(f"padding must be an int or (left, right, top, bottom), got {len(padding)} values")
        pads = tuple(padding)
    else:
        pads = (padding,) * 4
    for p in pads:
        if isinstance(p, bool) or not isinstance(p, numbers.Integral):
            raise TypeError(f"padding must be an int or a tuple of 4 ints, got {padding!r}")
        if p < 0:
            raise ValueError(f"padding must be non-negative, got {p}")
    if mode not in PAD_MODES:
        raise ValueError(f"mode must be one of {', '.join(repr(m) for m in PAD_MODES)}; got {mode!r}")
    left, right, top, bottom = (int(p) for p in pads)
    H, W = input.shape[-2], input.shape[-1]

    # F.pad already does all four modes
    if mode == "zeros":
        return F.pad(input, (left, right, top, bottom), mode="constant", value=value)
    return F.pad(input, (left, right, top, bottom), mode=mode)


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
    kh, kw = _pair(kernel_size, "kernel_size")
    dh, dw = _pair(dilation, "dilation")
    total_h = dh * (kh - 1)
    total_w = dw * (kw - 1)
    top, left = total_h // 2, total_w // 2
    return (left, total_w - left, top, total_h - top)


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
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not input.is_floating_point():
        raise TypeError(f"input must be a floating-point tensor, got {input.dtype}")
    if input.dim() != 4:
        raise ValueError(f"input must be 4-D (N, C_in, H, W), got shape {tuple(input.shape)}")
    if weight.dim() != 4:
        raise ValueError(f"weight must be 4-D (C_out, C_in, kh, kw), got shape {tuple(weight.shape)}")
    c_out, c_in, kh, kw = weight.shape
    if c_in != input.shape[1]:
        raise ValueError(f"weight's C_in ({c_in}) must equal input's channels ({input.shape[1]})")
    if kh < 1 or kw < 1:
        raise ValueError(f"weight's kernel size must be at least 1x1, got {kh}x{kw}")
    if bias is not None:
        if not isinstance(bias, torch.Tensor):
            raise TypeError(f"bias must be a torch.Tensor or None, got {type(bias).__name__}")
        if tuple(bias.shape) != (c_out,):
            raise ValueError(f"bias must have shape ({c_out},), got {tuple(bias.shape)}")
        bias = bias.to(input.dtype)
    if mode not in PAD_MODES:
        raise ValueError(f"mode must be one of {', '.join(repr(m) for m in PAD_MODES)}; got {mode!r}")
    padded = pad2d(input, same_padding((kh, kw)), mode)
    return F.conv2d(padded, weight.to(input.dtype), bias, padding=0)
