"""Late hand-ins: each row's penalty, worked out from its raw score and hand-in time, never by grading again.

``with_late_policy`` takes the rows of ``grades.csv`` as graded (raw scores) and
gives them as the course counts them: a row handed in after its due date (plus
the student's extension) has status ``late``, its ``score`` after the penalty and
its ``raw_score`` kept. A due date without a hand-in time is reported, not guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from autograder.course import LatePolicy
from autograder.scores import GradeRow, Status


def due_for(student: str, assignment: str, due: datetime, extensions: Mapping[tuple[str, str], float]) -> datetime:
    """The student's due date: the assignment's, plus their extension for it (or for every assignment)."""
    days = extensions.get((student, assignment), extensions.get((student, ""), 0.0))
    return due + timedelta(days=days)


def with_late_policy(
    rows: list[GradeRow], due: Mapping[str, datetime | None], policy: LatePolicy,
    extensions: Mapping[tuple[str, str], float] = {},  # noqa: B006 - read only
) -> tuple[list[GradeRow], list[str]]:
    """The rows with late penalties applied; and what could not be decided, one line each."""
    counted, problems = [], []
    for row in rows:
        deadline = due.get(row.assignment)
        raw = row.raw_score if row.raw_score is not None else row.score
        if deadline is None or row.status not in (Status.GRADED, Status.LATE):
            counted.append(replace(row, raw_score=raw))
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
