"""Visible checks for 10_capstone.

Run them with `pytest` in this folder, or `convgrade check 10_capstone`.
Your model stays where your code runs: `model = student.SmallCNN(...)` is a handle,
and `model(x)`, `model.parameters()` and `student.train(model, ...)` run your code.
Each check recomputes what your functions should give in the grader, with PyTorch's
own ops (`F.conv2d`, `F.max_pool2d`, `F.linear`, `torch.nn.init.kaiming_normal_`)
from your model's parameters, or works it out by hand below.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from autograder.compare import assert_same, error_cases
from autograder.inputs import randn

TRAIN_SECONDS = 60  # one call of train with the defaults: a vectorised model needs a few seconds on one core
FAN_OUT = "Kaiming with fan_out: std = sqrt(2 / fan_in), fan_in = C_in * kh * kw (9 for the conv, channels * 16 for the linear)"
NO_GAIN = "gain missing: Kaiming for ReLU multiplies 1 / sqrt(fan_in) by sqrt(2)"
BIAS_NOT_ZERO = "biases not zero: both biases start at zero"
FLATTEN_ORDER = "features flattened (row, column, channel): flatten (N, C, 4, 4) as it is, reshape(N, -1)"
NO_SHUFFLE = "no shuffling: draw order = torch.randperm(len(x), generator=generator) at every epoch"
LOSS_SUMMED = "loss summed over the batch, not averaged: F.cross_entropy's mean makes steps that do not grow with batch_size"
BATCH_MEAN = "epoch loss as the mean of the batch losses: weigh each batch's loss by its size, then divide by len(x)"
AFTER_RELU = "activations taken after ReLU: rank the conv's output before ReLU (negative ones too)"
UNPADDED = "patches from the unpadded image: pad the images with one pixel of zeros; position (row, col) is padded[row:row+3, col:col+3]"


def generator(seed):
    """A fresh generator in a known state."""
    return torch.Generator().manual_seed(seed)


def digits():
    """All 1,797 digits as the contract says: x (N, 1, 8, 8) float32 in [0, 1], y (N,) int64."""
    data = load_digits()
    return torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16, torch.tensor(data.target)


def jittered(x, seed=9):
    """x plus a little noise (std 0.01), so that no conv output is exactly 0, as it is on every blank patch of a digit.

    At exactly 0 the gradient is a convention: torch.relu's is 0, clamp(min=0)'s is 1, and which of a max pool's tied
    values gets it varies too. A replay that must agree with the student's training to 1e-4 hinges on neither.
    """
    return x + 0.01 * torch.randn(x.shape, generator=generator(seed))


def tensors(parameters):
    """The model's parameters as plain float32 tensors, checked: a list of four tensors."""
    assert type(parameters) is list and len(parameters) == 4, "parameters() returns a list of 4 tensors: [conv weight, conv bias, linear weight, linear bias]"
    plain = [getattr(p, "tensor", p) for p in parameters]  # a tensor subclass (nn.Parameter) crosses as a Foreign with its data
    assert all(isinstance(p, torch.Tensor) for p in plain), "parameters() returns tensors"
    return plain


def forward(parameters, x, flatten="chw"):
    """The network, in PyTorch's own ops, from the model's parameters."""
    conv_w, conv_b, lin_w, lin_b = parameters
    pooled = F.max_pool2d(F.relu(F.conv2d(x, conv_w, conv_b, padding=1)), 2)
    if flatten == "hwc":
        pooled = pooled.permute(0, 2, 3, 1)
    return F.linear(pooled.reshape(len(x), -1), lin_w, lin_b)


def initial(channels, seed, fan="fan_in", gain="relu", init=torch.nn.init.kaiming_normal_):
    """What SmallCNN(channels, generator(seed)) holds: conv weight then linear weight from one generator."""
    g = generator(seed)
    conv_w = init(torch.empty(channels, 1, 3, 3), mode=fan, nonlinearity=gain, generator=g)
    lin_w = init(torch.empty(10, channels * 16), mode=fan, nonlinearity=gain, generator=g)
    return [conv_w, torch.zeros(channels), lin_w, torch.zeros(10)]


