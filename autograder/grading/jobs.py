"""What ``convgrade grade`` has to do: a ``Job`` per submission, and the marker that says one is done.

``plan`` lists every (student, assignment) of ``SUBMITTED`` (folders or zips,
safely extracted) as a ``Job`` whose digest is everything that decides its
grade: the submission's files, the instructor's tests and ``assignment.toml``
(``grading_key``), the grader itself, the options that change scores and the
course secret's fingerprint (a job carries its hidden inputs' salt,
``autograder.grading.secret``). When a
job's files are written (``write_rendered``), its marker ``.graded.json`` is written last, so
``previous_row`` finds a job done only when all its files are, and only while
nothing that decides its grade has changed. ``class_grades`` is every row on
disk, whatever subset a run graded.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import autograder
from autograder.assignment import HIDDEN_TESTS, METADATA, VISIBLE_TESTS, Assignment
from autograder.atomic import atomic_write_text
from autograder.grading.class_page import CLASS_PAGE
from autograder.grading.results import GRADES_CSV
from autograder.grading.secret import fingerprint, hidden_salt
from autograder.grading.submissions import Submission, content_hash, discover, is_safe_name
from autograder.scores import GradeRow, Status, grader_error

MARKER = ".graded.json"
EXTRACTED = ".extracted"  # OUT/.extracted/<student>/<assignment>/: the zips, unpacked
REFUSED = ".refused"  # OUT/.refused/<hash>/<assignment>/: the files of a student id that cannot name a folder
OUTPUT_NAMES = (GRADES_CSV, CLASS_PAGE, EXTRACTED, REFUSED)  # what OUT holds besides the students' folders: no student id


@dataclass(frozen=True)
class Job:
    """One submission to grade, and where its results go."""

    submission: Submission
    source: Path  # the instructor's assignment folder in source/
    out: Path  # OUT/<student>/<assignment>/
    digest: str  # the submission's content hash ("" when there is nothing to hash)
    salt: str | None = None  # what its hidden checks' inputs derive from (autograder.grading.secret); None: fixed inputs

    @property
    def key(self) -> tuple[str, str]:
        """(student, assignment)."""
        return self.submission.student, self.submission.assignment


@dataclass(frozen=True)
class Rendered:
    """A graded submission's files, rendered but not yet written, and its row: plain data, built by the grader."""

    row: GradeRow
    files: dict[str, str]  # by name in the job's folder: results.json, feedback.md, feedback.html


@functools.cache
def grader_fingerprint() -> str:
    """A hash of the grader's own code and templates: a new grader regrades what it would grade differently."""
    return content_hash(Path(autograder.__file__).parent)


def _what_grades(metadata: Path) -> str:
    """``assignment.toml`` less what decides no score (its due date and weight: penalties and totals are worked out later)."""
    data = tomllib.loads(metadata.read_text(encoding="utf-8"))
    return json.dumps({key: value for key, value in data.items() if key not in ("due", "weight")}, sort_keys=True, default=str)


