"""Hidden checks for 10_capstone: other channels, seeds, settings and images, drawn per student from the course secret."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from autograder.compare import assert_same, error_cases
from autograder.inputs import current_salt, randn, salted_seed

FAN_OUT = "Kaiming with fan_out: std = sqrt(2 / fan_in), fan_in = C_in * kh * kw (9 for the conv, channels * 16 for the linear)"
NO_SHUFFLE = "no shuffling: draw order = torch.randperm(len(x), generator=generator) at every epoch"
LOSS_SUMMED = "loss summed over the batch, not averaged: F.cross_entropy's mean makes steps that do not grow with batch_size"
AFTER_RELU = "activations taken after ReLU: rank the conv's output before ReLU (negative ones too)"


def secret(name, low, high):
    """An int in [low, high]: fixed without a course secret, the student's own when graded."""
    salt = current_salt()
    return low + (salted_seed(salt, name) if salt else sum(map(ord, name))) % (high - low + 1)


def generator(seed):
    return torch.Generator().manual_seed(seed)


def digits():
    data = load_digits()
    return torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16, torch.tensor(data.target)


def jittered(x, seed):
    """x plus a little noise: no conv output exactly 0, where ReLU's gradient (and a max pool's tie) is a convention."""
    return x + 0.01 * torch.randn(x.shape, generator=generator(seed))


def tensors(parameters):
    assert type(parameters) is list and len(parameters) == 4, "parameters() returns a list of 4 tensors"
    return [getattr(p, "tensor", p) for p in parameters]


def forward(parameters, x):
    conv_w, conv_b, lin_w, lin_b = parameters
    pooled = F.max_pool2d(F.relu(F.conv2d(x, conv_w, conv_b, padding=1)), 2)
    return F.linear(pooled.reshape(len(x), -1), lin_w, lin_b)


def initial(channels, seed, fan="fan_in"):
    g = generator(seed)
    conv_w = torch.nn.init.kaiming_normal_(torch.empty(channels, 1, 3, 3), mode=fan, nonlinearity="relu", generator=g)
    lin_w = torch.nn.init.kaiming_normal_(torch.empty(10, channels * 16), mode=fan, nonlinearity="relu", generator=g)
    return [conv_w, torch.zeros(channels), lin_w, torch.zeros(10)]


