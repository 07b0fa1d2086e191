"""04 · Channels: a kernel has rank 3.

An RGB image has 3 channels, so a kernel that looks at it is 3-D too:
(C, kh, kw), one 2-D slice per input channel, and its output is the sum of
each channel's own 2-D convolution (fast.ai part 2 lesson 9, "digging into
convolution"). A 1x1 kernel is just a weighted sum of channels (grayscale),
and the right signs across channels find colours (the green frog).
"""

from __future__ import annotations

import torch

__all__ = [
    "grayscale_kernel",
    "to_grayscale",
    "conv2d_multichannel",
    "channel_contributions",
    "green_detector_kernel",
]


def _check_image_and_kernel(image: torch.Tensor, kernel: torch.Tensor) -> None:
    """Check ``image (C, H, W)`` and ``kernel (C, kh, kw)`` fit a valid convolution."""
    for name, t in (("image", image), ("kernel", kernel)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not image.is_floating_point():
        raise TypeError(f"image must be a floating-point tensor, got {image.dtype}")
    if image.dim() != 3:
        raise ValueError(f"image must be 3-D (C, H, W), got shape {tuple(image.shape)}")
    if kernel.dim() != 3:
        raise ValueError(f"kernel must be 3-D (C, kh, kw), got shape {tuple(kernel.shape)}")
    C, H, W = image.shape
    c, kh, kw = kernel.shape
    if c != C:
        raise ValueError(f"kernel must have as many channels as image ({C}), got {c}")
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel must be at least 1x1, got {kh}x{kw}")
    if kh > H or kw > W:
        raise ValueError(f"kernel ({kh}x{kw}) must fit inside the image ({H}x{W})")


def grayscale_kernel() -> torch.Tensor:
    """The 1x1 kernel that turns RGB into luminance.

    Luminance is the weighted channel sum ``0.299 R + 0.587 G + 0.114 B``
    (ITU-R BT.601: the eye is most sensitive to green). As a convolution weight
    that is one output channel, three input channels and a 1x1 window.

    Shapes: returns (1, 3, 1, 1), float32, weights in R, G, B order.
    Errors: none.
    Hint: ``torch.tensor([...])`` and ``reshape``.
    """
    return torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32).reshape(1, 3, 1, 1)


def to_grayscale(rgb: torch.Tensor) -> torch.Tensor:
    """Convert RGB images to grayscale with a 1x1 convolution.

    Convolve with ``grayscale_kernel()``: a 1x1 kernel has no neighbours to
    look at, so each output pixel is the weighted sum of that pixel's three
    channel values. Any leading dimensions (a batch, or none) are kept, and so
    is the input's dtype (use the kernel in the input's dtype).

    Shapes: rgb (..., 3, H, W) -> (..., 1, H, W).
    Errors: TypeError when ``rgb`` is not a floating-point tensor; ValueError
    when it has fewer than 3 dimensions or its channel dimension (-3) is not 3.
    Each message names ``rgb``.
    Hint: reshape the kernel's 3 weights to (3, 1, 1) so they broadcast over
    H and W, multiply, and sum over dim -3 with ``keepdim=True``
    (or use ``torch.einsum``).
    """
    if not isinstance(rgb, torch.Tensor):
        raise TypeError(f"rgb must be a torch.Tensor, got {type(rgb).__name__}")
    if not rgb.is_floating_point():
        raise TypeError(f"rgb must be a floating-point tensor, got {rgb.dtype}")
    if rgb.dim() < 3:
        raise ValueError(f"rgb must have at least 3 dimensions (..., 3, H, W), got shape {tuple(rgb.shape)}")
    if rgb.shape[-3] != 3:
        raise ValueError(f"rgb must have 3 channels in dimension -3, got {rgb.shape[-3]}")
    weight = grayscale_kernel().to(dtype=rgb.dtype, device=rgb.device)  # (1, 3, 1, 1)
    return torch.einsum("oc,...chw->...ohw", weight[:, :, 0, 0], rgb)


