"""Late hand-ins: each row's penalty, worked out from its raw score and hand-in time, never by grading again.

``with_late_policy`` takes the rows of ``grades.csv`` as graded (raw scores) and
gives them as the course counts them: a row handed in after its due date (plus
the student's extension) has status ``late``, its ``score`` after the penalty and
its ``raw_score`` kept. A due date without a hand-in time is reported, not guessed;
a hand-in the LMS marked late without saying when (Canvas's ``LATE`` in its
download's names, ``autograder.grading.lms``) is charged the least that flag
allows, as if handed in a minute after the due date and its grace, and reported.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from autograder.course import LatePolicy
from autograder.scores import GradeRow, Status


def due_for(student: str, assignment: str, due: datetime, extensions: Mapping[tuple[str, str], float]) -> datetime:
    """The student's due date: the assignment's, plus their extension for it (or for every assignment)."""
    days = extensions.get((student, assignment), extensions.get((student, ""), 0.0))
    return due + timedelta(days=days)


LEAST_LATE = timedelta(minutes=1)  # a hand-in flagged late with no time: this long after the due date and its grace


def with_late_policy(
    rows: list[GradeRow], due: Mapping[str, datetime | None], policy: LatePolicy,
    extensions: Mapping[tuple[str, str], float] = {},  # noqa: B006 - read only
    flagged_late: Collection[tuple[str, str]] = (),
) -> tuple[list[GradeRow], list[str]]:
    """The rows with late penalties applied; and what could not be decided, one line each.

    ``flagged_late``: the (student, assignment) pairs an LMS marked late, for those without a hand-in time.
    """
    counted, problems = [], []
    for row in rows:
        deadline = due.get(row.assignment)
        raw = row.raw_score if row.raw_score is not None else row.score
        flagged = not row.handed_in and (row.student_id, row.assignment) in flagged_late
        if deadline is None or row.status not in (Status.GRADED, Status.LATE):
            if flagged and deadline is None:
                problems.append(f"{row.student_id}/{row.assignment}: late per the LMS, but its assignment.toml has no due date: no penalty")
            counted.append(replace(row, raw_score=raw))
            continue
        if flagged:
            extended = due_for(row.student_id, row.assignment, deadline, extensions) != deadline
            counted.append(_flagged_late(row, raw, policy, extended=extended))
            why = "the student has an extension, so no penalty" if extended else "charged as the least late it can be"
            problems.append(f"{row.student_id}/{row.assignment}: late per the LMS, how late unknown: {why} (give the hand-in time with --times)")
            continue
        if not row.handed_in:
            problems.append(f"{row.student_id}/{row.assignment}: no hand-in time, so no late penalty (give one with --times)")
            counted.append(replace(row, raw_score=raw, status=str(Status.GRADED), late_days=0.0))
            continue
        days = policy.late_days(datetime.fromisoformat(row.handed_in), due_for(row.student_id, row.assignment, deadline, extensions))
        penalty = policy.penalty(days)
        status = Status.LATE if days > 0 else Status.GRADED
        counted.append(replace(row, score=round(raw * (1 - penalty), 6), raw_score=raw, status=str(status), late_days=round(days, 3)))
    return counted, problems


def _flagged_late(row: GradeRow, raw: float, policy: LatePolicy, *, extended: bool) -> GradeRow:
    """A row the LMS marked late without a time: late by the least the flag allows, or on time under an extension (the LMS's due date is not ours)."""
    if extended:
        return replace(row, raw_score=raw, status=str(Status.GRADED), late_days=0.0)
    days = (LEAST_LATE + timedelta(minutes=policy.grace_minutes)) / timedelta(days=1)
    return replace(row, score=round(raw * (1 - policy.penalty(days)), 6), raw_score=raw, status=str(Status.LATE), late_days=round(days, 4))
