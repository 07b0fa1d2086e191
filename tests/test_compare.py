"""assert_same, expect_error and error_cases: what passes, what fails, and what the student reads."""

from __future__ import annotations

import math
import textwrap

import pytest
import torch

from autograder import mistakes
from autograder.assignment import Assignment
from autograder.compare import assert_same, error_cases, expect_error
from autograder.student import CheckFailure, PartialCredit, Student, begin_check

VALIDATES = textwrap.dedent(
    """
    import torch

    def double(x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a tensor, got {type(x).__name__}")
        if x.dim() != 1:
            raise ValueError("x must be 1-d")
        return 2 * x

    def always_raises(x):
        raise ValueError("bad input")

    def always_raises_type_error(x):
        raise TypeError("bad input")

    def validates_but_returns_x(x):
        if not isinstance(x, torch.Tensor):
            raise TypeError("x must be a tensor")
        return x

    def stub(x):
        raise NotImplementedError
    """
)


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


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Student:
    """A module run in this process: one function that validates and works, others that raise for everything."""
    folder = tmp_path_factory.mktemp("01_errors")
    (folder / "assignment.toml").write_text('title = "Errors"\nmodule = "errors"\n')
    (folder / "errors.py").write_text(VALIDATES)
    return Student(Assignment.load(folder), folder)


X = torch.arange(4.0)


def test_expect_error_passes_on_the_right_error_naming_the_argument(student):
    with expect_error(ValueError, mentions="x", valid=lambda: student.double(X), expected=2 * X):
        student.double(torch.ones(2, 2))


def test_expect_error_fails_when_the_message_does_not_name_the_argument(student):
    with pytest.raises(CheckFailure, match="does not name `padding`"):
        with expect_error(ValueError, mentions="padding", valid=lambda: student.double(X), expected=2 * X):
            student.double(torch.ones(2, 2))


def test_expect_error_fails_when_nothing_is_raised(student):
    with pytest.raises(CheckFailure, match="expected ValueError naming `mode`, but it returned"):
        with expect_error(ValueError, mentions="mode", valid=lambda: student.double(X), expected=2 * X):
            student.double(X)


def test_expect_error_lets_not_implemented_through(student):
    with pytest.raises(NotImplementedError):
        with expect_error(ValueError, valid=lambda: student.stub(X), expected=X):
            pass


def test_error_cases_pass_for_a_function_that_works_and_validates(student):
    with error_cases(valid=lambda: student.double(X), expected=2 * X) as case:
        with case(TypeError, mentions="x", case="a list"):
            student.double([1.0])
        with case(ValueError, mentions="x", case="a 2-d x"):
            student.double(torch.ones(2, 2))
    assert case.passed == ["a list", "a 2-d x"]


@pytest.mark.parametrize("function, error", [("always_raises", ValueError), ("always_raises_type_error", TypeError)])
def test_an_always_raising_function_earns_nothing_for_raising(student, function, error):
    """Its error cases would all pass; the valid call fails first, so the check earns no partial credit and runs no case."""
    ran = []
    with pytest.raises(CheckFailure) as caught:
        with error_cases(valid=lambda: getattr(student, function)(X), expected=2 * X) as case:
            ran.append("cases")
            with case(error, case="a list"):
                getattr(student, function)([1.0])
    failure = caught.value
    assert not isinstance(failure, PartialCredit) and failure.partial == 0.0
    assert failure.reason == f"raises for valid input too: {function}(x=float32[4]) raised {error.__name__}"
    assert "message: bad input" in str(failure) and "error cases earn points only when the function also works" in str(failure)
    assert ran == []
    with pytest.raises(CheckFailure, match="raises for valid input too"):
        with expect_error(error, valid=lambda: getattr(student, function)(X), expected=2 * X):
            getattr(student, function)([1.0])


def test_a_wrong_result_on_the_valid_call_earns_nothing(student):
    with pytest.raises(CheckFailure) as caught:
        with error_cases(valid=lambda: student.validates_but_returns_x(X), expected=2 * X) as case:
            with case(TypeError, case="a list"):
                student.validates_but_returns_x([1.0])
    assert caught.value.reason.startswith("wrong result for valid input: wrong values: 3 of 4 elements differ")
    assert "  call:     validates_but_returns_x(x=float32[4]" in str(caught.value)


def test_the_valid_call_is_required_and_must_call_the_student(student):
    with pytest.raises(TypeError, match="valid"):
        with error_cases():  # type: ignore[call-arg]
            pass
    with pytest.raises(TypeError, match="must call the student's function"):
        with error_cases(valid=lambda: 2 * X, expected=2 * X):
            pass
    with pytest.raises(NotImplementedError):  # a stub says "not implemented yet", not "raises for valid input"
        with error_cases(valid=lambda: student.stub(X), expected=X):
            pass


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
