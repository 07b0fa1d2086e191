"""01 · What is a convolution?

The start of fast.ai part 2, lesson 9 ("digging into convolution"): a convolution
slides a small kernel over an image and, at every position, multiplies the kernel
by the patch under it and sums the products. The output is smaller than the image,
by how much `output_size` says. A kernel such as [[-1,-1,-1],[0,0,0],[1,1,1]] is a
feature detector: it lights up on a top edge and stays at 0 on flat areas.
"""

from __future__ import annotations

import numbers

import torch

__all__ = ["conv2d_single", "output_size", "top_edge_kernel", "left_edge_kernel"]


def conv2d_single(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The valid 2-d convolution (cross-correlation) of one image by one kernel.

    Place the kernel's top-left corner at every position (i, j) where the whole
    kernel fits inside the image; the output at (i, j) is the sum of
    image[i:i+kh, j:j+kw] * kernel. The kernel is not flipped, as in
    `torch.nn.functional.conv2d`.

    Any kernel size works, from 1x1 to the image's own size (then the output is
    one value): the window is the kernel's (kh, kw), not a fixed 3x3. Shifting
    the image shifts the output: cropping the image's first rows and columns
    crops the output's the same way.

    Shapes: image (H, W), kernel (kh, kw) -> (H - kh + 1, W - kw + 1), in image's dtype.

    Dtypes: float32 and float64 both work, and the result keeps image's dtype. A
    kernel of the other float dtype is used in image's dtype (not an error).

    Errors: TypeError when image or kernel is not a floating-point tensor;
    ValueError when image or kernel is not 2-d, or the kernel is larger than the
    image in either dimension. The message names the argument.

    Hint: two Python loops, over the output's rows and columns; take the patch
    `image[i:i + kh, j:j + kw]` and write `(patch * kernel).sum()` into
    `out[i, j]` of an `image.new_empty(...)` output.
    """
    # YOUR CODE HERE
    raise NotImplementedError("conv2d_single")


def output_size(
    size: int,
    kernel_size: int,
    padding: int = 0,
    stride: int = 1,
    dilation: int = 1,
) -> int:
    """The length of a convolution's output along one dimension.

    Padding adds `padding` zeros on each side; a kernel of `kernel_size` taps
    `dilation` apart spans dilation*(kernel_size - 1) + 1 pixels; it moves
    `stride` pixels at a time. So the output has
    floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1 positions:
    padding p counts as 2p more pixels, a dilated kernel as a kernel of its span,
    and stride s keeps every s-th of the stride-1 positions, the first included.
    padding, stride and dilation may be given by name, in any order.

    Shapes: Python ints -> a Python int (at least 1).

    Errors: TypeError when an argument is not an int (a bool is not one);
    ValueError when size or kernel_size is below 1, padding is below 0, stride or
    dilation is below 1, or the result would be below 1 (the kernel does not fit
    in the padded input). The message names the argument.

    Hint: Python's `//` floors. Check by hand: size 5, kernel 3 -> 3; with
    padding 1 -> 5; with padding 1 and stride 2 -> 3.
    """
    # YOUR CODE HERE
    raise NotImplementedError("output_size")


def top_edge_kernel() -> torch.Tensor:
    """A 3x3 kernel that detects a top edge: dark above, bright below.

    Its response must be strongly positive where a dark row sits above a bright
    row (wherever that edge is, in proportion to the contrast), negative on the
    opposite edge (bright above, dark below), exactly 0 on any constant area, and
    0 on a vertical edge (dark left, bright right, or the reverse).

    Shapes: () -> (3, 3), float32.

    Hint: weights that sum to 0 give 0 on flat areas. Put negative weights on
    the top row, positive ones on the bottom row, zeros in the middle, and make
    every column the same so that a left-right change cancels out.
    """
    # YOUR CODE HERE
    raise NotImplementedError("top_edge_kernel")


def left_edge_kernel() -> torch.Tensor:
    """A 3x3 kernel that detects a left edge: dark left, bright right.

    The same idea as `top_edge_kernel`, turned by 90 degrees: strongly positive
    where a dark column sits left of a bright column (wherever that edge is, in
    proportion to the contrast), negative on the opposite edge (bright left, dark
    right), exactly 0 on any constant area, and 0 on a horizontal edge, in either
    direction (it is not a top-edge detector).

    Shapes: () -> (3, 3), float32.

    Hint: the transpose of the top-edge kernel.
    """
    # YOUR CODE HERE
    raise NotImplementedError("left_edge_kernel")