def replay(parameters, x, y, epochs, lr, batch_size, seed, shuffle=True, reduction="mean", epoch_loss="samples"):
    """train, in the grader: (losses, parameters after), from the same parameters and generator state."""
    params = [p.detach().clone().requires_grad_(True) for p in parameters]
    g, losses = generator(seed), []
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g) if shuffle else torch.arange(len(x))
        batch_losses = []
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            loss = F.cross_entropy(forward(params, x[batch]), y[batch], reduction=reduction)
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, grad in zip(params, grads):
                    p -= lr * grad
            mean = loss.item() / len(batch) if reduction == "sum" else loss.item()
            batch_losses.append((mean, len(batch)))
        if epoch_loss == "samples":
            losses.append(sum(m * n for m, n in batch_losses) / len(x))
        else:
            losses.append(sum(m for m, _ in batch_losses) / len(batch_losses))
    return losses, [p.detach() for p in params]


def once(make):
    """A function that returns what `make()` returns, calling it the first time only; a failure is not kept.

    The checks that share a trained model call it, so that a failure (a stub, a timeout) is each check's own,
    explained as such (a function that timed out fails at once the next time).
    """
    kept = []

    def get():
        if not kept:
            kept.append(make())
        return kept[0]

    return get


@pytest.fixture(scope="module")
def trained(student):
    """The student's SmallCNN trained once with the defaults and fixed seeds: (model, losses, x_test, y_test)."""

    def train_fully():
        x_train, y_train, x_test, y_test = split_by_hand()
        model = student.SmallCNN(generator=generator(0))
        with student.time_limit(TRAIN_SECONDS):
            losses = student.train(model, x_train, y_train, generator=generator(1))
        return model, losses, x_test, y_test

    return once(train_fully)


@pytest.fixture(scope="module")
def briefly_trained(student):
    """The student's SmallCNN after 2 epochs on 300 training digits: (model, x_test, y_test).

    Its weights have moved from their start in a fraction of a second: what a trained model gives (accuracy,
    filters, top patches) is checked on it, and only the 95% check pays for the full training.
    """

    def train_briefly():
        x_train, y_train, x_test, y_test = split_by_hand()
        model = student.SmallCNN(generator=generator(0))
        student.train(model, x_train[:300], y_train[:300], epochs=2, generator=generator(1))
        return model, x_test, y_test

    return once(train_briefly)


def split_by_hand():
    """The grader's own 80/20 stratified split (seed 0), so that train's checks do not depend on load_digits_split."""
    from sklearn.model_selection import train_test_split

    x, y = digits()
    train_idx, test_idx = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y.numpy(), random_state=0)
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


