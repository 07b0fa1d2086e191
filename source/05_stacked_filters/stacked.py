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
    ### BEGIN SOLUTION
    if not isinstance(kernels, (list, tuple)):
        raise TypeError(f"kernels must be a list of tensors, got {type(kernels).__name__}")
    if len(kernels) == 0:
        raise ValueError("kernels must contain at least one kernel, got an empty list")
    for i, k in enumerate(kernels):
        if not isinstance(k, torch.Tensor):
            raise TypeError(f"kernels[{i}] must be a torch.Tensor, got {type(k).__name__}")
        if k.dim() != 3:
            raise ValueError(f"kernels[{i}] must be 3-D (C_in, kh, kw), got shape {tuple(k.shape)}")
        if k.shape != kernels[0].shape:
            raise ValueError(
                f"kernels[{i}] has shape {tuple(k.shape)}, but kernels[0] has {tuple(kernels[0].shape)}; "
                "all kernels must have the same shape"
            )
    return torch.stack(list(kernels))
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if bias is not None and not isinstance(bias, torch.Tensor):
        raise TypeError(f"bias must be a torch.Tensor or None, got {type(bias).__name__}")
    if not input.is_floating_point():
        raise TypeError(f"input must be a floating-point tensor, got {input.dtype}")
    if input.dim() != 4:
        raise ValueError(f"input must be 4-D (N, C_in, H, W), got shape {tuple(input.shape)}")
    if weight.dim() != 4:
        raise ValueError(f"weight must be 4-D (C_out, C_in, kh, kw), got shape {tuple(weight.shape)}")
    N, C, H, W = input.shape
    c_out, c_in, kh, kw = weight.shape
    if c_in != C:
        raise ValueError(f"weight's C_in ({c_in}) must equal input's channels ({C})")
    if kh < 1 or kw < 1:
        raise ValueError(f"weight's kernel must be at least 1x1, got {kh}x{kw}")
    if kh > H or kw > W:
        raise ValueError(f"weight's kernel ({kh}x{kw}) must fit inside the input ({H}x{W})")
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ValueError(f"bias must have shape ({c_out},), got {tuple(bias.shape)}")
    windows = input.unfold(2, kh, 1).unfold(3, kw, 1)  # (N, C_in, Ho, Wo, kh, kw)
    out = torch.einsum("ncyxij,ocij->noyx", windows, weight.to(input.dtype))
    if bias is not None:
        out = out + bias.to(input.dtype).reshape(1, c_out, 1, 1)
    return out
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    for name, w in (("w1", w1), ("w2", w2)):
        if not isinstance(w, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(w).__name__}")
        if w.dim() != 4:
            raise ValueError(f"{name} must be 4-D (C_out, C_in, kh, kw), got shape {tuple(w.shape)}")
    if w2.shape[1] != w1.shape[0]:
        raise ValueError(f"w2's C_in ({w2.shape[1]}) must equal w1's C_out ({w1.shape[0]})")
    hidden = torch.relu(conv2d(input, w1, b1))
    kh2, kw2 = w2.shape[-2:]
    if kh2 > hidden.shape[-2] or kw2 > hidden.shape[-1]:
        raise ValueError(
            f"w2's kernel ({kh2}x{kw2}) must fit inside the first layer's output "
            f"({hidden.shape[-2]}x{hidden.shape[-1]})"
        )
    return conv2d(hidden, w2, b2)
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    for name, v in (("c_in", c_in), ("c_out", c_out)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {v!r}")
        if v < 1:
            raise ValueError(f"{name} must be at least 1, got {v}")
    if isinstance(kernel_size, (tuple, list)):
        if len(kernel_size) != 2:
            raise ValueError(f"kernel_size must be an int or a (kh, kw) pair, got {len(kernel_size)} values")
        kh, kw = kernel_size
    else:
        kh = kw = kernel_size
    for v in (kh, kw):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"kernel_size must be an int or a pair of ints, got {kernel_size!r}")
        if v < 1:
            raise ValueError(f"kernel_size must be at least 1, got {kernel_size!r}")
    weights = int(c_out) * int(c_in) * int(kh) * int(kw)
    return weights + (int(c_out) if bias else 0)
    ### END SOLUTION
