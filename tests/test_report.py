"""Score tables and reasons: what a student reads, whatever the submission says."""

from __future__ import annotations

import io

from rich.console import Console

from autograder.plugin import CheckResult, Scoreboard, explain
from autograder.report import score_table, score_table_text
from autograder.student import CheckFailure


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
    reason, details, concise = explain(group, item=None)
    assert reason == "wrong shape: (2, 3)"
    assert concise and details.startswith("wrong shape")
