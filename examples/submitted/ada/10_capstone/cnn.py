"""10 · A network of your own ops: Ada's own version.

No im2col: the convolution is a loop over the nine offsets of the 3x3 kernel, each
a shifted view of the padded images weighted by that tap of every filter (einsum);
max pooling is the largest of the four strided slices of each 2x2 window; the loss
is a log-softmax written out; the split is scikit-learn's StratifiedShuffleSplit.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["load_digits_split", "SmallCNN", "train", "accuracy", "first_layer_filters", "top_activating_patches"]


def load_digits_split(seed=0):
    """(x_train, y_train, x_test, y_test): the bundled digits, 80/20, stratified by class, shuffled by seed."""
    if type(seed) is not int:
        raise TypeError(f"seed: an int please, not {type(seed).__name__}")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import StratifiedShuffleSplit

    images, labels = load_digits(return_X_y=True)
    (train_rows, test_rows), = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed).split(images, labels)
    x = torch.from_numpy(images.astype(np.float32) / 16).reshape(-1, 1, 8, 8)
    y = torch.from_numpy(labels.astype(np.int64))
    return x[train_rows], y[train_rows], x[test_rows], y[test_rows]


def _he_normal(shape, fan_in, generator):
    """N(0, 2 / fan_in) for a ReLU layer, drawn from generator."""
    weight = torch.empty(shape)
    weight.normal_(mean=0.0, std=math.sqrt(2 / fan_in), generator=generator)
    return weight


def _conv3x3(x, weight, bias):
    """Zero padding 1, then sum over the nine kernel taps of the shifted images: (N, 1, H, W) -> (N, C, H, W)."""
    n, c_in, h, w = x.shape
    padded = torch.zeros(n, c_in, h + 2, w + 2, dtype=x.dtype)
    padded[:, :, 1 : h + 1, 1 : w + 1] = x
    out = bias.reshape(1, -1, 1, 1).expand(n, -1, h, w)
    for dy in range(3):
        for dx in range(3):
            out = out + torch.einsum("nihw,oi->nohw", padded[:, :, dy : dy + h, dx : dx + w], weight[:, :, dy, dx])
    return out


def _maxpool2(x):
    """2x2 windows, stride 2: the largest of the four corners of each window."""
    corners = [x[:, :, i::2, j::2] for i in (0, 1) for j in (0, 1)]
    return torch.maximum(torch.maximum(corners[0], corners[1]), torch.maximum(corners[2], corners[3]))


class SmallCNN:
    """conv 3x3 -> ReLU -> max pool 2 -> flatten -> linear, all by hand."""

    def __init__(self, channels=16, generator=None):
        if type(channels) is not int:
            raise TypeError(f"channels: an int please, not {type(channels).__name__}")
        if channels <= 0:
            raise ValueError(f"channels must be positive, not {channels}")
        if not (generator is None or isinstance(generator, torch.Generator)):
            raise TypeError("generator must be a torch.Generator (or None)")
        self.conv_w = _he_normal((channels, 1, 3, 3), 9, generator)
        self.lin_w = _he_normal((10, channels * 16), channels * 16, generator)
        self.conv_b, self.lin_b = torch.zeros(channels), torch.zeros(10)
        for tensor in (self.conv_w, self.conv_b, self.lin_w, self.lin_b):
            tensor.requires_grad = True

    def parameters(self):
        return [self.conv_w, self.conv_b, self.lin_w, self.lin_b]

    def __call__(self, x):
        if not (isinstance(x, torch.Tensor) and x.ndim == 4 and x.shape[1:] == (1, 8, 8)):
            raise ValueError("x must be (N, 1, 8, 8)")
        features = _maxpool2(torch.clamp(_conv3x3(x, self.conv_w, self.conv_b), min=0)).flatten(1)
        return torch.einsum("nf,kf->nk", features, self.lin_w) + self.lin_b


def _cross_entropy(logits, y):
    """Mean over the batch of -log softmax(logits)[label]."""
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs.gather(1, y[:, None]).mean()


def train(model, x, y, epochs=40, lr=0.1, batch_size=64, generator=None):
    """SGD, one shuffle per epoch; the loss of each epoch averaged over its samples."""
    if not (isinstance(x, torch.Tensor) and x.ndim == 4 and x.shape[1:] == (1, 8, 8)):
        raise ValueError("x must be (N, 1, 8, 8)")
    if not (isinstance(y, torch.Tensor) and y.shape == (len(x),)):
        raise ValueError("y needs one label per image of x")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive (epochs={epochs}, batch_size={batch_size})")
    if lr <= 0:
        raise ValueError(f"lr must be above 0, not {lr}")
    if not (generator is None or isinstance(generator, torch.Generator)):
        raise TypeError("generator must be a torch.Generator (or None)")
    params = model.parameters()
    history = []
    for epoch in range(epochs):
        shuffled = torch.randperm(x.shape[0], generator=generator)
        seen, loss_sum = 0, 0.0
        while seen < len(shuffled):
            rows = shuffled[seen : seen + batch_size]
            loss = _cross_entropy(model(x[rows]), y[rows])
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p.sub_(lr * p.grad)
            loss_sum += float(loss) * rows.numel()
            seen += rows.numel()
        history.append(loss_sum / seen)
    return history


def accuracy(model, x, y):
    if len(x) == 0 or len(y) != len(x):
        raise ValueError("x and y must be non-empty and of the same length")
    with torch.no_grad():
        hits = (model(x).argmax(1) == y).sum().item()
    return hits / len(y)


def first_layer_filters(model):
    return model.parameters()[0].detach().clone()


def top_activating_patches(model, images, channel, k=9):
    """The k zero-padded 3x3 patches with the highest pre-ReLU activation of channel."""
    weight, bias = (p.detach() for p in model.parameters()[:2])
    if type(channel) is not int or channel < 0 or channel >= len(weight):
        raise ValueError(f"channel {channel!r} is not one of the model's {len(weight)} channels")
    n, _, h, w = images.shape
    if type(k) is not int or k < 1 or k > n * h * w:
        raise ValueError(f"k must be from 1 to {n * h * w}, got {k!r}")
    act = _conv3x3(images, weight[channel : channel + 1], bias[channel : channel + 1])[:, 0]
    best = torch.topk(act.flatten(), k).indices
    index, row, col = best // (h * w), (best // w) % h, best % w
    padded = torch.zeros(n, 1, h + 2, w + 2, dtype=images.dtype)
    padded[:, :, 1 : h + 1, 1 : w + 1] = images
    offsets = torch.arange(3)
    patches = padded[index[:, None, None], 0, (row[:, None] + offsets)[:, :, None], (col[:, None] + offsets)[:, None, :]]
    return patches[:, None], index, torch.stack((row, col), 1)
