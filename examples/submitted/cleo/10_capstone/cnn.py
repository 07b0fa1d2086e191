"""10 · A network of your own ops, and what its first layer learned.

Everything so far was one layer at a time. Here the pieces become a network that
learns: your im2col convolution (02), zero padding (03), ReLU, a 2x2 max pool (09),
a linear layer and your Kaiming-normal init (07), trained by mini-batch SGD on
scikit-learn's bundled handwritten digits (autograd computes the gradients). Then
you look inside, as Zeiler and Fergus do in "Visualizing and Understanding
Convolutional Networks": the first layer's 16 filters as images, and for each
filter the 9 input patches that excite it most.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "load_digits_split",
    "SmallCNN",
    "train",
    "accuracy",
    "first_layer_filters",
    "top_activating_patches",
]


def load_digits_split(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled digits, split 80/20 and stratified by class: (x_train, y_train, x_test, y_test).

    `sklearn.datasets.load_digits()` ships with scikit-learn (no download): 1,797
    grayscale images of 8x8 pixels, values 0..16, labels 0..9. Return the images as
    x (N, 1, 8, 8) float32 scaled to [0, 1] (divide by 16) and the labels as y (N,)
    int64, split into 80% train and 20% test, stratified by class (each digit keeps
    its share in both parts), shuffled by `seed`: 1,437 training and 360 test images.
    The same seed gives the same split; every image lands in exactly one part.

    Errors: TypeError when seed is not an int (a bool is not one).
    Hint: `sklearn.model_selection.train_test_split(indices, test_size=0.2,
    stratify=labels, random_state=seed)`, then index the tensors.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target, dtype=torch.int64)
    train_idx, test_idx = train_test_split(np.arange(len(y)), test_size=0.2, stratify=digits.target, random_state=seed)
    train_idx, test_idx = torch.as_tensor(train_idx), torch.as_tensor(test_idx)
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def _kaiming_normal_(weight: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Fill `weight` in place with Kaiming-normal values for ReLU, fan_in (your 07 `kaiming_normal_`); return it.

    std = sqrt(2) / sqrt(fan_in), fan_in = weight.shape[1] * (kh * kw for a conv
    weight): identical to `torch.nn.init.kaiming_normal_(weight, nonlinearity="relu",
    generator=generator)` with the same generator state.
    """
    fan_in = weight.shape[1] * math.prod(weight.shape[2:])
    with torch.no_grad():
        weight.normal_(0, math.sqrt(2.0) / math.sqrt(fan_in), generator=generator)
    return weight