def conv2d_multichannel(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Valid convolution of a multi-channel image by one rank-3 kernel.

    The kernel has one (kh, kw) slice per channel. Each output pixel is the sum
    over all channels c and kernel offsets (i, j) of
    ``image[c, y + i, x + j] * kernel[c, i, j]``: one number, however many
    channels there are. Cross-correlation (no flip), no padding, stride 1.
    The result equals ``F.conv2d(image[None], kernel[None])[0, 0]``. Float32 and
    float64 images are both valid and the result keeps the image's dtype; a
    kernel of the other float dtype is used in the image's dtype (not an error).

    Shapes: image (C, H, W), kernel (C, kh, kw) -> (H - kh + 1, W - kw + 1).
    Errors: TypeError when an argument is not a tensor or image is not
    floating point; ValueError when image or kernel is not 3-D, their channel
    counts differ, or the kernel is empty or larger than the image. The
    messages name the argument at fault (``image``, ``kernel``).
    ``_check_image_and_kernel`` (given) makes these checks for you.
    Hint: ``image.unfold(1, kh, 1).unfold(2, kw, 1)`` is a view of shape
    (C, Ho, Wo, kh, kw) holding every window; ``torch.einsum`` can multiply it
    by the kernel and sum over c, i and j in one call.
    """
    _check_image_and_kernel(image, kernel)
    _, kh, kw = kernel.shape
    windows = image.unfold(1, kh, 1).unfold(2, kw, 1)  # (C, Ho, Wo, kh, kw)
    return torch.einsum("cyxij,cij->yx", windows, kernel.to(image.dtype))


def channel_contributions(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Each channel's part of ``conv2d_multichannel(image, kernel)``.

    Channel c's contribution is the 2-D valid convolution of ``image[c]`` by
    ``kernel[c]``. Summing the contributions over channels gives
    ``conv2d_multichannel(image, kernel)``: a rank-3 kernel is C ordinary 2-D
    kernels whose outputs are added up. As there, the result keeps the image's
    dtype, and a kernel of the other float dtype is used in the image's dtype.

    Shapes: image (C, H, W), kernel (C, kh, kw) -> (C, H - kh + 1, W - kw + 1).
    Errors: the same as ``conv2d_multichannel``.
    Hint: the same windows as in ``conv2d_multichannel``; just do not sum over c.
    """
    _check_image_and_kernel(image, kernel)
    _, kh, kw = kernel.shape
    windows = image.unfold(1, kh, 1).unfold(2, kw, 1)  # (C, Ho, Wo, kh, kw)
    return torch.einsum("cyxij,cij->cyx", windows, kernel.to(image.dtype))


def green_detector_kernel() -> torch.Tensor:
    """A 3x3 kernel over R, G, B that responds to green (the frog example).

    Choose weights so that, on a uniform patch, the response is higher for
    green than for red, blue, white or grey of the same brightness. Weighting
    the green channel positively and red and blue negatively does it; if the
    weights of the three channels sum to zero, white, grey and black give 0.
    "The same brightness" is checked both ways: the same channel sum r + g + b,
    and the same BT.601 luminance; a good detector wins under both, at every
    brightness level.

    Shapes: returns (3, 3, 3) float32, channels in R, G, B order.
    Errors: none.
    Hint: what is ``conv2d_multichannel`` of a uniform (r, g, b) patch? It is
    ``r * sum(kernel[0]) + g * sum(kernel[1]) + b * sum(kernel[2])``.
    """
    # Response on a uniform (r, g, b) patch: g - (r + b) / 2.
    kernel = torch.empty(3, 3, 3, dtype=torch.float32)
    kernel[0] = -1 / 18  # red
    kernel[1] = 1 / 9    # green
    kernel[2] = -1 / 18  # blue
    return kernel