class TestLoadDigitsSplit:
    @pytest.mark.points(2)
    @pytest.mark.category("shapes")
    def test_sizes_and_dtypes(self, student):
        """1,437 training and 360 test digits, (N, 1, 8, 8) float32 and (N,) int64"""
        x_train, y_train, x_test, y_test = student.load_digits_split(0)
        for got, shape, dtype in [(x_train, (1437, 1, 8, 8), torch.float32), (y_train, (1437,), torch.int64),
                                  (x_test, (360, 1, 8, 8), torch.float32), (y_test, (360,), torch.int64)]:  # fmt: skip
            assert type(got) is torch.Tensor and tuple(got.shape) == shape and got.dtype == dtype, (
                f"expected a {dtype} tensor of shape {shape}, got {getattr(got, 'dtype', type(got).__name__)} {tuple(getattr(got, 'shape', ()))}"
            )

    @pytest.mark.points(4)
    def test_a_stratified_partition_of_the_digits_scaled_to_0_1(self, student):
        """every digit once, values /16, each class 20% in the test part (within one image)"""
        x_train, y_train, x_test, y_test = student.load_digits_split(0)
        x, y = digits()
        assert float(x_train.max()) == 1.0 and float(x_train.min()) == 0.0, "scale the pixels (0..16) to [0, 1]: divide by 16"
        together = torch.cat([x_train, x_test]).reshape(len(x), -1)
        key = lambda rows, labels: sorted(zip(map(tuple, rows.tolist()), labels.tolist()))
        assert key(together, torch.cat([y_train, y_test])) == key(x.reshape(len(x), -1), y), (
            "the two parts together must hold every digit of load_digits() exactly once, each with its own label"
        )
        for digit in range(10):
            share = 0.2 * int((y == digit).sum())
            assert abs(int((y_test == digit).sum()) - share) <= 1, f"digit {digit}: the test part holds 20% of each class (stratify=labels)"

    @pytest.mark.points(2)
    @pytest.mark.category("properties")
    def test_the_seed_decides_the_split(self, student):
        """the same seed gives the same split, another seed another"""
        first, again, other = student.load_digits_split(3), student.load_digits_split(3), student.load_digits_split(4)
        assert all(torch.equal(a, b) for a, b in zip(first, again)), "the same seed must give the same split"
        assert not torch.equal(first[3], other[3]) or not torch.equal(first[2], other[2]), "another seed must give another split"

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a seed that is not an int raises TypeError"""
        with error_cases(valid=lambda: student.load_digits_split(0)[3].shape, expected=torch.Size([360])) as case:
            with case(TypeError, mentions="seed", case="a float seed"):
                student.load_digits_split(0.5)


class TestSmallCnn:
    @pytest.mark.points(2)
    @pytest.mark.category("shapes")
    def test_parameter_shapes(self, student):
        """parameters(): conv (16, 1, 3, 3), (16,), linear (10, 256), (10,); logits (N, 10)"""
        model = student.SmallCNN(generator=generator(0))
        shapes = [tuple(p.shape) for p in tensors(model.parameters())]
        assert shapes == [(16, 1, 3, 3), (16,), (10, 256), (10,)], f"parameter shapes {shapes}"
        logits = model(randn(5, 1, 8, 8))
        assert type(logits) is torch.Tensor and tuple(logits.shape) == (5, 10) and logits.dtype == torch.float32

    @pytest.mark.points(4)
    def test_kaiming_normal_init_from_the_generator(self, student):
        """conv then linear weight, kaiming_normal_ (relu, fan_in) from the generator; zero biases"""
        for channels, seed in [(16, 0), (6, 7)]:
            got = tensors(student.SmallCNN(channels, generator=generator(seed)).parameters())
            expected = initial(channels, seed)
            found = {FAN_OUT: initial(channels, seed, fan="fan_out"), NO_GAIN: initial(channels, seed, gain="linear")}
            for i, name in enumerate(["conv weight", "conv bias", "linear weight", "linear bias"]):
                if i % 2 and got[i].shape == expected[i].shape and bool(got[i].ne(0).any()):
                    raise AssertionError(f"{name}: {BIAS_NOT_ZERO}")
                assert_same(got[i], expected[i], rtol=1e-6, atol=1e-7, mistakes={k: v[i] for k, v in found.items()})

    @pytest.mark.points(4)
    def test_logits_equal_pytorchs_ops_on_the_same_parameters(self, student):
        """model(x) equals F.conv2d(padding=1), ReLU, F.max_pool2d(2), flatten, F.linear with its parameters"""
        model = student.SmallCNN(8, generator=generator(2))
        x, _ = digits()
        got = model(x[:50])
        parameters = tensors(model.parameters())
        assert_same(got, forward(parameters, x[:50]), rtol=1e-5, atol=1e-5,
                    mistakes={FLATTEN_ORDER: forward(parameters, x[:50], flatten="hwc")})

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """bad channels or generator raise ValueError / TypeError naming them"""
        with error_cases(valid=lambda: len(student.SmallCNN(3, generator=generator(0)).parameters()), expected=4) as case:
            with case(ValueError, mentions="channels", case="no channels"):
                student.SmallCNN(0)
            with case(TypeError, mentions="generator", case="a seed for a generator"):
                student.SmallCNN(4, generator=3)


class TestTrain:
    @pytest.mark.points(6)
    def test_sgd_steps_equal_pytorchs_from_the_same_state(self, student):
        """losses and parameters after 2 epochs equal the grader's replay (randperm, mean loss, p -= lr * grad)"""
        x, y = digits()
        x, y = jittered(x[:150]), y[:150]  # 150 = 2 * 64 + 22: the last batch is smaller
        model = student.SmallCNN(4, generator=generator(5))
        before = tensors(model.parameters())
        losses = student.train(model, x, y, epochs=2, lr=0.05, batch_size=64, generator=generator(6))
        expected_losses, expected = replay(before, x, y, 2, 0.05, 64, 6)
        variants = {
            NO_SHUFFLE: replay(before, x, y, 2, 0.05, 64, 6, shuffle=False),
            LOSS_SUMMED: replay(before, x, y, 2, 0.05, 64, 6, reduction="sum"),
            BATCH_MEAN: replay(before, x, y, 2, 0.05, 64, 6, epoch_loss="batches"),
        }
        assert type(losses) is list and len(losses) == 2, f"train returns a list of one float per epoch, got {losses!r:.80}"
        assert_same(torch.tensor(losses, dtype=torch.float64), torch.tensor(expected_losses, dtype=torch.float64), rtol=1e-4,
                    mistakes={k: torch.tensor(v[0], dtype=torch.float64) for k, v in variants.items()})
        after = tensors(model.parameters())
        for i in range(4):
            assert_same(after[i], expected[i], rtol=1e-4, atol=1e-5, mistakes={k: v[1][i] for k, v in variants.items()})

    @pytest.mark.points(3)
    @pytest.mark.category("properties")
    def test_the_same_generator_state_gives_the_same_model_bitwise(self, student):
        """two trainings from the same seeds give bitwise-identical parameters"""
        x, y = digits()
        models = []
        for _ in range(2):
            model = student.SmallCNN(4, generator=generator(1))
            student.train(model, x[:100], y[:100], epochs=2, batch_size=32, generator=generator(2))
            models.append(tensors(model.parameters()))
        assert all(torch.equal(a, b) for a, b in zip(*models)), (
            "the same generator state gave different models: draw every random number from `generator` (torch.randperm(n, generator=generator))"
        )

    @pytest.mark.points(8)
    def test_the_trained_model_reaches_95_percent_on_the_test_digits(self, student, trained):
        """40 epochs with the defaults (fixed seeds) reach at least 95% test accuracy, the loss falling, within 60 s"""
        model, losses, x_test, y_test = trained()
        assert type(losses) is list and len(losses) == 40, "train returns one loss per epoch (40 with the defaults)"
        assert losses[-1] < losses[0] / 5, f"the loss hardly fell: {losses[0]:.3f} -> {losses[-1]:.3f}"
        logits = forward(tensors(model.parameters()), x_test)
        right = (logits.argmax(1) == y_test).double().mean().item()
        assert right >= 0.95, f"test accuracy {right:.1%}, below 95% (a correct model reaches about 97% with these seeds)"

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a bad batch size or labels of another length raise ValueError"""
        x, y = digits()
        with error_cases(valid=lambda: len(student.train(student.SmallCNN(2, generator=generator(0)), x[:20], y[:20], epochs=1)), expected=1) as case:
            with case(ValueError, mentions="batch_size", case="an empty batch"):
                student.train(student.SmallCNN(2), x[:20], y[:20], batch_size=0)
            with case(ValueError, mentions="y", case="labels of another length"):
                student.train(student.SmallCNN(2), x[:20], y[:10])


class TestAccuracy:
    @pytest.mark.points(2)
    def test_the_fraction_of_right_answers(self, student, briefly_trained):
        """accuracy equals the share of argmax(model(x)) == y"""
        model, x_test, y_test = briefly_trained()
        expected = (forward(tensors(model.parameters()), x_test).argmax(1) == y_test).double().mean().item()
        assert_same(student.accuracy(model, x_test, y_test), expected, rtol=1e-9)

    @pytest.mark.points(2)
    @pytest.mark.category("edge")
    def test_worked_by_hand_on_flipped_labels(self, student):
        """an untrained model against its own answers: 1.0; against other labels: 0.0; half of each: 0.5"""
        model = student.SmallCNN(3, generator=generator(4))
        x, _ = digits()
        answers = forward(tensors(model.parameters()), x[:40]).argmax(1)
        assert_same(student.accuracy(model, x[:40], answers), 1.0)
        assert_same(student.accuracy(model, x[:40], (answers + 1) % 10), 0.0)
        assert_same(student.accuracy(model, x[:40], torch.cat([answers[:20], (answers[20:] + 1) % 10])), 0.5)


class TestFirstLayerFilters:
    @pytest.mark.points(4)
    def test_the_trained_conv_weight(self, student, briefly_trained):
        """the 16 first-layer kernels (16, 1, 3, 3): the conv weight after training, not the initial one"""
        model = briefly_trained()[0]
        assert_same(student.first_layer_filters(model), tensors(model.parameters())[0])

    @pytest.mark.points(1)
    @pytest.mark.category("edge")
    def test_a_copy(self, student):
        """changing the filters returned does not change the model"""
        model = student.SmallCNN(2, generator=generator(0))
        before = tensors(model.parameters())[0]
        student.first_layer_filters(model)
        assert_same(tensors(model.parameters())[0], before)


def activations(parameters, images, channel):
    """The first layer's pre-ReLU output for `channel`, (N, 8, 8), in PyTorch's ops."""
    return F.conv2d(images, parameters[0][channel : channel + 1], parameters[1][channel : channel + 1], padding=1)[:, 0]


def check_patches(student, model, images, channel, k):
    """top_activating_patches against the grader's top-k activations; any order among equal activations passes."""
    parameters = tensors(model.parameters())
    patches, indices, positions = student.top_activating_patches(model, images, channel, k)
    assert_same(indices, torch.zeros(k, dtype=torch.int64)) if type(indices) is not torch.Tensor or indices.dtype != torch.int64 or indices.shape != (k,) else None
    assert_same(positions, torch.zeros(k, 2, dtype=torch.int64)) if type(positions) is not torch.Tensor or positions.dtype != torch.int64 or positions.shape != (k, 2) else None
    act = activations(parameters, images, channel)
    ranked = torch.sort(act.reshape(-1), descending=True, stable=True).indices[:k]
    expected = act.reshape(-1)[ranked]
    n, h, _ = act.shape
    assert bool(((indices >= 0) & (indices < n)).all() and ((positions >= 0) & (positions < h)).all()), "an index or position is outside the images"
    at = act[indices, positions[:, 0], positions[:, 1]]
    relu_top = torch.sort(act.clamp(min=0).reshape(-1), descending=True, stable=True).indices[:k]
    valid = F.conv2d(images, parameters[0][channel : channel + 1], parameters[1][channel : channel + 1])[:, 0]  # unpadded: (N, 6, 6)
    unpadded_top = torch.sort(valid.reshape(-1), descending=True, stable=True).indices[:k]
    u_idx, u_r, u_c = unpadded_top // 36, unpadded_top % 36 // 6, unpadded_top % 6
    assert_same(at, expected, rtol=1e-5, atol=1e-5, mistakes={AFTER_RELU: act.reshape(-1)[relu_top], UNPADDED: act[u_idx, u_r, u_c]})
    padded = F.pad(images, (1, 1, 1, 1))
    expected_patches = torch.stack([padded[i, :, r : r + 3, c : c + 3] for i, (r, c) in zip(indices.tolist(), positions.tolist())])
    shifted = torch.stack([images[i, :, r : r + 3, c : c + 3] for i, (r, c) in zip(indices.tolist(), positions.clamp(max=5).tolist())])
    assert_same(patches, expected_patches, mistakes={UNPADDED: shifted})


