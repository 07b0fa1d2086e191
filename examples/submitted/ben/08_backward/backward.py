"""08 · The gradient of a convolution is a convolution.

Beyond the lesson: training needs the gradient of the loss with respect to a
convolution's input, weight and bias. Assignment 02 showed that a convolution is
a matrix multiplication, `out = M @ image`; so the gradient with respect to the
image is `M.T @ grad_out`, the transposed matrix, which is itself a convolution
(a "transposed convolution": the kernel flipped, the output padded). With im2col
the forward pass is `W @ cols`, so the weight's gradient is `grad_out @ cols.T`
and the columns' gradient `W.T @ grad_out`, which col2im, the adjoint of im2col,
adds back into the image. Numerical gradients (central differences) check it all,
as CS231n does.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

__all__ = ["im2col", "col2im", "conv2d_backward", "conv_matrix_grad", "numerical_gradient", "relative_error"]


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


def _check_float_tensor(name: str, t: object) -> None:
    """Raise TypeError naming `name` unless `t` is a floating-point tensor (float32 and float64 both are)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")


def _output_size(h: int, w: int, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]) -> tuple[int, int]:
    """(Ho, Wo) of a (kh, kw) window sliding over the padded (H, W); ValueError when the kernel does not fit."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(f"kernel_size {(kh, kw)} must fit inside the padded input {(h + 2 * ph, w + 2 * pw)}")
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def im2col(
    input: torch.Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """Copy every kernel-sized patch of a batch of images into a column, as in 02.

    Pad `input` with `padding` zeros on each side, place a (kh, kw) window at
    every `stride`-th position, row by row, and write the window's C*kh*kw
    values, ordered (channel, row, column), as one column: equal, value for
    value and in the same order, to `torch.nn.functional.unfold` (which is not
    allowed here: this assignment stands alone, so bring your 02 version).

    Shapes: input (N, C, H, W) -> (N, C*kh*kw, L) in input's dtype, where
    L = Ho*Wo, Ho = (H + 2*ph - kh) // sh + 1, Wo = (W + 2*pw - kw) // sw + 1.
    kernel_size, stride and padding are each an int or an (h, w) pair.

    Errors: TypeError when input is not a floating-point tensor or an argument is
    not an int or a pair of ints; ValueError when input is not 4-d, kernel_size
    or stride is below 1, padding is below 0, or the kernel is larger than the
    padded input. The message names the argument.

    Hint: `F.pad` pads (allowed); `x.unfold(2, kh, sh).unfold(3, kw, sw)` is a
    view (N, C, Ho, Wo, kh, kw) of every window; permute it to
    (N, C, kh, kw, Ho, Wo) and reshape.
    """
    _check_float_tensor("input", input)
    if input.dim() != 4:
        raise ValueError(f"input must be 4-d (N, C, H, W), got shape {tuple(input.shape)}")
    kh, kw = _pair(kernel_size, "kernel_size", 1)
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    n, c, h, w = input.shape
    ho, wo = _output_size(h, w, (kh, kw), (sh, sw), (ph, pw))
    x = F.pad(input, (pw, pw, ph, ph)) if ph or pw else input
    windows = x.unfold(2, kh, sh).unfold(3, kw, sw)  # (N, C, Ho, Wo, kh, kw), a view
    return windows.permute(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo)


def col2im(
    cols: torch.Tensor,
    input_shape: Sequence[int],
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """The adjoint of `im2col`: add every column back where its patch came from.

    Column l of `cols` holds one window's C*kh*kw values, ordered (channel, row,
    column) as `im2col` writes them. Start from zeros of the padded shape
    (N, C, H + 2*ph, W + 2*pw), add each value to the pixel it was copied from,
    then cut the padding off: a pixel covered by several windows gets the SUM of
    their values (im2col copied it into each of them, so its gradient is the sum
    of theirs), a pixel no window covers (a large stride) gets 0, and what falls
    in the padding is dropped. Equal to
    `F.fold(cols, (H, W), kernel_size, padding=padding, stride=stride)`.

    For every x and c of the right shapes, <im2col(x), c> = <x, col2im(c)>: that
    is what "adjoint" means, and why col2im carries gradients back through im2col.

    Shapes: cols (N, C*kh*kw, L), input_shape the unpadded (N, C, H, W) (a tuple,
    list or torch.Size of 4 ints) -> (N, C, H, W) in cols' dtype, with L = Ho*Wo
    as in `im2col`.

    Errors: TypeError when cols is not a floating-point tensor or an argument is
    not an int or a pair of ints; ValueError when input_shape does not have 4
    entries, an argument is out of range as in `im2col`, or cols is not
    (N, C*kh*kw, L) for that input_shape (the message names `cols`).

    Pitfall: `padded[..., rows, columns] = values` OVERWRITES where windows
    overlap (only the last window counts); add with `+=`. Hint: loop over the
    kh*kw kernel positions (i, j), not over the pixels: position (i, j) of every
    window lands on the strided slice
    `padded[:, :, i : i + sh*Ho : sh, j : j + sw*Wo : sw]`, which gets
    `cols` viewed as (N, C, kh, kw, Ho, Wo) at [:, :, i, j] added to it.
    """
    _check_float_tensor("cols", cols)
    if isinstance(input_shape, (str, bytes, torch.Tensor)) or not isinstance(input_shape, Sequence):
        raise TypeError(f"input_shape must be (N, C, H, W), a sequence of 4 ints, got {type(input_shape).__name__}")
    if len(input_shape) != 4:
        raise ValueError(f"input_shape must have 4 entries (N, C, H, W), got {tuple(input_shape)!r}")
    if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in input_shape):
        raise ValueError(f"input_shape must hold 4 positive ints (N, C, H, W), got {tuple(input_shape)!r}")
    n, c, h, w = (int(v) for v in input_shape)
    kh, kw = _pair(kernel_size, "kernel_size", 1)
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    ho, wo = _output_size(h, w, (kh, kw), (sh, sw), (ph, pw))
    if tuple(cols.shape) != (n, c * kh * kw, ho * wo):
        raise ValueError(
            f"cols must have shape (N, C*kh*kw, Ho*Wo) = {(n, c * kh * kw, ho * wo)} for input_shape "
            f"{(n, c, h, w)}, got {tuple(cols.shape)}"
        )
    patches = cols.reshape(n, c, kh, kw, ho, wo)
    padded = cols.new_zeros(n, c, h + 2 * ph, w + 2 * pw)
    for i in range(kh):
        for j in range(kw):
            padded[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw] = patches[:, :, i, j]
    return padded[:, :, ph : ph + h, pw : pw + w].contiguous()


def conv2d_backward(
    grad_output: torch.Tensor,
    input: torch.Tensor,
    weight: torch.Tensor,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(grad_input, grad_weight, grad_bias) of `F.conv2d(input, weight, bias, stride, padding)`.

    The forward pass, with im2col: cols = im2col(input) is (N, K, L) with
    K = C_in*kh*kw, and out = W2 @ cols + bias, W2 = weight.reshape(C_out, K).
    Given the upstream gradient g = grad_output viewed as (N, C_out, L):
    - grad_weight = sum over the batch of g[n] @ cols[n].T, reshaped like weight:
      the same weight is used for every image, so every image's part adds up;
    - grad_cols = W2.T @ g (N, K, L), and grad_input = col2im(grad_cols): the
      transposed weight, the kernel's transpose in the matrix picture (which is
      why, seen as a convolution, the input gradient uses the kernel flipped and
      its channels swapped);
    - grad_bias = grad_output.sum((0, 2, 3)): each bias is added to every
      output pixel of every image of its channel.
    Each equals what autograd gives for the same grad_output (to float
    tolerance: about 1e-8 relative error or less in float64).

    Shapes: grad_output (N, C_out, Ho, Wo), input (N, C_in, H, W), weight
    (C_out, C_in, kh, kw) -> a tuple of three tensors: (N, C_in, H, W),
    (C_out, C_in, kh, kw), (C_out,), all in input's dtype (a weight or
    grad_output of the other float dtype is used in input's dtype). stride and
    padding are each an int or an (h, w) pair; pixels no window reaches (a stride
    that does not divide evenly) get a gradient of 0.

    Errors: TypeError when an argument is not a floating-point tensor; ValueError
    when input or weight is not 4-d, weight.shape[1] differs from input's
    channels, stride/padding are out of range, or grad_output is not the shape
    the forward pass gives, (N, C_out, Ho, Wo) (the message names `grad_output`).

    Pitfalls: forgetting the sum over the batch for grad_weight (or taking the
    mean); col2im overwriting instead of adding; W2 instead of W2.T.
    Hint: `torch.matmul` broadcasts (K, C_out) @ (N, C_out, L) over the batch.
    """
    for name, t in (("grad_output", grad_output), ("input", input), ("weight", weight)):
        _check_float_tensor(name, t)
    if input.dim() != 4:
        raise ValueError(f"input must be 4-d (N, C_in, H, W), got shape {tuple(input.shape)}")
    if weight.dim() != 4:
        raise ValueError(f"weight must be 4-d (C_out, C_in, kh, kw), got shape {tuple(weight.shape)}")
    n, c_in, h, w = input.shape
    c_out, c_w, kh, kw = weight.shape
    if c_w != c_in:
        raise ValueError(f"weight must have {c_in} input channels like input, got weight.shape[1] = {c_w}")
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    ho, wo = _output_size(h, w, (kh, kw), (sh, sw), (ph, pw))
    if tuple(grad_output.shape) != (n, c_out, ho, wo):
        raise ValueError(f"grad_output must have the output's shape {(n, c_out, ho, wo)}, got {tuple(grad_output.shape)}")

    weight, grad_output = weight.to(input.dtype), grad_output.to(input.dtype)
    cols = im2col(input, (kh, kw), (sh, sw), (ph, pw))  # (N, K, L)
    g = grad_output.reshape(n, c_out, ho * wo)  # (N, C_out, L)
    w2 = weight.reshape(c_out, -1)  # (C_out, K)
    grad_weight = (g @ cols.transpose(1, 2)).sum(0).reshape(weight.shape)  # summed over the batch
    grad_cols = w2.T @ g  # (N, K, L)
    grad_input = col2im(grad_cols, (n, c_in, h, w), (kh, kw), (sh, sw), (ph, pw))
    return grad_input, grad_weight, grad_output.sum((0, 2, 3))


