"""08 · ada's backward pass: strided views and einsum instead of matrix products."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _two(v):
    if isinstance(v, bool) or not isinstance(v, (int, tuple, list)):
        raise TypeError(f"expected an int or a pair, got {v!r}")
    a, b = (v, v) if isinstance(v, int) else tuple(v)
    return int(a), int(b)


def _windows(x, kh, kw, sh, sw):
    """A strided view (N, C, Ho, Wo, kh, kw) of every window of x."""
    n, c, h, w = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    s = x.stride()
    return x.as_strided((n, c, ho, wo, kh, kw), (s[0], s[1], s[2] * sh, s[3] * sw, s[2], s[3]))


def _check(input, kh, kw, sh, sw, ph, pw):
    if not isinstance(input, torch.Tensor) or not input.is_floating_point():
        raise TypeError("input must be a floating-point tensor")
    if input.dim() != 4:
        raise ValueError("input must be 4-d")
    if min(kh, kw) < 1:
        raise ValueError("kernel_size must be at least 1")
    if min(sh, sw) < 1:
        raise ValueError("stride must be at least 1")
    if min(ph, pw) < 0:
        raise ValueError("padding must be at least 0")
    if kh > input.shape[2] + 2 * ph or kw > input.shape[3] + 2 * pw:
        raise ValueError("kernel_size must fit inside the padded input")


def im2col(input, kernel_size, stride=1, padding=0):
    (kh, kw), (sh, sw), (ph, pw) = _two(kernel_size), _two(stride), _two(padding)
    _check(input, kh, kw, sh, sw, ph, pw)
    x = F.pad(input.contiguous(), (pw, pw, ph, ph))
    win = _windows(x, kh, kw, sh, sw)
    n, c, ho, wo = win.shape[:4]
    return torch.einsum("nchwij->ncijhw", win).reshape(n, c * kh * kw, ho * wo)


def col2im(cols, input_shape, kernel_size, stride=1, padding=0):
    (kh, kw), (sh, sw), (ph, pw) = _two(kernel_size), _two(stride), _two(padding)
    if not isinstance(cols, torch.Tensor) or not cols.is_floating_point():
        raise TypeError("cols must be a floating-point tensor")
    if len(input_shape) != 4:
        raise ValueError("input_shape must have 4 entries")
    n, c, h, w = (int(v) for v in input_shape)
    _check(torch.empty(n, c, h, w), kh, kw, sh, sw, ph, pw)
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if tuple(cols.shape) != (n, c * kh * kw, ho * wo):
        raise ValueError(f"cols has shape {tuple(cols.shape)}, expected {(n, c * kh * kw, ho * wo)}")
    out = cols.new_zeros(n, c, h + 2 * ph, w + 2 * pw)
    patches = cols.reshape(n, c, kh, kw, ho, wo)
    for oy in range(ho):  # one window at a time, adding
        for ox in range(wo):
            out[:, :, oy * sh : oy * sh + kh, ox * sw : ox * sw + kw] += patches[..., oy, ox]
    return out[:, :, ph : ph + h, pw : pw + w].contiguous()


def conv2d_backward(grad_output, input, weight, stride=1, padding=0):
    for name, t in (("grad_output", grad_output), ("weight", weight)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor")
    if weight.dim() != 4:
        raise ValueError("weight must be 4-d")
    (sh, sw), (ph, pw) = _two(stride), _two(padding)
    co, ci, kh, kw = weight.shape
    _check(input, kh, kw, sh, sw, ph, pw)
    if ci != input.shape[1]:
        raise ValueError("weight's input channels differ from input's")
    n, _, h, w = input.shape
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if tuple(grad_output.shape) != (n, co, ho, wo):
        raise ValueError("grad_output must have the output's shape")
    g, wt = grad_output.to(input.dtype), weight.to(input.dtype)
    win = _windows(F.pad(input, (pw, pw, ph, ph)), kh, kw, sh, sw)
    grad_weight = torch.einsum("nohw,ncHWij->ocij".replace("HW", "hw"), g, win)
    contributions = torch.einsum("nohw,ocij->ncijhw", g, wt).reshape(n, ci * kh * kw, ho * wo)
    return col2im(contributions, (n, ci, h, w), (kh, kw), stride, padding), grad_weight, g.sum(dim=(0, 2, 3))


def conv_matrix_grad(kernel, image_shape, grad_output):
    if not isinstance(kernel, torch.Tensor) or not kernel.is_floating_point():
        raise TypeError("kernel must be a floating-point tensor")
    if not isinstance(grad_output, torch.Tensor) or not grad_output.is_floating_point():
        raise TypeError("grad_output must be a floating-point tensor")
    if kernel.dim() != 2:
        raise ValueError("kernel must be 2-d")
    h, w = _two(tuple(image_shape))
    kh, kw = kernel.shape
    if kh > h or kw > w:
        raise ValueError("kernel must fit inside image_shape")
    if tuple(grad_output.shape) != (h - kh + 1, w - kw + 1):
        raise ValueError("grad_output must be (Ho, Wo)")
    out = grad_output.new_zeros(h, w)
    k = kernel.to(grad_output.dtype)
    for i in range(kh):  # a full convolution: each weight spreads grad_output, shifted
        for j in range(kw):
            out[i : i + h - kh + 1, j : j + w - kw + 1] += k[i, j] * grad_output
    return out


def numerical_gradient(f, x, eps=1e-6):
    if not callable(f):
        raise TypeError("f must be callable")
    if not isinstance(x, torch.Tensor) or x.dtype != torch.float64:
        raise TypeError("x must be a float64 tensor")
    if isinstance(eps, bool) or not eps > 0:
        raise ValueError("eps must be positive")
    grad = torch.empty_like(x)
    it = torch.zeros_like(x)
    for index in range(x.numel()):
        step = it.clone().view(-1)
        step[index] = eps
        step = step.view(x.shape)
        grad.view(-1)[index] = (float(f(x + step)) - float(f(x - step))) / (2 * eps)
    return grad


def relative_error(a, b):
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor")
    if a.shape != b.shape:
        raise ValueError(f"a and b have different shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if a.numel() == 0:
        raise ValueError("a and b are empty")
    a, b = a.double(), b.double()
    return torch.max(torch.abs(a - b) / torch.clamp(torch.abs(a) + torch.abs(b), min=1e-8)).item()
