"""What ``convgrade grade`` has to do: a ``Job`` per submission, and the marker that says one is done.

``plan`` lists every (student, assignment) of ``SUBMITTED`` (folders or zips,
safely extracted) as a ``Job`` with the content hash that decides whether it
needs grading. When a job's files are written, its marker ``.graded.json`` is
written last, so ``previous_row`` finds a job done only when all its files are.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.atomic import atomic_write_text
from autograder.grading.submissions import Submission, content_hash, discover
from autograder.scores import GradeRow, Status, grader_error

MARKER = ".graded.json"


@dataclass(frozen=True)
class Job:
    """One submission to grade, and where its results go."""

    submission: Submission
    source: Path  # the instructor's assignment folder in source/
    out: Path  # OUT/<student>/<assignment>/
    digest: str  # the submission's content hash ("" when there is nothing to hash)

    @property
    def key(self) -> tuple[str, str]:
        """(student, assignment)."""
        return self.submission.student, self.submission.assignment


def plan(submitted: Path, source: Path, assignments: list[str], out: Path) -> list[Job]:
    """Every submission of the named assignments, extracted under ``out/.extracted``."""
    jobs = []
    for submission in discover(submitted, assignments, out / ".extracted"):
        digest = content_hash(submission.folder) if submission.folder else ""
        folder = out / submission.student / submission.assignment
        jobs.append(Job(submission, source / submission.assignment, folder, f"{digest}:{submission.error or ''}"))
    return jobs


def previous_row(job: Job) -> GradeRow | None:
    """The row a previous run wrote for this very submission, if any."""
    try:
        marker = json.loads((job.out / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if marker.get("digest") != job.digest:
        return None
    return GradeRow(**marker["row"])


def mark_done(job: Job, row: GradeRow) -> None:
    """Write the job's marker: its files are all written, and this is its row."""
    atomic_write_text(job.out / MARKER, json.dumps({"digest": job.digest, "row": asdict(row)}))


def error_row(job: Job, exc: BaseException) -> GradeRow:
    """The row of a job the grader failed on: no marker is written, so a rerun grades it."""
    return GradeRow(job.submission.student, job.submission.assignment, 0.0, 0.0, grader_error(exc))


def class_grades(jobs: list[Job], rows: list[GradeRow]) -> list[GradeRow]:
    """A row for every planned job: from its marker (graded now or before), this run's rows, else "not graded"."""
    now = {(row.student_id, row.assignment): row for row in rows}
    return [previous_row(job) or now.get(job.key) or GradeRow(*job.key, 0.0, 0.0, str(Status.NOT_GRADED)) for job in jobs]
