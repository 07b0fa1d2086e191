"""``convgrade grade``: a whole class, each submission checked by the hidden and visible tests.

The pipeline reads top to bottom:

1. ``plan``: every (student, assignment) in ``SUBMITTED`` (folders or zips, safely
   extracted), with the content hash that decides whether it needs grading;
2. ``grade_one``: the instructor's tests from ``source/`` run in this process,
   student code in a sandboxed worker; results.json, feedback.md/.html and, last,
   a ``.graded.json`` marker are written atomically, so a crash loses at most the
   submission in hand and a rerun skips what is done;
3. ``grade_all``: the plan spread over worker processes, with progress shown;
4. ``grades.csv`` written from every marker, whatever ran in this invocation.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

from autograder.assignment import Assignment
from autograder.results import GRADED, atomic_write_text, write_feedback, write_grades_csv, write_results_json
from autograder.runner import run_checks
from autograder.submissions import NO_SUBMISSION, Submission, content_hash, discover

MARKER = ".graded.json"


@dataclass(frozen=True)
class Job:
    """One submission to grade, and where its results go."""

    submission: Submission
    source: Path  # the instructor's assignment folder in source/
    out: Path  # OUT/<student>/<assignment>/
    digest: str  # the submission's content hash ("" when there is nothing to hash)


@dataclass(frozen=True)
class Row:
    """One line of grades.csv."""

    student_id: str
    assignment: str
    score: float
    max_score: float
    status: str


def plan(submitted: Path, source: Path, assignments: list[str], out: Path) -> list[Job]:
    """Every submission of the named assignments, extracted under ``out/.extracted``."""
    jobs = []
    for submission in discover(submitted, assignments, out / ".extracted"):
        digest = content_hash(submission.folder) if submission.folder else ""
        folder = out / submission.student / submission.assignment
        jobs.append(Job(submission, source / submission.assignment, folder, f"{digest}:{submission.error or ''}"))
    return jobs


def done(job: Job) -> Row | None:
    """The row a previous run wrote for this very submission, if any."""
    try:
        marker = json.loads((job.out / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if marker.get("digest") != job.digest:
        return None
    return Row(**marker["row"])


_worker = None  # this grading process's sandboxed worker, started on first use


def grade_one(job: Job, *, call_timeout: float) -> Row:
    """Run the tests against one submission and write its results, feedback and marker."""
    global _worker
    from autograder.sandbox import Worker

    if _worker is None:
        _worker = Worker()
    submission, assignment = job.submission, Assignment.load(job.source)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="convgrade-empty-") as empty:
        folder = submission.folder or Path(empty)  # no usable submission: every check fails as missing
        run = run_checks(
            assignment, [assignment.visible_tests, assignment.hidden_tests], folder,
            worker=_worker, extra_args=[f"--call-timeout={call_timeout}", "--no-shrink"],
        )  # fmt: skip
    board = run.board
    if not board.results:
        raise RuntimeError(f"no check ran for {assignment.name}:\n{run.pytest_output[-2000:]}")
    status = GRADED if submission.error is None else NO_SUBMISSION if submission.error == NO_SUBMISSION else "bad submission"
    output = f"{submission.error}\n" if submission.error else ""
    write_results_json(job.out / "results.json", board, execution_time=time.perf_counter() - started, output=output)
    write_feedback(job.out, board, student=submission.student, assignment=assignment.name, title=assignment.title)
    row = Row(submission.student, assignment.name, board.score, board.max_score, status)
    atomic_write_text(job.out / MARKER, json.dumps({"digest": job.digest, "row": asdict(row)}))
    return row


def _init_process() -> None:
    """A grading process: one torch thread (two per core oversubscribe; shared/PERFORMANCE.md)."""
    import torch

    torch.set_num_threads(1)


def grade_all(
    jobs: list[Job], *, workers: int, call_timeout: float, regrade: bool, progress: Callable[[Job, Row | None, bool], None]
) -> list[Row]:
    """Grade every job not already done; ``progress(job, row, skipped)`` after each."""
    rows: list[Row] = []
    todo = []
    for job in jobs:
        previous = None if regrade else done(job)
        if previous is not None:
            rows.append(previous)
            progress(job, previous, True)
        else:
            todo.append(job)
    if workers <= 1:
        _init_process()
        for job in todo:
            rows.append(_graded(job, lambda: grade_one(job, call_timeout=call_timeout)))
            progress(job, rows[-1], False)
        return rows
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_init_process) as pool:
        futures = {pool.submit(grade_one, job, call_timeout=call_timeout): job for job in todo}
        for future in as_completed(futures):
            job = futures[future]
            rows.append(_graded(job, future.result))
            progress(job, rows[-1], False)
    return rows


def _graded(job: Job, result: Callable[[], Row]) -> Row:
    """The job's row; a failure of the grader itself is recorded, never lost."""
    try:
        return result()
    except Exception as exc:  # noqa: BLE001 - one submission's trouble must not stop the class
        return Row(job.submission.student, job.submission.assignment, 0.0, 0.0, f"grader error: {type(exc).__name__}: {exc}")


def write_gradebook(out: Path, jobs: list[Job], rows: list[Row]) -> list[Row]:
    """grades.csv: a row for every planned job, from its marker (graded now or before) or this run."""
    now = {(row.student_id, row.assignment): row for row in rows}
    book = []
    for job in jobs:
        key = (job.submission.student, job.submission.assignment)
        row = done(job) or now.get(key) or Row(*key, 0.0, 0.0, "not graded")
        book.append(row)
    write_grades_csv(out / "grades.csv", [asdict(row) for row in book])
    return book
