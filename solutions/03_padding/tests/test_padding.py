"""Visible checks for 03_padding.

Run them with `pytest` in this folder, or `convgrade check 03_padding`. Each
check compares your function with PyTorch's own (`F.pad`, `nn.Conv2d`) or with
a small case worked out by hand below.
"""

import pytest
import torch
import torch.nn.functional as F

from autograder import mistakes
from autograder.compare import assert_same, expect_error
from autograder.inputs import randn

TORCH_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def torch_pad(x, padding, mode):
    """F.pad in the given mode (F.pad needs a batch dimension for the non-constant modes)."""
    batched = x.reshape(-1, 1, *x.shape[-2:])
    padded = F.pad(batched, padding, mode=TORCH_MODE[mode])
    return padded.reshape(*x.shape[:-2], *padded.shape[-2:])


class TestPad2d:
    @pytest.mark.points(1)
    def test_zeros_by_hand(self, student):
        """zeros: a 2x2 image padded by 1 (worked by hand)"""
        x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
        expected = torch.tensor(
            [
                [0.0, 0.0, 0.0, 0.0],
                [0.0, 1.0, 2.0, 0.0],
                [0.0, 3.0, 4.0, 0.0],
                [0.0, 0.0, 0.0, 0.0],
            ]
        )
        assert_same(student.pad2d(x, 1), expected)

    @pytest.mark.points(1)
    def test_reflect_by_hand(self, student):
        """reflect: [1 2 3 4] padded by 2 on each side is [3 2 1 2 3 4 3 2]"""
        x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
        expected = torch.tensor([[3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]])
        got = student.pad2d(x, (2, 2, 0, 0), mode="reflect")
        assert_same(got, expected, mistakes={mistakes.SYMMETRIC_NOT_REFLECT: mistakes.symmetric_pad(x, (2, 2, 0, 0))})

    @pytest.mark.points(2)
    @pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
    def test_matches_F_pad(self, student, mode):
        """equals F.pad on a batch with different padding on each side"""
        x = randn(2, 3, 5, 7)
        padding = (1, 2, 3, 0)
        wrong = {
            mistakes.SIDES_SWAPPED: torch_pad(x, (3, 0, 1, 2), mode),
            mistakes.SYMMETRIC_NOT_REFLECT: mistakes.symmetric_pad(x, padding),
            mistakes.REPLICATE_NOT_REFLECT: torch_pad(x, padding, "replicate"),
        }
        if mode != "reflect":
            del wrong[mistakes.SYMMETRIC_NOT_REFLECT], wrong[mistakes.REPLICATE_NOT_REFLECT]
        assert_same(student.pad2d(x, padding, mode=mode), torch_pad(x, padding, mode), mistakes=wrong)

    @pytest.mark.points(1)
    def test_value_fills_the_border(self, student):
        """zeros mode fills the border with `value`"""
        x = randn(1, 3, 4)
        got = student.pad2d(x, 2, value=-1.5)
        assert_same(got, F.pad(x, (2, 2, 2, 2), value=-1.5), mistakes={mistakes.VALUE_IGNORED: F.pad(x, (2, 2, 2, 2))})

    @pytest.mark.points(1)
    def test_negative_padding_is_an_error(self, student):
        """negative padding raises ValueError naming `padding`"""
        with expect_error(ValueError, mentions="padding"):
            student.pad2d(randn(4, 4), (1, -1, 0, 0))

    @pytest.mark.points(1)
    def test_reflect_as_large_as_the_image_is_an_error(self, student):
        """reflect padding >= the image size raises ValueError"""
        with expect_error(ValueError):
            student.pad2d(randn(3, 3), 3, mode="reflect")


class TestSamePadding:
    @pytest.mark.points(1)
    @pytest.mark.parametrize(
        "kernel_size, expected",
        [(3, (1, 1, 1, 1)), (1, (0, 0, 0, 0)), (4, (1, 2, 1, 2)), ((3, 5), (2, 2, 1, 1))],
    )
    def test_by_hand(self, student, kernel_size, expected):
        """(left, right, top, bottom) that keeps the size; an even kernel's extra pixel goes right/bottom"""
        assert_same(student.same_padding(kernel_size), expected)


class TestConv2dSame:
    @pytest.mark.points(2)
    @pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
    def test_matches_nn_conv2d_same(self, student, mode):
        """equals nn.Conv2d(padding="same", padding_mode=mode) with the same weights"""
        conv = torch.nn.Conv2d(3, 4, 3, padding="same", padding_mode=mode)
        with torch.no_grad():
            conv.weight.copy_(randn(4, 3, 3, 3, seed=1))
            conv.bias.copy_(randn(4, seed=2))
        x = randn(2, 3, 6, 5)
        with torch.no_grad():
            expected = conv(x)
        got = student.conv2d_same(x, conv.weight.detach(), conv.bias.detach(), mode=mode)
        flipped = conv.weight.detach().flip(-1, -2)
        assert_same(got, expected, mistakes={
            mistakes.FLIPPED_KERNEL: F.conv2d(torch_pad(x, (1, 1, 1, 1), mode), flipped, conv.bias.detach()),
            mistakes.MISSING_BIAS: F.conv2d(torch_pad(x, (1, 1, 1, 1), mode), conv.weight.detach()),
        })