def grading_key(assignment: Path, *, call_timeout: float, budget: float | None, secret: bytes | None = None) -> str:
    """A hash of all that decides a grade besides the submission: tests, ``assignment.toml``, grader, options, secret (its fingerprint)."""
    digest = hashlib.sha256()
    for part in (
        grader_fingerprint(), _what_grades(assignment / METADATA),
        *(content_hash(assignment / folder) if (assignment / folder).is_dir() else "" for folder in (VISIBLE_TESTS, HIDDEN_TESTS)),
        repr(call_timeout), repr(budget), fingerprint(secret) if secret is not None else "",
    ):  # fmt: skip
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def plan(
    submitted: Path, source: Path, assignments: list[str], out: Path, *,
    call_timeout: float, budget: float | None, students: list[str] | None = None, roster: list[str] = (),
    times: Mapping[tuple[str, str], datetime] = {},  # noqa: B006 - read only
    secret: bytes | None = None,
) -> list[Job]:
    """Every submission of the named assignments (of the named ``students``), extracted under ``out/.extracted``.

    ``times``: hand-in times by (student, assignment), over those nbgrader's ``timestamp.txt`` gives.
    ``secret``: the course secret, from which each job's hidden inputs derive (``None``: the tests' fixed inputs).
    """
    keys = {name: grading_key(source / name, call_timeout=call_timeout, budget=budget, secret=secret) for name in assignments}
    modules = {name: Assignment.load(source / name).module for name in assignments}
    jobs = []
    for submission in discover(submitted, assignments, out / EXTRACTED, modules=modules, roster=roster, reserved=OUTPUT_NAMES):
        if students is not None and submission.student not in students:
            continue
        if (submission.student, submission.assignment) in times:
            submission = replace(submission, handed_in=times[(submission.student, submission.assignment)])
        digest = content_hash(submission.folder) if submission.folder else ""
        folder = out / _folder_of(submission.student) / submission.assignment
        key = keys[submission.assignment]
        salt = hidden_salt(secret, submission.assignment, submission.student) if secret is not None else None
        jobs.append(Job(submission, source / submission.assignment, folder, f"{digest}:{submission.error or ''}:{submission.note or ''}:{key}", salt))
    return jobs


def _folder_of(student: str) -> str:
    """The folder of OUT that holds a student's results: the id itself, or one under ``REFUSED`` for an id that cannot be one."""
    if is_safe_name(student, OUTPUT_NAMES):
        return student
    return f"{REFUSED}/{hashlib.sha256(student.encode(errors='surrogateescape')).hexdigest()[:16]}"


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


def write_rendered(job: Job, rendered: Rendered) -> GradeRow:
    """Write a job's rendered files into its folder, each atomically, and last its marker; its row."""
    for name, text in rendered.files.items():
        atomic_write_text(job.out / name, text)
    mark_done(job, rendered.row)
    return rendered.row


def error_row(job: Job, exc: BaseException) -> GradeRow:
    """The row of a job the grader failed on: no marker is written, so a rerun grades it."""
    return GradeRow(job.submission.student, job.submission.assignment, 0.0, 0.0, grader_error(exc))


def rows_on_disk(out: Path) -> dict[tuple[str, str], GradeRow]:
    """Every row a marker under ``out`` holds, by (student, assignment): what any run graded there."""
    found = {}
    folders = sorted(out.iterdir()) if out.is_dir() else []
    refused = sorted((out / REFUSED).iterdir()) if (out / REFUSED).is_dir() else []
    for student in folders + refused:
        if not (is_safe_name(student.name, OUTPUT_NAMES) and student.is_dir() and not student.is_symlink()):
            continue  # .extracted, whatever a submission holds, and anything else that is not a student's folder
        for marker in sorted(student.glob(f"*/{MARKER}")):
            try:
                row = GradeRow(**json.loads(marker.read_text())["row"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a marker half-written by a crash is no grade; a rerun writes it again
            if marker.parent.name == row.assignment and student.relative_to(out).as_posix() == _folder_of(row.student_id):
                found[(row.student_id, row.assignment)] = row
    return found


def class_grades(out: Path, jobs: list[Job], rows: list[GradeRow]) -> list[GradeRow]:
    """Every graded result on disk, with this run's jobs as they stand now, sorted: the rows of ``grades.csv`` (raw scores).

    A job of this run gives its marker's row (graded now or before, unchanged), else
    this run's row (a grader error), else "not graded", with the hand-in time it has
    now; every other marker under ``out`` keeps its row, so a run of one assignment
    or one student loses none. ``autograder.grading.late`` applies penalties after.
    """
    now = {(row.student_id, row.assignment): row for row in rows}
    merged = rows_on_disk(out)
    for job in jobs:
        row = previous_row(job) or now.get(job.key) or GradeRow(*job.key, 0.0, 0.0, str(Status.NOT_GRADED))
        handed_in = job.submission.handed_in
        merged[job.key] = replace(row, handed_in=handed_in.astimezone(timezone.utc).isoformat() if handed_in else "")
    return [merged[key] for key in sorted(merged)]
