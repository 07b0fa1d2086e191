"""One chunk of a class graded in a grading process: one assignment, up to ``SUBMISSIONS_PER_CHUNK`` submissions.

The instructor's visible and hidden tests from ``source/`` are collected once
(one pytest session, ``autograder.checks.batch``) and run against each
submission in turn, student code in the process's sandbox; for each, ``render_job``
renders ``results.json`` and the feedback pages and ``write_rendered`` writes them
and, last, the job's marker, atomically, so a crash loses at most the submission
in hand. On a dask cluster the worker only renders: the files travel back as
data and the client writes them (``autograder.grading.cluster``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from autograder import settings
from autograder.assignment import Assignment
from autograder.checks.batch import run_batch
from autograder.grading.jobs import Job, Rendered, error_row, write_rendered
from autograder.grading.results import RESULTS_JSON, render_feedback, results_json_text
from autograder.grading.review import review_folder, summary
from autograder.grading.submissions import NO_SUBMISSION
from autograder.sandbox.client import Sandbox
from autograder.scores import GradeRow, Scoreboard, Status

Report = Callable[[Job, GradeRow], None]  # called with each job's row as soon as its files are written

Finish = Callable[[Job, Rendered], GradeRow]  # what becomes of a job's rendered files: written here (``write_rendered``), or kept to send

_sandbox: Sandbox | None = None  # this grading process's sandbox, started on first use (or adopted: autograder.grading.pool)


def use_sandbox(sandbox: Sandbox) -> None:
    """Grade this process's chunks in ``sandbox`` (one the parent launched for it)."""
    global _sandbox
    _sandbox = sandbox


def grade_chunk(jobs: list[Job], *, call_timeout: float, report: Report, finish: Finish | None = None) -> None:
    """Run one assignment's tests against each job's submission (one pytest session), writing each job's files.

    ``finish``: what is done with each job's rendered files instead of writing them (default: ``write_rendered``).
    """
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
            row = (finish or write_rendered)(job, render_job(job, assignment, board, seconds))
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


def render_job(job: Job, assignment: Assignment, board: Scoreboard, seconds: float) -> Rendered:
    """The row of a graded submission, and its results.json and feedback pages as text."""
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
    results = results_json_text(board, execution_time=seconds, output=f"{note}\n" if note else "", review=review)
    feedback = render_feedback(board, student=submission.student, assignment=assignment.name, title=assignment.title, note=note)
    row = GradeRow(submission.student, assignment.name, board.score, board.max_score, str(status), review=summary(flags))
    return Rendered(row, {RESULTS_JSON: results, **feedback})
