"""``convgrade grade``: a whole class, each submission checked by the hidden and visible tests.

The pipeline reads top to bottom:

1. ``plan``: every (student, assignment) in ``SUBMITTED`` (folders or zips, safely
   extracted), with the content hash that decides whether it needs grading;
2. ``grade_chunk``: the instructor's tests from ``source/`` collected once in this
   process and run against each submission of one assignment in turn, student
   code in a sandboxed worker; for each, ``write_job`` writes results.json,
   feedback.md/.html and, last, a ``.graded.json`` marker, atomically, so a crash
   loses at most the submission in hand and a rerun skips what is done;
3. ``grade_all``: the plan cut into ``chunks`` spread over grading processes, with
   progress shown per submission. A forkserver imports torch and the harness
   once and forks the processes; meanwhile this process launches one sandboxed
   worker per grading process, which each takes, with a core of its own
   (``_init_process``). A free process takes the chunk ``Schedule`` picks;
4. ``grades.csv`` written from every marker, whatever ran in this invocation.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import queue
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.assignment import Assignment
from autograder.bubblewrap import bubblewrap_available, launch, warn_unsandboxed
from autograder.results import GRADED, atomic_write_text, write_feedback, write_grades_csv, write_results_json
from autograder.submissions import NO_SUBMISSION, Submission, content_hash, discover

if TYPE_CHECKING:  # the parent process only plans and gathers: torch and pytest are for the grading processes
    from autograder.plugin import Scoreboard

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
_events = None  # where a pool process reports each graded submission (a multiprocessing queue)

CHUNK = 20  # submissions of one assignment per pytest session: tests collected once for them all
BUDGET = 300.0  # seconds a submission's functions may take in all (a reference solution takes about one)


def grade_chunk(jobs: list[Job], *, call_timeout: float, report: Callable[[Job, Row], None] | None = None) -> None:
    """Run one assignment's tests against each job's submission (one pytest session), writing each job's files.

    ``report(job, row)`` follows each job; in a pool process the rows go to the parent's queue.
    """
    global _worker
    from autograder.runner import run_batch
    from autograder.sandbox import Worker

    if _worker is None:
        _worker = Worker()
    report = report or (lambda job, row: _events.put((job.out, row)) if _events is not None else None)
    assignment = Assignment.load(jobs[0].source)

    def done(job: Job, board: Scoreboard, seconds: float) -> None:
        report(job, _graded(job, lambda: write_job(job, assignment, board, seconds)))

    with tempfile.TemporaryDirectory(prefix="convgrade-empty-") as empty:
        # no usable submission: every check fails as missing
        submissions = [(job, job.submission.folder or Path(empty)) for job in jobs]
        run_batch(
            assignment, [assignment.visible_tests, assignment.hidden_tests], submissions, done,
            worker=_worker, extra_args=[f"--call-timeout={call_timeout}", f"--submission-budget={BUDGET}"],
        )  # fmt: skip


def write_job(job: Job, assignment: Assignment, board: Scoreboard, seconds: float) -> Row:
    """results.json, the feedback pages and, last, the marker that says this submission is done."""
    submission = job.submission
    if not board.results:
        raise RuntimeError(f"no check ran for {assignment.name}")
    status = GRADED if submission.error is None else NO_SUBMISSION if submission.error == NO_SUBMISSION else "bad submission"
    output = f"{submission.error}\n" if submission.error else ""
    write_results_json(job.out / "results.json", board, execution_time=seconds, output=output)
    write_feedback(job.out, board, student=submission.student, assignment=assignment.name, title=assignment.title)
    row = Row(submission.student, assignment.name, board.score, board.max_score, status)
    atomic_write_text(job.out / MARKER, json.dumps({"digest": job.digest, "row": asdict(row)}))
    return row


def chunks(jobs: list[Job], workers: int) -> list[list[Job]]:
    """The jobs by assignment, cut so every worker gets a share and no session grows past ``CHUNK``.

    The first chunk of every assignment comes before any second one: processes
    starting on different assignments draw each one's examples once, for all.
    """
    by_assignment: dict[str, list[Job]] = {}
    for job in jobs:
        by_assignment.setdefault(job.submission.assignment, []).append(job)
    rounds: list[list[list[Job]]] = []
    for group in by_assignment.values():
        size = max(1, min(CHUNK, math.ceil(len(group) / workers)))
        for turn, start in enumerate(range(0, len(group), size)):
            if turn == len(rounds):
                rounds.append([])
            rounds[turn].append(group[start : start + size])
    return [chunk for chunks_of_turn in rounds for chunk in chunks_of_turn]


PRELOAD = [  # what every grading process needs: the course's tests import hypothesis and the comparisons too
    "torch", "hypothesis.strategies", "autograder.runner", "autograder.sandbox", "autograder.results", "autograder.compare",
]


@dataclass(frozen=True)
class Launched:
    """Workers the parent launched, one per grading process, and how the processes share out cores and workers."""

    workers: list[tuple[socket.socket, int]]  # (control socket, process id) of each, in the order the processes take them
    sandboxed: bool
    pinned: bool  # whether process i keeps to core i, with worker i
    taken: Any  # a shared counter: the next process's index


def _init_process(events: object = None, examples: Path | None = None, launched: Launched | None = None) -> None:
    """A grading process: one torch thread (two per core oversubscribe; shared/PERFORMANCE.md).

    ``examples``: where the processes of this run share the property tests'
    examples. ``launched``: the workers the parent started for the processes;
    this one takes the next, and the core it runs on, so that a grading process
    and its worker wake each other on one core rather than across two.
    """
    global _events, _worker
    import torch

    from autograder import runner
    from autograder.sandbox import Worker

    torch.set_num_threads(1)
    if examples is not None:
        runner.share_examples(examples)
    if launched is not None:
        with launched.taken.get_lock():
            index, launched.taken.value = launched.taken.value, launched.taken.value + 1
        for other, (control, _) in enumerate(launched.workers):
            if other != index:
                control.close()  # each worker has one grading process: it hears when that one ends
        if index < len(launched.workers):
            control, pid = launched.workers[index]
            _worker = Worker.adopt(control, pid, sandbox=launched.sandboxed)
        if launched.pinned:
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[index]})
    gc.collect()
    gc.freeze()  # what is imported lives as long as the process: no later collection need walk it again
    _events = events


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

    def record(job: Job, row: Row) -> None:
        rows.append(row)
        progress(job, row, False)

    workers = min(workers, len(chunks(todo, workers)))  # no process (nor worker) without a chunk to grade
    if workers == 0:
        return rows
    if workers == 1:
        _init_process()
        for chunk in chunks(todo, 1):
            try:
                grade_chunk(chunk, call_timeout=call_timeout, report=record)
            except Exception as exc:  # noqa: BLE001 - the grader failed on this chunk: its rows say so
                reported = {(row.student_id, row.assignment) for row in rows}
                for job in chunk:
                    if _key(job) not in reported:
                        record(job, _error_row(job, exc))
        return rows
    # The workers import torch while a forkserver imports it (and the harness) for the grading processes it forks.
    sandboxed = bubblewrap_available()
    if not sandboxed:
        warn_unsandboxed()
    cores = sorted(os.sched_getaffinity(0))
    pinned = workers <= len(cores)
    started = [launch(sandboxed=sandboxed, core=cores[i] if pinned else None) for i in range(workers)]
    context = get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    events = context.Queue()
    pending = {job.out: job for job in todo}
    launched = Launched([(control, process.pid) for process, control in started], sandboxed, pinned, context.Value("i", 0))
    with _stopping(started), tempfile.TemporaryDirectory(prefix="convgrade-examples-") as examples, ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_process, initargs=(events, Path(examples), launched)
    ) as pool:
        schedule = Schedule(chunks(todo, workers))
        futures: dict[Any, list[Job]] = {}
        quiet = 0.0  # seconds without news since every chunk ended
        while pending and quiet < 2.0:
            running = [future for future in futures if not future.done()]
            while len(running) < workers and schedule.waiting:  # one chunk per process: the next is chosen late
                chunk = schedule.next()
                try:
                    future = pool.submit(grade_chunk, chunk, call_timeout=call_timeout)
                except BrokenExecutor as exc:  # a grading process died: what is left gets error rows below
                    future = Future()
                    future.set_exception(exc)
                else:
                    running.append(future)
                futures[future] = chunk
            try:
                out, row = events.get(timeout=0.05)
            except queue.Empty:
                quiet = quiet + 0.05 if not running and not schedule.waiting else 0.0
                continue
            schedule.seen(out)
            record(pending.pop(out), row)
    for future, chunk in futures.items():  # the jobs of a chunk the grader failed on: their rows say so
        for job in chunk:
            if job.out in pending:
                exc = future.exception() or RuntimeError("the grading process gave no result")
                record(pending.pop(job.out), _error_row(job, exc))
    return rows


@contextlib.contextmanager
def _stopping(started: list[tuple[subprocess.Popen, socket.socket]]) -> Iterator[None]:
    """Kill and reap the workers this process launched for its grading processes, once they are done."""
    try:
        yield
    finally:
        for process, control in started:
            control.close()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Schedule:
    """Which chunk a free grading process takes next: the costliest first, so that a run ends on cheap ones.

    Chunks of an assignment not yet measured go first, in the order given
    (every assignment's first chunk before any second one); after that, the
    chunk whose submissions take longest in all, from the seconds each
    submission of its assignment took so far.
    """

    def __init__(self, chunks: list[list[Job]]) -> None:
        self.waiting = list(chunks)
        self._seconds: dict[str, list[float]] = {}  # assignment -> seconds per submission, as measured
        self._last: dict[Path, tuple[float, bool]] = {}  # a running chunk's next job -> (when the one before ended, first of its chunk)
        self._following: dict[Path, Job] = {}  # a job -> the next of its chunk
        self._assignment: dict[Path, str] = {}

    def next(self) -> list[Job]:
        unmeasured = [chunk for chunk in self.waiting if chunk[0].submission.assignment not in self._seconds]
        if unmeasured:
            chunk = unmeasured[0]
        else:
            chunk = max(self.waiting, key=lambda c: len(c) * _mean(self._seconds[c[0].submission.assignment]))
        self.waiting.remove(chunk)
        self._last[chunk[0].out] = (time.monotonic(), True)
        for job, following in zip(chunk, chunk[1:]):
            self._following[job.out] = following
        self._assignment.update((job.out, job.submission.assignment) for job in chunk)
        return chunk

    def seen(self, out: Path) -> None:
        """A submission was graded (the one written to ``out``)."""
        now = time.monotonic()
        before, first = self._last.pop(out, (now, True))
        if not first:  # a chunk's first submission also pays for collecting the tests
            self._seconds.setdefault(self._assignment[out], []).append(now - before)
        following = self._following.pop(out, None)
        if following is not None:
            self._last[following.out] = (now, False)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _key(job: Job) -> tuple[str, str]:
    return job.submission.student, job.submission.assignment


def _error_row(job: Job, exc: BaseException) -> Row:
    return Row(job.submission.student, job.submission.assignment, 0.0, 0.0, f"grader error: {type(exc).__name__}: {exc}")


def _graded(job: Job, result: Callable[[], Row]) -> Row:
    """The job's row; a failure of the grader itself is recorded, never lost."""
    try:
        return result()
    except Exception as exc:  # noqa: BLE001 - one submission's trouble must not stop the class
        return _error_row(job, exc)


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