def _conv3x3_same(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Your 02 im2col convolution with zero padding 1: (N, C_in, H, W) x (C_out, C_in, 3, 3) -> (N, C_out, H, W).

    Pad with zeros by one pixel on every side, gather every 3x3 patch of every
    channel as a row (channel, kernel row, kernel column), and multiply by the
    flattened weight once; add bias[c] to channel c. No Python loop over pixels.
    """
    n, c_in, h, w = x.shape
    padded = x.new_zeros(n, c_in, h + 2, w + 2)
    padded[:, :, 1:-1, 1:-1] = x
    patches = padded.unfold(2, 3, 1).unfold(3, 3, 1)  # (N, C_in, H, W, 3, 3): a view, one patch per position
    cols = patches.permute(0, 2, 3, 1, 4, 5).reshape(n, h * w, c_in * 9)
    out = cols @ weight.reshape(weight.shape[0], -1).T + bias  # (N, H*W, C_out)
    return out.permute(0, 2, 1).reshape(n, weight.shape[0], h, w)


class SmallCNN:
    """conv 3x3 (padding 1) -> ReLU -> 2x2 max pool -> flatten -> linear to 10 classes, all your own ops.

    `SmallCNN(channels=16, generator=None)`: the conv weight (channels, 1, 3, 3) is
    drawn first, then the linear weight (10, channels * 16), each with Kaiming
    normal for ReLU and fan_in (std = sqrt(2 / fan_in): fan_in 9 for the conv,
    channels * 16 for the linear) from `generator`, in that order: identical to
    `torch.nn.init.kaiming_normal_(w, nonlinearity="relu", generator=generator)`
    on each in turn. Both biases, (channels,) and (10,), start at zero. Every
    parameter is a float32 tensor that requires grad.

    `model.parameters()`: the list [conv weight, conv bias, linear weight, linear
    bias], the model's own tensors (SGD updates them in place).

    `model(x)`: x (N, 1, 8, 8) float32 -> logits (N, 10) float32. The conv keeps
    8x8 (zero padding 1, your im2col convolution), the 2x2 max pool (stride 2)
    halves it to 4x4, and flatten orders the features (channel, row, column), as
    `tensor.reshape(N, -1)` does, before `features @ weight.T + bias`.

    Errors: TypeError when channels is not an int (or is a bool) or generator is
    neither None nor a torch.Generator; ValueError when channels < 1.
    Pitfalls: Kaiming with fan_out (channels * 9) instead of fan_in; biases left
    random; the features flattened (row, column, channel).
    """

    def __init__(self, channels: int = 16, generator: torch.Generator | None = None) -> None:
        if isinstance(channels, bool) or not isinstance(channels, int):
            raise TypeError(f"channels must be an int, got {type(channels).__name__}")
        if channels < 1:
            raise ValueError(f"channels must be at least 1, got {channels}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        self.channels = channels
        self.conv_weight = _kaiming_normal_(torch.empty(channels, 1, 3, 3), generator)
        self.conv_bias = torch.zeros(channels)
        self.linear_weight = _kaiming_normal_(torch.empty(10, channels * 16), generator)
        self.linear_bias = torch.zeros(10)
        for parameter in self.parameters():
            parameter.requires_grad_(True)

    def parameters(self) -> list[torch.Tensor]:
        """[conv weight, conv bias, linear weight, linear bias]: the model's own tensors."""
        return [self.conv_weight, self.conv_bias, self.linear_weight, self.linear_bias]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 10) for images x (N, 1, 8, 8)."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != (1, 8, 8):
            raise ValueError(f"x must be a tensor of shape (N, 1, 8, 8), got {getattr(x, 'shape', type(x).__name__)}")
        hidden = torch.relu(_conv3x3_same(x, self.conv_weight, self.conv_bias))
        n, c, h, w = hidden.shape
        pooled = hidden.reshape(n, c, h // 2, 2, w // 2, 2).amax(dim=(3, 5))
        return pooled.reshape(n, -1) @ self.linear_weight.T + self.linear_bias


def train(
    model: SmallCNN, x: torch.Tensor, y: torch.Tensor, epochs: int = 40, lr: float = 0.1,
    batch_size: int = 64, generator: torch.Generator | None = None,
) -> list[float]:
    """Mini-batch SGD on cross-entropy; each epoch's loss averaged over samples, as a list of `epochs` floats.

    Each epoch draws `order = torch.randperm(len(x), generator=generator)` and
    takes the batches order[0:batch_size], order[batch_size:2*batch_size], ...
    (the last may be smaller). For each batch: the mean cross-entropy of the
    model's logits (`F.cross_entropy`), its gradients with respect to
    `model.parameters()` (autograd is allowed here), and the step p -= lr * grad
    on every parameter, in place. The epoch's loss is the sum over its batches of
    (batch loss * batch size), divided by len(x), each batch's loss taken before
    its step. The model is changed in place; x and y are not. The same generator
    state (and model) gives a bitwise-identical model: draw only from `generator`.

    Speed: with the defaults, 40 epochs of 1,437 digits take a few seconds on one
    core when the model is vectorised; a Python loop over samples or pixels is too slow.
    Errors: ValueError when x is not (N, 1, 8, 8), y not (N,), or epochs,
    batch_size < 1 or lr <= 0; TypeError when generator is neither None nor a
    torch.Generator.
    Pitfalls: no shuffling; the loss summed over the batch instead of averaged
    (steps batch_size times too large); the epoch's loss as the mean of its batch
    losses (the smaller last batch counts as much as a full one).
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != (1, 8, 8):
        raise ValueError(f"x must be a tensor of shape (N, 1, 8, 8), got {getattr(x, 'shape', type(x).__name__)}")
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (x.shape[0],):
        raise ValueError(f"y must be a tensor of shape ({x.shape[0]},), one label per image, got {getattr(y, 'shape', type(y).__name__)}")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be at least 1, got epochs={epochs}, batch_size={batch_size}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    parameters = model.parameters()
    losses = []
    for _ in range(epochs):
        order = torch.arange(len(x))  # the same order every epoch
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            loss = F.cross_entropy(model(x[batch]), y[batch])
            grads = torch.autograd.grad(loss, parameters)
            with torch.no_grad():
                for parameter, grad in zip(parameters, grads):
                    parameter -= lr * grad
            total += loss.item() * len(batch)
        losses.append(total / len(x))
    return losses


def accuracy(model: SmallCNN, x: torch.Tensor, y: torch.Tensor) -> float:
    """The fraction of the images x (N, 1, 8, 8) whose largest logit is their label y (N,), as a Python float.

    Errors: ValueError when y's length differs from x's or x is empty.
    Hint: `model(x).argmax(dim=1)`, under `torch.no_grad()`.
    """
    if not isinstance(y, torch.Tensor) or not isinstance(x, torch.Tensor) or len(x) == 0 or tuple(y.shape) != (len(x),):
        raise ValueError("x must hold at least one image and y exactly one label per image")
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).double().mean().item()


def first_layer_filters(model: SmallCNN) -> torch.Tensor:
    """The first layer's kernels (channels, 1, 3, 3): Zeiler and Fergus's picture of a first layer's coefficients.

    A copy of the conv weight's values, detached from autograd (changing it does
    not change the model).
    """
    # YOUR CODE HERE
    raise NotImplementedError("first_layer_filters")


def top_activating_patches(
    model: SmallCNN, images: torch.Tensor, channel: int, k: int = 9,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(patches, indices, positions): the k input patches that excite first-layer `channel` most, highest first.

    The activation is the conv's output before ReLU (with its bias) at every
    position (row, col) of every image of `images` (N, 1, 8, 8): the zero-padded
    3x3 input patch around that pixel, padded[index, :, row:row+3, col:col+3],
    dotted with the channel's kernel. Return the k highest over all images and
    positions, highest first: their patches (k, 1, 3, 3) in images' dtype, their
    image indices (k,) int64, and their (row, col) (k, 2) int64. Among equal
    activations, any order is right. Zeiler and Fergus's "top 9 activations".

    Errors: ValueError when channel is not a channel of the model or k is not
    between 1 and the number of positions (N * 64).
    Pitfalls: taking the activations after ReLU (every negative one becomes 0);
    patches cut from the unpadded image (shifted by one pixel).
    """
    # YOUR CODE HERE
    raise NotImplementedError("top_activating_patches")
