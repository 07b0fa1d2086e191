"""Every failure of a check, explained: a one-line reason and the full story.

A check fails in one of a few ways: a ``CheckFailure`` from the comparisons or
the student proxy (already worded for students), the student's own exception
(the call, its message and the student's frames), ``NotImplementedError`` from a
stub (``not implemented yet: `pad2d```), or a plain assertion or error of the
check itself. What the student's code printed during the check (caught by a
sandboxed child) ends the explanation.
"""

from __future__ import annotations

import textwrap
from typing import NamedTuple

import pytest

from autograder.student import CheckFailure, calls


class Explanation(NamedTuple):
    """A failure, for people."""

    reason: str  # one line, for score tables
    details: str  # the whole story
    concise: bool  # whether ``details`` replaces pytest's report (and its traceback)
    partial: float = 0.0  # the share of the check's cases that passed
    hidden_reason: str = ""  # the reason without the student's own text (what a hidden check may show)
    case: str = ""  # the failing call, tensors by dtype and shape alone


def explain(exc: BaseException) -> Explanation:
    """The failure ``exc`` of a check, explained."""
    reason, details, concise = _explain(exc)
    printed = calls().printed_text()
    if printed:
        details = f"{details or reason}\n  your code printed:\n" + textwrap.indent(printed.rstrip("\n"), "    | ")
    partial = exc.partial if isinstance(exc, CheckFailure) else 0.0
    raising = calls().raised(exc)
    hidden_reason = f"`{raising.function}` raised {type(exc).__name__}" if raising and not reason.startswith("not implemented") else reason
    latest = raising or calls().latest
    return Explanation(reason, details, concise, partial, hidden_reason, latest.case if latest else "")


def _explain(exc: BaseException) -> tuple[str, str, bool]:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]  # several failures at once: explain the first
    notes = "".join(f"\n{note}" for note in getattr(exc, "__notes__", ()))
    if isinstance(exc, CheckFailure):
        return exc.reason, f"{exc}{notes}", True
    call = calls().raised(exc)
    if call is not None:
        function = call.function
        if isinstance(exc, NotImplementedError):
            missing = str(exc) if str(exc).isidentifier() else function
            needed = "" if missing == function else f" (needed by `{function}`)"
            return f"not implemented yet: `{missing}`{needed}", f"not implemented yet: `{missing}`{needed}\n  call: {call.text}", True
        frames = "".join(f'\n  File "{f.filename}", line {f.lineno}, in {f.name}\n    {f.line}' for f in call.frames)
        message = f"{type(exc).__name__}: {exc}"
        reason = f"`{function}` raised {message.splitlines()[0]}"
        return reason, f"`{function}` raised {message}\n  call: {call.text}{frames}{notes}", True
    if isinstance(exc, AssertionError):
        text = str(exc).strip() or "assertion failed"
        return text.splitlines()[0], text, False
    if isinstance(exc, pytest.fail.Exception):
        return str(exc).splitlines()[0], str(exc), False
    return f"error in the check itself: {type(exc).__name__}: {exc}", "", False
