"""09 · Pooling, and what a unit sees: Ada's own version.

No windows tensor: a loop over the kh*kw offsets inside the window, each one a
strided slice of the padded input holding that offset of every window at once.
"""

from __future__ import annotations

import torch


def _two(v, name, low):
    """An int or a pair as a pair of ints, at least `low`."""
    if isinstance(v, bool) or not isinstance(v, (int, tuple, list)):
        raise TypeError(f"{name} must be an int or a pair of ints, got {v!r}")
    h, w = (v, v) if isinstance(v, int) else tuple(v) if len(v) == 2 else (None, None)
    if h is None:
        raise ValueError(f"{name} must be an int or a pair, got {v!r}")
    if not all(isinstance(t, int) and not isinstance(t, bool) for t in (h, w)):
        raise TypeError(f"{name} must hold ints, got {v!r}")
    if h < low or w < low:
        raise ValueError(f"{name} must be at least {low}, got {v!r}")
    return h, w


def _prepare(input, kernel_size, stride, padding, fill):
    """(padded 4-d input, (kh, kw), (sh, sw), (ho, wo)), after checking every argument."""
    if not isinstance(input, torch.Tensor) or not input.is_floating_point():
        raise TypeError("input must be a floating-point tensor")
    if input.dim() not in (3, 4):
        raise ValueError(f"input must be (C, H, W) or (N, C, H, W), got {input.dim()}-d")
    kh, kw = _two(kernel_size, "kernel_size", 1)
    sh, sw = (kh, kw) if stride is None else _two(stride, "stride", 1)
    ph, pw = _two(padding, "padding", 0)
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"padding {padding!r} is more than half of kernel_size {kernel_size!r}")
    x = input if input.dim() == 4 else input[None]
    h, w = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    if kh > h or kw > w:
        raise ValueError("kernel_size is larger than the padded input")
    padded = torch.full((x.shape[0], x.shape[1], h, w), fill, dtype=x.dtype)
    padded[:, :, ph:h - ph, pw:w - pw] = x
    return padded, (kh, kw), (sh, sw), ((h - kh) // sh + 1, (w - kw) // sw + 1)


def _offset(padded, u, v, stride, out):
    """Offset (u, v) of every window: a (N, C, Ho, Wo) view."""
    (sh, sw), (ho, wo) = stride, out
    return padded[:, :, u:u + sh * (ho - 1) + 1:sh, v:v + sw * (wo - 1) + 1:sw]


def max_pool2d(input, kernel_size, stride=None, padding=0):
    padded, (kh, kw), step, out = _prepare(input, kernel_size, stride, padding, float("-inf"))
    best = _offset(padded, 0, 0, step, out).clone()
    for u in range(kh):
        for v in range(kw):
            best = torch.maximum(best, _offset(padded, u, v, step, out))
    return best if input.dim() == 4 else best[0]


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    padded, (kh, kw), step, out = _prepare(input, kernel_size, stride, padding, 0.0)
    total = sum(_offset(padded, u, v, step, out) for u in range(kh) for v in range(kw))
    total = total / (kh * kw)
    return total if input.dim() == 4 else total[0]


def max_pool2d_backward(grad_output, input, kernel_size, stride=None, padding=0):
    padded, (kh, kw), step, out = _prepare(input, kernel_size, stride, padding, float("-inf"))
    if not isinstance(grad_output, torch.Tensor) or not grad_output.is_floating_point():
        raise TypeError("grad_output must be a floating-point tensor")
    g = grad_output if grad_output.dim() == 4 else grad_output[None]
    if grad_output.dim() != input.dim() or g.shape != (*padded.shape[:2], *out):
        raise ValueError(f"grad_output must have the pooled shape, got {tuple(grad_output.shape)}")
    g = g.to(input.dtype)
    # which offset wins each window: only a strictly larger value replaces the winner, so the first one stays
    best = _offset(padded, 0, 0, step, out).clone()
    winner = torch.zeros(best.shape, dtype=torch.long)
    for u in range(kh):
        for v in range(kw):
            here = _offset(padded, u, v, step, out)
            better = here > best
            best = torch.where(better, here, best)
            winner = torch.where(better, torch.full_like(winner, u * kw + v), winner)
    grad = torch.zeros_like(padded)
    for u in range(kh):
        for v in range(kw):
            _offset(grad, u, v, step, out).add_(torch.where(winner == u * kw + v, g, torch.zeros_like(g)))
    ph, pw = _two(padding, "padding", 0)
    grad = grad[:, :, ph:grad.shape[2] - ph, pw:grad.shape[3] - pw].contiguous()
    return grad if input.dim() == 4 else grad[0]


def receptive_field(layers):
    # from the last layer back: r pixels of a layer's output need s * (r - 1) + k of its input
    if not isinstance(layers, (list, tuple)):
        raise TypeError("layers must be a list of (kernel_size, stride) pairs")
    r = 1
    for layer in reversed(list(layers)):
        if not isinstance(layer, (list, tuple)):
            raise TypeError(f"layers holds {layer!r}, not a pair")
        if len(layer) != 2:
            raise ValueError(f"layers holds {layer!r}: (kernel_size, stride) is 2 values")
        k, s = layer
        if not (isinstance(k, int) and isinstance(s, int)) or isinstance(k, bool) or isinstance(s, bool):
            raise TypeError(f"layers holds {layer!r}: kernel_size and stride are ints")
        if k < 1 or s < 1:
            raise ValueError(f"layers holds {layer!r}: kernel_size and stride must be at least 1")
        r = s * (r - 1) + k
    return r