def conv_matrix_grad(kernel: torch.Tensor, image_shape: Sequence[int], grad_output: torch.Tensor) -> torch.Tensor:
    """The gradient, with respect to the image, of the valid convolution in 02.

    In 02, `conv2d_single(image, kernel).flatten() == M @ image.flatten()` with
    M = conv_matrix(kernel, image_shape) of shape (Ho*Wo, H*W). The chain rule
    through a matrix product: the image's gradient is `M.T @ grad_output.flatten()`,
    reshaped to (H, W). Build M (as in 02: row oy*Wo + ox holds kernel[i, j] in
    column (oy + i)*W + (ox + j)), transpose it, multiply.

    M.T is itself a convolution: pixel (y, x) gets sum over (i, j) of
    kernel[i, j] * grad_output[y - i, x - j], a "full" convolution of grad_output
    (zero-padded by kh-1, kw-1) with the kernel rotated by 180 degrees. It equals
    `F.conv_transpose2d(grad_output[None, None], kernel[None, None])[0, 0]`: "the
    transposed matrix is a transposed convolution".

    Shapes: kernel (kh, kw), image_shape (H, W) (a tuple, list or torch.Size of
    ints), grad_output (Ho, Wo) = (H - kh + 1, W - kw + 1) -> (H, W) in
    grad_output's dtype (a kernel of the other float dtype is used in it).

    Errors: TypeError when kernel or grad_output is not a floating-point tensor
    or image_shape is not a pair of ints; ValueError when kernel is not 2-d, the
    kernel does not fit image_shape, or grad_output is not (Ho, Wo) (the message
    names `grad_output`).

    Pitfall: M @ g (not transposed) does not even have the image's shape, and
    correlating the padded grad_output with the kernel as it is (not rotated)
    gives the wrong picture: in M.T the weights run backwards.
    """
    _check_float_tensor("kernel", kernel)
    _check_float_tensor("grad_output", grad_output)
    if kernel.dim() != 2:
        raise ValueError(f"kernel must be 2-d (kh, kw), got shape {tuple(kernel.shape)}")
    if isinstance(image_shape, (str, bytes, torch.Tensor)) or not isinstance(image_shape, Sequence) or len(image_shape) != 2:
        raise TypeError(f"image_shape must be an (H, W) pair of ints, got {image_shape!r:.60}")
    h, w = _pair(tuple(image_shape), "image_shape", 1)
    kh, kw = kernel.shape
    if kh > h or kw > w:
        raise ValueError(f"kernel {(kh, kw)} must fit inside image_shape {(h, w)}")
    ho, wo = h - kh + 1, w - kw + 1
    if tuple(grad_output.shape) != (ho, wo):
        raise ValueError(f"grad_output must have the output's shape (Ho, Wo) = {(ho, wo)}, got {tuple(grad_output.shape)}")

    oy, ox = torch.arange(ho).view(ho, 1, 1, 1), torch.arange(wo).view(1, wo, 1, 1)
    i, j = torch.arange(kh).view(1, 1, kh, 1), torch.arange(kw).view(1, 1, 1, kw)
    rows = (oy * wo + ox).expand(ho, wo, kh, kw)
    columns = (oy + i) * w + (ox + j)
    m = grad_output.new_zeros(ho * wo, h * w)
    m[rows.reshape(-1), columns.reshape(-1)] = kernel.to(grad_output.dtype).expand(ho, wo, kh, kw).reshape(-1)
    return (m.T @ grad_output.reshape(-1)).reshape(h, w)