class TestTopActivatingPatches:
    @pytest.mark.points(5)
    def test_the_top_9_of_each_trained_filter(self, student, briefly_trained):
        """for 3 filters of a trained model: the 9 patches of the highest pre-ReLU activations, highest first"""
        model, x_test, _ = briefly_trained()
        for channel in (0, 7, 15):
            check_patches(student, model, x_test, channel, 9)

    @pytest.mark.points(2)
    @pytest.mark.category("edge")
    def test_negative_activations_count(self, student):
        """on inverted digits few activations are positive: the top k, 5 more than those, rank negative ones before ReLU"""
        model = student.SmallCNN(4, generator=generator(3))
        images = -(digits()[0][:30] + 0.05)  # inverted digits on a gray ground: every pixel below 0, no blank patch
        positives = int((activations(tensors(model.parameters()), images, 1) > 0).sum())  # 25 of 1,920
        check_patches(student, model, images, 1, positives + 5)  # after ReLU, the last 5 would all be 0

    @pytest.mark.points(1)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a channel the model lacks, or k = 0, raise ValueError"""
        model = lambda: student.SmallCNN(2, generator=generator(0))  # made in each call: a SmallCNN that fails fails the valid call
        x = digits()[0][:3]
        with error_cases(valid=lambda: student.top_activating_patches(model(), x, 1, 2)[1].shape, expected=torch.Size([2])) as case:
            with case(ValueError, mentions="channel", case="channel 2 of 2"):
                student.top_activating_patches(model(), x, 2)
            with case(ValueError, mentions="k", case="k = 0"):
                student.top_activating_patches(model(), x, 0, k=0)
