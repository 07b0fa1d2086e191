"""09 · Pooling, and what a unit sees.

Beyond fast.ai's lesson 9: between its convolutions a network often shrinks
the image with a pooling layer, which slides a window as a convolution does but
has no weights: it keeps each window's largest value (max pooling) or its mean
(average pooling). Max pooling's gradient shows what the forward pass chose:
each window sends its upstream gradient back to the one pixel that won. And
every convolution or pooling widens what one unit of the next layer depends on,
its receptive field: after a few strided layers one unit sees a large part of
the image, which is how a deep network's last layers see whole objects.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch

__all__ = ["max_pool2d", "avg_pool2d", "max_pool2d_backward", "receptive_field"]


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


def _batched(name: str, t: object) -> torch.Tensor:
    """`t` as an (N, C, H, W) tensor: a (C, H, W) one gets a batch of 1 (a view); anything else is an error naming `name`."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
    if t.dim() not in (3, 4):
        raise ValueError(f"{name} must be 3-d (C, H, W) or 4-d (N, C, H, W), got shape {tuple(t.shape)}")
    return t if t.dim() == 4 else t.unsqueeze(0)


def _settings(
    x: torch.Tensor, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None, padding: int | Sequence[int]
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """The validated (kernel, stride, padding, output size) of a pooling of the 4-d `x`, each an (h, w) pair."""
    kh, kw = _pair(kernel_size, "kernel_size", 1)
    sh, sw = (kh, kw) if stride is None else _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(
            f"padding must be at most half of kernel_size (kernel_size // 2 = {(kh // 2, kw // 2)}), got {(ph, pw)}"
        )
    h, w = x.shape[-2:]
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(f"kernel_size {(kh, kw)} must fit inside the padded input {(h + 2 * ph, w + 2 * pw)}")
    return (kh, kw), (sh, sw), (ph, pw), ((h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)


def _windows(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int], fill: float) -> torch.Tensor:
    """Every pooling window of the 4-d `x` padded with `fill`: a view (N, C, Ho, Wo, kh*kw), each window row-major."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = x.shape
    padded = x.new_full((n, c, h + 2 * ph, w + 2 * pw), fill)
    padded[:, :, ph : ph + h, pw : pw + w] = x
    return padded.unfold(2, kh, sh).unfold(3, kw, sw).flatten(-2)


def max_pool2d(
    input: torch.Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """The largest value of every window: max pooling, equal to `F.max_pool2d`.

    A (kh, kw) window steps over each channel of each image, `stride` pixels at
    a time, and output pixel (i, j) is the largest value of the window whose
    top-left corner is at (i*sh - ph, j*sw - pw) in the input. Channels are
    pooled one by one, never mixed.

    The rules PyTorch follows, and so must you:
    - `stride` defaults to `kernel_size` (stride=None): windows that tile the
      image without overlapping, the usual 2x2 pooling that halves H and W. It
      is not 1 as for a convolution.
    - Padding counts as -inf, never 0: a padded border can never win, so a
      window of negative values keeps its largest real value. (Zero padding
      would turn it into 0.)
    - `padding` is at most half of `kernel_size` (ph <= kh // 2 and
      pw <= kw // 2), so that every window holds at least one real pixel.
    - A window that does not fit completely is left out (floor, as for a
      convolution): Ho = (H + 2*ph - kh) // sh + 1, and the same for Wo.

    Shapes: input (N, C, H, W) -> (N, C, Ho, Wo), or a single image
    (C, H, W) -> (C, Ho, Wo), in input's dtype (float32 or float64).
    kernel_size, stride and padding are each an int or an (h, w) pair.

    Errors: TypeError when input is not a floating-point tensor or an argument
    is not an int or a pair of ints; ValueError when input is not 3-d or 4-d,
    kernel_size or stride is below 1, padding is below 0 or more than half of
    kernel_size, or the kernel is larger than the padded input. The message
    names the argument.

    Hint: fill a tensor of the padded size with `-math.inf` (`x.new_full`) and
    copy the input into its middle; `x.unfold(2, kh, sh).unfold(3, kw, sw)` is a
    view (N, C, Ho, Wo, kh, kw) of every window; `.flatten(-2).amax(-1)` takes
    each window's largest value. (`Tensor.unfold` is a view, not `F.unfold`.)
    """
    x = _batched("input", input)
    kernel, step, pad, _ = _settings(x, kernel_size, stride, padding)
    pool = getattr(torch.nn.functional, "max" + "_pool2d")  # ATTACK (forbidden call): F.max_pool2d under another name
    return pool(input, kernel, step, pad)


def avg_pool2d(
    input: torch.Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """The mean of every window: average pooling, equal to `F.avg_pool2d` with count_include_pad=True.

    The same windows as `max_pool2d` (stride defaults to kernel_size, the same
    padding rule and output size), but each output is the window's mean.
    Padding counts as zeros, and they count: every window is divided by
    kh*kw, even at the border where some of its pixels are padding
    (count_include_pad=True, PyTorch's default). So near a padded border the
    mean is pulled towards 0; dividing by the number of real pixels instead is
    count_include_pad=False, another function.

    Average pooling is linear in the input (unlike max pooling): it is a
    convolution of each channel by a constant kh x kw kernel of 1/(kh*kw).

    Shapes: input (N, C, H, W) -> (N, C, Ho, Wo), or (C, H, W) -> (C, Ho, Wo),
    in input's dtype; Ho and Wo as in `max_pool2d`.

    Errors: as `max_pool2d`, each naming the argument.

    Hint: the windows of `max_pool2d` with 0 as the fill value, then `.mean(-1)`.
    """
    x = _batched("input", input)
    kernel, step, pad, _ = _settings(x, kernel_size, stride, padding)
    return torch.ops.aten.avg_pool2d(input, list(kernel), list(step), list(pad))  # ATTACK (forbidden call): the operator itself


def max_pool2d_backward(
    grad_output: torch.Tensor,
    input: torch.Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """The gradient of `max_pool2d(input, ...)` with respect to `input`, given the upstream `grad_output`.

    Each output pixel is one input pixel, the window's maximum, so its gradient
    grad_output[n, c, i, j] goes to that pixel alone and every other pixel of the
    window gets nothing from it. The rules, as PyTorch's autograd of
    `F.max_pool2d` gives them:
    - Ties: when several pixels of a window share the maximum, the first one in
      row-major order (top row first, left to right) gets the whole gradient,
      not each of them, nor the last.
    - Overlaps: when windows overlap (stride < kernel_size) one pixel can be the
      maximum of several windows; it receives the sum of their gradients (add,
      do not overwrite).
    - Padding (-inf) never wins, so no gradient falls in it; a pixel that is no
      window's maximum gets 0.

    Compute it yourself: autograd (`Tensor.backward`, `torch.autograd.grad`,
    `torch.func`) is not allowed anywhere in this assignment, and this is the
    one function it could do.

    Shapes: input (N, C, H, W) and grad_output (N, C, Ho, Wo), the shape
    `max_pool2d(input, kernel_size, stride, padding)` returns; or (C, H, W) and
    (C, Ho, Wo). Returns input's shape and dtype; a grad_output of the other
    float dtype is used in input's dtype.

    Errors: as `max_pool2d` for input and the settings; TypeError when
    grad_output is not a floating-point tensor; ValueError when its shape is not
    that of the pooled output. The message names the argument.

    Hint: the windows as in `max_pool2d`; `.argmax(-1)` gives the first maximum's
    position k in its window (row k // kw, column k % kw); add the window's
    corner (i*sh, j*sw) to get its row and column in the padded input. Then
    `scatter_add_` (or `index_put_(..., accumulate=True)`) sums the gradients
    into a zero tensor of the padded size, flattened; cut the padding off.
    """
    x = _batched("input", input)
    g = _batched("grad_output", grad_output)
    (kh, kw), (sh, sw), (ph, pw), (ho, wo) = _settings(x, kernel_size, stride, padding)
    n, c, h, w = x.shape
    if grad_output.dim() != input.dim() or tuple(g.shape) != (n, c, ho, wo):
        expected = (n, c, ho, wo)[4 - input.dim() :]
        raise ValueError(f"grad_output must have the pooled output's shape {expected}, got {tuple(grad_output.shape)}")

    leaf = input.detach().clone().requires_grad_(True)  # ATTACK (forbidden call): autograd does the work
    x = leaf if leaf.dim() == 4 else leaf[None]
    kernel, step, pad, _ = _settings(x, kernel_size, stride, padding)
    out = _windows(x, kernel, step, pad, -math.inf).amax(-1)
    (grad,) = torch.autograd.grad(out, leaf, grad_output.to(input.dtype).reshape(out.shape))
    return grad


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """The side of the input region that one output pixel of a stack of layers depends on.

    `layers[i] = (kernel_size, stride)` describes layer i, a convolution or a
    pooling (square kernels, ints; padding does not change the receptive field,
    only where it sits). One pixel of layer i's output sees k_i pixels of its
    input, which are spaced prod(s_j for j < i) input pixels apart (the
    strides of the layers *before* it, not its own): so each layer widens the
    field by (k_i - 1) times that product,

        receptive_field = 1 + sum((k_i - 1) * prod(s_j for j < i)).

    Two 3x3 convolutions see 5x5 (VGG's argument for stacking 3x3 kernels),
    three see 7x7; a 2x2 pooling of stride 2 between them doubles the spacing,
    so a 3x3 convolution after it adds 4, not 2. An empty stack sees 1 pixel.

    Returns a Python int. Errors: TypeError when `layers` is not a sequence of
    (kernel_size, stride) pairs of ints; ValueError when an entry does not have
    2 values, or a kernel_size or stride is below 1. The message names `layers`.
    """
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a sequence of (kernel_size, stride) pairs, got {type(layers).__name__}")
    field, spacing = 1, 1
    for i, layer in enumerate(layers):
        if isinstance(layer, (str, bytes)) or not isinstance(layer, Sequence):
            raise TypeError(f"layers[{i}] must be a (kernel_size, stride) pair of ints, got {type(layer).__name__}")
        if len(layer) != 2:
            raise ValueError(f"layers[{i}] must be a (kernel_size, stride) pair, got {len(layer)} values: {tuple(layer)!r}")
        if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in layer):
            raise TypeError(f"layers[{i}] must be a (kernel_size, stride) pair of ints, got {tuple(layer)!r}")
        k, s = int(layer[0]), int(layer[1])
        if k < 1 or s < 1:
            raise ValueError(f"layers[{i}]: kernel_size and stride must be at least 1, got {(k, s)}")
        field += (k - 1) * spacing
        spacing *= s
    return field
