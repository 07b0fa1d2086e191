"""The student proxy: forbidden calls, in-place changes, time limits, import failures."""

from __future__ import annotations

import textwrap
import time

import pytest
import torch
import torch.nn.functional as F

from autograder.assignment import Assignment
from autograder.student import CheckFailure, Student, begin_check, student_call_of

MODULE = textwrap.dedent(
    """
    import sys
    import numpy
    import torch
    import torch.nn.functional as F
    from numpy import pad as renamed_pad
    from torch.nn.init import kaiming_uniform_ as renamed_init

    def honest(x):
        return torch.cat([x, x], dim=-1) * 2

    def by_unfold(x, w):
        cols = x.unfold(2, w.shape[2], 1).unfold(3, w.shape[3], 1)
        return torch.einsum("nchwij,ocij->nohw", cols, w)

    def calls_F_conv2d(x, w):
        return F.conv2d(x, w)

    def calls_torch_conv2d(x, w):
        return torch.conv2d(x, w)

    def calls_aten(x, w):
        return torch.ops.aten.convolution(x, w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1)

    def calls_module(x, w):
        conv = torch.nn.Conv2d(w.shape[1], w.shape[0], w.shape[2:], bias=False)
        conv.weight.data = w
        return conv(x)

    def hides_the_call(x, w):
        try:
            F.conv2d(x, w[:, :1])   # fails: channel mismatch, after the call was made
        except Exception:
            pass
        return by_unfold(x, w)

    def circular(x):
        return F.pad(x, (1, 1, 1, 1), mode="circular")

    def numpy_pad(x):
        return torch.from_numpy(renamed_pad(x.numpy(), 1))

    def init(w):
        return renamed_init(w.clone())

    def modifies(x):
        x[0] = 100.0
        return x * 1

    def fill_(t, value):
        t.fill_(value)
        return t

    def stubbed(x):
        raise NotImplementedError("stubbed")

    def crashes(x):
        return x[10]

    def loops_forever(x):
        while True:
            pass

    def swallows_everything(x):
        while True:
            try:
                while True:
                    pass
            except Exception:
                pass

    def exits(x):
        sys.exit(0)

    def switches_off_the_profiler(x):
        sys.setprofile(None)
        return numpy.pad(x.numpy(), 1)
    """
)


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Student:
    folder = tmp_path_factory.mktemp("01_trial")
    (folder / "assignment.toml").write_text(
        'title = "Trial"\nmodule = "trial"\nforbidden = ["convolution", "padding", "nn.init"]\n'
    )
    (folder / "trial.py").write_text(MODULE)
    return Student(Assignment.load(folder), folder, call_timeout=0.5)


@pytest.fixture(autouse=True)
def _fresh_log():
    begin_check()


X = torch.arange(2 * 3 * 5 * 4, dtype=torch.float32).reshape(2, 3, 5, 4) / 10
W = torch.linspace(-1, 1, 4 * 3 * 2 * 2).reshape(4, 3, 2, 2)


def test_an_honest_function_runs_and_returns_its_result(student):
    assert torch.equal(student.honest(X), torch.cat([X, X], dim=-1) * 2)
    assert torch.allclose(student.by_unfold(X, W), F.conv2d(X, W), atol=1e-5)


@pytest.mark.parametrize("function", ["calls_F_conv2d", "calls_torch_conv2d", "calls_aten", "calls_module", "hides_the_call"])
def test_every_route_to_a_convolution_is_caught(student, function):
    with pytest.raises(CheckFailure) as caught:
        getattr(student, function)(X, W)
    if function == "calls_module":  # what the student wrote is named
        assert str(caught.value).startswith("`nn.Conv2d` is not allowed in this exercise (it does the work of `F.conv2d`)")
    else:
        assert "`F.conv2d` is not allowed in this exercise: implement it yourself (caught `aten.convolution`)" in str(caught.value)
    assert str(caught.value).count("`F.conv2d`") == 1, "one message per rule broken, not one per route it took"
    assert f"call: {function}(x=float32[2, 3, 5, 4], w=float32[4, 3, 2, 2])" in str(caught.value)