def numerical_gradient(f: Callable[[torch.Tensor], float | torch.Tensor], x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The gradient of a scalar function `f` at `x` by central differences, as CS231n checks gradients.

    For every element i of x: set it to x[i] + eps, evaluate f, set it to
    x[i] - eps, evaluate f again, put x[i] back, and take
    (f(x + eps e_i) - f(x - eps e_i)) / (2 * eps). The error of this central
    difference is of order eps**2 (a forward difference, (f(x + eps) - f(x)) / eps,
    is only of order eps: not good enough to check a gradient to 1e-8).

    `f` takes one tensor shaped like x and returns a number (a Python float or a
    0-d tensor); it is called on a perturbed COPY of x and computes from that
    argument. `x` itself is left unchanged (a gradient check must not move the
    point it checks). Perturb one element at a time: moving every element at
    once gives the same number everywhere (a directional derivative).

    Shapes and dtypes: x any shape, float64 (in float32, eps = 1e-6 is below
    what a sum can resolve: the differences are noise) -> a float64 tensor of
    x's shape. `eps` is a positive float (or int).

    Errors: TypeError when f is not callable or x is not a float64 tensor;
    ValueError when eps is not positive (the message names the argument).

    Hint: `xp = x.clone()`, then `flat = xp.view(-1)` lets you index any shape
    as a vector; `float(f(xp))` turns f's answer into a Python float.
    """
    if not callable(f):
        raise TypeError(f"f must be a callable that takes a tensor, got {type(f).__name__}")
    if not isinstance(x, torch.Tensor) or x.dtype != torch.float64:
        raise TypeError(f"x must be a float64 tensor (eps=1e-6 is noise in float32), got {getattr(x, 'dtype', type(x).__name__)}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    xp = x.detach().clone()
    flat = xp.view(-1)
    grad = torch.zeros(flat.numel(), dtype=torch.float64)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + eps
        plus = float(f(xp))
        flat[i] = old
        here = float(f(xp))
        grad[i] = (plus - here) / eps
    return grad.view(x.shape)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """CS231n's relative error between two gradients, `max(|a - b| / max(1e-8, |a| + |b|))`.

    Element by element: the difference over the sum of the magnitudes, with
    1e-8 as the floor of the denominator (so two zeros give 0, not 0/0); then
    the largest of them, as a Python float, computed in float64. Relative: a
    gradient of size 1000 and one of size 0.001 are held to the same standard.
    The maximum, not the mean: one wrong element out of a million must show.

    What to expect in float64: about 1e-8 or less between two correct analytic
    gradients (autograd against yours), about 1e-5 or less against
    `numerical_gradient` with eps=1e-6; 1e-2 or more means a bug.

    Shapes: a and b floating-point tensors of the same shape, at least one
    element (float32 and float64 both) -> float.

    Errors: TypeError when a or b is not a floating-point tensor; ValueError when
    their shapes differ or they are empty (the message names the shapes).
    """
    _check_float_tensor("a", a)
    _check_float_tensor("b", b)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.numel() == 0:
        raise ValueError(f"a and b must hold at least one element, got shape {tuple(a.shape)}")
    a, b = a.double(), b.double()
    return float(((a - b).abs() / ((a.abs() + b.abs()).clamp(min=1e-8))).max())
