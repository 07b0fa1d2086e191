"""The results model: what a check, a submission and a class scored. Data only.

- ``CheckResult``: one check of one submission (pass or fail, points, reason);
- ``Scoreboard``: the checks of one run, in order, and their totals;
- ``GradeRow``: one (student, assignment) of the class, as ``grades.csv`` lists it,
  with its ``Status``.

Nothing here imports torch or pytest: the parent of ``convgrade grade`` reads
and writes these while its grading processes import both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum


class Status(StrEnum):
    """What became of one (student, assignment): the ``status`` column of ``grades.csv``."""

    GRADED = "graded"
    LATE = "late"  # graded, handed in after its due date: ``score`` is after the late penalty
    MISSING = "missing"  # nothing handed in (a student folder without it, or a roster's student without a folder)
    BAD_SUBMISSION = "bad submission"
    NOT_GRADED = "not graded"  # planned, but no run has graded it yet
    GRADER_ERROR = "grader error"  # the grader failed on it; the status text says how, and a rerun grades it


def grader_error(exc: BaseException) -> str:
    """The status of a submission the grader failed on: ``grader error: KeyError: 'x'``."""
    return f"{Status.GRADER_ERROR}: {type(exc).__name__}: {exc}"


def total(points: Iterable[float]) -> float:
    """A sum of points without float noise (0.1 + 0.2 is 0.3)."""
    return round(math.fsum(points), 6)


def points_text(value: float) -> str:
    """``2.0`` -> ``2``, ``1.5`` -> ``1.5``, ``0.6666667`` -> ``0.67``."""
    return f"{round(value, 2):g}"


@dataclass
class CheckResult:
    """The outcome of one check, as score tables and result files show it."""

    nodeid: str
    assignment: str
    task: str
    check: str
    max_points: float
    passed: bool
    reason: str = ""
    details: str = ""
    hidden: bool = False
    duration: float = 0.0
    category: str = "values"  # what the check measures (autograder.assignment.CATEGORIES)
    partial: float = 0.0  # on a failure, the share of the check's cases that passed (error cases earn credit one by one)
    case: str = ""  # on a failure, the call that failed, tensors by dtype and shape alone
    follows: tuple[str, ...] = ()  # on a failure, the functions it uses that fail checks of their own (fix those first)

    @property
    def points(self) -> float:
        """Points earned: all of them on a pass, the share of its cases that passed otherwise."""
        return self.max_points if self.passed else round(self.max_points * self.partial, 6)


@dataclass
class Scoreboard:
    """The ``CheckResult`` of every check that ran, in order."""

    results: list[CheckResult] = field(default_factory=list)
    grader_error: str | None = None  # the grader failed this submission (its sandbox broke): these are not its scores

    @property
    def score(self) -> float:
        """Points earned over all checks."""
        return total(result.points for result in self.results)

    @property
    def max_score(self) -> float:
        """Points available over all checks."""
        return total(result.max_points for result in self.results)

    @property
    def passed(self) -> int:
        """How many checks passed."""
        return sum(result.passed for result in self.results)

    def traced(self, uses: Mapping[str, Mapping[str, Sequence[str]]]) -> Scoreboard:
        """The board with each failure of a function that uses a failing one traced to it.

        ``uses``: per assignment, the functions each function calls. A failure of
        ``conv2d_same`` while ``pad2d`` fails checks of its own reads "this uses
        your `pad2d`, which fails 8 checks: fix it first", so one mistake reads as one.
        """
        failing: dict[tuple[str, str], int] = {}  # what the function computes, not how it validates (errors checks apart)
        for result in self.results:
            if not result.passed and result.category != "errors":
                failing[(result.assignment, result.task)] = failing.get((result.assignment, result.task), 0) + 1
        traced = []
        for result in self.results:
            causes = [used for used in uses.get(result.assignment, {}).get(result.task, ()) if (result.assignment, used) in failing]
            if result.passed or not causes or result.follows or result.category == "errors":
                traced.append(result)
                continue
            counts = " and ".join(
                f"your `{used}`, which fails {failing[(result.assignment, used)]} check{'s' if failing[(result.assignment, used)] > 1 else ''}"
                for used in causes
            )
            note = f"this uses {counts}: fix {'it' if len(causes) == 1 else 'them'} first; "
            traced.append(replace(result, reason=note + result.reason, follows=tuple(causes)))
        return Scoreboard(traced)

    def by_assignment(self) -> dict[str, Scoreboard]:
        """The board split per assignment, in the order they ran."""
        boards: dict[str, Scoreboard] = {}
        for result in self.results:
            boards.setdefault(result.assignment, Scoreboard()).results.append(result)
        return boards


@dataclass(frozen=True)
class GradeRow:
    """One (student, assignment) of the class: a line of ``grades.csv``."""

    student_id: str
    assignment: str
    score: float  # after any late penalty
    max_score: float
    status: str  # a ``Status``, or ``grader_error(...)``
    raw_score: float | None = None  # before any late penalty (None: the same as ``score``)
    late_days: float = 0.0  # how late it was handed in, in days
    handed_in: str = ""  # when, ISO 8601 in UTC ("" when not known)
    review: str = ""  # what the static scan flagged for an instructor's look (autograder.grading.review); never a score
