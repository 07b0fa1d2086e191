"""assert_same and expect_error: what passes, what fails, and what the student reads."""

from __future__ import annotations

import math

import pytest
import torch

from autograder import mistakes
from autograder.compare import assert_same, expect_error
from autograder.student import CheckFailure, begin_check


@pytest.fixture(autouse=True)
def _no_recorded_calls():
    begin_check()


def failure(got, expected, **kwargs) -> str:
    with pytest.raises(CheckFailure) as caught:
        assert_same(got, expected, **kwargs)
    return str(caught.value)


def test_equal_tensors_pass_and_small_float_noise_is_tolerated():
    x = torch.linspace(-3, 3, 50)
    assert_same(x.clone(), x)
    assert_same(x + 1e-7, x)
    assert_same(x.double() + 1e-13, x.double())


class LyingTensor(torch.Tensor):
    def __eq__(self, other):  # noqa: D105
        return True


class AlwaysEqual:
    def __eq__(self, other):  # noqa: D105
        return True

    __hash__ = object.__hash__


class LyingFloat(float):
    def __abs__(self):  # noqa: D105
        return 0.0

    def __lt__(self, other):  # noqa: D105
        return True


def test_the_exact_type_is_checked_before_anything_else():
    expected = torch.zeros(3)
    assert "subclass of torch.Tensor" in failure(torch.ones(3).as_subclass(LyingTensor), expected)
    assert failure(AlwaysEqual(), expected).startswith("returned a ")
    assert "expected a torch.Tensor" in failure([0.0, 0.0, 0.0], expected)
    assert "expected a float" in failure(LyingFloat(5.0), 1.0)
    assert "expected an int" in failure(True, 1)
    assert "expected an int" in failure(3.0, 3)
    assert "expected a tuple" in failure(AlwaysEqual(), (1, 2))


def test_shape_then_dtype_are_reported_before_values():
    expected = torch.zeros(2, 3)
    assert failure(torch.zeros(2, 4), expected).startswith("wrong shape: expected (2, 3), got (2, 4)")
    message = failure(torch.zeros(2, 3, dtype=torch.float64), expected)
    assert message.startswith("wrong dtype: expected float32, got float64")


def test_wrong_values_say_how_many_where_and_by_how_much():
    expected = torch.zeros(2, 3, 4)
    got = expected.clone()
    got[1, 2, 3] = 2.5
    got[0, 1, 0] = -1.0
    message = failure(got, expected)
    headline = message.splitlines()[0]
    assert headline == "wrong values: 2 of 24 elements differ, the largest by 2.5 at [1, 2, 3]"
    assert "[0, 1, 0]: 0 vs -1" in message
    assert "[1, 2, 3]: 0 vs 2.5" in message
    assert "got values" not in message, "a 24-element 3-d tensor is not printed whole"


def test_a_small_tensor_is_shown_whole():
    message = failure(torch.tensor([[2.0, 1.0, 1.0, 2.0]]), torch.tensor([[3.0, 2.0, 1.0, 2.0]]))
    assert "expected values: [[3, 2, 1, 2]]" in message
    assert "got values:      [[2, 1, 1, 2]]" in message


def test_nan_is_never_equal():
    got = torch.tensor([1.0, float("nan")])
    assert failure(got, torch.tensor([1.0, 2.0])).startswith("wrong values: 1 of 2 elements differ (1 NaN)")


def test_a_known_mistake_is_named_in_the_reason_and_explained_below():
    x = torch.arange(12.0).reshape(3, 4)
    wrong = x.flip(-1)
    message = failure(wrong, x, mistakes={mistakes.FLIPPED_KERNEL: wrong})
    assert message.splitlines()[0].endswith("; likely flipped kernel")
    assert f"likely mistake: {mistakes.FLIPPED_KERNEL}" in message


def test_mistakes_given_as_a_function_are_worked_out_only_after_a_mismatch():
    x = torch.arange(12.0).reshape(3, 4)
    asked = []

    def known():
        asked.append(True)
        return {mistakes.FLIPPED_KERNEL: x.flip(-1)}

    assert_same(x.clone(), x, mistakes=known)
    assert asked == []
    assert failure(x.flip(-1), x, mistakes=known).splitlines()[0].endswith("; likely flipped kernel")
    assert asked == [True]


def test_automatic_diagnoses():
    x = torch.arange(12.0).reshape(3, 4) + 1
    assert "likely transposed output" in failure(x.T.contiguous(), x)
    square = torch.arange(9.0).reshape(3, 3)
    assert "likely transposed output" in failure(square.T.contiguous(), square)
    assert "likely sign flipped" in failure(-x, x)
    exact = torch.linspace(0, 1, 30, dtype=torch.float64) / 3
    assert "likely float32 arithmetic" in failure(exact.float().double(), exact)


def test_sequences_and_scalars():
    assert_same((1, 2, 3, 4), (1, 2, 3, 4))
    assert_same([1, 2], (1, 2))
    assert_same(torch.Size([1, 16, 8, 8]), (1, 16, 8, 8))
    assert failure((1, 2, 4, 3), (1, 2, 3, 4)).startswith("item 2: returned 4, expected 3")
    assert failure((1, 2), (1, 2, 3)).startswith("returned 2 items, expected 3")
    assert_same(math.sqrt(2.0), math.sqrt(2.0) * (1 + 1e-12))
    assert_same(2, 2.0)
    assert failure(1.5, math.sqrt(2.0)).startswith("returned 1.5, expected 1.41421")
    assert "likely off by one" in failure(6, 5, mistakes={mistakes.OFF_BY_ONE_HIGH: 6})


def test_expect_error_passes_on_the_right_error_naming_the_argument():
    with expect_error(ValueError, mentions="padding"):
        raise ValueError("padding must be non-negative, got -1")


def test_expect_error_fails_when_the_message_does_not_name_the_argument():
    with pytest.raises(CheckFailure, match="does not name `padding`"):
        with expect_error(ValueError, mentions="padding"):
            raise ValueError("bad value")


def test_expect_error_fails_when_nothing_is_raised():
    with pytest.raises(CheckFailure, match="expected ValueError naming `mode`, but it returned"):
        with expect_error(ValueError, mentions="mode"):
            pass


def test_expect_error_lets_not_implemented_through():
    with pytest.raises(NotImplementedError):
        with expect_error(ValueError):
            raise NotImplementedError("pad2d")


def test_zero_dimensional_tensors_are_described_and_rejected_where_a_float_is_due():
    from autograder import describe

    assert describe.value(torch.tensor(1.5)) == "float32[] 1.5"
    assert describe.value(torch.tensor([1.0, 2.0])) == "float32[2] [1, 2]"
    assert failure(torch.tensor(0.5), 0.5).startswith("returned a tensor float32[] 0.5, expected a float")


def test_float32_precision_is_named_only_beyond_float64_precision():
    expected = torch.linspace(0, 1, 50, dtype=torch.float64)
    last_bits = expected + 1e-16 * torch.arange(50, dtype=torch.float64)
    with pytest.raises(CheckFailure) as exact:
        assert_same(last_bits, expected, rtol=0, atol=0)
    assert "float32" not in str(exact.value), "a float64 result right to float64 precision is not float32 arithmetic"
    as_float32 = expected.float().double() + 1e-8
    with pytest.raises(CheckFailure) as caught:
        assert_same(as_float32, expected)
    assert "likely float32 arithmetic on float64 input" in str(caught.value)