@pytest.mark.parametrize(
    "function, argument, shown",
    [("circular", X, "`F.pad`"), ("numpy_pad", X, "`numpy.pad`"), ("init", W, "`torch.nn.init.kaiming_uniform_`")],
)
def test_python_level_routes_are_caught_under_any_name(student, function, argument, shown):
    with pytest.raises(CheckFailure) as caught:
        getattr(student, function)(argument)
    assert "is not allowed in this exercise" in caught.value.reason
    assert shown in caught.value.reason


def test_modifying_an_input_in_place_fails_and_the_callers_tensor_is_untouched(student):
    x = torch.ones(3, 2)
    with pytest.raises(CheckFailure, match=r"modified its input `x` in place"):
        student.modifies(x)
    assert torch.equal(x, torch.ones(3, 2))


def test_a_trailing_underscore_function_changes_the_callers_tensor_and_returns_it(student):
    t = torch.zeros(2, 2)
    result = student.fill_(t, 3.0)
    assert result is t
    assert torch.equal(t, torch.full((2, 2), 3.0))


def test_the_students_own_exceptions_pass_through_and_the_check_knows_the_call(student):
    with pytest.raises(NotImplementedError) as caught:
        student.stubbed(X)
    assert student_call_of(caught.value) == "stubbed(x=float32[2, 3, 5, 4])"
    assert student_call_of(NotImplementedError("raised by the check, not the student")) is None
    with pytest.raises(IndexError):
        student.crashes(X)


@pytest.mark.parametrize("function", ["loops_forever", "swallows_everything"])
def test_a_function_that_never_returns_fails_after_the_time_limit_and_then_at_once(student, function):
    with pytest.raises(CheckFailure, match=r"did not finish within 0.5 s") as first:
        getattr(student, function)(X)
    started = time.perf_counter()
    with pytest.raises(CheckFailure) as again:
        getattr(student, function)(X)
    assert str(again.value) == str(first.value) and time.perf_counter() - started < 0.25


def test_switching_off_the_monitor_is_noticed(student):
    with pytest.raises(CheckFailure, match="switched off the grader's checks"):
        student.switches_off_the_profiler(X)


def test_a_missing_function_and_a_module_that_does_not_import(student, tmp_path):
    with pytest.raises(CheckFailure, match="trial.py has no function `conv2d`"):
        student.conv2d(X, W)
    (tmp_path / "assignment.toml").write_text('title = "Broken"\nmodule = "broken"\n')
    (tmp_path / "broken.py").write_text("import torch\n\ndef f(x:\n    return x\n")
    broken = Student(Assignment.load(tmp_path), tmp_path)
    for _ in range(2):  # the failure is remembered, not retried
        with pytest.raises(CheckFailure, match=r"broken.py could not be imported: SyntaxError at line 3"):
            broken.f(X)
    missing = Student(Assignment.load(tmp_path), tmp_path / "nowhere")
    with pytest.raises(CheckFailure, match="broken.py is missing from"):
        missing.f(X)


def test_a_function_that_exits_fails_its_check_and_the_run_goes_on(student):
    with pytest.raises(CheckFailure, match=r"exits called sys.exit\(0\): a function returns its result"):
        student.exits(X)


def test_a_submission_that_spends_its_time_budget_fails_its_later_calls_at_once(tmp_path):
    folder = tmp_path / "01_slow"
    folder.mkdir()
    (folder / "assignment.toml").write_text('title = "Slow"\nmodule = "slow"\n')
    (folder / "slow.py").write_text("import time\n\ndef slow(x):\n    time.sleep(0.3)\n    return x\n")
    slow = Student(Assignment.load(folder), folder, budget=0.5)
    slow.slow(X)
    slow.slow(X)  # 0.6 s spent: this call was still within the budget when it started
    started = time.monotonic()
    with pytest.raises(CheckFailure, match=r"no time left: the functions of slow.py took 1 s in all, over the 0.5 s"):
        slow.slow(X)
    assert time.monotonic() - started < 0.1
