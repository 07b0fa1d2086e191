"""One chunk of a class graded in a grading process: one assignment, up to ``SUBMISSIONS_PER_CHUNK`` submissions.

The instructor's visible and hidden tests from ``source/`` are collected once
(one pytest session, ``autograder.checks.batch``) and run against each
submission in turn, student code in the process's sandbox; for each, ``write_job``
writes ``results.json``, the feedback pages and, last, the job's marker,
atomically, so a crash loses at most the submission in hand.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from autograder import settings
from autograder.assignment import Assignment
from autograder.checks.batch import run_batch
from autograder.grading.jobs import Job, error_row, mark_done
from autograder.grading.results import write_feedback, write_results_json
from autograder.grading.review import review_folder, summary
from autograder.grading.submissions import NO_SUBMISSION
from autograder.sandbox.client import Sandbox
from autograder.scores import GradeRow, Scoreboard, Status

Report = Callable[[Job, GradeRow], None]  # called with each job's row as soon as its files are written

_sandbox: Sandbox | None = None  # this grading process's sandbox, started on first use (or adopted: autograder.grading.pool)


def use_sandbox(sandbox: Sandbox) -> None:
    """Grade this process's chunks in ``sandbox`` (one the parent launched for it)."""
    global _sandbox
    _sandbox = sandbox


def grade_chunk(jobs: list[Job], *, call_timeout: float, report: Report) -> None:
    """Run one assignment's tests against each job's submission (one pytest session), writing each job's files."""
    global _sandbox
    if _sandbox is None:
        _sandbox = Sandbox()
    _sandbox.ready()  # a sandbox that cannot start is the grader's failure (rows say so, a rerun grades them), not zeros
    assignment = Assignment.load(jobs[0].source)

    retry: list[Job] = []  # the sandbox broke before their code ran: graded again, once, in a fresh sandbox

    def on_graded(job: Job, board: Scoreboard, seconds: float) -> None:
        if board.grader_error is not None and job not in retry:
            retry.append(job)
            return
        try:
            if board.grader_error is not None:
                raise RuntimeError(board.grader_error)
            row = write_job(job, assignment, board, seconds)
        except Exception as exc:  # noqa: BLE001 - one submission's trouble must not stop the class
            row = error_row(job, exc)
        report(job, row)

    with tempfile.TemporaryDirectory(prefix="convgrade-empty-") as nothing:
        empty = Path(nothing) / assignment.name  # no usable submission: every check fails, "padding.py is missing from 03_padding/"
        empty.mkdir()

        def grade(batch: list[Job]) -> None:
            run_batch(
                assignment, [assignment.visible_tests, assignment.hidden_tests],
                [(job, job.submission.folder or empty) for job in batch], on_graded,
                sandbox=_sandbox, call_timeout=call_timeout, budget=settings.SUBMISSION_BUDGET,
                salt_of=lambda job: job.salt,  # each student's hidden inputs are their own (autograder.grading.secret)
            )  # fmt: skip

        grade(jobs)
        if retry:
            _sandbox.stop()  # a fresh zygote and a fresh /tmp: whatever broke the last one is gone
            _sandbox.ready()
            grade(retry)


def write_job(job: Job, assignment: Assignment, board: Scoreboard, seconds: float) -> GradeRow:
    """results.json, the feedback pages and, last, the marker that says this submission is done."""
    submission = job.submission
    if not board.results:
        raise RuntimeError(f"no check ran for {assignment.name}")
    if submission.error is None:
        status = Status.GRADED
    else:
        status = Status.MISSING if submission.error == NO_SUBMISSION else Status.BAD_SUBMISSION
    note = submission.error or submission.note or ""
    flags = review_folder(submission.folder, assignment.module) if submission.folder else []  # for a look, never a score
    review = [flag.as_json() for flag in flags]
    write_results_json(job.out / "results.json", board, execution_time=seconds, output=f"{note}\n" if note else "", review=review)
    write_feedback(job.out, board, student=submission.student, assignment=assignment.name, title=assignment.title, note=note)
    row = GradeRow(submission.student, assignment.name, board.score, board.max_score, str(status), review=summary(flags))
    mark_done(job, row)
    return row
