"""Score tables and reasons: what a student reads, whatever the submission says."""

from __future__ import annotations

import io

import torch
from rich.console import Console

from autograder.assignment import Assignment
from autograder.checks.explain import explain
from autograder.checks.tables import score_table, score_table_text
from autograder.scores import CheckResult, Scoreboard
from autograder.student import CheckFailure, Student


def render(table) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=160, color_system=None).print(table)
    return buffer.getvalue()


def result(**overrides) -> CheckResult:
    fields = dict(nodeid="t", assignment="03_padding", task="pad2d", check="a check", max_points=2.0, passed=False, reason="")
    return CheckResult(**{**fields, **overrides})


def test_text_from_a_submission_is_shown_as_it_is_never_as_markup():
    shown = render(score_table([result(check="image[c] by kernel[c]", reason="raised KeyError: '[/c]' [bold]x")]))
    assert "image[c] by kernel[c]" in shown
    assert "raised KeyError: '[/c]' [bold]x" in shown


def test_one_assignment_shows_every_check_several_show_a_row_each():
    board = Scoreboard([result(passed=True), result(task="conv2d_same", reason="not implemented yet: `conv2d_same`")])
    one = score_table_text(board, width=160)
    assert "not implemented yet: `conv2d_same`" in one
    assert "total: 2/4 points (1 of 2 checks pass)" in one
    board.results.append(result(assignment="04_channels", passed=True, max_points=3.0))
    several = score_table_text(board, width=160)
    assert "not implemented" not in several
    assert "03_padding" in several and "04_channels" in several
    assert "total: 5/7 points (2 of 3 checks pass)" in several


def test_several_failures_at_once_are_explained_by_the_first():
    group = ExceptionGroup("Hypothesis found 2 distinct failures", [CheckFailure("wrong shape: (2, 3)\n  call: f()"), ValueError("x")])
    reason, details, concise, *_ = explain(group)
    assert reason == "wrong shape: (2, 3)"
    assert concise and details.startswith("wrong shape")


def test_a_students_exception_is_explained_by_the_call_and_their_own_frames(tmp_path):
    (tmp_path / "assignment.toml").write_text('title = "T"\nmodule = "mod"\n')
    (tmp_path / "mod.py").write_text("def first(x):\n    return x[10]\n\n\ndef later(x):\n    raise NotImplementedError('first')\n")
    student = Student(Assignment.load(tmp_path), tmp_path)

    reason, details, concise, *_ = explain(_raised(student.first, torch.zeros(5)))
    assert concise and reason.startswith("`first` raised IndexError: index 10 is out of bounds")
    assert "call: first(x=float32[5])" in details
    assert f'File "{tmp_path / "mod.py"}", line 2, in first\n    return x[10]' in details

    reason, details, *_ = explain(_raised(student.later, torch.zeros(5)))
    assert reason == "not implemented yet: `first` (needed by `later`)"


def _raised(function, *args) -> BaseException:
    try:
        function(*args)
    except Exception as exc:  # noqa: BLE001 - the student's exception is what we want
        return exc
    raise AssertionError("it did not raise")


def test_a_hidden_check_shows_its_case_by_shapes_but_not_the_students_text_or_values(tmp_path):
    from autograder.grading.results import failure_text

    (tmp_path / "assignment.toml").write_text('title = "T"\nmodule = "mod"\n')
    (tmp_path / "mod.py").write_text("def first(x, k):\n    raise ValueError(f'secret input was {x.tolist()}')\n")
    student = Student(Assignment.load(tmp_path), tmp_path)
    explained = explain(_raised(student.first, torch.tensor([0.25, 0.5]), 3))
    assert "secret input" in explained.reason, "a visible check shows the student's message"
    assert explained.hidden_reason == "`first` raised ValueError"
    # shapes, dtypes and plain arguments by position: no tensor values, and not the student's parameter names (their text)
    assert explained.case == "first(float32[2], 3)"
    shown = failure_text(result(hidden=True, reason=explained.hidden_reason, case=explained.case))
    assert shown == "`first` raised ValueError\n  case: first(float32[2], 3)"
    assert "0.25" not in shown and "secret" not in shown