def replay(parameters, x, y, epochs, lr, batch_size, seed, shuffle=True, reduction="mean"):
    """train in the grader's ops: the parameters after it."""
    params = [p.detach().clone().requires_grad_(True) for p in parameters]
    g = generator(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g) if shuffle else torch.arange(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            grads = torch.autograd.grad(F.cross_entropy(forward(params, x[batch]), y[batch], reduction=reduction), params)
            with torch.no_grad():
                for p, grad in zip(params, grads):
                    p -= lr * grad
    return [p.detach() for p in params]


class TestLoadDigitsSplit:
    @pytest.mark.points(3)
    def test_another_seed_is_a_stratified_partition(self, student):
        """another seed: every digit once, 20% of each class in the test part"""
        seed = secret("split", 10, 10**6)
        x_train, y_train, x_test, y_test = student.load_digits_split(seed)
        x, y = digits()
        assert tuple(x_train.shape) == (1437, 1, 8, 8) and tuple(x_test.shape) == (360, 1, 8, 8), "1,437 and 360 digits"
        key = lambda rows, labels: sorted(zip(map(tuple, rows.reshape(len(rows), -1).tolist()), labels.tolist()))
        assert key(torch.cat([x_train, x_test]), torch.cat([y_train, y_test])) == key(x, y), "every digit exactly once, with its label"
        counts = np.bincount(y_test.numpy(), minlength=10)
        assert all(abs(c - 0.2 * n) <= 1 for c, n in zip(counts, np.bincount(y.numpy()))), "20% of each class in the test part"

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a bool or string seed raises TypeError"""
        with error_cases(valid=lambda: tuple(student.load_digits_split(1)[1].shape), expected=(1437,)) as case:
            with case(TypeError, mentions="seed", case="a string seed"):
                student.load_digits_split("0")


class TestSmallCnn:
    @pytest.mark.points(6)
    def test_init_for_other_channels_and_seeds(self, student):
        """kaiming_normal_ (relu, fan_in), conv then linear, zero biases, for other channels and seeds"""
        channels, seed = secret("channels", 2, 24), secret("init", 0, 10**6)
        got = tensors(student.SmallCNN(channels, generator=generator(seed)).parameters())
        fan_out = initial(channels, seed, fan="fan_out")
        for i, expected in enumerate(initial(channels, seed)):
            assert_same(got[i], expected, rtol=1e-6, atol=1e-7, mistakes={FAN_OUT: fan_out[i]})

    @pytest.mark.points(4)
    def test_logits_on_random_images(self, student):
        """model(x) equals PyTorch's ops on random images of any batch size"""
        model = student.SmallCNN(secret("fchannels", 1, 12), generator=generator(secret("fseed", 0, 999)))
        x = randn(secret("batch", 1, 40), 1, 8, 8, seed=3)
        assert_same(model(x), forward(tensors(model.parameters()), x), rtol=1e-5, atol=1e-5)

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a bool or float channels raises TypeError"""
        with error_cases(valid=lambda: len(student.SmallCNN(2).parameters()), expected=4) as case:
            with case(TypeError, mentions="channels", case="a float number of channels"):
                student.SmallCNN(2.5)


class TestTrain:
    @pytest.mark.points(8)
    def test_sgd_with_other_settings(self, student):
        """other batch size, learning rate and seeds: the parameters equal the grader's replay"""
        x, y = digits()
        n, batch, lr = secret("n", 60, 140), secret("batch_size", 8, 50), secret("lr", 1, 9) / 100
        seed = secret("shuffle", 0, 10**6)
        x, y = jittered(x[-n:], secret("jitter", 0, 999)), y[-n:]
        model = student.SmallCNN(3, generator=generator(secret("tseed", 0, 999)))
        before = tensors(model.parameters())
        student.train(model, x, y, epochs=2, lr=lr, batch_size=batch, generator=generator(seed))
        expected = replay(before, x, y, 2, lr, batch, seed)
        variants = {NO_SHUFFLE: replay(before, x, y, 2, lr, batch, seed, shuffle=False),
                    LOSS_SUMMED: replay(before, x, y, 2, lr, batch, seed, reduction="sum")}
        for i, (got, want) in enumerate(zip(tensors(model.parameters()), expected)):
            assert_same(got, want, rtol=1e-4, atol=1e-5, mistakes={k: v[i] for k, v in variants.items()})

    @pytest.mark.points(3)
    @pytest.mark.category("properties")
    def test_deterministic_for_another_seed(self, student):
        """the same generator state gives bitwise-identical models, another gives another"""
        x, y = digits()
        seed = secret("det", 0, 10**6)
        runs = []
        for shuffle in (seed, seed, seed + 1):
            model = student.SmallCNN(3, generator=generator(7))
            student.train(model, x[:90], y[:90], epochs=1, batch_size=16, generator=generator(shuffle))
            runs.append(tensors(model.parameters()))
        assert all(torch.equal(a, b) for a, b in zip(runs[0], runs[1])), "the same generator state gave different models"
        assert not all(torch.equal(a, b) for a, b in zip(runs[0], runs[2])), "another generator state gave the same model: shuffle with it"

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a learning rate of 0 raises ValueError"""
        x, y = digits()
        with error_cases(valid=lambda: len(student.train(student.SmallCNN(2), x[:10], y[:10], epochs=2)), expected=2) as case:
            with case(ValueError, mentions="lr", case="lr = 0"):
                student.train(student.SmallCNN(2), x[:10], y[:10], lr=0.0)


class TestAccuracy:
    @pytest.mark.points(4)
    def test_random_labels(self, student):
        """accuracy on random labels equals the share that argmax hits"""
        model = student.SmallCNN(4, generator=generator(secret("aseed", 0, 999)))
        x = digits()[0][:200]
        y = torch.randint(0, 10, (200,), generator=generator(secret("labels", 0, 10**6)))
        expected = (forward(tensors(model.parameters()), x).argmax(1) == y).double().mean().item()
        assert_same(student.accuracy(model, x, y), expected, rtol=1e-9)


class TestFirstLayerFilters:
    @pytest.mark.points(3)
    def test_any_model(self, student):
        """the conv weight of a fresh model of other channels"""
        model = student.SmallCNN(secret("lchannels", 1, 20), generator=generator(secret("lseed", 0, 999)))
        assert_same(student.first_layer_filters(model), tensors(model.parameters())[0])


class TestTopActivatingPatches:
    @pytest.mark.points(8)
    def test_other_channels_and_k(self, student):
        """another channel, k and images: the k highest pre-ReLU activations and their zero-padded patches"""
        model = student.SmallCNN(6, generator=generator(secret("pseed", 0, 999)))
        channel, k = secret("channel", 0, 5), secret("k", 1, 20)
        images = digits()[0][secret("start", 0, 1700) :][:80]
        if secret("invert", 0, 1):
            images = -images
        parameters = tensors(model.parameters())
        patches, indices, positions = student.top_activating_patches(model, images, channel, k)
        act = F.conv2d(images, parameters[0][channel : channel + 1], parameters[1][channel : channel + 1], padding=1)[:, 0]
        expected = torch.sort(act.reshape(-1), descending=True, stable=True).values[:k]
        relu_top = torch.sort(act.clamp(min=0).reshape(-1), descending=True, stable=True).indices[:k]
        assert type(indices) is torch.Tensor and indices.dtype == torch.int64 and tuple(indices.shape) == (k,), "indices: (k,) int64"
        assert type(positions) is torch.Tensor and positions.dtype == torch.int64 and tuple(positions.shape) == (k, 2), "positions: (k, 2) int64"
        assert bool(((indices >= 0) & (indices < len(images))).all() and ((positions >= 0) & (positions < 8)).all()), "a position outside the images"
        assert_same(act[indices, positions[:, 0], positions[:, 1]], expected, rtol=1e-5, atol=1e-5,
                    mistakes={AFTER_RELU: act.reshape(-1)[relu_top]})
        padded = F.pad(images, (1, 1, 1, 1))
        assert_same(patches, torch.stack([padded[i, :, r : r + 3, c : c + 3] for i, (r, c) in zip(indices.tolist(), positions.tolist())]))

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a negative channel raises ValueError"""
        model = lambda: student.SmallCNN(2, generator=generator(0))  # made in each call: a SmallCNN that fails fails the valid call
        x = digits()[0][:2]
        with error_cases(valid=lambda: student.top_activating_patches(model(), x, 0, 1)[0].shape, expected=torch.Size([1, 1, 3, 3])) as case:
            with case(ValueError, mentions="channel", case="channel -1"):
                student.top_activating_patches(model(), x, -1)
